//! Where the window scrolls after a navigation made in the page (pure, so it is tested
//! without a browser). A navigation that stays on the page shown (the same environment with
//! another row expanded, another tab or filter; the same deployment's log with another
//! query) is a change of what the page shows, not a new page: the window stays where the
//! reader is. Another page starts at its top, as a page the browser loads does. A fragment
//! names the element to show, on either.

use crate::routes::Route;

/// What the router does with the window's scroll after a navigation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Leaves it where it is.
    Keep,
    /// Scrolls to the element the fragment names, else to the top.
    FragmentOrTop,
    /// Scrolls to the element the fragment names, else leaves it where it is.
    FragmentOrKeep,
}

/// Whether `from` and `to` are the same page: the same environment (whatever its tab,
/// expanded row or filters), or the same log (the same deployment, reached the same way).
/// The home page only redirects, and an unknown path is not a page to stay on.
pub fn same_page(from: Option<&Route>, to: Option<&Route>) -> bool {
    match (from, to) {
        (Some(Route::Environment { env: a, .. }), Some(Route::Environment { env: b, .. })) => {
            a == b
        }
        (Some(from @ Route::Logs { .. }), Some(to @ Route::Logs { .. })) => from == to,
        _ => false,
    }
}

/// What to do with the scroll when the page goes from `from` to `to`; `fragment` is the new
/// URL's, without its `#` (empty for none).
pub fn after_navigation(from: Option<&Route>, to: Option<&Route>, fragment: &str) -> After {
    match (same_page(from, to), fragment.is_empty()) {
        (true, true) => After::Keep,
        (true, false) => After::FragmentOrKeep,
        (false, _) => After::FragmentOrTop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::EnvTab;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn route(path: &str) -> Option<Route> {
        let r = Route::parse(path);
        assert!(r.is_some(), "{path} is a route");
        r
    }

    fn after(from: &str, to: &str, fragment: &str) -> After {
        after_navigation(route(from).as_ref(), route(to).as_ref(), fragment)
    }

    #[test]
    fn a_row_a_tab_or_a_filter_of_the_same_environment_keeps_the_scroll() {
        let same = [
            ("/env/p", "/env/p/service/api"),
            ("/env/p/service/api", "/env/p"),
            ("/env/p/service/api", "/env/p/service/web"),
            ("/env/p", "/env/p/deployments"),
            ("/env/p/deployments", "/env/p"),
            ("/env/p/deployments", "/env/p/service/api/deployments"),
            ("/env/p/service/api/deployments", "/env/p/service/api"),
            // A filter changes the query only: the path is the same.
            ("/env/p/deployments", "/env/p/deployments"),
            ("/env/p/deployments/d1/logs", "/env/p/deployments/d1/logs"),
        ];
        for (from, to) in same {
            assert_eq!(after(from, to, ""), After::Keep, "{from} -> {to}");
            assert_eq!(
                after(from, to, "x"),
                After::FragmentOrKeep,
                "{from} -> {to}#x"
            );
        }
    }

    #[test]
    fn another_environment_a_log_or_home_starts_at_the_top_or_the_fragment() {
        let other = [
            ("/env/p", "/env/q"),
            ("/env/p/service/api", "/env/q/service/api"),
            ("/env/p/deployments", "/env/q/deployments"),
            (
                "/env/p/service/api",
                "/env/p/service/api/deployments/d1/logs",
            ),
            ("/env/p/deployments", "/env/p/deployments/d1/logs"),
            ("/env/p/deployments/d1/logs", "/env/p/deployments"),
            ("/env/p/deployments/d1/logs", "/env/p/deployments/d2/logs"),
            ("/env/p/deployments/d1/logs", "/env/q/deployments/d1/logs"),
            (
                "/env/p/deployments/d1/logs",
                "/env/p/service/api/deployments/d1/logs",
            ),
            ("/env/p", "/"),
            ("/", "/env/p"),
            ("/", "/"),
        ];
        for (from, to) in other {
            assert_eq!(after(from, to, ""), After::FragmentOrTop, "{from} -> {to}");
            assert_eq!(
                after(from, to, "L3"),
                After::FragmentOrTop,
                "{from} -> {to}#L3"
            );
        }
    }

    #[test]
    fn an_unknown_path_is_no_page_to_stay_on() {
        let env = Route::Environment {
            env: "p".into(),
            tab: EnvTab::Services,
            service: None,
        };
        assert_eq!(after_navigation(None, Some(&env), ""), After::FragmentOrTop);
        assert_eq!(after_navigation(Some(&env), None, ""), After::FragmentOrTop);
        assert_eq!(after_navigation(None, None, ""), After::FragmentOrTop);
    }
}
