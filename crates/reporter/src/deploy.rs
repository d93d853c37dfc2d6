//! `shipwatch deploy`: runs the command as a deployment.
//!
//! The command starts at once, whether or not the server answers: its output is echoed as
//! it comes (the CI job's own log stays whole), cut into lines, given a stage and a level,
//! numbered, and queued in the outbox that the sender drains. stdout and stderr are two
//! pipes (so that stderr can be told apart): lines written to both in the same instant may
//! be numbered in either order, as in any tool that reads the two separately. Ctrl-C or SIGTERM stops the
//! command's whole process group (SIGTERM, then SIGKILL after `--kill-after`) and reports
//! CANCELLED. The reporter exits with the command's code, or 128 + the signal's number as a
//! shell does.

use crate::api::{Api, NewDeployment};
use crate::ci::{new_id, CiContext};
use crate::cli::Deploy;
use crate::level::{level_of, Stream};
use crate::lines::LineSplitter;
use crate::outbox::{Event, Line, Outbox};
use crate::progress::{shell_exit_code, Progress};
use crate::sender::{Sender, Shared};
use crate::stages::Stages;
use shipwatch_model::protocol::MAX_LINE_TEXT_BYTES;
use shipwatch_model::{DeploymentStatus, LogLevel};
use std::io::IsTerminal;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};

/// Runs `shipwatch deploy`; returns the exit code.
pub async fn run(args: Deploy) -> i32 {
    let ci = CiContext::from_env();
    let Some(version) = args.version.clone().or(ci.version.clone()) else {
        eprintln!("shipwatch: --version is required (outside a CI job that names its commit)");
        return 2;
    };
    let api = match Api::new(&args.server.server, args.server.token.clone()) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("shipwatch: {e}");
            return 2;
        }
    };
    let new = NewDeployment {
        id: args
            .id
            .clone()
            .or_else(|| ci.deployment_id(&args.env, args.service.as_deref()))
            .unwrap_or_else(new_id),
        environment: args.env.clone(),
        service: args.service.clone(),
        version,
        previous_version: args.previous_version.clone(),
        triggered_by: args.triggered_by.clone().or(ci.triggered_by.clone()),
        url: args.url.clone().or(ci.url.clone()),
    };
    let page = match &new.service {
        Some(svc) => api.url(&[
            "env",
            &new.environment,
            "service",
            svc,
            "deployments",
            &new.id,
            "logs",
        ]),
        None => api.url(&["env", &new.environment, "deployments", &new.id, "logs"]),
    };
    eprintln!("shipwatch: deployment {} is at {page}", new.id);

    let spill_dir = args.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
    let spill = spill_dir.join(format!(
        "shipwatch-{}-{}.ndjson",
        std::process::id(),
        new.id
    ));
    let shared = Shared::new(Outbox::new(args.buffer_bytes, args.spill_bytes, spill));
    let sender = Sender::new(api, new, args.kind.clone(), shared.clone());
    let sent = sender.sent.clone();
    let sending = tokio::spawn(sender.run());

    let code = run_command(&args, &shared).await;

    shared.close();
    let flush = Duration::from_secs(args.flush_timeout);
    // Ctrl-C or SIGTERM while the rest is delivered: stop waiting (the command is over).
    let mut sigint = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut sigterm = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let finished = tokio::select! {
        r = tokio::time::timeout(flush, sending) => r.is_ok(),
        _ = sigint.recv() => false,
        _ = sigterm.recv() => false,
    };
    let left = {
        let outbox = shared.outbox.lock().expect("outbox");
        (!outbox.is_empty(), outbox.dropped())
    };
    let sent = sent.lock().expect("sent").clone();
    if !finished && sent.created {
        eprintln!(
            "shipwatch: gave up with output still unsent ({}); {} lines were delivered",
            sent.last_error.as_deref().unwrap_or("the server is slow"),
            sent.lines
        );
    } else if !finished {
        eprintln!(
            "shipwatch: gave up: the deployment could not be created ({})",
            sent.last_error.as_deref().unwrap_or("no answer")
        );
    } else if left.1 > 0 {
        eprintln!(
            "shipwatch: {} lines were dropped while the buffer was full",
            left.1
        );
    }
    code
}

/// Runs the command, queues its output and statuses; returns the exit code.
async fn run_command(args: &Deploy, shared: &Arc<Shared>) -> i32 {
    let mut rec = Recorder {
        shared: shared.clone(),
        stages: Stages::new(args.stage.clone()),
        progress: Progress::new(DeploymentStatus::Queued, args.build_stages.clone()),
        n: 0,
    };
    if let Some(stage) = &args.stage {
        rec.stage_started(stage.clone());
    }
    let mut cmd = tokio::process::Command::new(&args.command[0]);
    cmd.args(&args.command[1..])
        // The write token is the reporter's: a command that prints its environment must not
        // put it in the log it ships.
        .env_remove("SHIPWATCH_WRITE_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a cancel stops the command and everything it started, and
        // the terminal's Ctrl-C reaches the reporter, which reports it first.
        .process_group(0)
        .stdin(if std::io::stdin().is_terminal() {
            // A process group in the background may not read the terminal.
            Stdio::null()
        } else {
            Stdio::inherit()
        });
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            let text = format!("shipwatch: cannot run {}: {e}", args.command[0]);
            eprintln!("{text}");
            rec.line_at(LogLevel::Error, text);
            rec.finish(false, args.keep_open);
            return code;
        }
    };
    let pid = child.id().unwrap_or_default() as i32;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let mut out_split = LineSplitter::new(MAX_LINE_TEXT_BYTES);
    let mut err_split = LineSplitter::new(MAX_LINE_TEXT_BYTES);
    let (mut out_open, mut err_open) = (true, true);
    let mut out_buf = vec![0u8; 64 * 1024];
    let mut err_buf = vec![0u8; 64 * 1024];
    let mut echo_out = tokio::io::stdout();
    let mut echo_err = tokio::io::stderr();
    let mut sigint = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut sigterm = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut cancelled: Option<i32> = None;
    let mut exit: Option<std::process::ExitStatus> = None;
    // Once the command exited, what it started may keep the pipes open: read a little more.
    let mut pipes_deadline: Option<tokio::time::Instant> = None;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut lines = Vec::new();
    let far = tokio::time::Instant::now() + Duration::from_secs(365 * 86_400);

    while out_open || err_open || exit.is_none() {
        if exit.is_some() && pipes_deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
            break;
        }
        tokio::select! {
            // In order: signals first (a command that writes without pause must not delay a
            // cancel), then stdout before stderr when both hold lines: stage markers come on
            // stdout, and `echo '--- Build'; echo 'cc: error' >&2` must not have its error
            // line open the default stage (DEPLOYING) before the build stage.
            biased;
            _ = sigint.recv() => rec.cancel(&mut cancelled, libc::SIGINT, pid, exit.is_some(), &mut kill_at, args.kill_after),
            _ = sigterm.recv() => rec.cancel(&mut cancelled, libc::SIGTERM, pid, exit.is_some(), &mut kill_at, args.kill_after),
            r = read_some(&mut stdout, &mut out_buf), if out_open => match r {
                Some(n) => {
                    if !args.quiet {
                        let _ = echo_out.write_all(&out_buf[..n]).await;
                        let _ = echo_out.flush().await;
                    }
                    out_split.push(&out_buf[..n], &mut lines);
                    for text in lines.drain(..) {
                        rec.line(Stream::Stdout, text);
                    }
                }
                None => {
                    out_open = false;
                    out_split.finish(&mut lines);
                    for text in lines.drain(..) {
                        rec.line(Stream::Stdout, text);
                    }
                }
            },
            r = read_some(&mut stderr, &mut err_buf), if err_open => match r {
                Some(n) => {
                    if !args.quiet {
                        let _ = echo_err.write_all(&err_buf[..n]).await;
                        let _ = echo_err.flush().await;
                    }
                    err_split.push(&err_buf[..n], &mut lines);
                    for text in lines.drain(..) {
                        rec.line(Stream::Stderr, text);
                    }
                }
                None => {
                    err_open = false;
                    err_split.finish(&mut lines);
                    for text in lines.drain(..) {
                        rec.line(Stream::Stderr, text);
                    }
                }
            },
            status = child.wait(), if exit.is_none() => {
                exit = Some(status.unwrap_or_else(|_| std::process::ExitStatus::from_raw(1 << 8)));
                pipes_deadline = Some(tokio::time::Instant::now() + Duration::from_secs(2));
            },
            _ = tokio::time::sleep_until(kill_at.unwrap_or(far)), if kill_at.is_some() && exit.is_none() => {
                signal_group(pid, libc::SIGKILL);
                kill_at = None;
            },
            _ = tokio::time::sleep_until(pipes_deadline.unwrap_or(far)), if pipes_deadline.is_some() => {},
        }
    }
    // The deadline passed with a pipe still open (something the command started holds it):
    // what is already in the pipe is read all the same, however late this task ran.
    let pipes: [(&mut (dyn AsyncRead + Unpin), _, _, _, _); 2] = [
        (
            &mut stdout,
            out_open,
            &mut out_split,
            &mut out_buf,
            Stream::Stdout,
        ),
        (
            &mut stderr,
            err_open,
            &mut err_split,
            &mut err_buf,
            Stream::Stderr,
        ),
    ];
    for (pipe, open, split, buf, stream) in pipes {
        let ready = Duration::from_millis(50);
        if open {
            while let Ok(Some(n)) =
                tokio::time::timeout(ready, read_some(&mut *pipe, &mut buf[..])).await
            {
                split.push(&buf[..n], &mut lines);
                for text in lines.drain(..) {
                    rec.line(stream, text);
                }
            }
        }
        split.finish(&mut lines);
        for text in lines.drain(..) {
            rec.line(stream, text);
        }
    }
    let exit = exit.expect("the loop ends once the command exited");
    if let Some(signo) = cancelled {
        let text = format!(
            "shipwatch: cancelled ({}): the command was stopped",
            signal_name(signo)
        );
        eprintln!("{text}");
        rec.line_at(LogLevel::Warning, text);
        if let Some(status) = rec.progress.cancelled() {
            rec.status(status);
        }
        return 128 + signo;
    }
    rec.finish(exit.success(), args.keep_open);
    shell_exit_code(exit.code(), exit.signal())
}

/// Reads what is there (None at the end of the stream or on an error).
async fn read_some<R: AsyncRead + Unpin + ?Sized>(r: &mut R, buf: &mut [u8]) -> Option<usize> {
    match r.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

fn signal_group(pid: i32, signo: i32) {
    if pid > 0 {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-pid, signo);
        }
    }
}

fn signal_name(signo: i32) -> &'static str {
    match signo {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// Turns the command's output and end into queued events.
struct Recorder {
    shared: Arc<Shared>,
    stages: Stages,
    progress: Progress,
    n: u64,
}

impl Recorder {
    fn line(&mut self, stream: Stream, text: String) {
        let read = self.stages.read(text);
        if let Some(stage) = read.started {
            self.stage_started(stage);
        }
        if let Some(text) = read.text {
            let level = level_of(stream, &text);
            self.line_at(level, text);
        }
    }

    fn line_at(&mut self, level: LogLevel, text: String) {
        self.n += 1;
        let stage = self
            .stages
            .current()
            .unwrap_or(crate::stages::DEFAULT_STAGE)
            .to_string();
        self.shared.push(Event::Line(Line {
            n: self.n,
            text,
            level,
            stage,
            ts: now_ms(),
        }));
    }

    fn stage_started(&mut self, stage: String) {
        match self.progress.stage_started(&stage) {
            Some(status) => self.shared.push(Event::Status {
                status,
                stage: Some(stage),
            }),
            None => self.shared.push(Event::Stage { stage }),
        }
    }

    fn status(&mut self, status: DeploymentStatus) {
        let stage = self.stages.current().map(str::to_string);
        self.shared.push(Event::Status { status, stage });
    }

    fn finish(&mut self, success: bool, keep_open: bool) {
        if let Some(status) = self.progress.finished(success, keep_open) {
            self.status(status);
        }
    }

    /// A cancel signal arrived: the first stops the command (SIGTERM to its group, SIGKILL
    /// after `kill_after` s), a second one kills it at once.
    fn cancel(
        &mut self,
        cancelled: &mut Option<i32>,
        signo: i32,
        pid: i32,
        exited: bool,
        kill_at: &mut Option<tokio::time::Instant>,
        kill_after: u64,
    ) {
        if cancelled.is_some() {
            if !exited {
                signal_group(pid, libc::SIGKILL);
            }
            return;
        }
        *cancelled = Some(signo);
        eprintln!("shipwatch: {}: stopping the command", signal_name(signo));
        if let Some(status) = self.progress.cancelling() {
            self.status(status);
        }
        if !exited {
            signal_group(pid, libc::SIGTERM);
            *kill_at = Some(tokio::time::Instant::now() + Duration::from_secs(kill_after));
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
