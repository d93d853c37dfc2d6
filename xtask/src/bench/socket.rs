//! A websocket client of the server as the page is, for the parts that count what arrives on
//! a topic (`push`, `reporter`): JSON frames, pings answered.

use crate::cmd::Result;
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::{Message, WebSocket};

/// One connection to `/ws`.
pub struct Socket(WebSocket<TcpStream>);

impl Socket {
    /// Connects to the server at `addr`; a read waits 5 s at most, so that the caller can
    /// keep to its deadline.
    pub fn connect(addr: &str) -> Result<Socket> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let (ws, _) = tungstenite::client(format!("ws://{addr}/ws").as_str(), stream)
            .map_err(|e| format!("websocket: {e}"))?;
        Ok(Socket(ws))
    }

    /// Sends a text frame (a subscribe).
    pub fn send(&mut self, text: String) -> Result<()> {
        self.0.send(Message::text(text)).map_err(|e| e.to_string())
    }

    /// The next frame, parsed; `None` when there is none for the caller yet (nothing within
    /// the read timeout, a ping, which is answered, or a frame that is not text).
    pub fn next(&mut self) -> Result<Option<serde_json::Value>> {
        let text = match self.0.read() {
            Ok(Message::Text(t)) => t,
            Ok(_) => return Ok(None),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(format!("websocket: {e}")),
        };
        let frame: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if frame["type"] == "ping" {
            self.send(format!(
                r#"{{"v":1,"type":"pong","nonce":{}}}"#,
                frame["nonce"]
            ))?;
            return Ok(None);
        }
        Ok(Some(frame))
    }

    /// Closes the connection (its errors do not matter to a measurement that is over).
    pub fn close(mut self) {
        let _ = self.0.close(None);
    }
}
