//! One socket's throughput: a client subscribes to one deployment's log and reads the whole
//! history, answering every server `ping` at once as the page does, optionally through the
//! delaying proxy (`--rtt-ms`). Frames are read with the model's own decoder, as the page
//! reads them. Prints the lines received, the time, MB/s on the wire and lines/s.

use crate::proxy;
use crate::stats::{figure, missing};
use futures_util::{SinkExt, StreamExt};
use shipwatch_model::protocol::{
    decode_server, encode, Change, ClientFrame, ClientMessage, ServerMessage, Snapshot, Topic,
};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// What to run.
pub struct Opts {
    /// The server's `host:port`.
    pub addr: SocketAddr,
    /// The deployment whose log is read.
    pub deployment: String,
    /// Lines that end the run; None: as many as the log's snapshot says it holds.
    pub lines: Option<u64>,
    /// Round trip added by the delaying proxy (0: straight to the server).
    pub rtt: Duration,
    /// Ask for `lines` frames (`line_batches`) rather than `line` changes.
    pub line_batches: bool,
    /// Give up after this long.
    pub timeout: Duration,
    /// Prefix of the figure names.
    pub prefix: String,
}

/// Largest frame accepted: far above any the server sends.
const FRAME_LIMIT: usize = 64 << 20;

/// Runs the measurement and prints its figures.
pub async fn run(o: Opts) {
    let p = &o.prefix;
    match measure(&o).await {
        Ok(r) => {
            let seconds = r.elapsed.as_secs_f64();
            if let Some(why) = &r.short {
                missing(&format!("{p}_complete"), why);
            }
            figure(&format!("{p}_lines"), r.lines, "lines");
            figure(&format!("{p}_seconds"), format!("{seconds:.3}"), "s");
            figure(
                &format!("{p}_mb_per_s"),
                format!("{:.2}", r.wire_bytes as f64 / 1e6 / seconds),
                "MB/s",
            );
            figure(
                &format!("{p}_lines_per_s"),
                format!("{:.0}", r.lines as f64 / seconds),
                "lines/s",
            );
            figure(
                &format!("{p}_wire_bytes_per_line"),
                format!("{:.1}", r.wire_bytes as f64 / r.lines.max(1) as f64),
                "bytes",
            );
            figure(
                &format!("{p}_payload_bytes_per_line"),
                format!("{:.1}", r.payload_bytes as f64 / r.lines.max(1) as f64),
                "bytes",
            );
            figure(&format!("{p}_batch_frames"), r.batch_frames, "frames");
            figure(&format!("{p}_delta_frames"), r.delta_frames, "frames");
            figure(&format!("{p}_pings_answered"), r.pings, "pings");
            figure(&format!("{p}_server_errors"), r.errors, "frames");
        }
        Err(e) => missing(&format!("{p}_lines_per_s"), &e),
    }
}

/// What one run saw.
struct Run {
    lines: u64,
    elapsed: Duration,
    /// TCP bytes read after the subscribe was sent (websocket framing included).
    wire_bytes: u64,
    /// Text of the frames read after the subscribe was sent.
    payload_bytes: u64,
    batch_frames: u64,
    delta_frames: u64,
    pings: u64,
    /// `error` frames received.
    errors: u64,
    /// Why the run ended before the last line, if it did.
    short: Option<String>,
}

async fn measure(o: &Opts) -> Result<Run, String> {
    let _proxy;
    let target = if o.rtt.is_zero() {
        o.addr
    } else {
        let px = proxy::start(o.addr, o.rtt)
            .await
            .map_err(|e| format!("proxy: {e}"))?;
        let at = px.addr;
        _proxy = px;
        at
    };
    let tcp = TcpStream::connect(target)
        .await
        .map_err(|e| format!("connect {target}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let read = Arc::new(AtomicU64::new(0));
    let stream = Counting {
        inner: tcp,
        read: read.clone(),
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(FRAME_LIMIT))
        .max_frame_size(Some(FRAME_LIMIT));
    let url = format!("ws://{}/ws", o.addr);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|e| format!("websocket: {e}"))?;
    let subscribe = ClientFrame::new(ClientMessage::Subscribe {
        sub: "l".into(),
        topic: Topic::Logs {
            deployment: o.deployment.clone(),
        },
        resume_from: None,
        instance_updates: false,
        line_batches: o.line_batches,
    });
    let started = Instant::now();
    let read_at_start = read.load(Ordering::Relaxed);
    ws.send(Message::text(encode(&subscribe)))
        .await
        .map_err(|e| e.to_string())?;
    let mut run = Run {
        lines: 0,
        elapsed: Duration::ZERO,
        wire_bytes: 0,
        payload_bytes: 0,
        batch_frames: 0,
        delta_frames: 0,
        pings: 0,
        errors: 0,
        short: None,
    };
    let mut expected = o.lines;
    let deadline = tokio::time::Instant::now() + o.timeout;
    while expected.is_none_or(|n| run.lines < n) {
        let msg = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => {
                run.short = Some(format!("timed out after {:?}", o.timeout));
                break;
            }
            Ok(None) => {
                run.short = Some("the server closed the socket".into());
                break;
            }
            Ok(Some(Err(e))) => {
                run.short = Some(format!("socket error: {e}"));
                break;
            }
            Ok(Some(Ok(m))) => m,
        };
        let Message::Text(text) = msg else {
            continue;
        };
        run.payload_bytes += text.len() as u64;
        let frame = decode_server(text.as_str(), FRAME_LIMIT)
            .map_err(|e| format!("undecodable frame: {e}"))?;
        match frame.msg {
            ServerMessage::Ping { nonce } => {
                let pong = ClientFrame::new(ClientMessage::Pong { nonce });
                ws.send(Message::text(encode(&pong)))
                    .await
                    .map_err(|e| e.to_string())?;
                run.pings += 1;
            }
            ServerMessage::Snapshot {
                data: Snapshot::Logs { line_count, .. },
                ..
            } => {
                expected = expected.or(line_count);
                if expected.is_none() {
                    return Err("the log's snapshot does not say how many lines it holds: \
                                pass --lines"
                        .into());
                }
            }
            ServerMessage::Delta { changes, .. } => {
                run.delta_frames += 1;
                run.lines += changes
                    .iter()
                    .filter(|c| matches!(c, Change::Line(_)))
                    .count() as u64;
            }
            ServerMessage::Lines { lines, .. } => {
                run.batch_frames += 1;
                run.lines += lines.len() as u64;
            }
            ServerMessage::Error { code, message, .. } => {
                // Refusals of one frame (a pong over the rate limit) do not end the run;
                // they are counted and the first is shown.
                if run.errors == 0 {
                    eprintln!("throughput: server error {}: {message}", code.as_str());
                }
                run.errors += 1;
            }
            _ => {}
        }
    }
    run.elapsed = started.elapsed();
    run.wire_bytes = read.load(Ordering::Relaxed) - read_at_start;
    let _ = ws.close(None).await;
    Ok(run)
}

/// A socket that counts the bytes read from it.
struct Counting {
    inner: TcpStream,
    read: Arc<AtomicU64>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
