//! One socket's throughput: a websocket client that subscribes to one deployment's log and
//! reads it all, answering every server `ping` at once (as the page does), then prints MB/s
//! and lines/s. With `--rtt-ms N` it goes through a delaying TCP proxy that holds every chunk
//! N/2 ms each way, so the round trip of a far-away client is added on loopback.
//!
//! ```sh
//! cargo build --profile native -p shipwatch-server --example one_socket
//! target/native/shipwatch-server --environments 1 --services 1 --log-lines 200000 --scenario calm &
//! target/native/examples/one_socket --addr 127.0.0.1:8080 --lines 200000 --rtt-ms 20
//! ```
//!
//! Flags: `--addr` (the server, default 127.0.0.1:8080), `--dep` (default dep-1), `--lines`
//! (how many lines end the run, default 200000), `--rtt-ms` (default 0: no proxy). It reads
//! `delta` frames of `line` changes (it does not ask for `lines` frames).

use futures_util::{SinkExt, StreamExt};
use shipwatch_model::protocol::{
    decode_server, encode, Change, ClientFrame, ClientMessage, ServerMessage, Topic,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

struct Args {
    addr: SocketAddr,
    dep: String,
    lines: u64,
    rtt_ms: u64,
}

fn args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:8080".parse().expect("address"),
        dep: "dep-1".into(),
        lines: 200_000,
        rtt_ms: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => a.addr = value().parse().expect("--addr HOST:PORT"),
            "--dep" => a.dep = value(),
            "--lines" => a.lines = value().parse().expect("--lines N"),
            "--rtt-ms" => a.rtt_ms = value().parse().expect("--rtt-ms N"),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

#[tokio::main]
async fn main() {
    let a = args();
    let target = if a.rtt_ms > 0 {
        delaying_proxy(a.addr, Duration::from_millis(a.rtt_ms / 2)).await
    } else {
        a.addr
    };
    // No Nagle delay on the small pongs, as browsers do.
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(format!("ws://{target}/ws"), None, true)
            .await
            .expect("connects");
    let subscribe = ClientMessage::Subscribe {
        sub: "log".into(),
        topic: Topic::Logs {
            deployment: a.dep.clone(),
        },
        resume_from: None,
        instance_updates: false,
        line_batches: false,
    };
    let started = Instant::now();
    ws.send(Message::Text(encode(&ClientFrame::new(subscribe)).into()))
        .await
        .expect("subscribe");
    let (mut bytes, mut lines, mut pings, mut frames) = (0u64, 0u64, 0u64, 0u64);
    let mut first_line = None;
    while lines < a.lines {
        let text = match ws.next().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(c))) => panic!("closed after {lines} lines: {c:?}"),
            Some(Ok(_)) => continue,
            other => panic!("socket failed after {lines} lines: {other:?}"),
        };
        bytes += text.len() as u64;
        frames += 1;
        let frame = decode_server(text.as_str(), 16 << 20).expect("server frames decode");
        match frame.msg {
            ServerMessage::Ping { nonce } => {
                pings += 1;
                let pong = encode(&ClientFrame::new(ClientMessage::Pong { nonce }));
                ws.send(Message::Text(pong.into())).await.expect("pong");
            }
            ServerMessage::Delta { changes, .. } => {
                let n = changes
                    .iter()
                    .filter(|c| matches!(c, Change::Line(_)))
                    .count();
                lines += n as u64;
                if n > 0 {
                    first_line.get_or_insert_with(|| started.elapsed());
                }
            }
            _ => {}
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "rtt_ms: {} | lines: {lines} | bytes: {bytes} | frames: {frames} | pings: {pings} | \
         first line: {:.0} ms | seconds: {secs:.3} | MB/s: {:.1} | lines/s: {:.0}",
        a.rtt_ms,
        first_line.unwrap_or_default().as_secs_f64() * 1000.0,
        bytes as f64 / secs / 1e6,
        lines as f64 / secs
    );
}

/// A proxy on a free loopback port to `upstream` that delays every chunk by `one_way` in each
/// direction: a link of round trip `2 * one_way` and loopback's bandwidth.
async fn delaying_proxy(upstream: SocketAddr, one_way: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
    let addr = listener.local_addr().expect("proxy address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(upstream).await.expect("upstream");
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(delay_line(cr, sw, one_way));
            tokio::spawn(delay_line(sr, cw, one_way));
        }
    });
    addr
}

/// Copies `from` to `to`, each chunk written `delay` after it was read.
async fn delay_line(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    // Bounded: a link holds only so much; a full line stops reading, as TCP would.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(1024);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = tokio::time::Instant::now() + delay;
                    if tx.send((due, buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    while let Some((due, chunk)) = rx.recv().await {
        tokio::time::sleep_until(due).await;
        if to.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
