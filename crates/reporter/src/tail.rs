//! `shipwatch tail URL`: a deployment's log in the terminal, read over the websocket
//! protocol as the page reads it (`shipwatch_model::protocol`: the same decoder, `lines`
//! frames, sequence cursor, pongs, resume after a lost connection). It follows the log
//! until the deployment ends, then exits 0 (1 when it ended in an error, 2 when there is no
//! such log).

use crate::backoff::Backoff;
use crate::cli::Tail;
use crate::level::strip_ansi;
use futures_util::{SinkExt, StreamExt};
use shipwatch_model::protocol::stream::Cursor;
use shipwatch_model::protocol::{
    decode_server, encode, Change, ClientFrame, ClientMessage, ErrorCode, ServerMessage, Snapshot,
    Topic, MAX_SERVER_FRAME_BYTES,
};
use shipwatch_model::{Deployment, DeploymentStatus, LogLevel, LogLine};
use std::io::{IsTerminal, Write};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const SUB: &str = "tail";

/// What the terminal gets from one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    /// The deployment's header, or its status changed.
    Header(String),
    /// A stage starts (before its first line).
    Stage(String),
    /// A line.
    Line(LogLine),
    /// The deployment ended with this status and every line it had is out.
    Ended(DeploymentStatus),
    /// The log is not there.
    Missing(String),
    /// Subscribe again from the start (the server said the stream cannot go on).
    Resubscribe,
}

/// One subscription's state: what was printed, where the stream stands.
#[derive(Clone, Debug, Default)]
pub struct TailState {
    cursor: Cursor,
    printed: u64,
    stage: Option<String>,
    status: Option<DeploymentStatus>,
    line_count: Option<u64>,
    follow: bool,
}

impl TailState {
    /// A subscription that follows (or, `follow` false, stops after the history).
    #[must_use]
    pub fn new(follow: bool) -> Self {
        Self {
            follow,
            ..Self::default()
        }
    }

    /// The subscribe frame: from the start, or resuming where the cursor is.
    #[must_use]
    pub fn subscribe(&self, deployment: &str) -> String {
        encode(&ClientFrame::new(ClientMessage::Subscribe {
            sub: SUB.to_string(),
            topic: Topic::Logs {
                deployment: deployment.to_string(),
            },
            resume_from: self.cursor.resume_from(),
            instance_updates: false,
            line_batches: true,
        }))
    }

    /// Takes one decoded server message; returns what to print.
    pub fn apply(&mut self, msg: ServerMessage) -> Vec<Out> {
        let mut out = Vec::new();
        match msg {
            ServerMessage::Snapshot {
                seq,
                data:
                    Snapshot::Logs {
                        env,
                        service,
                        deployment,
                        line_count,
                    },
                ..
            } => {
                self.cursor.snapshot(seq);
                self.line_count = line_count;
                out.push(Out::Header(header(&env, service.as_deref(), &deployment)));
                self.status = Some(deployment.status);
            }
            ServerMessage::Resumed { seq, .. } if self.cursor.resumed(seq).is_err() => {
                self.cursor = Cursor::new();
                out.push(Out::Resubscribe);
            }
            ServerMessage::Delta { seq, changes, .. } => {
                match self.cursor.delta(seq, changes.len()) {
                    Ok(range) => {
                        for change in changes.into_iter().skip(range.start) {
                            match change {
                                Change::Line(line) => self.line(line, &mut out),
                                Change::Deployment(d) => {
                                    if self.status != Some(d.status) {
                                        out.push(Out::Header(format!(
                                            "{} {}",
                                            d.id,
                                            d.status.word()
                                        )));
                                    }
                                    self.status = Some(d.status);
                                }
                                _ => {}
                            }
                        }
                    }
                    Err(_) => {
                        self.cursor = Cursor::new();
                        out.push(Out::Resubscribe);
                    }
                }
            }
            ServerMessage::Lines { seq, mut lines, .. } => {
                match self.cursor.delta(seq, lines.len()) {
                    Ok(range) => {
                        lines.skip(range.start);
                        let mut i = 0usize;
                        for (stage, count) in &lines.stage {
                            for _ in 0..*count {
                                self.line(
                                    LogLine {
                                        n: lines.n + i as u64,
                                        ts: lines.ts[i],
                                        stage: stage.clone(),
                                        level: lines.level[i],
                                        text: lines.text[i].clone(),
                                        hint: lines
                                            .hint
                                            .iter()
                                            .find(|(h, _)| *h as usize == i)
                                            .map(|(_, h)| h.clone()),
                                    },
                                    &mut out,
                                );
                                i += 1;
                            }
                        }
                    }
                    Err(_) => {
                        self.cursor = Cursor::new();
                        out.push(Out::Resubscribe);
                    }
                }
            }
            ServerMessage::Error {
                code: ErrorCode::UnknownTopic,
                message,
                ..
            } => out.push(Out::Missing(message)),
            _ => {}
        }
        if let Some(status) = self.status {
            let history_done = self.line_count.is_none_or(|c| self.printed >= c);
            if history_done && (status.has_ended() || !self.follow) {
                out.push(Out::Ended(status));
            }
        }
        out
    }

    fn line(&mut self, line: LogLine, out: &mut Vec<Out>) {
        // A fresh snapshot after a reconnect sends the history again: print each line once.
        if line.n <= self.printed {
            return;
        }
        self.printed = line.n;
        if self.stage.as_deref() != Some(line.stage.as_str()) {
            self.stage = Some(line.stage.clone());
            out.push(Out::Stage(line.stage.clone()));
        }
        out.push(Out::Line(line));
    }
}

fn header(env: &str, service: Option<&str>, d: &Deployment) -> String {
    let what = match service {
        Some(s) => format!("{s} in {env}"),
        None => env.to_string(),
    };
    let mut h = format!("{} · {what} · {} · {}", d.id, d.version, d.status.word());
    if let Some(by) = &d.triggered_by {
        h.push_str(&format!(" · by {by}"));
    }
    h
}

/// The websocket URL and the deployment id of a `tail` argument.
///
/// # Errors
/// Not an http(s) URL, or no deployment in it and no `--id`.
pub fn target(url: &str, id: Option<&str>) -> Result<(String, String), String> {
    let parsed: reqwest::Url = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let scheme = match parsed.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => return Err(format!("{url}: {other} is not http or https")),
    };
    let segments: Vec<&str> = parsed
        .path_segments()
        .map(|s| s.collect())
        .unwrap_or_default();
    let (prefix, dep) = match segments.iter().position(|s| *s == "deployments") {
        Some(i) if i + 1 < segments.len() => {
            // The page lives under /env/...; the server's root is what comes before /env.
            let root = segments.iter().position(|s| *s == "env").unwrap_or(i);
            (segments[..root].join("/"), segments[i + 1].to_string())
        }
        _ => match id {
            Some(id) => (
                segments
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("/"),
                id.to_string(),
            ),
            None => {
                return Err(format!(
                    "{url} names no deployment: give its logs page, or --id"
                ))
            }
        },
    };
    let dep = id.map(str::to_string).unwrap_or(dep);
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("/{prefix}")
    };
    Ok((format!("{scheme}://{host}{port}{prefix}/ws"), dep))
}

/// Runs `shipwatch tail`; returns the exit code.
pub async fn run(args: Tail) -> i32 {
    let (ws_url, dep) = match target(&args.url, args.id.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("shipwatch: {e}");
            return 2;
        }
    };
    let colour = args.color || std::io::stdout().is_terminal();
    let mut state = TailState::new(!args.no_follow);
    let mut backoff = Backoff::new(u64::from(std::process::id()));
    let mut said_away = false;
    loop {
        match follow(&ws_url, &dep, args.token.as_deref(), &mut state, colour).await {
            Ok(code) => return code,
            Err(e) => {
                if !said_away {
                    eprintln!("shipwatch: {e}; reconnecting");
                    said_away = true;
                }
                tokio::time::sleep(backoff.next_wait()).await;
            }
        }
    }
}

/// One connection: follows until the deployment ended (its exit code) or the connection is
/// lost (an error).
async fn follow(
    url: &str,
    dep: &str,
    token: Option<&str>,
    state: &mut TailState,
    colour: bool,
) -> Result<i32, String> {
    let mut req = url.into_client_request().map_err(|e| e.to_string())?;
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| "the token is not a valid header value".to_string())?;
        req.headers_mut().insert("authorization", value);
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    ws.send(Message::text(state.subscribe(dep)))
        .await
        .map_err(|e| e.to_string())?;
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .map_err(|_| "no frame for 30 s".to_string())?;
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None => {
                return Err("the server closed the connection".into())
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
        };
        let frame = match decode_server(&text, MAX_SERVER_FRAME_BYTES as usize) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("shipwatch: a frame was dropped: {e}");
                continue;
            }
        };
        if let ServerMessage::Ping { nonce } = frame.msg {
            let pong = encode(&ClientFrame::new(ClientMessage::Pong { nonce }));
            ws.send(Message::text(pong))
                .await
                .map_err(|e| e.to_string())?;
            continue;
        }
        let mut o = stdout.lock();
        for out in state.apply(frame.msg) {
            match out {
                Out::Header(h) => {
                    let _ = writeln!(stderr.lock(), "== {h}");
                }
                Out::Stage(s) => {
                    let _ = writeln!(stderr.lock(), "== stage {s}");
                }
                Out::Line(line) => {
                    let text = if colour {
                        line.text.clone()
                    } else {
                        strip_ansi(&line.text).into_owned()
                    };
                    // Without colour an error line says so, unless its text does already.
                    let says_so = text.trim_start().to_ascii_lowercase().starts_with("error");
                    let mark = match line.level {
                        LogLevel::Error if !colour && !says_so => "error: ",
                        _ => "",
                    };
                    let _ = writeln!(o, "{mark}{text}");
                    if let Some(hint) = line.hint {
                        let _ = writeln!(o, "  hint: {hint}");
                    }
                }
                Out::Ended(status) => {
                    let _ = o.flush();
                    let _ = writeln!(stderr.lock(), "== {}", status.word());
                    let _ = ws.close(None).await;
                    return Ok(if status.is_failure() { 1 } else { 0 });
                }
                Out::Missing(why) => {
                    let _ = writeln!(stderr.lock(), "shipwatch: no log {dep}: {why}");
                    return Ok(2);
                }
                Out::Resubscribe => {
                    let sub = state.subscribe(dep);
                    let unsub = encode(&ClientFrame::new(ClientMessage::Unsubscribe {
                        sub: SUB.to_string(),
                    }));
                    ws.send(Message::text(unsub))
                        .await
                        .map_err(|e| e.to_string())?;
                    ws.send(Message::text(sub))
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        let _ = o.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipwatch_model::protocol::decode_server;

    fn msg(text: &str) -> ServerMessage {
        decode_server(text, 1 << 20).expect("a frame").msg
    }

    #[test]
    fn targets_from_page_urls_and_ids() {
        assert_eq!(
            target(
                "http://127.0.0.1:8080/env/production/service/api/deployments/dep-42/logs",
                None
            )
            .unwrap(),
            ("ws://127.0.0.1:8080/ws".to_string(), "dep-42".to_string())
        );
        assert_eq!(
            target(
                "https://ops.example.com/shipwatch/env/p/deployments/d%201/logs",
                None
            )
            .unwrap(),
            (
                "wss://ops.example.com/shipwatch/ws".to_string(),
                "d%201".to_string()
            )
        );
        assert_eq!(
            target("https://ops.example.com", Some("dep-7")).unwrap(),
            ("wss://ops.example.com/ws".to_string(), "dep-7".to_string())
        );
        assert!(target("https://ops.example.com", None).is_err());
    }

    #[test]
    fn lines_print_once_in_order_through_both_forms_and_a_resend() {
        let mut s = TailState::new(true);
        let header = r#"{"v":1,"type":"snapshot","sub":"tail","seq":10,"data":{"kind":"logs","env":"production","service":"api","deployment":{"id":"dep-1","status":"BUILDING","version":"9f3c2a1","started_at":1}}}"#;
        let out = s.apply(msg(header));
        assert_eq!(
            out,
            [Out::Header(
                "dep-1 · api in production · 9f3c2a1 · BUILDING".into()
            )]
        );
        let lines = r#"{"v":1,"type":"lines","sub":"tail","seq":11,"lines":{"n":1,"ts":[5,0],"stage":[["build",2]],"level":"iw","text":["one","two"]}}"#;
        let out = s.apply(msg(lines));
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0], Out::Stage("build".into()));
        // The same lines again (a resend) print nothing; a delta goes on.
        assert!(s.apply(msg(lines)).is_empty());
        let delta = r#"{"v":1,"type":"delta","sub":"tail","seq":13,"changes":[{"op":"line","n":3,"ts":6,"stage":"deploy","level":"error","text":"boom"},{"op":"deployment","id":"dep-1","status":"DEPLOYMENT_ERROR","version":"9f3c2a1","started_at":1}]}"#;
        let out = s.apply(msg(delta));
        assert!(matches!(&out[1], Out::Line(l) if l.n == 3 && l.level == LogLevel::Error));
        assert_eq!(
            out.last(),
            Some(&Out::Ended(DeploymentStatus::DeploymentError))
        );
        // A gap asks for the stream again.
        let mut s = TailState::new(true);
        s.apply(msg(header));
        let gap = r#"{"v":1,"type":"lines","sub":"tail","seq":15,"lines":{"n":5,"ts":[5],"stage":[["build",1]],"level":"i","text":["x"]}}"#;
        assert_eq!(s.apply(msg(gap)), [Out::Resubscribe]);
    }

    #[test]
    fn an_ended_log_stops_after_its_history() {
        let mut s = TailState::new(true);
        let header = r#"{"v":1,"type":"snapshot","sub":"tail","seq":10,"data":{"kind":"logs","env":"e","deployment":{"id":"d","status":"DEPLOYMENT_OK","version":"v","started_at":1},"line_count":2}}"#;
        assert!(!s
            .apply(msg(header))
            .contains(&Out::Ended(DeploymentStatus::DeploymentOk)));
        let lines = r#"{"v":1,"type":"lines","sub":"tail","seq":11,"lines":{"n":1,"ts":[5,0],"stage":[["deploy",2]],"level":"ii","text":["one","two"]}}"#;
        assert_eq!(
            s.apply(msg(lines)).last(),
            Some(&Out::Ended(DeploymentStatus::DeploymentOk))
        );
        let missing = r#"{"v":1,"type":"error","code":"unknown_topic","message":"no such deployment","sub":"tail"}"#;
        assert_eq!(
            TailState::new(true).apply(msg(missing)),
            [Out::Missing("no such deployment".into())]
        );
    }
}
