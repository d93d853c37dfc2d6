//! A delaying TCP proxy on loopback: every chunk read on one side is written to the other side
//! `rtt / 2` later, in both directions, so a client going through it sees the server as if it
//! were `rtt` away (a link of unlimited bandwidth with that round trip). Portable where
//! `tc netem` and network namespaces are not.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A listening proxy; it stops accepting when dropped (connections already made run on).
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Starts a proxy to `upstream` that adds `rtt` to every round trip.
pub async fn start(upstream: SocketAddr, rtt: Duration) -> std::io::Result<Proxy> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let one_way = rtt / 2;
    let accept = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(delayed_copy(client_read, server_write, one_way));
                tokio::spawn(delayed_copy(server_read, client_write, one_way));
            });
        }
    });
    Ok(Proxy { addr, accept })
}

/// Copies `from` to `to`, each chunk `delay` after it was read. The reader never waits for
/// the writer (the bytes "in flight" on the link are the queue), so the delay is added once,
/// not once per chunk.
async fn delayed_copy(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_round_trip_through_the_proxy_takes_the_delay_asked() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut b = [0u8; 16];
            while let Ok(n) = s.read(&mut b).await {
                if n == 0 || s.write_all(&b[..n]).await.is_err() {
                    break;
                }
            }
        });
        let proxy = start(echo_addr, Duration::from_millis(60)).await.unwrap();
        let mut c = TcpStream::connect(proxy.addr).await.unwrap();
        c.set_nodelay(true).unwrap();
        let t = std::time::Instant::now();
        c.write_all(b"ping").await.unwrap();
        let mut b = [0u8; 4];
        c.read_exact(&mut b).await.unwrap();
        let rtt = t.elapsed();
        assert_eq!(&b, b"ping");
        assert!(rtt >= Duration::from_millis(60), "{rtt:?}");
        assert!(rtt < Duration::from_millis(1_000), "{rtt:?}");
    }
}
