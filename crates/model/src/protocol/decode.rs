//! Fallible, total decoding of frames: every input gives a frame or a typed error, never a
//! panic. Unknown status values are not errors: they decode to `Unknown`.

use super::{ClientFrame, ServerFrame, VERSION};
use serde::Deserialize;

/// Why bytes were not a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Larger than the limit.
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON (or not an object).
    Malformed(String),
    /// `v` missing or not [`VERSION`].
    UnsupportedVersion(Option<u64>),
    /// `type` missing or unknown.
    UnknownType(Option<String>),
    /// Known type, bad or missing fields.
    Invalid(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { bytes, limit } => write!(f, "frame of {bytes} bytes is over the {limit}-byte limit"),
            Self::Malformed(e) => write!(f, "not a JSON object: {e}"),
            Self::UnsupportedVersion(Some(v)) => write!(f, "protocol version {v} is not {VERSION}"),
            Self::UnsupportedVersion(None) => write!(f, "missing protocol version `v`"),
            Self::UnknownType(Some(t)) => write!(f, "unknown frame type `{t}`"),
            Self::UnknownType(None) => write!(f, "missing frame type `type`"),
            Self::Invalid(e) => write!(f, "invalid frame: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a frame sent by a client.
pub fn decode_client(text: &str, limit: usize) -> Result<ClientFrame, DecodeError> {
    let frame: ClientFrame = decode(text, limit, &["subscribe", "unsubscribe", "ping", "pong"])?;
    check_version(frame.v)?;
    Ok(frame)
}

/// Decodes a frame sent by the server.
pub fn decode_server(text: &str, limit: usize) -> Result<ServerFrame, DecodeError> {
    let frame: ServerFrame = decode(
        text,
        limit,
        &["hello", "snapshot", "resumed", "delta", "unsubscribed", "ping", "pong", "error"],
    )?;
    check_version(frame.v)?;
    Ok(frame)
}

fn check_version(v: u32) -> Result<(), DecodeError> {
    if v == VERSION {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedVersion(Some(u64::from(v))))
    }
}

/// Encodes a frame. Our frame types always serialize.
pub fn encode<T: serde::Serialize>(frame: &T) -> String {
    serde_json::to_string(frame).unwrap_or_else(|e| format!("{{\"encode_error\":\"{e}\"}}"))
}

fn decode<T: serde::de::DeserializeOwned>(
    text: &str,
    limit: usize,
    known_types: &[&str],
) -> Result<T, DecodeError> {
    if text.len() > limit {
        return Err(DecodeError::TooLarge { bytes: text.len(), limit });
    }
    // The common path parses once; only a failure is parsed again, to classify it.
    serde_json::from_str::<T>(text).map_err(|e| classify(text, e, known_types))
}

/// Just enough of a frame to say what is wrong with it.
#[derive(Deserialize)]
struct Probe {
    v: Option<serde_json::Value>,
    #[serde(rename = "type")]
    ty: Option<serde_json::Value>,
}

fn classify_version(probe: &Probe) -> DecodeError {
    DecodeError::UnsupportedVersion(probe.v.as_ref().and_then(serde_json::Value::as_u64))
}

fn classify(text: &str, error: serde_json::Error, known_types: &[&str]) -> DecodeError {
    let probe = match serde_json::from_str::<Probe>(text) {
        Ok(p) => p,
        Err(e) => return DecodeError::Malformed(e.to_string()),
    };
    if probe.v.as_ref().and_then(serde_json::Value::as_u64) != Some(u64::from(VERSION)) {
        return classify_version(&probe);
    }
    match probe.ty.as_ref().and_then(serde_json::Value::as_str) {
        Some(t) if known_types.contains(&t) => DecodeError::Invalid(error.to_string()),
        Some(t) => DecodeError::UnknownType(Some(t.chars().take(64).collect())),
        None => DecodeError::UnknownType(None),
    }
}
