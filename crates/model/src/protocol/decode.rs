//! Fallible, total decoding of frames: every input gives a frame or a typed error, never a
//! panic. Unknown status values are not errors: they decode to `Unknown`.

use super::{ClientFrame, ErrorCode, ServerFrame, VERSION};

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
            Self::TooLarge { bytes, limit } => {
                write!(f, "frame of {bytes} bytes is over the {limit}-byte limit")
            }
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

impl DecodeError {
    /// The error code a server answers with in its `error` frame.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } => ErrorCode::FrameTooLarge,
            Self::Malformed(_) => ErrorCode::MalformedJson,
            Self::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            Self::UnknownType(_) => ErrorCode::UnknownType,
            Self::Invalid(_) => ErrorCode::InvalidFrame,
        }
    }
}

/// Frame types a client may send.
pub const CLIENT_TYPES: [&str; 4] = ["subscribe", "unsubscribe", "ping", "pong"];

/// Frame types a server may send.
pub const SERVER_TYPES: [&str; 11] = [
    "hello",
    "snapshot",
    "snapshot_part",
    "resumed",
    "delta",
    "lines",
    "unsubscribed",
    "ping",
    "pong",
    "status",
    "error",
];

/// Decodes a frame sent by a client; `limit` is the largest frame accepted, in bytes.
pub fn decode_client(text: &str, limit: usize) -> Result<ClientFrame, DecodeError> {
    let frame: ClientFrame = decode(text, limit, &CLIENT_TYPES)?;
    check_version(frame.v)?;
    Ok(frame)
}

/// Decodes a frame sent by the server; `limit` is the largest frame accepted, in bytes.
///
/// The strict reader (`fast_decode`) answers every frame the server sends; with the
/// `generic-decode` feature, what it leaves goes to serde's derived decoders (precise errors,
/// the reference the tests compare with). Without it (the app's wasm, where those decoders
/// would weigh), such a frame is an [`DecodeError::Invalid`] with a plain reason.
pub fn decode_server(text: &str, limit: usize) -> Result<ServerFrame, DecodeError> {
    if text.len() <= limit {
        if let Some(frame) = super::fast_decode::decode(text) {
            return Ok(frame);
        }
    }
    generic_server(text, limit)
}

#[cfg(feature = "generic-decode")]
fn generic_server(text: &str, limit: usize) -> Result<ServerFrame, DecodeError> {
    let frame: ServerFrame = decode(text, limit, &SERVER_TYPES)?;
    check_version(frame.v)?;
    Ok(frame)
}

#[cfg(not(feature = "generic-decode"))]
fn generic_server(text: &str, limit: usize) -> Result<ServerFrame, DecodeError> {
    too_large(text.len(), limit)?;
    Err(DecodeError::Invalid(
        "not a frame this console understands".to_string(),
    ))
}

fn too_large(bytes: usize, limit: usize) -> Result<(), DecodeError> {
    if bytes > limit {
        return Err(DecodeError::TooLarge { bytes, limit });
    }
    Ok(())
}

/// Decodes a client frame from raw bytes (a binary websocket message, or bytes off a test
/// socket): not UTF-8 is [`DecodeError::Malformed`].
pub fn decode_client_bytes(bytes: &[u8], limit: usize) -> Result<ClientFrame, DecodeError> {
    decode_client(utf8(bytes, limit)?, limit)
}

/// Decodes a server frame from raw bytes: not UTF-8 is [`DecodeError::Malformed`].
pub fn decode_server_bytes(bytes: &[u8], limit: usize) -> Result<ServerFrame, DecodeError> {
    decode_server(utf8(bytes, limit)?, limit)
}

fn utf8(bytes: &[u8], limit: usize) -> Result<&str, DecodeError> {
    too_large(bytes.len(), limit)?;
    std::str::from_utf8(bytes).map_err(|e| DecodeError::Malformed(format!("not UTF-8: {e}")))
}

fn check_version(v: u32) -> Result<(), DecodeError> {
    if v == VERSION {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedVersion(Some(u64::from(v))))
    }
}

/// Encodes a frame as one JSON text. Frame types only hold strings, numbers, booleans, lists
/// and string-keyed objects, so this cannot fail for them.
#[must_use]
pub fn encode<T: serde::Serialize>(frame: &T) -> String {
    serde_json::to_string(frame).unwrap_or_else(|e| {
        serde_json::json!({ "v": VERSION, "type": "encode_error", "message": e.to_string() })
            .to_string()
    })
}

fn decode<T: serde::de::DeserializeOwned>(
    text: &str,
    limit: usize,
    known_types: &[&str],
) -> Result<T, DecodeError> {
    too_large(text.len(), limit)?;
    // The common path parses once; only a failure is parsed again, to classify it.
    serde_json::from_str::<T>(text).map_err(|e| classify(text, &e, known_types))
}

/// Says what is wrong with a text that did not decode: not a JSON object, a wrong or missing
/// version, an unknown or missing type, or bad fields in a known type.
fn classify(text: &str, error: &serde_json::Error, known_types: &[&str]) -> DecodeError {
    let value = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => v,
        Err(e) => return DecodeError::Malformed(e.to_string()),
    };
    let Some(object) = value.as_object() else {
        return DecodeError::Malformed("a frame is a JSON object".to_string());
    };
    let v = object.get("v");
    if v.and_then(serde_json::Value::as_u64) != Some(u64::from(VERSION)) {
        return DecodeError::UnsupportedVersion(v.and_then(serde_json::Value::as_u64));
    }
    match object.get("type").and_then(serde_json::Value::as_str) {
        Some(t) if known_types.contains(&t) => DecodeError::Invalid(error.to_string()),
        Some(t) => DecodeError::UnknownType(Some(t.chars().take(64).collect())),
        None => DecodeError::UnknownType(None),
    }
}
