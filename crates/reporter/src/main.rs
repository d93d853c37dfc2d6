//! The `shipwatch` binary: see the library.

fn main() {
    std::process::exit(shipwatch_reporter::main());
}
