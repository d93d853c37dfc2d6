//! `cargo xtask run | test | bench`: the project's automation, in Rust (see README).

mod app_bundle;
mod bench;
mod build;
mod cmd;
mod run;
mod tally;
mod test;
mod tools;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run::run(&args[1..]),
        Some("test") => test::test(&args[1..]),
        Some("build") => build::build_all().map(|_| ()),
        Some("bench") => bench::bench(&args[1..]),
        Some("profile") => bench::profile(&args[1..]),
        _ => {
            Err("usage: cargo xtask run [-- server flags] | test | bench [--quick] | profile <load|updates> | build".into())
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}
