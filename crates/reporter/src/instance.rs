//! `shipwatch report instance`: an instance's state, once or as a heartbeat (`--every`),
//! e.g. from a container's entrypoint. Creates the environment and the service when the
//! server does not know them. A heartbeat goes on through errors (the server may be away for
//! a while); a single report exits 1 when it could not be delivered.

use crate::api::{Api, ApiError};
use crate::backoff::Backoff;
use crate::cli::Instance;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::signal::unix::{signal, SignalKind};

/// Runs `shipwatch report instance`; returns the exit code.
pub async fn run(args: Instance) -> i32 {
    let api = match Api::new(&args.server.server, args.server.token.clone()) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("shipwatch: {e}");
            return 2;
        }
    };
    let name = args.name.clone().unwrap_or_else(host_name);
    let started_at = args.started_at.unwrap_or_else(now_ms);
    let body = body(&args, started_at);
    let mut backoff = Backoff::new(u64::from(std::process::id()));
    let mut sigint = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut sigterm = signal(SignalKind::terminate()).expect("SIGTERM handler");
    loop {
        let result = report(&api, &args, &name, &body).await;
        if args.every == 0 {
            return match result {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("shipwatch: instance {name} not reported: {e}");
                    1
                }
            };
        }
        let wait = match result {
            Ok(()) => {
                backoff.reset();
                Duration::from_secs(args.every)
            }
            Err(e) if e.is_retryable() => {
                eprintln!("shipwatch: instance {name} not reported: {e}; trying again");
                backoff.next_wait().min(Duration::from_secs(args.every))
            }
            Err(e) => {
                eprintln!("shipwatch: instance {name} not reported: {e}");
                return 1;
            }
        };
        // A container stops with SIGTERM, a terminal with Ctrl-C: either ends the heartbeat.
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = sigint.recv() => return 0,
            _ = sigterm.recv() => return 0,
        }
    }
}

/// The request body of a report.
#[must_use]
pub fn body(args: &Instance, started_at: u64) -> Value {
    let mut body = json!({ "status": args.status, "started_at": started_at });
    let optional = [
        ("reason", args.reason.clone().map(Value::from)),
        ("message", args.message.clone().map(Value::from)),
        ("exit_code", args.exit_code.map(Value::from)),
        ("restarts", args.restarts.map(Value::from)),
        ("version", args.version.clone().map(Value::from)),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            body[key] = v;
        }
    }
    body
}

async fn report(api: &Api, args: &Instance, name: &str, body: &Value) -> Result<(), ApiError> {
    for _ in 0..2 {
        match api
            .report_instance(&args.env, &args.service, name, body.clone())
            .await
        {
            Err(ApiError::Refused {
                status: 404, field, ..
            }) if field.as_deref() == Some("environment") => {
                api.upsert_environment(&args.env).await?;
            }
            Err(ApiError::Refused {
                status: 404, field, ..
            }) if field.as_deref() == Some("service") => {
                let mut svc = json!({ "kind": args.kind });
                if let Some(v) = &args.version {
                    svc["version"] = json!(v);
                }
                api.upsert_service(&args.env, &args.service, svc).await?;
            }
            other => return other,
        }
    }
    api.report_instance(&args.env, &args.service, name, body.clone())
        .await
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "instance-1".into())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
