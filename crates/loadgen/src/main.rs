//! `shipwatch-loadgen`: a swarm of websocket clients for `cargo xtask bench`. Prints each
//! figure as `name: value unit`.
//!
//! ```text
//! shipwatch-loadgen fanout --url ws://127.0.0.1:8080/ws --env production --clients 10000 \
//!     --seconds 10 [--probes 8] [--server-pid PID[,PID...]] [--connect-rate CLIENTS_PER_S] \
//!     [--cpu NAME=PID[+PID...][,...]] [--prefix fanout]
//! shipwatch-loadgen resume --url ws://127.0.0.1:8080/ws --env production --clients 1000 \
//!     [--warm-seconds 3] [--prefix resume]
//! shipwatch-loadgen failover --url ws://127.0.0.1:8080/ws --env production --clients 2000 \
//!     --kill-pid PID [--warm-seconds 2] [--timeout-seconds 60] [--prefix failover]
//! shipwatch-loadgen throughput --addr 127.0.0.1:8080 --deployment dep-1 [--lines N] \
//!     [--rtt-ms 20] [--line-batches true] [--timeout-seconds 120] [--prefix log_socket]
//! ```

mod client;
mod cpu;
mod failover;
mod fanout;
mod frame;
mod proxy;
mod resume;
mod stats;
mod throughput;
mod wire;

use std::collections::HashMap;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first().cloned() else {
        usage();
    };
    let mut flags: HashMap<String, String> = HashMap::new();
    for pair in args[1..].chunks(2) {
        match pair {
            [k, v] if k.starts_with("--") => {
                flags.insert(k[2..].to_string(), v.clone());
            }
            _ => usage(),
        }
    }
    let get = |k: &str, d: &str| flags.get(k).cloned().unwrap_or_else(|| d.to_string());
    let num = |k: &str, d: &str| -> f64 { get(k, d).parse().unwrap_or_else(|_| usage()) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let url = get("url", "ws://127.0.0.1:8080/ws");
    let env = get("env", "production");
    match mode.as_str() {
        "fanout" => runtime.block_on(fanout::run(fanout::Opts {
            url,
            env,
            clients: num("clients", "1000") as usize,
            probes: num("probes", "8") as usize,
            seconds: num("seconds", "10"),
            server_pids: get("server-pid", "")
                .split(',')
                .filter_map(|p| p.parse().ok())
                .collect(),
            connect_rate: num("connect-rate", "0"),
            cpu: cpu::parse_groups(&get("cpu", "")).unwrap_or_else(|| usage()),
            prefix: get("prefix", "fanout"),
        })),
        "resume" => runtime.block_on(resume::run(resume::Opts {
            url,
            env,
            clients: num("clients", "1000") as usize,
            warm_seconds: num("warm-seconds", "3"),
            prefix: get("prefix", "resume"),
        })),
        "failover" => runtime.block_on(failover::run(failover::Opts {
            url,
            env,
            clients: num("clients", "2000") as usize,
            kill_pid: flags
                .get("kill-pid")
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| usage()),
            warm_seconds: num("warm-seconds", "2"),
            timeout_seconds: num("timeout-seconds", "60"),
            prefix: get("prefix", "failover"),
        })),
        "throughput" => runtime.block_on(throughput::run(throughput::Opts {
            addr: get("addr", "127.0.0.1:8080")
                .parse()
                .unwrap_or_else(|_| usage()),
            deployment: get("deployment", "dep-1"),
            lines: flags.get("lines").map(|_| num("lines", "0") as u64),
            rtt: std::time::Duration::from_secs_f64(num("rtt-ms", "0") / 1000.0),
            line_batches: get("line-batches", "false") == "true",
            timeout: std::time::Duration::from_secs_f64(num("timeout-seconds", "120")),
            prefix: get("prefix", "log_socket"),
        })),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: shipwatch-loadgen fanout|resume --url WS_URL --env ENV --clients N \
         [--seconds S] [--probes N] [--server-pid PID[,PID]] [--connect-rate N] \
         [--cpu NAME=PID[+PID][,...]] [--warm-seconds S] [--prefix NAME]\n\
         \x20      shipwatch-loadgen failover --url WS_URL --env ENV --clients N --kill-pid PID \
         [--warm-seconds S] [--timeout-seconds S] [--prefix NAME]\n\
         \x20      shipwatch-loadgen throughput --addr HOST:PORT --deployment DEP [--lines N] \
         [--rtt-ms MS] [--line-batches true|false] [--timeout-seconds S] [--prefix NAME]"
    );
    std::process::exit(2);
}
