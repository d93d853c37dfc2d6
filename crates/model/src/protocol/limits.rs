//! Limits both sides respect, announced by the server in `hello`, and websocket close codes.

use serde::{Deserialize, Serialize};

/// Limits in force on a socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest client frame the server reads; larger ones close the socket (1009).
    pub max_client_frame_bytes: u32,
    /// Largest server frame the client accepts; larger ones are dropped and counted.
    pub max_server_frame_bytes: u32,
    /// Subscriptions one socket may hold at once.
    pub max_subscriptions: u32,
    /// Client frames per second before `rate_limited` errors, and a close at twice that.
    pub max_client_frames_per_sec: u32,
    /// How often each side pings.
    pub heartbeat_ms: u32,
    /// Silence after which a side deems the other dead and closes (client) or drops (server).
    pub idle_timeout_ms: u32,
}

/// Websocket close codes the server uses.
pub mod close_code {
    /// Server shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// Origin not allowed or token missing/wrong.
    pub const POLICY: u16 = 1008;
    /// Frame over `max_client_frame_bytes`.
    pub const TOO_BIG: u16 = 1009;
    /// Nothing heard for `idle_timeout_ms`.
    pub const IDLE: u16 = 4000;
    /// Flooding: more than twice `max_client_frames_per_sec`.
    pub const FLOOD: u16 = 4029;
}
