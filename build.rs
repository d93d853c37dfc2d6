//! The split build (feature `split`) keeps the linker's relocations in the wasm: the splitter
//! (`cargo xtask build`) reads them to know what each split point's code uses.

fn main() {
    if std::env::var_os("CARGO_FEATURE_SPLIT").is_some() {
        println!("cargo:rustc-link-arg-bins=--emit-relocs");
    }
}
