//! Shipwatch, the app: wires the feed, the reactive state and the page of the URL.

pub mod components;
pub mod feed;
#[cfg(feature = "heap-profile")]
pub mod heap_profile;
pub mod log_viewer;
pub mod lowercase;
pub mod pages;
pub mod read_api;
pub mod router;
pub mod routes;
pub mod state;
pub mod style_sheet;
pub mod time_format;

use components::announcements::LiveRegion;
use components::top_bar::TopBar;
use feed::{use_subscription, Feed, SubEvent, UseSubscriptionOptions};
use leptos::prelude::*;
use pages::environment_page::EnvironmentPage;
use pages::home_page::HomePage;
use pages::logs_route::LogsRoute;
use router::Location;
use routes::Route;
use shipwatch_model::protocol::Topic;
use state::announcer::Announcer;
use state::clock::Clock;
use state::environments::EnvironmentsState;

// The unit tests of the pure modules run in the browser too (`cargo xtask test`'s browser
// suite), as the component tests do.
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Mounts the app on the page (the wasm entry point).
pub fn start() {
    console_error_panic_hook::set_once();
    #[cfg(feature = "heap-profile")]
    heap_profile::install();
    leptos::mount::mount_to_body(App);
}

/// The websocket URL of the server that served this page.
pub fn feed_url() -> String {
    let loc = window().location();
    let scheme = if loc.protocol().as_deref() == Ok("https:") {
        "wss"
    } else {
        "ws"
    };
    let token = page_token()
        .map(|t| format!("?token={t}"))
        .unwrap_or_default();
    format!("{scheme}://{}/ws{token}", loc.host().unwrap_or_default())
}

/// The `token` of the page's URL (`/?token=...`), as written there (already URL-encoded).
/// A server started with --token wants it on the socket and on API downloads: it is read
/// once, at start, since later navigation within the app drops it from the URL.
pub fn page_token() -> Option<String> {
    static TOKEN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    TOKEN
        .get_or_init(|| {
            window().location().search().ok().and_then(|q| {
                q.trim_start_matches('?')
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("token=").map(str::to_owned))
            })
        })
        .clone()
}

/// The whole console.
#[component]
pub fn App() -> impl IntoView {
    let feed = Feed::connect(feed_url());
    provide_context(feed.clone());
    let envs = EnvironmentsState::new();
    provide_context(envs);
    provide_context(Clock::start());
    provide_context(Announcer::new());
    // The environment list lives as long as the app.
    use_subscription(
        || Topic::Environments,
        UseSubscriptionOptions::default().on_event(move |event, _| match event {
            SubEvent::Snapshot(s) => envs.apply_snapshot(s),
            SubEvent::Changes(c) => envs.apply_changes(c),
            SubEvent::Lines(_) | SubEvent::Refused(..) => {}
        }),
    );
    // A split build fetches its chunks once the console is up, so that expanding a row,
    // opening a log or the Deployments tab does not wait for them.
    set_timeout(
        || {
            pages::service_details_route::prefetch();
            pages::logs_route::prefetch();
            pages::deployments_route::prefetch();
        },
        std::time::Duration::from_secs(2),
    );
    let location = Location::start();
    view! { <Shell envs location /> }
}

/// Which page a route shows. A route of the same page with other ids (another environment,
/// service, tab or deployment) keeps the page, which follows the route: the environment page
/// keeps its subscription when a row is expanded or the tab changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    Home,
    Environment,
    /// The environment's or (`true`) a service's deployment log.
    Logs(bool),
    NotFound,
}

#[component]
fn Shell(envs: EnvironmentsState, location: Location) -> impl IntoView {
    // The environment the route names (none on the home page or an unknown path).
    let current = Signal::derive(move || {
        location.route.with(|r| {
            r.as_ref()
                .and_then(Route::env)
                .unwrap_or_default()
                .to_string()
        })
    });
    let page = Memo::new(move |_| {
        location.route.with(|r| match r {
            Some(Route::Home) => Page::Home,
            Some(Route::Environment { .. }) => Page::Environment,
            Some(Route::Logs { service, .. }) => Page::Logs(service.is_some()),
            None => Page::NotFound,
        })
    });
    view! {
        <div class="app">
            <TopBar envs current />
            <LiveRegion />
            <main>
                {move || match page.get() {
                    Page::Home => view! { <HomePage /> }.into_any(),
                    Page::Environment => view! { <EnvironmentPage /> }.into_any(),
                    Page::Logs(_) => view! { <LogsRoute /> }.into_any(),
                    Page::NotFound => view! { <p class="notice">"No such page."</p> }.into_any(),
                }}
            </main>
        </div>
    }
}
