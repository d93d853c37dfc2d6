//! The accept loop: each connection is admitted by its address's limit ([`ConnLimits`]), gets
//! its socket options, and is served as HTTP/1.1 (with websocket upgrades) under two timeouts:
//!
//! - the header timeout: a request's head must have arrived whole within it, counted from
//!   when the server starts waiting for it (the connection opened, or the previous response
//!   was sent). So a client that sends half a request and stops, or a kept-alive connection
//!   with no next request, is closed after it (hyper's `header_read_timeout`).
//! - the idle timeout: a connection on which no byte is read or written for this long, in the
//!   middle of a request (a body that stops arriving, a response the client stops reading),
//!   is closed. A websocket, once upgraded, leaves both: it has its own heartbeats and idle
//!   rule.
//!
//! Behind a trusted proxy (`--trusted-proxy`) the address that counts is the client's, read
//! from `X-Forwarded-For` ([`TrustedProxies`]) on each request: every request carries it as
//! a [`ClientAddr`] extension, and the connection's permit follows it ([`ConnSlot`]).
//!
//! At shutdown the loop stops accepting, asks every connection to finish its request and close
//! (idle ones close at once, the others within [`SHUTDOWN_GRACE`]), and returns once they
//! have.

use crate::conn_limits::{ConnLimits, ConnSlot};
use crate::trusted_proxy::{ClientAddr, TrustedProxies};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// At shutdown, how long a request in progress may take to finish before its connection is
/// closed anyway (a client that stopped reading a response would hold it until the idle
/// timeout).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How connections are served.
#[derive(Clone, Debug)]
pub struct ConnOptions {
    /// Time to receive a request's head (see the module docs).
    pub header_timeout: Duration,
    /// Time without a byte either way, mid-request, before the connection is closed.
    pub idle_timeout: Duration,
    /// `TCP_NOTSENT_LOWAT` of each socket (0: the system's): data written but not yet sent
    /// that the kernel holds before the socket stops being writable.
    pub unsent_bytes: u32,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted: Arc<TrustedProxies>,
}

/// Accepts connections on `listener` and serves `router` on them until `shutdown` turns true.
pub async fn run(
    listener: TcpListener,
    router: Router,
    opts: ConnOptions,
    limits: Arc<ConnLimits>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Every connection task holds a receiver: the sender sees them all gone when they ended.
    let (all_done, done) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = stopping(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(&e).await;
                    continue;
                }
            },
        };
        // A proxy's connection counts for the client of each of its requests, not for the
        // proxy's address.
        let permit = if opts.trusted.trusts(peer.ip()) {
            None
        } else {
            let Some(permit) = limits.admit(peer.ip()) else {
                tracing::debug!(%peer, "connection refused: too many from this address");
                continue;
            };
            Some(permit)
        };
        if let Err(e) = socket_options(&stream, &opts) {
            tracing::debug!(%peer, error = %e, "socket options");
        }
        tokio::spawn(serve_connection(
            stream,
            peer,
            ConnSlot::new(limits.clone(), permit),
            router.clone(),
            opts.clone(),
            shutdown.clone(),
            done.clone(),
        ));
    }
    drop(listener);
    drop(done);
    all_done.closed().await;
}

/// Resolves once the server is stopping (or its handle is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Pings and small frames go out at once (no Nagle delay waiting for the ACK of the data
/// before them); unsent data in the kernel stays small, so a frame written now (a heartbeat)
/// is not queued behind megabytes, while what is in flight can grow to the link's
/// bandwidth-delay product (a small `SO_SNDBUF` would cap that: 128 KiB per round trip).
fn socket_options(stream: &TcpStream, opts: &ConnOptions) -> io::Result<()> {
    stream.set_nodelay(true)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if opts.unsent_bytes > 0 {
        socket2::SockRef::from(stream).set_tcp_notsent_lowat(opts.unsent_bytes)?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = opts;
    Ok(())
}

/// A failed accept: the peer gave up (nothing to do), or the process is out of resources
/// (file descriptors): wait a little rather than spin.
async fn accept_error(e: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: ConnSlot,
    router: Router,
    opts: ConnOptions,
    mut shutdown: watch::Receiver<bool>,
    _done: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::new());
    let slot = Arc::new(slot);
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
        _slot: slot.clone(),
    });
    let proxied = opts.trusted.trusts(peer.ip());
    let trusted = opts.trusted.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let client = trusted.client(peer.ip(), req.headers());
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(ClientAddr(client));
        let admitted = !proxied || slot.hold_for(client);
        let router = router.clone();
        async move {
            if !admitted {
                tracing::debug!(%peer, %client, "request refused: too many connections from its client");
                return Ok(too_many_connections());
            }
            router.oneshot(req.map(Body::new)).await
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_timeout);
    let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
    let mut closing = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                break;
            }
            _ = stopping(&mut shutdown), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep(SHUTDOWN_GRACE), if closing => {
                tracing::debug!(%peer, "request still in progress at shutdown: closed");
                break;
            }
            _ = activity.idle_for(opts.idle_timeout) => {
                tracing::debug!(%peer, "connection idle: closed");
                break;
            }
        }
    }
}

/// The answer to a proxied request whose client holds `--max-connections-per-ip` already (a
/// direct client's connection is closed unanswered instead; the proxy would answer 502).
fn too_many_connections() -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = serde_json::json!({
        "error": "too many connections from this address: close some and try again"
    });
    let mut res = (axum::http::StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    res.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    res
}

/// When a connection last moved a byte.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds from `start`.
    last: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
    }

    /// Resolves once nothing moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
            let due = self.start + last + limit;
            if Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due.into()).await;
        }
    }
}

/// The connection's socket: records activity, and holds the address's permit for as long as
/// the socket lives (through a websocket upgrade, until the websocket closes).
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    _slot: Arc<ConnSlot>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
