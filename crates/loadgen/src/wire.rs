//! A lean websocket client for the fan-out swarm: thousands of sockets each receiving several
//! frames a second. tungstenite zeroes its whole read buffer before every read (a quarter of
//! the swarm's CPU in a profile of 2,000 clients through nginx); this one reads into unzeroed
//! spare capacity (`read_buf`) and hands each text frame out as the bytes it arrived in.
//! It speaks what the fan-out needs of RFC 6455: the opening handshake (the server's
//! `Sec-WebSocket-Accept` checked), unmasked server frames (fragmented ones joined),
//! masked client text frames, pings answered, close.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Room kept free in the read buffer (one read takes at most this much).
const READ_CHUNK: usize = 16 * 1024;
/// The largest server message taken (the snapshot of 100 services is about 116 KB).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// A frame or message from the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A whole text message, UTF-8 checked.
    Text(Bytes),
    /// The server closed: its code and reason, if it gave them.
    Close(Option<(u16, String)>),
}

/// A connected websocket.
pub struct Socket {
    stream: TcpStream,
    buf: BytesMut,
    /// The opcode and payload of a fragmented message so far.
    partial: Option<(u8, BytesMut)>,
    mask_seed: u64,
}

/// `ws://host:port/path` as (`host:port`, `/path`).
fn split_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("only ws:// URLs are spoken here: {url}"))?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

impl Socket {
    /// Connects to `url` and makes the opening handshake; an answer other than 101 is an
    /// error naming its status line (`HTTP error: 502 Bad Gateway`).
    pub async fn connect(url: &str, seed: u64) -> Result<Socket, String> {
        let (host, path) = split_url(url)?;
        let mut stream = TcpStream::connect(host)
            .await
            .map_err(|e| format!("IO error: {e}"))?;
        let _ = stream.set_nodelay(true);
        let key = generate_key();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("IO error: {e}"))?;
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 16 * 1024 {
                return Err("HTTP error: answer head too long".into());
            }
            buf.reserve(READ_CHUNK);
            match stream.read_buf(&mut buf).await {
                Ok(0) => return Err("IO error: closed during the handshake".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("IO error: {e}")),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.advance(end);
        let status = head.lines().next().unwrap_or("");
        if status.split_whitespace().nth(1) != Some("101") {
            let reason = status.split_once(' ').map_or(status, |(_, r)| r);
            return Err(format!("HTTP error: {reason}"));
        }
        let accept = head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-accept")
                .then(|| value.trim().to_string())
        });
        if accept.as_deref() != Some(derive_accept_key(key.as_bytes()).as_str()) {
            return Err("HTTP error: a 101 without the right Sec-WebSocket-Accept".into());
        }
        Ok(Socket {
            stream,
            buf,
            partial: None,
            mask_seed: seed | 1,
        })
    }

    /// The next message; None once the connection ended without a close frame.
    pub async fn next(&mut self) -> Option<Result<Incoming, String>> {
        loop {
            match self.parse() {
                Ok(Some(Parsed::Message(m))) => return Some(Ok(m)),
                Ok(Some(Parsed::Ping(payload))) => {
                    if let Err(e) = self.send(0xA, &payload).await {
                        return Some(Err(e));
                    }
                    continue;
                }
                Ok(Some(Parsed::Skip)) => continue,
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
            if self.buf.capacity() - self.buf.len() < READ_CHUNK {
                self.buf.reserve(READ_CHUNK);
            }
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(format!("IO error: {e}"))),
            }
        }
    }

    /// Takes one whole frame off the buffer, if there is one.
    fn parse(&mut self) -> Result<Option<Parsed>, String> {
        let Some((fin, opcode, len, head)) = frame_head(&self.buf)? else {
            return Ok(None);
        };
        if len > MAX_MESSAGE {
            return Err(format!("a frame of {len} bytes"));
        }
        if self.buf.len() < head + len {
            self.buf.reserve(head + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(head);
        let payload = self.buf.split_to(len);
        let message = match (opcode, self.partial.take()) {
            // Control frames may come between the fragments of a message.
            (0x8, partial) => {
                self.partial = partial;
                let close = (payload.len() >= 2).then(|| {
                    let code = u16::from_be_bytes([payload[0], payload[1]]);
                    (code, String::from_utf8_lossy(&payload[2..]).into_owned())
                });
                return Ok(Some(Parsed::Message(Incoming::Close(close))));
            }
            (0x9, partial) => {
                self.partial = partial;
                return Ok(Some(Parsed::Ping(payload.freeze())));
            }
            (0xA, partial) => {
                self.partial = partial;
                return Ok(Some(Parsed::Skip));
            }
            (0x1 | 0x2, None) if fin => (opcode, payload),
            (0x1 | 0x2, None) => {
                self.partial = Some((opcode, payload));
                return Ok(Some(Parsed::Skip));
            }
            (0x0, Some((first, mut so_far))) => {
                if so_far.len() + payload.len() > MAX_MESSAGE {
                    return Err("a message over the size limit".into());
                }
                so_far.extend_from_slice(&payload);
                if !fin {
                    self.partial = Some((first, so_far));
                    return Ok(Some(Parsed::Skip));
                }
                (first, so_far)
            }
            (op, _) => return Err(format!("an unexpected frame (opcode {op:#x})")),
        };
        match message {
            (0x1, text) => {
                std::str::from_utf8(&text).map_err(|_| "a text frame that is not UTF-8")?;
                Ok(Some(Parsed::Message(Incoming::Text(text.freeze()))))
            }
            _ => Ok(Some(Parsed::Skip)),
        }
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.send(0x1, text.as_bytes()).await
    }

    /// Sends a close frame (code 1000) and lets the connection go.
    pub async fn close(mut self) {
        let _ = self.send(0x8, &1000u16.to_be_bytes()).await;
        let _ = self.stream.shutdown().await;
    }

    /// One masked frame, as a client must send it.
    async fn send(&mut self, opcode: u8, payload: &[u8]) -> Result<(), String> {
        self.mask_seed ^= self.mask_seed << 13;
        self.mask_seed ^= self.mask_seed >> 7;
        self.mask_seed ^= self.mask_seed << 17;
        let frame = client_frame(opcode, payload, (self.mask_seed as u32).to_be_bytes());
        self.stream
            .write_all(&frame)
            .await
            .map_err(|e| format!("IO error: {e}"))
    }
}

/// What [`Socket::parse`] found.
enum Parsed {
    Message(Incoming),
    Ping(Bytes),
    /// A pong, or a fragment of a message not yet whole.
    Skip,
}

/// A frame's head: (fin, opcode, payload length, head length); None until it is all in.
/// A server's frame is never masked.
fn frame_head(b: &[u8]) -> Result<Option<(bool, u8, usize, usize)>, String> {
    if b.len() < 2 {
        return Ok(None);
    }
    let (fin, opcode) = (b[0] & 0x80 != 0, b[0] & 0x0F);
    if b[0] & 0x70 != 0 {
        return Err("a frame with reserved bits set".into());
    }
    if b[1] & 0x80 != 0 {
        return Err("a masked frame from the server".into());
    }
    let (len, head) = match b[1] & 0x7F {
        126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
        127 if b.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&b[2..10]);
            (
                usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX),
                10,
            )
        }
        126 | 127 => return Ok(None),
        n => (usize::from(n), 2),
    };
    Ok(Some((fin, opcode, len, head)))
}

/// A client frame: FIN set, masked with `mask`.
fn client_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= usize::from(u16::MAX) => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
    use tokio_tungstenite::tungstenite::Message;

    #[test]
    fn reads_frame_heads_of_each_length_form() {
        assert_eq!(frame_head(&[0x81]).unwrap(), None);
        assert_eq!(frame_head(&[0x81, 5]).unwrap(), Some((true, 1, 5, 2)));
        assert_eq!(frame_head(&[0x01, 126, 1]).unwrap(), None);
        assert_eq!(
            frame_head(&[0x01, 126, 1, 0]).unwrap(),
            Some((false, 1, 256, 4))
        );
        let long = [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(frame_head(&long).unwrap(), Some((true, 2, 65536, 10)));
        assert!(frame_head(&[0x81, 0x85]).is_err(), "masked by the server");
        assert!(frame_head(&[0xC1, 5]).is_err(), "a reserved bit");
    }

    /// The lean client against tungstenite's server: a text message (small, 16-bit and
    /// 64-bit lengths), one sent in fragments with a ping between them, the client's own
    /// masked text read back by the server, and the close with its code.
    #[tokio::test]
    async fn speaks_with_a_real_websocket_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let big = "x".repeat(70_000);
        let expected = big.clone();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            ws.send(Message::text("hello")).await.unwrap();
            ws.send(Message::text("é".repeat(100))).await.unwrap();
            ws.send(Message::text(big)).await.unwrap();
            ws.send(Message::Frame(Frame::message("par", 1u8.into(), false)))
                .await
                .unwrap();
            ws.send(Message::Ping("p".into())).await.unwrap();
            ws.send(Message::Frame(Frame::message(
                "ts",
                tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
                    tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Continue,
                ),
                true,
            )))
            .await
            .unwrap();
            let mut got = Vec::new();
            while let Some(Ok(m)) = ws.next().await {
                match m {
                    Message::Text(t) => {
                        got.push(t.to_string());
                        ws.send(Message::Close(Some(CloseFrame {
                            code: CloseCode::Library(4000),
                            reason: "idle timeout".into(),
                        })))
                        .await
                        .unwrap();
                    }
                    Message::Pong(p) => got.push(format!("pong {}", String::from_utf8_lossy(&p))),
                    _ => {}
                }
            }
            got
        });
        let mut s = Socket::connect(&format!("ws://{addr}/ws"), 7)
            .await
            .unwrap();
        let mut texts = Vec::new();
        for _ in 0..4 {
            match s.next().await {
                Some(Ok(Incoming::Text(t))) => texts.push(String::from_utf8(t.to_vec()).unwrap()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(texts[0], "hello");
        assert_eq!(texts[1], "é".repeat(100));
        assert_eq!(texts[2], expected);
        assert_eq!(texts[3], "parts");
        s.send_text("{\"v\":1,\"type\":\"pong\",\"nonce\":3}")
            .await
            .unwrap();
        assert_eq!(
            s.next().await,
            Some(Ok(Incoming::Close(Some((4000, "idle timeout".into())))))
        );
        s.close().await;
        let got = server.await.unwrap();
        assert_eq!(
            got,
            vec![
                "pong p".to_string(),
                "{\"v\":1,\"type\":\"pong\",\"nonce\":3}".to_string()
            ]
        );
    }

    #[tokio::test]
    async fn a_refused_handshake_names_its_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut b = [0u8; 1024];
            let _ = tcp.read(&mut b).await;
            let _ = tcp
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                .await;
        });
        let e = Socket::connect(&format!("ws://{addr}/ws"), 1)
            .await
            .err()
            .unwrap();
        assert_eq!(e, "HTTP error: 502 Bad Gateway");
    }
}
