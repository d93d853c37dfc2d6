//! Frames the app sends to the server.

use super::{SubId, VERSION};
use serde::{Deserialize, Serialize};

/// What a subscription follows.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Topic {
    /// The list of environments with their summaries.
    Environments,
    /// One environment with all its services and instances.
    Environment {
        /// Environment id.
        env: String,
    },
    /// One deployment's log lines.
    Logs {
        /// Deployment id.
        deployment: String,
    },
}

/// A frame from the client: the protocol version and one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFrame {
    /// Protocol version, [`VERSION`].
    pub v: u32,
    /// The message.
    #[serde(flatten)]
    pub msg: ClientMessage,
}

impl ClientFrame {
    /// Wraps a message in a frame of the current version.
    #[must_use]
    pub fn new(msg: ClientMessage) -> Self {
        Self { v: VERSION, msg }
    }
}

/// Messages from the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Start following a topic. With `resume_from`, the last sequence number the client applied
    /// for this topic: the server replays what came after it, or sends a fresh snapshot.
    Subscribe {
        /// Client-chosen subscription id, echoed in every frame for it.
        sub: SubId,
        /// What to follow.
        topic: Topic,
        /// Last sequence number applied, when resuming.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_from: Option<u64>,
        /// Whether the client reads `instance_update` changes (environment topics): a server
        /// then sends one instance's change instead of the whole service where it can.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        instance_updates: bool,
        /// Whether the client reads `lines` frames (logs topics): a server then sends runs of
        /// log lines as one compact batch instead of one `line` change each.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        line_batches: bool,
    },
    /// Stop following.
    Unsubscribe {
        /// The subscription to end.
        sub: SubId,
    },
    /// Heartbeat; the server answers with `pong` and the same nonce.
    Ping {
        /// Echoed back.
        nonce: u64,
    },
    /// Answer to the server's `ping`.
    Pong {
        /// The nonce of the ping.
        nonce: u64,
    },
}
