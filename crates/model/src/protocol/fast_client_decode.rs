//! The strict reader of client frames (`json_cursor`), for the app: it reads back the
//! subscribe frames its page's loader sent without the derived decoders of the client frame
//! types in its wasm. Same contract as the server frames' reader (`fast_decode`): `Some` only
//! with exactly what the generic decoder gives, `None` on any doubt.

use super::fast_decode::set;
use super::json_cursor::Cursor;
use super::{ClientFrame, ClientMessage, Topic, VERSION};

/// Decodes a client frame; `None` on any doubt.
pub fn decode(text: &str) -> Option<ClientFrame> {
    let mut c = Cursor::new(text);
    let (mut v, mut kind, mut sub, mut topic) = Default::default();
    let (mut resume_from, mut nonce) = Default::default();
    let (mut instance_updates, mut line_batches) = Default::default();
    c.object(false, |c, key| match key {
        "v" => set(&mut v, c.uint().filter(|&v| v == u64::from(VERSION))),
        "type" => set(&mut kind, c.owned()),
        "sub" => set(&mut sub, c.owned()),
        "topic" => set(&mut topic, self::topic(c)),
        "resume_from" => set(&mut resume_from, c.nullable(Cursor::uint)),
        "nonce" => set(&mut nonce, c.uint()),
        "instance_updates" => set(&mut instance_updates, c.boolean()),
        "line_batches" => set(&mut line_batches, c.boolean()),
        _ => c.skip(),
    })?;
    if v.is_none() || !c.at_end() {
        return None;
    }
    let msg = match kind?.as_str() {
        "subscribe" => ClientMessage::Subscribe {
            sub: sub?,
            topic: topic?,
            resume_from: resume_from.flatten(),
            instance_updates: instance_updates.unwrap_or(false),
            line_batches: line_batches.unwrap_or(false),
        },
        "unsubscribe" => ClientMessage::Unsubscribe { sub: sub? },
        "ping" => ClientMessage::Ping { nonce: nonce? },
        "pong" => ClientMessage::Pong { nonce: nonce? },
        _ => return None,
    };
    Some(ClientFrame::new(msg))
}

fn topic(c: &mut Cursor<'_>) -> Option<Topic> {
    let (mut kind, mut env, mut deployment) = (None, None, None);
    c.object(false, |c, key| match key {
        "kind" => set(&mut kind, c.owned()),
        "env" => set(&mut env, c.owned()),
        "deployment" => set(&mut deployment, c.owned()),
        _ => c.skip(),
    })?;
    Some(match kind?.as_str() {
        "environments" => Topic::Environments,
        "environment" => Topic::Environment { env: env? },
        "logs" => Topic::Logs {
            deployment: deployment?,
        },
        _ => return None,
    })
}
