//! A TCP proxy in front of PostgreSQL that makes one replica's reads of one table slow: the
//! answer to a query naming that table (`change_log`: a follower's tailing) is held back for
//! a delay that can be changed at any time; every other query (the health probe, the lease)
//! is answered at once. A follower behind it lags as one on a slow link or a busy database
//! would, while it still serves its pages and says the database answers.
//!
//! It reads the client's side of PostgreSQL's wire protocol (loopback, no TLS): the untyped
//! start-up messages, then typed messages, of which `Parse` (a statement's text, under a name
//! sqlx reuses), `Bind` (runs a named statement) and `Query` (simple protocol) tell which
//! queries are slow. The server's bytes after one of those are held until the query was sent
//! plus the delay; bytes are never reordered.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The proxy; it stops accepting when dropped (connections made run on until they close).
pub struct SlowReads {
    /// Where clients connect (127.0.0.1).
    pub addr: SocketAddr,
    delay_ms: Arc<AtomicU64>,
    stopped: Arc<AtomicBool>,
}

impl SlowReads {
    /// Starts a proxy to `upstream` that holds back answers to queries naming `table`, with
    /// no delay until [`SlowReads::set_delay`].
    pub fn start(upstream: SocketAddr, table: &str) -> std::io::Result<SlowReads> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let delay_ms = Arc::new(AtomicU64::new(0));
        let stopped = Arc::new(AtomicBool::new(false));
        let (delay, stop, table) = (delay_ms.clone(), stopped.clone(), table.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                connect(client, server, table.clone(), delay.clone());
            }
        });
        Ok(SlowReads {
            addr,
            delay_ms,
            stopped,
        })
    }

    /// How long an answer to a query naming the table is held from now on.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    /// A PostgreSQL URL through the proxy for `url` (`postgres://user@host:port/db`).
    pub fn url_for(&self, url: &str) -> String {
        let (scheme_user, rest) = url.split_once('@').expect("a URL with a user");
        let (_, path) = rest.split_once('/').expect("a URL with a database");
        format!("{scheme_user}@{}/{path}", self.addr)
    }
}

impl Drop for SlowReads {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
        // Wakes the accepting thread so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Runs one connection: the client's bytes pass at once (read for slow queries), the
/// server's bytes pass in order, each no earlier than the hold in force when it was read.
fn connect(client: TcpStream, server: TcpStream, table: String, delay_ms: Arc<AtomicU64>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let hold = Arc::new(Mutex::new(Instant::now()));
    let (Ok(mut client_in), Ok(mut server_in)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let (mut client_out, mut server_out) = (client, server);
    let upstream_hold = hold.clone();
    std::thread::spawn(move || {
        let mut messages = Messages::new(table.into_bytes());
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_in.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if messages.feed(&buf[..n]) {
                let delay = Duration::from_millis(delay_ms.load(Ordering::Relaxed));
                *upstream_hold.lock().unwrap() = Instant::now() + delay;
            }
            if server_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        while let Ok((due, chunk)) = rx.recv() {
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if client_out.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = client_out.shutdown(Shutdown::Write);
    });
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_in.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let due = (*hold.lock().unwrap()).max(Instant::now());
            if tx.send((due, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
}

/// The client's side of the protocol, read message by message across chunks.
struct Messages {
    table: Vec<u8>,
    pending: Vec<u8>,
    /// Still in the untyped start-up messages (SSL request, start-up).
    starting: bool,
    /// Prepared statements whose text names the table.
    slow: HashSet<Vec<u8>>,
}

/// PostgreSQL's code of an SSL or GSS encryption request (the server answers one byte, then
/// the client sends its start-up message).
const ENCRYPTION_REQUESTS: [u32; 2] = [80_877_103, 80_877_104];

impl Messages {
    fn new(table: Vec<u8>) -> Messages {
        Messages {
            table,
            pending: Vec::new(),
            starting: true,
            slow: HashSet::new(),
        }
    }

    /// Takes the next bytes the client sent; true when they run a query naming the table.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        self.pending.extend_from_slice(bytes);
        let mut slow = false;
        loop {
            let head = if self.starting { 0 } else { 1 };
            let Some(len) = self.pending.get(head..head + 4) else {
                break;
            };
            let end = head + u32::from_be_bytes(len.try_into().unwrap()) as usize;
            if self.pending.len() < end {
                break;
            }
            let message: Vec<u8> = self.pending.drain(..end).collect();
            if self.starting {
                let code = message
                    .get(4..8)
                    .map_or(0, |c| u32::from_be_bytes(c.try_into().unwrap()));
                self.starting = ENCRYPTION_REQUESTS.contains(&code);
                continue;
            }
            let body = &message[5..];
            slow |= match message[0] {
                b'Q' => self.names_table(body),
                b'P' => {
                    let name = cstring(body, 0);
                    let names = self.names_table(body);
                    if names {
                        self.slow.insert(name.to_vec());
                    } else {
                        self.slow.remove(name);
                    }
                    names
                }
                b'B' => {
                    let portal = cstring(body, 0);
                    self.slow.contains(cstring(body, portal.len() + 1))
                }
                _ => false,
            };
        }
        slow
    }

    fn names_table(&self, body: &[u8]) -> bool {
        body.windows(self.table.len()).any(|w| w == self.table)
    }
}

/// The NUL-terminated string at `at` in `body` (empty when there is none).
fn cstring(body: &[u8], at: usize) -> &[u8] {
    let rest = body.get(at..).unwrap_or_default();
    &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn a_statement_naming_the_table_is_slow_each_time_it_runs_and_others_are_not() {
        let mut m = Messages::new(b"change_log".to_vec());
        // SSL request, then start-up: untyped.
        let mut start = 8u32.to_be_bytes().to_vec();
        start.extend_from_slice(&80_877_103u32.to_be_bytes());
        assert!(!m.feed(&start));
        let mut startup = 13u32.to_be_bytes().to_vec();
        startup.extend_from_slice(&196_608u32.to_be_bytes());
        startup.extend_from_slice(b"user\0");
        assert!(!m.feed(&startup));
        let parse = typed(b'P', b"s1\0SELECT id FROM change_log WHERE id > $1\0\0\0");
        // Split across reads.
        assert!(!m.feed(&parse[..7]));
        assert!(m.feed(&parse[7..]));
        assert!(m.feed(&typed(b'B', b"\0s1\0\0\0\0\0\0\0")));
        assert!(!m.feed(&typed(b'P', b"s2\0SELECT 1\0\0\0")));
        assert!(!m.feed(&typed(b'B', b"\0s2\0\0\0\0\0\0\0")));
        assert!(m.feed(&typed(b'Q', b"SELECT max(id) FROM change_log\0")));
        assert!(!m.feed(&typed(b'S', b"")));
    }

    #[test]
    fn the_url_goes_through_the_proxy() {
        let p = SlowReads::start("127.0.0.1:9".parse().unwrap(), "t").unwrap();
        assert_eq!(
            p.url_for("postgres://postgres@127.0.0.1:5432/shipwatch"),
            format!("postgres://postgres@{}/shipwatch", p.addr)
        );
    }
}
