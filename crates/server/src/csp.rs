//! The Content-Security-Policy the app runs under. Trunk's loader is an inline module script,
//! so instead of allowing every inline script, the policy allows exactly the inline scripts of
//! the served `index.html`, by hash.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Everything but `script-src`: wasm needs no eval; Leptos sets inline styles; the socket is
/// same-origin (the Origin check on `/ws` does the rest).
const REST: &str = "style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; \
img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/// The policy for a given `index.html` (none when the app is not built).
pub fn policy(index_html: Option<&str>) -> String {
    let hashes: String = index_html
        .map(inline_scripts)
        .unwrap_or_default()
        .iter()
        .map(|body| {
            let digest = Sha256::digest(body.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; {REST}")
}

/// Bodies of `<script>` elements without a `src`, exactly as the browser hashes them.
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find("<script") {
        let after = &rest[open..];
        let Some(tag_end) = after.find('>') else {
            break;
        };
        let tag = &after[..tag_end];
        let body_start = &after[tag_end + 1..];
        let Some(close) = body_start.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            found.push(&body_start[..close]);
        }
        rest = &body_start[close..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_exactly_the_inline_loader_by_hash() {
        let html = "<head><script type=\"module\">\nimport init from '/a.js';\n</script>\
                    <script src=\"/b.js\"></script></head>";
        let p = policy(Some(html));
        let expected = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(b"\nimport init from '/a.js';\n"));
        assert!(p.contains(&format!("'sha256-{expected}'")), "{p}");
        assert_eq!(
            p.matches("'sha256-").count(),
            1,
            "external scripts need no hash"
        );
        assert!(
            !p.contains("unsafe-inline'; connect")
                || p.contains("style-src 'self' 'unsafe-inline'")
        );
        assert!(!p.contains("script-src 'self' 'unsafe-inline'"));
    }

    #[test]
    fn without_an_app_the_policy_still_holds() {
        assert!(
            policy(None).starts_with("default-src 'self'; script-src 'self' 'wasm-unsafe-eval';")
        );
    }
}
