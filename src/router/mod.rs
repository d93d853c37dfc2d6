//! The app's router: the page's URL as a signal, changed through the History API. A link
//! click to one of the console's pages (`links.rs`) and [`Location::navigate`] push an entry;
//! the browser's back and forward (`popstate`) set the signal from the address bar. The pages
//! read the route from it (`routes::Route`); the app root shows the page of the route.
//!
//! After a navigation to another page the window scrolls to the fragment's element when there
//! is one, else to the top (the scroll the browser gives a new page); a navigation that stays
//! on the page (a row, a tab, a filter) leaves it where it is (`scroll.rs`), the page held at
//! its height while the new views fill in (`scroll_hold.rs`). Back and forward return to the
//! scroll each entry was left at (`restore.rs`), which the browser's own restoration misses:
//! it comes before the page has its data.

pub mod links;
mod restore;
pub mod scroll;
mod scroll_hold;

use crate::routes::Route;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// The page's URL, as `location` gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Url {
    /// `location.pathname` (percent-encoded).
    path: String,
    /// `location.search` without its `?`.
    search: String,
    /// `location.hash`, with its `#` (or empty).
    hash: String,
}

impl Url {
    fn current() -> Url {
        let loc = window().location();
        let search = loc.search().unwrap_or_default();
        Url {
            path: loc.pathname().unwrap_or_default(),
            search: search.strip_prefix('?').unwrap_or(&search).to_owned(),
            hash: loc.hash().unwrap_or_default(),
        }
    }

    /// Path and query, as a link to this page writes them.
    fn path_and_query(&self) -> String {
        if self.search.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.search)
        }
    }
}

/// The page's location: read it reactively, change it with [`Location::navigate`].
#[derive(Clone, Copy)]
pub struct Location {
    url: RwSignal<Url>,
    /// `location.pathname`, percent-encoded.
    pub pathname: Memo<String>,
    /// `location.search` without its `?`.
    pub search: Memo<String>,
    /// The page the path names, `None` for no page of the console.
    pub route: Memo<Option<Route>>,
}

impl Location {
    /// The location of the page, followed from now on: back and forward, and clicks on links
    /// to the console's pages, which become navigations in the page. Provided as context.
    pub fn start() -> Location {
        let url = RwSignal::new(Url::current());
        let pathname = Memo::new(move |_| url.with(|u| u.path.clone()));
        let search = Memo::new(move |_| url.with(|u| u.search.clone()));
        let route = Memo::new(move |_| pathname.with(|p| Route::parse(p)));
        let location = Location {
            url,
            pathname,
            search,
            route,
        };
        if let Some(y) = restore::start() {
            restore::scroll_back(y);
        }
        let popstate = window_event_listener(leptos::ev::popstate, move |ev| {
            let y = restore::arrive(&ev.state());
            url.set(Url::current());
            if let Some(y) = y {
                restore::scroll_back(y);
            }
        });
        let click = window_event_listener(leptos::ev::click, move |ev| location.on_click(&ev));
        let pagehide = window_event_listener(leptos::ev::pagehide, |_| restore::save());
        on_cleanup(move || {
            popstate.remove();
            click.remove();
            pagehide.remove();
        });
        provide_context(location);
        location
    }

    /// Goes to `to` (a path with its query and fragment), as a new history entry unless it
    /// is where the page already is.
    pub fn navigate(self, to: &str) {
        self.go(to, false);
    }

    /// Goes to `to` in place of the current history entry (a redirect).
    pub fn replace(self, to: &str) {
        self.go(to, true);
    }

    fn go(self, to: &str, replace: bool) {
        let Ok(history) = window().history() else {
            return;
        };
        let here = self
            .url
            .with_untracked(|u| format!("{}{}", u.path_and_query(), u.hash));
        let _ = if replace || here == to {
            history.replace_state_with_url(&restore::current_state(), "", Some(to))
        } else {
            history.push_state_with_url(&restore::leave_for_new_entry(), "", Some(to))
        };
        let from = self.route.get_untracked();
        let url = Url::current();
        let to = Route::parse(&url.path);
        let fragment = url.hash.strip_prefix('#').unwrap_or_default();
        let after = scroll::after_navigation(from.as_ref(), to.as_ref(), fragment);
        // Before the views change: the page must not get shorter under the window.
        if after == scroll::After::FragmentOrTop {
            scroll_hold::release();
        } else {
            scroll_hold::hold();
        }
        if after == scroll::After::Keep {
            scroll_hold::keep_focused_in_place();
        }
        self.url.set(url);
        if after == scroll::After::Keep {
            return;
        }
        // After the new page's views are built (effects run before the next frame).
        request_animation_frame(move || {
            if !scroll_to_fragment() && after == scroll::After::FragmentOrTop {
                window().scroll_to_with_x_and_y(0.0, 0.0);
            }
        });
    }

    fn on_click(self, ev: &web_sys::MouseEvent) {
        let Some(link) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("a[href]").ok().flatten())
            .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        else {
            return;
        };
        let href = link.href();
        let target = link.target();
        let rel = link.rel();
        let click = links::Click {
            button: ev.button(),
            modifier: ev.ctrl_key() || ev.shift_key() || ev.alt_key() || ev.meta_key(),
            default_prevented: ev.default_prevented(),
            href: &href,
            target: &target,
            download: link.has_attribute("download"),
            rel: &rel,
        };
        let origin = window().location().origin().unwrap_or_default();
        let current = self.url.with_untracked(Url::path_and_query);
        if let Some(to) = links::in_app_destination(&click, &origin, &current) {
            ev.prevent_default();
            self.navigate(to);
        }
    }
}

/// The location the app root started ([`Location::start`]).
pub fn use_location() -> Location {
    expect_context::<Location>()
}

/// Scrolls to the element the fragment names (`#id`); false when there is none.
fn scroll_to_fragment() -> bool {
    let hash = window().location().hash().unwrap_or_default();
    let id = hash.strip_prefix('#').unwrap_or_default();
    if id.is_empty() {
        return false;
    }
    let id = js_sys::decode_uri_component(id)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| id.to_owned());
    match document().get_element_by_id(&id) {
        Some(el) => {
            el.scroll_into_view();
            true
        }
        None => false,
    }
}
