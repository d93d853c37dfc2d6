//! How many events and log lines a second the store takes on this machine, on a real file:
//! `cargo run -p shipwatch-server --profile native --example store_throughput [DIR]`.
//!
//! 1. status events (whole services of 3 instances, over 1,000 services) as fast as they
//!    can be queued, until all are committed;
//! 2. log lines (events of 100 lines, over 20 deployments) likewise;
//! 3. both at once at the rates the issue asks for (10,000 status events/s and 100,000 log
//!    lines/s), paced every 100 ms as the simulator's driver does, for 10 s: whether the writer
//!    keeps up (how long the last commit trails the last write) and the CPU it takes.
//!
//! Prints its figures as `name: value unit` on stdout (what `cargo xtask bench --only store`
//! records), and where the file is on stderr.

use shipwatch_model::{
    Deployment, DeploymentStatus, Instance, LogLevel, LogLine, RunningStatus, Service, ServiceKind,
};
use shipwatch_server::platform::PlatformEvent;
use shipwatch_server::store::{Store, StoreConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SERVICES: usize = 1_000;
const DEPLOYMENTS: usize = 20;

fn service(i: usize, tick: u64) -> PlatformEvent {
    let instances = (1..=3)
        .map(|k| Instance {
            name: format!("svc-{i}-{k}"),
            status: if (tick + k as u64).is_multiple_of(5) {
                RunningStatus::Error
            } else {
                RunningStatus::Running
            },
            version: "9f3c2a1".into(),
            restarts: (tick % 7) as u32,
            reason: ((tick + k as u64).is_multiple_of(5)).then(|| "CrashLoopBackOff".into()),
            message: ((tick + k as u64).is_multiple_of(5))
                .then(|| "back-off 20s restarting failed container (exit code 137)".into()),
            started_at: Some(1_700_000_000_000 + tick),
            events: Vec::new(),
            last_restart_at: None,
            last_termination: None,
        })
        .collect();
    PlatformEvent::ServiceChanged {
        env: "production".into(),
        service: Service {
            id: format!("svc-{i}"),
            name: format!("Service {i}"),
            kind: ServiceKind::Application,
            instances,
            version: "9f3c2a1".into(),
            deployment: None,
            deployment_since: None,
            running_since: None,
        },
    }
}

fn lines(dep: usize, from: u64, count: u64) -> PlatformEvent {
    PlatformEvent::LogAppended {
        deployment: format!("dep-{dep}"),
        lines: (from..from + count)
            .map(|n| LogLine {
                n,
                ts: 1_700_000_000_000 + n,
                stage: "build".into(),
                level: LogLevel::Info,
                text: format!(
                    "   Compiling serde_derive v1.0.{n} (/build/vendor/serde_derive) \u{1b}[32m[{n}/9000]\u{1b}[0m"
                ),
                hint: None,
            })
            .collect(),
    }
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

#[tokio::main]
async fn main() {
    let arg = std::env::args().nth(1);
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = arg.map_or_else(|| tmp.path().to_path_buf(), Into::into);
    let (store, _) = Store::open(StoreConfig {
        dir: dir.clone(),
        retain_deployments: 50,
        max_log_bytes: 2 << 30,
        log_base: 0,
        max_file_bytes: 0,
        queue: Default::default(),
        synchronous: Default::default(),
        keep_removed: shipwatch_server::store::DEFAULT_KEEP_REMOVED,
        database: None,
        pool: Default::default(),
    })
    .await
    .expect("store opens");
    eprintln!("store file: {}", store.file().display());
    let mut setup = vec![PlatformEvent::EnvironmentChanged {
        id: "production".into(),
        name: "Production".into(),
    }];
    for d in 0..DEPLOYMENTS {
        setup.push(PlatformEvent::DeploymentQueued {
            env: "production".into(),
            service: Some(format!("svc-{d}")),
            deployment: Deployment {
                id: format!("dep-{d}"),
                status: DeploymentStatus::Building,
                version: "9f3c2a1".into(),
                previous_version: None,
                started_at: 1_700_000_000_000,
                finished_at: None,
                triggered_by: None,
                url: None,
            },
        });
    }
    store.write(Arc::from(setup)).committed().await.unwrap();

    // 1. Status events, as fast as they come.
    let total = 200_000usize;
    let t = Instant::now();
    for chunk in 0..total / 1_000 {
        let events: Vec<PlatformEvent> = (0..1_000)
            .map(|k| {
                service(
                    (k * 7919 + chunk * 13) % SERVICES,
                    (chunk * 1_000 + k) as u64,
                )
            })
            .collect();
        store.write(Arc::from(events));
    }
    store.flush().await.unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "store_status_events_per_s: {:.0} events/s",
        total as f64 / s
    );

    // 2. Log lines, as fast as they come.
    let total_lines = 1_000_000u64;
    let mut next_n = [1u64; DEPLOYMENTS];
    let t = Instant::now();
    for k in 0..(total_lines / 100) as usize {
        let d = k % DEPLOYMENTS;
        store.write(Arc::from(vec![lines(d, next_n[d], 100)]));
        next_n[d] += 100;
    }
    store.flush().await.unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "store_log_lines_per_s: {:.0} lines/s",
        total_lines as f64 / s
    );

    // 3. Both, paced at the asked rates.
    let seconds = 10u64;
    let ticks = seconds * 10;
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let mut worst_pending = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for i in 0..ticks {
        tick.tick().await;
        let mut events: Vec<PlatformEvent> = (0..1_000)
            .map(|k| {
                service(
                    (k * 7919 + i as usize * 31) % SERVICES,
                    i * 1_000 + k as u64,
                )
            })
            .collect();
        for (d, next) in next_n.iter_mut().enumerate() {
            // 10,000 lines per tick over 20 deployments, in events of 100 lines.
            for _ in 0..5 {
                events.push(lines(d, *next, 100));
                *next += 100;
            }
        }
        store.write(Arc::from(events));
        worst_pending = worst_pending.max(store.health().pending_writes);
    }
    let sent = t.elapsed();
    store.flush().await.unwrap();
    let lag = t.elapsed() - sent;
    let cpu = cpu_seconds() - cpu0;
    let wall = t.elapsed().as_secs_f64();
    // At 10,000 status events/s + 100,000 lines/s for `seconds`.
    println!(
        "store_paced_commit_lag: {:.0} ms",
        lag.as_secs_f64() * 1000.0
    );
    println!("store_paced_max_queued_writes: {worst_pending} writes");
    println!("store_paced_cpu: {:.0} % of one core", cpu / wall * 100.0);
    println!(
        "store_file_size: {:.1} MB",
        std::fs::metadata(store.file()).map_or(0, |m| m.len()) as f64 / 1e6
    );
    store.close(Vec::new()).await.unwrap();
}
