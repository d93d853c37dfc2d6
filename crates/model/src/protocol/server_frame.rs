//! Frames the server sends to the app.

use super::{Limits, LineBatch, SubId, VERSION};
use crate::{Deployment, Environment, EnvironmentSummary, Instance, LogLine, Service};
use serde::{Deserialize, Serialize};

/// A frame from the server: the protocol version and one message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerFrame {
    /// Protocol version, [`VERSION`].
    pub v: u32,
    /// The message.
    #[serde(flatten)]
    pub msg: ServerMessage,
}

impl ServerFrame {
    /// Wraps a message in a frame of the current version.
    #[must_use]
    pub fn new(msg: ServerMessage) -> Self {
        Self { v: VERSION, msg }
    }
}

/// Messages from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First frame on every socket: who is talking and the limits in force.
    Hello {
        /// Server name and version.
        server: String,
        /// Limits the client must respect.
        limits: Limits,
        /// How long each transitional status may last before the page calls it stuck
        /// (absent from an older server: the page uses the defaults).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stuck_after: Option<crate::stuck::StuckAfter>,
        /// The server's clock when it said hello (ms since the epoch), so that a page whose
        /// clock is off can still tell how long a status holds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        now: Option<crate::entities::Millis>,
    },
    /// The whole state of a subscription's topic as of `seq`; replaces what the client had.
    Snapshot {
        /// Subscription id.
        sub: SubId,
        /// Sequence number of the last change included.
        seq: u64,
        /// The state.
        data: Snapshot,
    },
    /// One part of a snapshot too large for one frame: parts `0` to `parts - 1`, in order, each
    /// a snapshot of the same kind at the same `seq` with a run of its list (an environment's
    /// services, or the environments); joined, they are the snapshot (see `SnapshotJoin`).
    SnapshotPart {
        /// Subscription id.
        sub: SubId,
        /// Sequence number of the last change included.
        seq: u64,
        /// This part's number, from 0.
        part: u32,
        /// How many parts the snapshot has.
        parts: u32,
        /// This part.
        data: Snapshot,
    },
    /// Answer to a subscribe with `resume_from`: the server still has everything after `seq`
    /// and will send it as deltas; the client keeps its state.
    Resumed {
        /// Subscription id.
        sub: SubId,
        /// The `resume_from` the client sent.
        seq: u64,
    },
    /// Ordered changes: `changes[i]` has sequence number `seq + i`. The first `seq` is always one
    /// more than the last one the client got for this subscription.
    Delta {
        /// Subscription id.
        sub: SubId,
        /// Sequence number of the first change.
        seq: u64,
        /// The changes, in order.
        changes: Vec<Change>,
    },
    /// Log lines in columns, to a logs subscription that asked for them (`line_batches`):
    /// the run's `k` lines have sequence numbers `seq` to `seq + k - 1`, as `k` `line`
    /// changes of a delta would.
    Lines {
        /// Subscription id.
        sub: SubId,
        /// Sequence number of the first line.
        seq: u64,
        /// The lines.
        lines: LineBatch,
    },
    /// The subscription ended (answer to unsubscribe).
    Unsubscribed {
        /// Subscription id.
        sub: SubId,
    },
    /// Heartbeat; the client answers with `pong`.
    Ping {
        /// Echoed back.
        nonce: u64,
    },
    /// Answer to the client's `ping`.
    Pong {
        /// The nonce of the ping.
        nonce: u64,
    },
    /// Whether the server's store commits, to a socket that asked for it (`/ws?status=1`):
    /// sent after `hello` when the store is not `ok`, then whenever it changes.
    Status {
        /// The store's state.
        store: StoreState,
        /// What fails, for people (absent when `ok`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A client frame was refused.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
        /// The subscription concerned, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sub: Option<SubId>,
        /// With `unknown_topic` for a log: the deployment existed and its log was removed,
        /// and why (absent when the server knows no such deployment).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gone: Option<Gone>,
    },
}

/// The state of a topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Snapshot {
    /// All environments, summarised.
    Environments {
        /// One per environment.
        environments: Vec<EnvironmentSummary>,
    },
    /// One environment, whole.
    Environment {
        /// The environment.
        environment: Environment,
    },
    /// A deployment's log: its header. Its lines follow as `line` changes (a log may hold a
    /// million lines: too many for one frame).
    Logs {
        /// Environment id.
        env: String,
        /// Service id, or none for an environment deployment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// The deployment.
        deployment: Deployment,
        /// How many lines the log holds at the time of the snapshot (they follow): for a
        /// progress count while the history arrives.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line_count: Option<u64>,
    },
}

/// One change to a topic's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// Environments topic: an environment was added or changed.
    EnvironmentUpsert(EnvironmentSummary),
    /// Environments topic: an environment was removed.
    EnvironmentRemoved {
        /// Its id.
        id: String,
    },
    /// Environment topic: a service was added or changed (sent whole: it is small).
    ServiceUpsert(Service),
    /// Environment topic: one instance of a service changed and nothing else in the service
    /// did. Sent only on subscriptions that asked for it (`instance_updates`): most status
    /// events change one instance, and the whole service is about three times its text.
    InstanceUpdate {
        /// The service's id.
        service: String,
        /// The instance's position in the service's `instances`.
        index: u32,
        /// The instance as it is now.
        instance: Instance,
        /// Since when the service's running status holds, when this instance moved it;
        /// absent: unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        running_since: Option<crate::entities::Millis>,
        /// The events the instance gained, when `instance` leaves its events out: the
        /// client appends them to the events it holds (keeping the newest
        /// `MAX_INSTANCE_EVENTS`). Absent: `instance` carries all its events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        events_added: Option<Vec<crate::InstanceEvent>>,
    },
    /// Environment topic: a service was removed.
    ServiceRemoved {
        /// Its id.
        id: String,
    },
    /// Environment topic: the environment's own deployment changed.
    EnvironmentDeployment {
        /// The deployment, or none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deployment: Option<Deployment>,
    },
    /// Logs topic: the deployment's status changed.
    Deployment(Deployment),
    /// Logs topic: one more line.
    Line(LogLine),
}

/// Why the server refused a client frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON.
    MalformedJson,
    /// `v` missing or not a version this server speaks.
    UnsupportedVersion,
    /// `type` missing or unknown.
    UnknownType,
    /// A known type with missing or invalid fields.
    InvalidFrame,
    /// The frame is over the size limit.
    FrameTooLarge,
    /// The socket already has the maximum number of subscriptions.
    TooManySubscriptions,
    /// The subscription id is already in use on this socket.
    DuplicateSubscription,
    /// No subscription with that id.
    UnknownSubscription,
    /// No environment or deployment with that id.
    UnknownTopic,
    /// This server (a follower replica) has not caught up with the number the page resumed
    /// from: the page asks again later, from the same number.
    Behind,
    /// Too many frames per second.
    RateLimited,
    /// A code this app does not know.
    #[serde(other)]
    Unknown,
}

/// Whether the server's store commits what it is given (a `status` frame's `store`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreState {
    /// Writes commit (or the server keeps no store).
    #[default]
    Ok,
    /// Writes fail (the database is down or unreachable, the disk is full): changes are held
    /// and retried, and go out once they commit.
    Unavailable,
    /// A state this app does not know.
    #[serde(other)]
    Unknown,
}

impl StoreState {
    /// The wire string, e.g. `unavailable`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unavailable => "unavailable",
            Self::Unknown => "unknown",
        }
    }
}

/// Why a deployment's log is no longer kept (an `unknown_topic` error's `gone`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gone {
    /// The deployment is older than the ones the store keeps per service.
    Retention,
    /// Its lines were removed to keep the stored log text under its cap.
    LogBytes,
    /// A reason this app does not know.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code this app knows (not [`ErrorCode::Unknown`]).
    pub const ALL: [ErrorCode; 11] = [
        Self::MalformedJson,
        Self::UnsupportedVersion,
        Self::UnknownType,
        Self::InvalidFrame,
        Self::FrameTooLarge,
        Self::TooManySubscriptions,
        Self::DuplicateSubscription,
        Self::UnknownSubscription,
        Self::UnknownTopic,
        Self::Behind,
        Self::RateLimited,
    ];

    /// The wire string, e.g. `malformed_json`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownType => "unknown_type",
            Self::InvalidFrame => "invalid_frame",
            Self::FrameTooLarge => "frame_too_large",
            Self::TooManySubscriptions => "too_many_subscriptions",
            Self::DuplicateSubscription => "duplicate_subscription",
            Self::UnknownSubscription => "unknown_subscription",
            Self::UnknownTopic => "unknown_topic",
            Self::Behind => "behind",
            Self::RateLimited => "rate_limited",
            Self::Unknown => "unknown",
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_client_frame_bytes: 16 * 1024,
            max_server_frame_bytes: super::MAX_SERVER_FRAME_BYTES,
            max_subscriptions: 8,
            max_client_frames_per_sec: 50,
            heartbeat_ms: 5_000,
            idle_timeout_ms: 15_000,
        }
    }
}
