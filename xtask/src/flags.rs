//! Every command and option of `cargo xtask`, declared once (clap); `--help` on any of them
//! prints its usage.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Build, run, test, benchmark and profile Shipwatch.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
pub struct Xtask {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build everything, then serve the console with its simulator.
    Run {
        /// Server flags, after `--` (see `target/native/shipwatch-server --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        server_args: Vec<String>,
    },
    /// Native, browser and end-to-end tests.
    Test,
    /// Release build of the app (dist/) and the server (target/native/).
    Build,
    /// The benchmark: prints every figure and adds rows to docs/benchmarks.md.
    Bench(Bench),
    /// A profile of the page under one of the benchmark's workloads.
    Profile {
        /// Which.
        #[command(subcommand)]
        what: Profile,
    },
}

/// `cargo xtask bench`.
#[derive(Args, Debug)]
pub struct Bench {
    /// A shorter development run (fewer runs, 1,000 clients, 60 s of memory).
    #[arg(long)]
    pub quick: bool,
    /// Reuse the last build (dist/ and target/native/).
    #[arg(long)]
    pub no_build: bool,
    /// Run only these parts (comma-separated); nothing is recorded unless `--record`.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Part>,
    /// With `--only`: add rows to the tables of docs/benchmarks.md that the parts measured.
    #[arg(long, requires = "only")]
    pub record: bool,
}

/// Parts of the benchmark.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// First-load transfer (gzip, brotli).
    Transfer,
    /// Time to the first painted status dot, table size.
    FirstStatus,
    /// Frame times and feed delivery under 10,000 status events/s.
    Updates,
    /// Page memory over time under the update workload.
    Memory,
    /// The 1,000,000-line log through the real server, socket and page; one socket's
    /// throughput at 0, 20 and 100 ms; the in-page store-only hook (ingest, scrolling,
    /// streaming).
    Logs,
    /// One socket's log throughput only (0, 20 and 100 ms round trip).
    LogSocket,
    /// Server fan-out to many clients and mass resume.
    Server,
    /// The store's own throughput (status events/s, log lines/s, both at the asked rates).
    Store,
    /// The push API: deployments/s created, instance reports/s and log lines/s acknowledged
    /// and seen on a websocket client.
    Push,
    /// One `shipwatch deploy` pushing a command's output through the server (store on) to a
    /// websocket client: lines/s.
    Reporter,
    /// The push API's workloads with the store on PostgreSQL (started by the bench).
    PushPostgres,
    /// Two replicas behind nginx: fan-out to many clients through it, and the time until the
    /// clients of a killed replica are live again.
    Replicas,
}

/// `cargo xtask profile ...`.
#[derive(Subcommand, Debug)]
pub enum Profile {
    /// DevTools CPU profile of a cold load of 1,000 services.
    Load {
        /// With animations off (prefers-reduced-motion).
        #[arg(long)]
        reduced_motion: bool,
    },
    /// DevTools CPU profile of 10 s of the update workload.
    Updates {
        /// With animations off (prefers-reduced-motion).
        #[arg(long)]
        reduced_motion: bool,
    },
    /// DevTools CPU profile while the 1,000,000-line log arrives from the server.
    Logs {
        /// Lines of the log.
        #[arg(long, default_value_t = 1_000_000)]
        lines: u64,
        /// Ask the server for a log of this deployment.
        #[arg(long, default_value = "dep-1")]
        deployment: String,
    },
    /// The page's wasm memory and JS heap every 15 s under the update workload.
    Memory(Workload),
    /// The app's live allocations by call site (heap-profile build).
    Heap(Workload),
    /// DevTools heap snapshots a minute in and SECONDS later.
    JsHeap(Workload),
}

/// Options of the memory profiles.
#[derive(Args, Debug, Clone)]
pub struct Workload {
    /// How long (default: 180 s; js-heap: 240 s).
    pub seconds: Option<u64>,
    /// Sort the table by name first (no re-sorting churn).
    #[arg(long)]
    pub sort_name: bool,
    /// The simulator's seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Command {
        Xtask::try_parse_from(std::iter::once("xtask").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .command
    }

    #[test]
    fn the_documented_command_lines_parse() {
        let Command::Run { server_args } = parse(&["run", "--", "--seed", "7"]) else {
            panic!("run");
        };
        assert_eq!(server_args, ["--seed", "7"]);
        let Command::Run { server_args } = parse(&["run", "--scenario", "calm"]) else {
            panic!("run");
        };
        assert_eq!(server_args, ["--scenario", "calm"]);
        let Command::Bench(b) = parse(&["bench", "--quick", "--only", "logs,server"]) else {
            panic!("bench");
        };
        assert!(b.quick && !b.no_build && !b.record);
        assert_eq!(b.only, [Part::Logs, Part::Server]);
        let Command::Profile {
            what: Profile::JsHeap(w),
        } = parse(&["profile", "js-heap", "300", "--sort-name", "--seed", "11"])
        else {
            panic!("profile");
        };
        assert_eq!((w.seconds, w.sort_name, w.seed), (Some(300), true, 11));
        assert!(matches!(
            parse(&["profile", "load", "--reduced-motion"]),
            Command::Profile {
                what: Profile::Load {
                    reduced_motion: true
                }
            }
        ));
    }

    #[test]
    fn unknown_options_and_record_without_only_are_refused() {
        let no = |args: &[&str]| {
            Xtask::try_parse_from(std::iter::once("xtask").chain(args.iter().copied())).is_err()
        };
        assert!(no(&["bench", "--fast"]));
        assert!(no(&["bench", "--record"]));
        assert!(no(&["bench", "--only", "nothing"]));
        assert!(no(&["profile", "cpu"]));
    }
}
