//! The app's bundle in `dist/`: trunk copies the page, its CSS and icon; the wasm is built
//! here (as cargo-leptos does) so that it can be split: cargo builds the app with the `split`
//! feature, `wasm_split_cli_support` moves the log viewer, the deployment history and an
//! expanded row's details (the code only their split points reach, in `src/pages/*_route.rs`)
//! into chunks of their own, and what several use into chunks that they fetch first,
//! wasm-bindgen writes the glue, wasm-opt shrinks every module, esbuild the JavaScript, and the
//! page gets its loader. Names carry a hash of the build, so the server can let browsers keep
//! them for good (crates/server/src/http.rs).

use crate::cmd::{root, run, Result};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What to build.
pub struct Bundle<'a> {
    /// Where the page goes (recreated).
    pub dist: &'a Path,
    /// Cargo features of the app, besides `split`.
    pub features: &'a [&'a str],
    /// Split the log viewer, the deployment history and the row details into chunks.
    pub split: bool,
    /// wasm-opt -Oz; without it the modules keep their function names (for profiles).
    pub optimize: bool,
}

/// Module name the main wasm imports the chunk loaders from (written by the splitter).
const LINK_JS: &str = "__wasm_split";

/// Builds the page into `bundle.dist`; `path` is the PATH with the pinned tools.
pub fn build(bundle: &Bundle, path: &str) -> Result {
    page(bundle.dist, bundle.optimize, path)?;
    let raw = cargo_build(bundle)?;
    let bytes = std::fs::read(&raw).map_err(|e| format!("cannot read {}: {e}", raw.display()))?;
    let hash = build_hash(&bytes);
    let work = root().join("target/app-bundle");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;

    let (main_wasm, chunks) = if bundle.split {
        split(&bytes, &work, &hash)?
    } else {
        (raw, Vec::new())
    };
    let glue = work.join("bindgen");
    let name = format!("shipwatch-{hash}");
    let mut bindgen = Command::new("wasm-bindgen");
    bindgen
        .args(["--target", "web", "--out-name", &name, "--out-dir"])
        .arg(&glue)
        .env("PATH", path);
    if bundle.split {
        // The chunks call into the main module through the linker's exports.
        bindgen.args(["--keep-lld-exports", "--no-demangle"]);
    }
    if !bundle.optimize {
        bindgen.arg("--keep-debug");
    }
    run(bindgen.arg(&main_wasm))?;

    // Every module through wasm-opt at once (the main module takes most of the time).
    let main_out = bundle.dist.join(format!("{name}_bg.wasm"));
    let main_glued = glue.join(format!("{name}_bg.wasm"));
    if bundle.optimize {
        drop_unused_exports(&main_glued)?;
    }
    let mut modules = vec![(main_glued, main_out)];
    for chunk in &chunks {
        let file = chunk.file_name().expect("chunks are files");
        modules.push((chunk.clone(), bundle.dist.join(file)));
    }
    shrink(&modules, bundle.optimize, path)?;

    let link = format!("{LINK_JS}-{hash}.js");
    let mut scripts = vec![(
        glue.join(format!("{name}.js")),
        bundle.dist.join(format!("{name}.js")),
    )];
    if bundle.split {
        scripts.push((work.join(&link), bundle.dist.join(&link)));
    }
    minify(&scripts, bundle.optimize, path)?;
    if glue.join("snippets").exists() {
        copy_dir(&glue.join("snippets"), &bundle.dist.join("snippets"))?;
    }
    add_loader(bundle.dist, &name, bundle.split.then_some(link.as_str()))?;
    if bundle.optimize {
        precompress(bundle.dist)?;
    }
    Ok(())
}

/// Writes `<file>.gz` beside each wasm, js and css file the page loads first (those
/// `index.html` names), compressed with zopfli: the server sends it to a browser that accepts
/// gzip, instead of compressing at its default level as it sends (crates/server/src/http.rs).
/// The chunks loaded later are left to the server.
fn precompress(dist: &Path) -> Result {
    let page = std::fs::read_to_string(dist.join("index.html")).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(dist).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let first = page.contains(&format!("/{name}\""));
        if !first || !(name.ends_with(".wasm") || name.ends_with(".js") || name.ends_with(".css")) {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
        let mut gz = Vec::new();
        zopfli::compress(
            zopfli::Options::default(),
            zopfli::Format::Gzip,
            bytes.as_slice(),
            &mut gz,
        )
        .map_err(|e| format!("cannot compress {name}: {e}"))?;
        std::fs::write(dist.join(format!("{name}.gz")), gz).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// trunk builds the page (index.html, CSS, icon) from a copy of index.html out of the
/// workspace root: beside a Cargo.toml, trunk would also build the app its own way. Optimized,
/// the stylesheets are joined in their order into one and minified first (their comments are
/// for maintainers, not for the first load; one file compresses 0.6 KB smaller than three and
/// is one request), so that trunk's names and integrity hashes are those of the files it
/// serves; trunk's own minifier would also rewrite the page, which the loader and the CSP
/// hashes read.
fn page(dist: &Path, optimize: bool, path: &str) -> Result {
    let html = std::fs::read_to_string(root().join("index.html")).map_err(|e| e.to_string())?;
    let dir = root().join("target/app-page");
    std::fs::create_dir_all(dir.join("style")).map_err(|e| e.to_string())?;
    const CSS: &str = "data-trunk rel=\"css\" href=\"";
    const JOINED: &str = "style/first-load.css";
    let html = if optimize {
        let mut out = String::new();
        let mut imports = String::new();
        let mut rest = html.as_str();
        while let Some(at) = rest.find(CSS) {
            let start = at + CSS.len();
            let end = start
                + rest[start..]
                    .find('"')
                    .ok_or("index.html: a stylesheet link without its closing quote")?;
            let href = &rest[start..end];
            imports.push_str(&format!("@import \"{}\";\n", root().join(href).display()));
            if out.is_empty() {
                // The first link stands for them all.
                out.push_str(&rest[..start]);
                out.push_str(JOINED);
                rest = &rest[end..];
            } else {
                // A later link goes, with the line it stands on.
                let tag = rest[..at]
                    .rfind("<link")
                    .ok_or("index.html: a stylesheet link that is not a <link>")?;
                let line = rest[..tag].trim_end_matches([' ', '\t']).len();
                let close = end
                    + rest[end..]
                        .find('>')
                        .ok_or("index.html: a stylesheet link without its closing >")?;
                out.push_str(&rest[..line]);
                rest = rest[close + 1..]
                    .strip_prefix('\n')
                    .unwrap_or(&rest[close + 1..]);
            }
        }
        out.push_str(rest);
        let entry = dir.join("first-load-entry.css");
        std::fs::write(&entry, imports).map_err(|e| e.to_string())?;
        run(Command::new("esbuild")
            .arg(&entry)
            .args(["--bundle", "--minify", "--log-level=warning"])
            .arg(format!("--outfile={}", dir.join(JOINED).display()))
            .env("PATH", path))?;
        out
    } else {
        // Its assets' paths, relative to the page, lead back to the root.
        html.replace(CSS, "data-trunk rel=\"css\" href=\"../../")
    };
    let html = html.replace(
        "data-trunk rel=\"icon\" href=\"",
        "data-trunk rel=\"icon\" href=\"../../",
    );
    let source = dir.join("index.html");
    std::fs::write(&source, html).map_err(|e| e.to_string())?;
    run(Command::new("trunk")
        .args(["build", "--release", "--dist"])
        .arg(dist)
        .arg(&source)
        .current_dir(root())
        .env("PATH", path))
}

/// `cargo build` of the app's wasm; returns the module cargo wrote.
fn cargo_build(bundle: &Bundle) -> Result<PathBuf> {
    let mut features: Vec<&str> = bundle.features.to_vec();
    if bundle.split {
        features.push("split");
    }
    let mut cargo = Command::new("cargo");
    cargo
        .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
        .args(["-p", "shipwatch", "--bin", "shipwatch"])
        .current_dir(root());
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    // Leptos' type erasure at component boundaries: a component's view is an `AnyView`, so its
    // render code is compiled once instead of once per place its type nests into (a smaller
    // first load: docs/benchmarks.md, "First load"). Behaviour is the same; the end-to-end
    // tests run this build.
    let mut rustflags = std::env::var("RUSTFLAGS").unwrap_or_default();
    rustflags.push_str(" --cfg erase_components");
    cargo.env("RUSTFLAGS", rustflags.trim());
    run(&mut cargo)?;
    Ok(root().join("target/wasm32-unknown-unknown/release/shipwatch.wasm"))
}

/// A short name for this build's files: the same module gets the same names.
fn build_hash(wasm: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    wasm.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Splits `wasm` at its split points: the main module (for wasm-bindgen) and the chunks,
/// named with `hash`; the loader module the main module imports is `LINK_JS-hash.js`.
fn split(wasm: &[u8], work: &Path, hash: &str) -> Result<(PathBuf, Vec<PathBuf>)> {
    let main_out = work.join("main_split.wasm");
    let link_name = format!("./{LINK_JS}-{hash}.js");
    let main_module = format!("./shipwatch-{hash}.js");
    let mut opts = wasm_split_cli_support::Options::new(wasm);
    opts.output_dir = work;
    opts.main_out_path = &main_out;
    opts.link_name = &link_name;
    opts.main_module = &main_module;
    let split = wasm_split_cli_support::transform(opts)
        .map_err(|e| format!("cannot split the app's wasm: {e:#}"))?;
    if split.split_modules.is_empty() {
        return Err(
            "the split build has no split point: are the #[wasm_split] functions of \
             src/pages/*_route.rs still reachable?"
                .into(),
        );
    }
    // Hashed chunk names, and the loader fetches them by those names.
    let link_path = work.join(&link_name[2..]);
    let mut link_js = std::fs::read_to_string(&link_path).map_err(|e| e.to_string())?;
    let mut chunks = Vec::new();
    for chunk in split.split_modules {
        let stem = chunk
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("a chunk without a name")?
            .to_string();
        let hashed = work.join(format!("{stem}-{hash}.wasm"));
        std::fs::rename(&chunk, &hashed).map_err(|e| e.to_string())?;
        let (from, to) = (
            format!("\"./{stem}.wasm\""),
            format!("\"./{stem}-{hash}.wasm\""),
        );
        if !link_js.contains(&from) {
            return Err(format!("the splitter's loader does not fetch {from}"));
        }
        link_js = link_js.replace(&from, &to);
        chunks.push(hashed);
    }
    std::fs::write(&link_path, link_js).map_err(|e| e.to_string())?;
    eprintln!(
        "xtask: split the log viewer, the deployment history and the row details into {} \
         chunk(s)",
        chunks.len()
    );
    Ok((main_out, chunks))
}

/// Exports of the main module that nothing calls: `wasm-streams`' stream classes, which
/// Leptos' `server_fn` (the `browser` feature its dependency forces on) exports for server
/// functions' streams. The app has no server function; its glue's classes would call them only
/// if something made such a stream.
const UNUSED_EXPORTS: [&str; 2] = ["intounderlying", "__wbg_intounderlying"];

/// Takes `UNUSED_EXPORTS` out of `wasm`'s export section, so that wasm-opt drops the code only
/// they reach (4 KB raw, 1.3 KB gzip).
fn drop_unused_exports(wasm: &Path) -> Result {
    let bytes = std::fs::read(wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;
    let bad = || format!("{}: not a wasm module this build can read", wasm.display());
    let mut out = bytes.get(..8).ok_or_else(bad)?.to_vec();
    let mut at = 8;
    while at < bytes.len() {
        let id = bytes[at];
        let (size, body) = read_leb(&bytes, at + 1).ok_or_else(bad)?;
        let end = body + size as usize;
        let section = bytes.get(body..end).ok_or_else(bad)?;
        if id != 7 {
            out.extend_from_slice(&bytes[at..end]);
            at = end;
            continue;
        }
        // Export section: a count, then (name, kind byte, index) each.
        let (count, mut p) = read_leb(section, 0).ok_or_else(bad)?;
        let mut kept = Vec::new();
        let mut kept_count = 0u32;
        for _ in 0..count {
            let start = p;
            let (len, name_at) = read_leb(section, p).ok_or_else(bad)?;
            let name = section
                .get(name_at..name_at + len as usize)
                .ok_or_else(bad)?;
            let (_, next) = read_leb(section, name_at + len as usize + 1).ok_or_else(bad)?;
            p = next;
            if !UNUSED_EXPORTS
                .iter()
                .any(|u| name.starts_with(u.as_bytes()))
            {
                kept.extend_from_slice(&section[start..p]);
                kept_count += 1;
            }
        }
        let mut new_section = Vec::new();
        write_leb(&mut new_section, kept_count);
        new_section.extend_from_slice(&kept);
        out.push(7);
        write_leb(&mut out, new_section.len() as u32);
        out.extend_from_slice(&new_section);
        at = end;
    }
    std::fs::write(wasm, out).map_err(|e| format!("cannot write {}: {e}", wasm.display()))
}

/// An unsigned LEB128 number at `at`: its value and where what follows starts.
fn read_leb(bytes: &[u8], mut at: usize) -> Option<(u32, usize)> {
    let (mut value, mut shift) = (0u32, 0);
    loop {
        let byte = *bytes.get(at)?;
        at += 1;
        value |= u32::from(byte & 0x7f).checked_shl(shift)?;
        if byte < 0x80 {
            return Some((value, at));
        }
        shift += 7;
    }
}

fn write_leb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// wasm-opt -Oz each `(input, output)` in parallel, or copies them as they are.
fn shrink(modules: &[(PathBuf, PathBuf)], optimize: bool, path: &str) -> Result {
    if !optimize {
        return modules.iter().try_for_each(|(from, to)| copy(from, to));
    }
    // The features the wasm32 target of Rust 1.95 turns on (its target_features section).
    const FEATURES: [&str; 6] = [
        "--enable-bulk-memory",
        "--enable-nontrapping-float-to-int",
        "--enable-sign-ext",
        "--enable-mutable-globals",
        "--enable-reference-types",
        "--enable-multivalue",
    ];
    // Rust's wasm32 linker puts the stack first: it grows down from 1 MiB towards address 0,
    // and the data sits above it, so the lowest KiB is touched only by a stack about to
    // overflow. Told so, wasm-opt folds constant offsets into loads and stores (1.2 KB less
    // gzip on the main module). The producers and target-features sections are for tools;
    // browsers do not read them.
    const ASSUMPTIONS: [&str; 3] = [
        "--low-memory-unused",
        "--strip-producers",
        "--strip-target-features",
    ];
    let mut running = Vec::new();
    for (from, to) in modules {
        let mut cmd = Command::new("wasm-opt");
        cmd.arg("-Oz")
            .args(FEATURES)
            .args(ASSUMPTIONS)
            .arg(from)
            .arg("-o")
            .arg(to)
            .env("PATH", path);
        eprintln!("$ wasm-opt -Oz {} -o {}", from.display(), to.display());
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start wasm-opt: {e}"))?;
        running.push((from, child));
    }
    for (from, mut child) in running {
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("wasm-opt failed on {} ({status})", from.display()));
        }
    }
    Ok(())
}

/// Minifies each `(input, output)` JavaScript module with esbuild (names kept where the
/// modules meet: exports, and the wasm's imports, which are property names), or copies them
/// as they are (profiles keep them readable).
fn minify(scripts: &[(PathBuf, PathBuf)], optimize: bool, path: &str) -> Result {
    for (from, to) in scripts {
        if !optimize {
            copy(from, to)?;
            continue;
        }
        run(Command::new("esbuild")
            .arg(from)
            .args(["--minify", "--format=esm", "--log-level=warning"])
            .arg(format!("--outfile={}", to.display()))
            .env("PATH", path))?;
    }
    Ok(())
}

/// Adds the app's loader to the page trunk wrote: preloads, then starts the wasm and
/// announces it (`shipwatch-started`, with the instance, for the benchmark's probe).
fn add_loader(dist: &Path, name: &str, link: Option<&str>) -> Result {
    let page = dist.join("index.html");
    let html = std::fs::read_to_string(&page).map_err(|e| e.to_string())?;
    let mut tags = format!(
        "<link rel=\"modulepreload\" href=\"/{name}.js\" crossorigin=\"anonymous\">\n\
         <link rel=\"preload\" href=\"/{name}_bg.wasm\" crossorigin=\"anonymous\" as=\"fetch\" \
         type=\"application/wasm\">\n"
    );
    if let Some(link) = link {
        tags.push_str(&format!(
            "<link rel=\"modulepreload\" href=\"/{link}\" crossorigin=\"anonymous\">\n"
        ));
    }
    tags.push_str(&format!(
        "<script type=\"module\">\n\
         import init from '/{name}.js';\n\
         const wasm = await init({{ module_or_path: '/{name}_bg.wasm' }});\n\
         dispatchEvent(new CustomEvent(\"shipwatch-started\", {{ detail: {{ wasm }} }}));\n\
         </script>\n"
    ));
    let Some(at) = html.find("</head>") else {
        return Err("dist/index.html has no </head>".into());
    };
    let html = format!("{}{tags}{}", &html[..at], &html[at..]);
    std::fs::write(&page, html).map_err(|e| e.to_string())
}

fn copy(from: &Path, to: &Path) -> Result {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result {
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            copy(&entry.path(), &target)?;
        }
    }
    Ok(())
}
