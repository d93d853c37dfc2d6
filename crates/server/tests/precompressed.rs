//! What the page loads first is sent from the `.gz` the build writes beside it (gzip at its
//! densest) to a browser that accepts gzip; other browsers get the file itself, and other files
//! are compressed as they are sent. Caches are told the body depends on `Accept-Encoding`.

mod common;

use common::{header, http, start};

#[tokio::test]
async fn a_file_s_gz_goes_as_it_is_to_a_browser_that_accepts_gzip() {
    let dist = tempfile::tempdir().unwrap();
    let dist = dist.path();
    std::fs::write(dist.join("index.html"), "<title>app</title>").unwrap();
    let wasm = b"\0asm\x01\0\0\0".repeat(100);
    std::fs::write(dist.join("shipwatch-0123456789abcdef_bg.wasm"), &wasm).unwrap();
    // Not a real compression of the file: the test tells which body was sent.
    std::fs::write(
        dist.join("shipwatch-0123456789abcdef_bg.wasm.gz"),
        b"precompressed",
    )
    .unwrap();
    std::fs::write(dist.join("chunk-0123456789abcdef.wasm"), &wasm).unwrap();
    let dist_arg = dist.to_string_lossy().to_string();
    let h = start(&["--scenario", "calm", "--dist", &dist_arg]).await;

    let (s, hd, body) = http(
        &h,
        "GET",
        "/shipwatch-0123456789abcdef_bg.wasm",
        &[("accept-encoding", "gzip, deflate, br")],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body, b"precompressed", "the .gz, as it is");
    assert_eq!(header(&hd, "content-encoding"), Some("gzip"));
    assert_eq!(header(&hd, "content-type"), Some("application/wasm"));
    assert_eq!(header(&hd, "vary"), Some("accept-encoding"));
    assert_eq!(
        header(&hd, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );

    let (s, hd, body) = http(&h, "GET", "/shipwatch-0123456789abcdef_bg.wasm", &[]).await;
    assert_eq!(s, 200);
    assert_eq!(body, wasm, "the file itself without gzip");
    assert_eq!(header(&hd, "content-encoding"), None);
    assert_eq!(header(&hd, "vary"), Some("accept-encoding"));

    // A file without a .gz is compressed as it is sent.
    let (s, hd, body) = http(
        &h,
        "GET",
        "/chunk-0123456789abcdef.wasm",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(header(&hd, "content-encoding"), Some("gzip"));
    assert!(body.len() < wasm.len() && body != b"precompressed");
    h.shutdown();
    h.stopped().await;
}
