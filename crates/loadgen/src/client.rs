//! One websocket client of the swarm: connect and subscribe to an environment.

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
    ws.send(Message::Text(frame::subscribe(env, resume_from).into()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}
