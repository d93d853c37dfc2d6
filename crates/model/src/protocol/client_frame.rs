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

impl ClientMessage {
    /// This message as a frame of the current version, in JSON: the same text serde writes for
    /// `ClientFrame::new(msg)`, written by hand because serde_json's serializer (and the
    /// flattening it needs here) would otherwise be in the page's first chunk for these few
    /// small frames.
    #[must_use]
    pub fn frame_json(&self) -> String {
        let mut out = format!("{{\"v\":{VERSION},\"type\":");
        match self {
            Self::Subscribe {
                sub,
                topic,
                resume_from,
                instance_updates,
                line_batches,
            } => {
                out.push_str("\"subscribe\",\"sub\":");
                json_string(&mut out, sub);
                out.push_str(",\"topic\":{\"kind\":");
                match topic {
                    Topic::Environments => out.push_str("\"environments\""),
                    Topic::Environment { env } => {
                        out.push_str("\"environment\",\"env\":");
                        json_string(&mut out, env);
                    }
                    Topic::Logs { deployment } => {
                        out.push_str("\"logs\",\"deployment\":");
                        json_string(&mut out, deployment);
                    }
                }
                out.push('}');
                if let Some(seq) = resume_from {
                    out.push_str(&format!(",\"resume_from\":{seq}"));
                }
                if *instance_updates {
                    out.push_str(",\"instance_updates\":true");
                }
                if *line_batches {
                    out.push_str(",\"line_batches\":true");
                }
            }
            Self::Unsubscribe { sub } => {
                out.push_str("\"unsubscribe\",\"sub\":");
                json_string(&mut out, sub);
            }
            Self::Ping { nonce } => out.push_str(&format!("\"ping\",\"nonce\":{nonce}")),
            Self::Pong { nonce } => out.push_str(&format!("\"pong\",\"nonce\":{nonce}")),
        }
        out.push('}');
        out
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::{ClientFrame, ClientMessage, Topic};

    fn messages() -> Vec<ClientMessage> {
        let names = [
            "s1",
            "",
            "prod-eu",
            "quote \" and \\ backslash",
            "lines\nand\ttabs\r\u{8}\u{c}",
            "controls \u{0}\u{1}\u{1f}\u{7f}",
            "unicode é ✓ 🚀 \u{2028}",
        ];
        let mut all = Vec::new();
        for name in names {
            for topic in [
                Topic::Environments,
                Topic::Environment { env: name.into() },
                Topic::Logs {
                    deployment: name.into(),
                },
            ] {
                for resume_from in [None, Some(0), Some(u64::MAX)] {
                    for (instance_updates, line_batches) in
                        [(false, false), (true, false), (false, true), (true, true)]
                    {
                        all.push(ClientMessage::Subscribe {
                            sub: name.into(),
                            topic: topic.clone(),
                            resume_from,
                            instance_updates,
                            line_batches,
                        });
                    }
                }
            }
            all.push(ClientMessage::Unsubscribe { sub: name.into() });
        }
        for nonce in [0, 1, 42, u64::MAX] {
            all.push(ClientMessage::Ping { nonce });
            all.push(ClientMessage::Pong { nonce });
        }
        all
    }

    #[test]
    fn frame_json_is_what_serde_writes() {
        for msg in messages() {
            let serde = serde_json::to_string(&ClientFrame::new(msg.clone())).unwrap();
            assert_eq!(msg.frame_json(), serde, "{msg:?}");
        }
    }

    #[test]
    fn frame_json_reads_back_as_the_same_frame() {
        for msg in messages() {
            let back: ClientFrame = serde_json::from_str(&msg.frame_json()).unwrap();
            assert_eq!(back, ClientFrame::new(msg));
        }
    }
}
