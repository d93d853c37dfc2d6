//! Server figures from the websocket client swarm (`crates/loadgen`): fan-out and resume.

use super::record::Figures;
use super::server::{self, with_fd_limit, Server};
use crate::build::Built;
use crate::cmd::Result;
use std::path::Path;

/// Services of the environment the swarm follows: 1,000 would make 10,000 snapshots of
/// 0.6 MB each (6 GB) before the first delta, so the fan-out uses 100.
const SERVICES: &str = "100";
/// Status events per second asked of the simulator.
const RATE: &str = "1000";

/// Runs the load generator with `args`; its stdout (the figures), its stderr echoed.
pub fn loadgen(bin: &Path, args: &[String]) -> Result<String> {
    eprintln!("bench: loadgen {}", args.join(" "));
    let out = with_fd_limit(bin)
        .args(args)
        .output()
        .map_err(|e| format!("cannot start the load generator: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    for l in err.lines().take(20) {
        eprintln!("  {l}");
    }
    if !out.status.success() {
        return Err(format!("the load generator failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `clients` clients on one environment for `seconds`, then `resume_runs` mass resumes of
/// `resume_clients` clients.
pub fn measure(
    built: &Built,
    loadgen_bin: &Path,
    clients: usize,
    seconds: f64,
    resume_clients: usize,
    resume_runs: usize,
    figures: &mut Figures,
) -> Result {
    let server = start_server(built, "7", clients)?;
    let ws = format!("ws://{}/ws", server.addr());
    figures.put(
        "fanout_services",
        SERVICES.parse().unwrap_or(0.0),
        "services",
    );
    figures.put(
        "fanout_rate_requested",
        RATE.parse().unwrap_or(0.0),
        "events/s",
    );
    let out = loadgen(
        loadgen_bin,
        &[
            "fanout".into(),
            "--url".into(),
            ws.clone(),
            "--env".into(),
            "production".into(),
            "--clients".into(),
            clients.to_string(),
            "--seconds".into(),
            seconds.to_string(),
            "--server-pid".into(),
            server.pid().unwrap_or(0).to_string(),
        ],
    )?;
    figures.absorb(&out);
    drop(server);

    // Resume on a fresh server: the fan-out may have left the first one overloaded.
    let server = start_server(built, "8", resume_clients)?;
    let ws = format!("ws://{}/ws", server.addr());
    let mut runs: Vec<Vec<(String, f64, String)>> = Vec::new();
    for _ in 0..resume_runs {
        let out = loadgen(
            loadgen_bin,
            &[
                "resume".into(),
                "--url".into(),
                ws.clone(),
                "--env".into(),
                "production".into(),
                "--clients".into(),
                resume_clients.to_string(),
            ],
        )?;
        runs.push(
            out.lines()
                .filter_map(|l| {
                    let (name, rest) = l.split_once(": ")?;
                    let (v, unit) = rest.split_once(' ')?;
                    Some((name.to_string(), v.parse().ok()?, unit.to_string()))
                })
                .collect(),
        );
    }
    if let Some(first) = runs.first() {
        for (name, _, unit) in first {
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.iter().find(|(n, _, _)| n == name).map(|x| x.1))
                .collect();
            figures.put_median(name, &values, unit);
        }
    }
    Ok(())
}

/// The server of the swarm workloads: one environment of [`SERVICES`] at [`RATE`], that
/// lets `clients` sockets from this one address in (twice over: a mass resume opens the new
/// sockets while the old ones close), where it limits connections per address.
fn start_server(built: &Built, seed: &str, clients: usize) -> Result<Server> {
    let limit = (2 * clients + 100).to_string();
    let mut flags = vec![
        "--environments",
        "1",
        "--services",
        SERVICES,
        "--rate",
        RATE,
        "--seed",
        seed,
    ];
    if server::takes_flag(&built.server, PER_ADDRESS_LIMIT) {
        flags.extend([PER_ADDRESS_LIMIT, limit.as_str()]);
    }
    server::start(&built.server, &built.dist, &flags)
}

/// The server's limit on connections from one client address.
const PER_ADDRESS_LIMIT: &str = "--max-connections-per-ip";
