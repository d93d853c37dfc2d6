//! One websocket client of the swarm: connect and subscribe to an environment; the jitter of
//! its reconnect back-off.

use crate::frame;
use futures_util::SinkExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A connected socket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `url` and subscribes to environment `env` (resuming after `resume_from`).
pub async fn connect(url: &str, env: &str, resume_from: Option<u64>) -> Result<Ws, String> {
    // The default 128 KiB read buffer is zeroed before every read: with thousands of sockets
    // that alone took a third of the swarm's time. Frames larger than this grow it as needed.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| e.to_string())?;
    ws.send(Message::Text(
        frame::subscribe(env, resume_from, false).into(),
    ))
    .await
    .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// A small random source for the back-off's jitter (xorshift, seeded per client).
pub struct Jitter(u64);

impl Jitter {
    /// Seeded from the client's number and the clock.
    pub fn new(id: u64) -> Jitter {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
        Jitter((id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos) | 1)
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_its_unit_interval() {
        let mut j = Jitter::new(7);
        let draws: Vec<f64> = (0..1000).map(|_| j.unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
    }
}
