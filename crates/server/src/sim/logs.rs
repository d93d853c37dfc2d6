//! Deployment logs that read like a real build and rollout: BuildKit steps with ANSI colours,
//! progress bars redrawn with carriage returns, compiler warnings, rollout steps, and errors
//! that carry a hint. Line numbers run from 1 without gaps.

use super::rng::Rng;
use shipwatch_model::entities::Millis;
use shipwatch_model::{LogLevel, LogLine};

/// Numbers the lines of one deployment's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogWriter {
    next: u64,
}

impl Default for LogWriter {
    fn default() -> Self {
        Self { next: 1 }
    }
}

impl LogWriter {
    /// A writer whose first line is number `n` (a log that goes on).
    pub fn starting_at(n: u64) -> Self {
        Self { next: n.max(1) }
    }

    /// A line with the next number.
    pub fn line(&mut self, ts: Millis, stage: &str, level: LogLevel, text: String) -> LogLine {
        let n = self.next;
        self.next += 1;
        LogLine {
            n,
            ts,
            stage: stage.to_string(),
            level,
            text,
            hint: None,
        }
    }

    /// An info line.
    pub fn info(&mut self, ts: Millis, stage: &str, text: impl Into<String>) -> LogLine {
        self.line(ts, stage, LogLevel::Info, text.into())
    }

    /// A warning line.
    pub fn warn(&mut self, ts: Millis, stage: &str, text: impl Into<String>) -> LogLine {
        self.line(ts, stage, LogLevel::Warning, text.into())
    }

    /// An error line with what to do about it.
    pub fn error(
        &mut self,
        ts: Millis,
        stage: &str,
        text: impl Into<String>,
        hint: impl Into<String>,
    ) -> LogLine {
        let mut line = self.line(ts, stage, LogLevel::Error, text.into());
        line.hint = Some(hint.into());
        line
    }

    /// Lines written so far.
    pub fn written(&self) -> u64 {
        self.next - 1
    }
}

const CRATES: [&str; 16] = [
    "serde v1.0.210",
    "tokio v1.40.0",
    "hyper v1.4.1",
    "axum v0.8.1",
    "sqlx v0.8.2",
    "tracing v0.1.40",
    "reqwest v0.12.8",
    "rustls v0.23.13",
    "prost v0.13.3",
    "uuid v1.10.0",
    "chrono v0.4.38",
    "regex v1.11.0",
    "tower v0.5.1",
    "bytes v1.7.2",
    "futures v0.3.31",
    "anyhow v1.0.89",
];

/// The first lines of a log: who queued what.
pub fn queued(
    w: &mut LogWriter,
    now: Millis,
    dep: &str,
    service: &str,
    version: &str,
    previous: Option<&str>,
) -> Vec<LogLine> {
    let from = previous
        .map(|p| format!(" (replacing {p})"))
        .unwrap_or_default();
    vec![
        w.info(
            now,
            "queue",
            format!("Deployment {dep} of {service} queued: version {version}{from}"),
        ),
        w.info(now, "queue", "Waiting for an available deployer..."),
    ]
}

/// Lines when a deployer picks the deployment up.
pub fn build_start(w: &mut LogWriter, now: Millis, service: &str, version: &str) -> Vec<LogLine> {
    vec![
        w.info(
            now,
            "build",
            format!("\x1b[1mBuilding {service} at commit {version}\x1b[0m"),
        ),
        w.info(
            now,
            "build",
            "#1 [internal] load build definition from Dockerfile",
        ),
        w.info(
            now,
            "build",
            "#1 transferring dockerfile: 1.21kB \x1b[32mdone\x1b[0m",
        ),
    ]
}

/// One chunk of build output of about `count` lines; `chunk` counts from 0.
pub fn build_chunk(
    w: &mut LogWriter,
    rng: &mut Rng,
    now: Millis,
    chunk: u32,
    count: u64,
) -> Vec<LogLine> {
    let step = chunk + 2;
    let mut out = Vec::with_capacity(count as usize + 1);
    out.push(w.info(
        now,
        "build",
        format!(
            "\x1b[1;34m#{step} [builder {}/16] RUN cargo build --release\x1b[0m",
            chunk + 1
        ),
    ));
    for i in 1..count {
        let t = (chunk as f64) * 4.3 + i as f64 * 0.07;
        let line = match rng.below(20) {
            0 => w.warn(
                now,
                "build",
                format!("#{step} {t:.1} \x1b[33mwarning\x1b[0m: unused variable: `retries` --> src/jobs.rs:{}:9", rng.range(10, 400)),
            ),
            1 | 2 => {
                // A progress bar redrawn in place, as a terminal shows it.
                let mut text = format!("#{step} {t:.1} Downloading layers ");
                for p in [10, 45, 80, 100] {
                    let bar = "#".repeat(p / 10) + &" ".repeat(10 - p / 10);
                    text.push_str(&format!("\r#{step} {t:.1} Downloading layers [{bar}] {p:3}%"));
                }
                w.info(now, "build", text)
            }
            3 => w.info(now, "build", format!("#{step} {t:.1} \x1b[32m    Finished\x1b[0m `release` profile [optimized] target(s)")),
            _ => w.info(
                now,
                "build",
                format!("#{step} {t:.1} \x1b[1;32m   Compiling\x1b[0m {}", rng.pick(&CRATES)),
            ),
        };
        out.push(line);
    }
    out
}

/// The end of a build that failed, with a hint.
pub fn build_failed(w: &mut LogWriter, now: Millis, service: &str) -> Vec<LogLine> {
    vec![
        w.line(now, "build", shipwatch_model::LogLevel::Error, "\x1b[1;31merror[E0308]\x1b[0m: mismatched types --> src/handlers/orders.rs:88:24".into()),
        w.info(now, "build", "   |     expected `u64`, found `Option<u64>`"),
        w.error(
            now,
            "build",
            "\x1b[31mERROR: failed to solve: process \"/bin/sh -c cargo build --release\" did not complete successfully: exit code: 101\x1b[0m",
            format!("Fix the compile error above and push a new commit; the previous version of {service} keeps running."),
        ),
    ]
}

/// The end of a successful build.
pub fn build_done(w: &mut LogWriter, now: Millis, service: &str, version: &str) -> Vec<LogLine> {
    vec![
        w.info(now, "build", "#18 exporting to image"),
        w.info(
            now,
            "build",
            format!("#18 pushing registry.internal/{service}:{version} \x1b[32mdone\x1b[0m"),
        ),
        w.info(
            now,
            "build",
            format!("\x1b[32mBuild of {service} succeeded\x1b[0m"),
        ),
    ]
}

/// Lines while a cancel stops the build.
pub fn cancelling(w: &mut LogWriter, now: Millis) -> Vec<LogLine> {
    vec![w.warn(now, "build", "Cancel requested: stopping the build...")]
}

/// Lines once a cancel completed.
pub fn cancelled(w: &mut LogWriter, now: Millis, service: &str) -> Vec<LogLine> {
    vec![w.info(
        now,
        "build",
        format!("Build cancelled; {service} keeps running its previous version."),
    )]
}

/// Lines when the rollout begins.
pub fn deploy_start(
    w: &mut LogWriter,
    now: Millis,
    service: &str,
    slots: u32,
    image_only: bool,
) -> Vec<LogLine> {
    let mut out = Vec::new();
    if image_only {
        out.push(w.info(now, "deploy", format!("Pulling image for {service}...")));
    }
    out.push(w.info(
        now,
        "deploy",
        format!(
            "Rolling update of {service}: {slots} instance(s), one at a time (max unavailable 0)"
        ),
    ));
    out
}

/// Filler lines of rollout chatter, about `count` of them.
pub fn deploy_chatter(
    w: &mut LogWriter,
    rng: &mut Rng,
    now: Millis,
    instance: &str,
    count: u64,
) -> Vec<LogLine> {
    (0..count)
        .map(|i| match rng.below(6) {
            0 => w.info(
                now,
                "deploy",
                format!("Pod {instance}: pulled image in {}ms", rng.range(200, 4000)),
            ),
            1 => w.info(
                now,
                "deploy",
                format!(
                    "Pod {instance}: readiness probe GET /health -> 503 (attempt {})",
                    i + 1
                ),
            ),
            2 => w.info(now, "deploy", format!("Pod {instance}: container started")),
            3 => w.info(
                now,
                "deploy",
                format!("Waiting for {instance} to become ready ({}s)", i + 1),
            ),
            4 => w.info(
                now,
                "deploy",
                format!("Event: Scheduled {instance} to node pool-a-{}", rng.hex(4)),
            ),
            _ => w.info(
                now,
                "deploy",
                format!("Service endpoints updated ({} ready)", rng.range(1, 4)),
            ),
        })
        .collect()
}

/// A line when a new instance starts.
pub fn instance_starting(w: &mut LogWriter, now: Millis, instance: &str, version: &str) -> LogLine {
    w.info(
        now,
        "deploy",
        format!("Starting {instance} at version {version}"),
    )
}

/// A line when a new instance is ready.
pub fn instance_ready(w: &mut LogWriter, now: Millis, instance: &str) -> LogLine {
    w.info(
        now,
        "deploy",
        format!("\x1b[32m{instance} is running and ready\x1b[0m"),
    )
}

/// A line when a new instance is still not ready (a stalled rollout).
pub fn instance_not_ready(w: &mut LogWriter, now: Millis, instance: &str) -> LogLine {
    w.warn(
        now,
        "deploy",
        format!("{instance}: readiness probe failed: GET /ready -> 503; waiting"),
    )
}

/// A line when an old instance is killed.
pub fn instance_killed(w: &mut LogWriter, now: Millis, instance: &str, version: &str) -> LogLine {
    w.info(
        now,
        "deploy",
        format!("Killing previous version of {instance} ({version})"),
    )
}

/// A line when a new instance crashes.
pub fn instance_crashed(
    w: &mut LogWriter,
    now: Millis,
    instance: &str,
    reason: &str,
    restarts: u32,
) -> LogLine {
    w.warn(now, "deploy", format!("\x1b[33m{instance}: {reason}: back-off restarting failed container (restarts: {restarts})\x1b[0m"))
}

/// The end of a stalled rollout.
pub fn rollout_failed(
    w: &mut LogWriter,
    now: Millis,
    instance: &str,
    reason: &str,
    serving: usize,
) -> Vec<LogLine> {
    vec![w.error(
        now,
        "deploy",
        format!("\x1b[31mRollout stalled: {instance} is in {reason}; deployment failed\x1b[0m"),
        format!(
            "Look at {instance}'s application logs for the startup failure (or the image name for ImagePullBackOff); {serving} instance(s) of the previous version are still serving."
        ),
    )]
}

/// The end of a successful rollout.
pub fn rollout_done(w: &mut LogWriter, now: Millis, service: &str, version: &str) -> Vec<LogLine> {
    vec![w.info(
        now,
        "deploy",
        format!("\x1b[1;32mDeployment OK\x1b[0m: {service} runs {version}"),
    )]
}

/// Lines of a job execution.
pub fn job_run(w: &mut LogWriter, now: Millis, execution: &str, ok: bool) -> Vec<LogLine> {
    if ok {
        vec![
            w.info(now, "deploy", format!("Job {execution}: running")),
            w.info(
                now,
                "deploy",
                format!("Job {execution}: completed (exit code 0)"),
            ),
        ]
    } else {
        vec![w.error(
            now,
            "deploy",
            format!("Job {execution}: failed: BackoffLimitExceeded (exit code 1)"),
            "The job failed on every retry: read its output, fix the migration, and redeploy.",
        )]
    }
}
