//! The tab shows the current environment's running status: a glyph in the title ("⚠ staging")
//! and a favicon of the status's colour and shape, so a background tab still tells trouble.

use leptos::prelude::*;
use shipwatch_model::RunningStatus;

/// The glyph of a status in the tab title.
pub fn title_glyph(status: RunningStatus) -> &'static str {
    match status {
        RunningStatus::Running => "●",
        RunningStatus::Warning => "⚠",
        RunningStatus::Error => "✖",
        RunningStatus::Starting => "▲",
        RunningStatus::Stopping => "▼",
        RunningStatus::Stopped => "○",
        RunningStatus::Completed => "✔",
        RunningStatus::Unknown => "?",
    }
}

/// The tab title: "⚠ staging · Shipwatch", marked when the data is not live.
pub fn tab_title(name: &str, status: RunningStatus, live: bool) -> String {
    let stale = if live { "" } else { " (not live)" };
    format!("{} {name}{stale} · Shipwatch", title_glyph(status))
}

/// A 16×16 SVG icon of a status: its colour (the light theme's, which reads on both tab
/// strips) and its shape, with a white mark inside.
pub fn favicon_svg(status: RunningStatus) -> String {
    let colour = match status {
        RunningStatus::Stopped => "#64748b",
        RunningStatus::Starting | RunningStatus::Stopping => "#1d4ed8",
        RunningStatus::Running | RunningStatus::Completed => "#15803d",
        RunningStatus::Warning => "#b45309",
        RunningStatus::Error => "#b91c1c",
        RunningStatus::Unknown => "#6d28d9",
    };
    let body = match status {
        RunningStatus::Stopped => {
            format!("<circle cx='8' cy='8' r='5.5' fill='none' stroke='{colour}' stroke-width='3'/>")
        }
        RunningStatus::Running => format!("<circle cx='8' cy='8' r='7' fill='{colour}'/>"),
        RunningStatus::Starting => format!(
            "<circle cx='8' cy='8' r='7' fill='{colour}'/><path d='M8 3.5l4 4.5H9.3v4.5H6.7V8H4z' fill='white'/>"
        ),
        RunningStatus::Stopping => format!(
            "<circle cx='8' cy='8' r='7' fill='{colour}'/><rect x='5' y='5' width='6' height='6' rx='1' fill='white'/>"
        ),
        RunningStatus::Completed => format!(
            "<circle cx='8' cy='8' r='7' fill='{colour}'/><path d='M4.5 8.2l2.4 2.4 4.6-4.8' fill='none' stroke='white' stroke-width='2'/>"
        ),
        RunningStatus::Warning => format!(
            "<path d='M8 .8l7.6 14H.4z' fill='{colour}'/><path d='M7 5.5h2v4.5H7zm0 5.6h2v2H7z' fill='white'/>"
        ),
        RunningStatus::Error => format!(
            "<rect x='1' y='1' width='14' height='14' rx='2' fill='{colour}'/><path d='M5 5l6 6M11 5l-6 6' stroke='white' stroke-width='2'/>"
        ),
        RunningStatus::Unknown => format!(
            "<path d='M8 .5L15.5 8 8 15.5.5 8z' fill='{colour}'/><text x='8' y='11.5' font-size='9' text-anchor='middle' fill='white' font-family='sans-serif'>?</text>"
        ),
    };
    format!("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'>{body}</svg>")
}

/// A `data:` URL of [`favicon_svg`] (the CSP allows `img-src data:`).
pub fn favicon_url(status: RunningStatus) -> String {
    let svg = favicon_svg(status);
    format!(
        "data:image/svg+xml,{}",
        String::from(js_sys::encode_uri_component(&svg))
    )
}

/// Keeps the tab title and favicon in step with an environment; restores them when gone.
pub fn follow(name: Signal<String>, status: Signal<Option<RunningStatus>>, live: Signal<bool>) {
    let doc = document();
    let original_title = doc.title();
    let icon = doc
        .query_selector("link[rel~='icon']")
        .ok()
        .flatten()
        .map(wasm_bindgen::JsCast::unchecked_into::<web_sys::HtmlLinkElement>);
    let original_icon = icon.as_ref().map(|l| l.href());
    let icon = send_wrapper::SendWrapper::new(icon);
    let last_icon = StoredValue::new(None::<RunningStatus>);
    Effect::new(move |_| {
        let Some(status) = status.get() else { return };
        document().set_title(&tab_title(&name.get(), status, live.get()));
        if last_icon.get_value() != Some(status) {
            last_icon.set_value(Some(status));
            if let Some(link) = icon.as_ref() {
                link.set_type("image/svg+xml");
                link.set_href(&favicon_url(status));
            }
        }
    });
    on_cleanup(move || {
        let doc = document();
        doc.set_title(&original_title);
        if let (Some(href), Some(link)) = (
            original_icon,
            doc.query_selector("link[rel~='icon']").ok().flatten(),
        ) {
            let _ = link.set_attribute("href", &href);
        }
    });
}
