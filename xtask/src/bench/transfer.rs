//! First-load transfer: what a browser downloads for the app, compressed by the real server.

use super::browser::block_on;
use super::record::Figures;
use super::server::Server;
use crate::cmd::Result;
use shipwatch_e2e::http;
use std::path::Path;
use std::time::Duration;

/// Fetches every wasm, js and css file of `dist` from the server with `Accept-Encoding: gzip`
/// (then `br`) and records the bytes on the wire, in KB of 1,000 bytes: the first load is
/// what `index.html` loads; the chunks loaded later (the log viewer's, fetched in the
/// background once the app runs) are reported apart.
pub fn measure(server: &Server, dist: &Path, figures: &mut Figures) -> Result {
    let page = std::fs::read_to_string(dist.join("index.html"))
        .map_err(|e| format!("cannot read {}/index.html: {e}", dist.display()))?;
    let mut files: Vec<String> = std::fs::read_dir(dist)
        .map_err(|e| format!("cannot read {}: {e}", dist.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let (first, later): (Vec<String>, Vec<String>) = files
        .into_iter()
        .partition(|f| page.contains(&format!("/{f}")));
    let mut total_gzip = 0.0;
    let mut total_br = 0.0;
    for kind in ["wasm", "js", "css"] {
        let (mut raw, mut gzip, mut br) = (0.0, 0.0, 0.0);
        for f in first.iter().filter(|f| f.ends_with(&format!(".{kind}"))) {
            raw += std::fs::metadata(dist.join(f)).map_or(0, |m| m.len()) as f64;
            gzip += wire_bytes(server, f, "gzip")?;
            br += wire_bytes(server, f, "br")?;
        }
        figures.put(&format!("{kind}_raw"), raw / 1000.0, "KB");
        figures.put(&format!("{kind}_gzip"), gzip / 1000.0, "KB");
        total_gzip += gzip;
        total_br += br;
    }
    figures.put("first_load_gzip", total_gzip / 1000.0, "KB");
    figures.put("first_load_brotli", total_br / 1000.0, "KB");
    let mut chunks = 0.0;
    for f in later.iter().filter(|f| f.ends_with(".wasm")) {
        chunks += wire_bytes(server, f, "gzip")?;
    }
    figures.put("lazy_chunks_gzip", chunks / 1000.0, "KB");
    Ok(())
}

fn wire_bytes(server: &Server, file: &str, encoding: &str) -> Result<f64> {
    let r = block_on(http::get(
        &server.url(&format!("/{file}")),
        &[("Accept-Encoding", encoding)],
        Duration::from_secs(30),
    ))?;
    if r.status != 200 {
        return Err(format!("GET /{file}: HTTP {}", r.status));
    }
    if r.header("content-encoding") != Some(encoding) {
        eprintln!("bench: /{file} was not sent with {encoding}");
    }
    Ok(r.body.len() as f64)
}
