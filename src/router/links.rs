//! Which clicks on links the app takes over (pure, so it is tested without a browser): a plain
//! left click on a link to one of the console's own pages becomes a `history.pushState` and a
//! change of page; anything else (a modifier or another button, so "open in a new tab" and
//! "save link" work; a target, a download, another origin, the API's files, a fragment of
//! the page shown) is left to the browser.

use crate::routes::Route;

/// What the click listener read from the event and the link.
#[derive(Clone, Debug, Default)]
pub struct Click<'a> {
    /// `MouseEvent.button`: 0 is the main button.
    pub button: i16,
    /// Ctrl, Shift, Alt or Meta held.
    pub modifier: bool,
    /// A handler before this one called `preventDefault`.
    pub default_prevented: bool,
    /// The link's `href` property: absolute, as the browser resolved it.
    pub href: &'a str,
    /// The link's `target` attribute.
    pub target: &'a str,
    /// The link has a `download` attribute.
    pub download: bool,
    /// The link's `rel` attribute.
    pub rel: &'a str,
}

/// Where the app should go for `click` (a path with its query and fragment), or `None` when
/// the browser should follow the link itself. `origin` is the page's (`location.origin`),
/// `current` the page's path and query (`/env/p?status=failed`).
pub fn in_app_destination<'a>(click: &Click<'a>, origin: &str, current: &str) -> Option<&'a str> {
    if click.default_prevented || click.button != 0 || click.modifier {
        return None;
    }
    if !matches!(click.target, "" | "_self")
        || click.download
        || click.rel.split_ascii_whitespace().any(|r| r == "external")
    {
        return None;
    }
    let to = click.href.strip_prefix(origin)?;
    if !to.starts_with('/') {
        return None;
    }
    let (before_hash, hash) = to.split_once('#').unwrap_or((to, ""));
    let path = before_hash.split_once('?').map_or(before_hash, |(p, _)| p);
    Route::parse(path)?;
    // A fragment of the page shown (a log line's `#L12`): the browser moves to it and says
    // so with `popstate`, which the router follows.
    if !hash.is_empty() && before_hash == current {
        return None;
    }
    Some(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const ORIGIN: &str = "http://127.0.0.1:8080";

    fn to(href: &str) -> Click<'_> {
        Click {
            href,
            ..Click::default()
        }
    }

    fn dest<'a>(click: &Click<'a>) -> Option<&'a str> {
        in_app_destination(click, ORIGIN, "/env/p")
    }

    #[test]
    fn a_plain_click_on_a_page_of_the_console_stays_in_the_app() {
        let cases = [
            ("http://127.0.0.1:8080/", "/"),
            ("http://127.0.0.1:8080/env/p", "/env/p"),
            (
                "http://127.0.0.1:8080/env/q/service/a%20b",
                "/env/q/service/a%20b",
            ),
            (
                "http://127.0.0.1:8080/env/p/deployments?service=api&status=failed",
                "/env/p/deployments?service=api&status=failed",
            ),
            (
                "http://127.0.0.1:8080/env/p/service/api/deployments/d1/logs#L12",
                "/env/p/service/api/deployments/d1/logs#L12",
            ),
        ];
        for (href, path) in cases {
            assert_eq!(dest(&to(href)), Some(path), "{href}");
        }
        assert_eq!(
            dest(&Click {
                target: "_self",
                ..to("http://127.0.0.1:8080/env/q")
            }),
            Some("/env/q")
        );
    }

    #[test]
    fn new_tabs_downloads_and_other_buttons_are_the_browsers() {
        let href = "http://127.0.0.1:8080/env/q";
        let cases = [
            Click {
                button: 1,
                ..to(href)
            },
            Click {
                button: 2,
                ..to(href)
            },
            Click {
                modifier: true,
                ..to(href)
            },
            Click {
                default_prevented: true,
                ..to(href)
            },
            Click {
                target: "_blank",
                ..to(href)
            },
            Click {
                target: "other",
                ..to(href)
            },
            Click {
                download: true,
                ..to(href)
            },
            Click {
                rel: "noopener external",
                ..to(href)
            },
        ];
        for click in cases {
            assert_eq!(dest(&click), None, "{click:?}");
        }
    }

    #[test]
    fn other_origins_unknown_paths_and_the_api_are_the_browsers() {
        for href in [
            "https://example.com/env/p",
            "http://127.0.0.1:8081/env/p",
            "http://127.0.0.1:80800/env/p",
            "https://127.0.0.1:8080/env/p",
            "http://127.0.0.1:8080/api/deployments/d/log.txt",
            "http://127.0.0.1:8080/env/p/nothing",
            "http://127.0.0.1:8080/favicon.svg",
            "mailto:a@b.c",
            "",
        ] {
            assert_eq!(dest(&to(href)), None, "{href}");
        }
    }

    #[test]
    fn a_fragment_of_the_page_shown_is_the_browsers() {
        assert_eq!(dest(&to("http://127.0.0.1:8080/env/p#L3")), None);
        assert_eq!(
            in_app_destination(&to("http://127.0.0.1:8080/env/p?x=1#L3"), ORIGIN, "/env/p"),
            Some("/env/p?x=1#L3")
        );
        // The same page without a fragment is a navigation in the page (which keeps the scroll).
        assert_eq!(dest(&to("http://127.0.0.1:8080/env/p")), Some("/env/p"));
    }
}
