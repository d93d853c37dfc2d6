//! The socket the page's loader opened while the app downloaded (`index.html`): the feed
//! adopts it, with the frames it buffered and the subscriptions it made, instead of opening a
//! second one, so the first snapshot is already on its way when the app starts.

use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use shipwatch_model::protocol::{decode_client_fast, ClientMessage, Topic};
use wasm_bindgen::{JsCast, JsValue};

/// Where the loader leaves its socket (`{ ws, subscribes, frames }`).
const GLOBAL: &str = "__shipwatchEarlySocket";

/// Largest subscribe frame the loader can have sent (the server's limit for client frames).
const MAX_SUBSCRIBE_BYTES: usize = 16 * 1024;

/// The loader's socket, taken over by the feed.
pub struct EarlySocket {
    /// The socket, still connecting or open.
    pub socket: WebSocket,
    /// What it received before the app took it, oldest first.
    pub backlog: Vec<Result<Message, WebSocketError>>,
    /// The subscriptions it asked for: wire id and topic.
    pub subscribed: Vec<(String, Topic)>,
}

/// Takes the loader's socket, once. None when there is none, when it is closing or closed
/// (the feed then opens its own), or when what the loader left cannot be read.
pub fn take() -> Option<EarlySocket> {
    let window = web_sys::window()?;
    let early = js_sys::Reflect::get(&window, &GLOBAL.into()).ok()?;
    let _ = js_sys::Reflect::delete_property(&window, &GLOBAL.into());
    let ws: web_sys::WebSocket = field(&early, "ws")?.dyn_into().ok()?;
    let usable = || -> Option<EarlySocket> {
        if ws.ready_state() > web_sys::WebSocket::OPEN {
            return None;
        }
        let subscribed = subscriptions(&field(&early, "subscribes")?)?;
        // From here on the app's handlers get every frame; the loader's buffer holds the
        // ones before (events cannot fire between these lines: one thread).
        ws.set_onmessage(None);
        // The loader's own array (`Array::from` would copy it).
        let frames: js_sys::Array = field(&early, "frames")?.dyn_into().ok()?;
        let backlog = frames
            .iter()
            .map(|frame| match frame.as_string() {
                Some(text) => Ok(Message::Text(text)),
                None => Ok(Message::Bytes(Vec::new())),
            })
            .collect();
        // The loader's `onopen` stays on the socket for the session and shares its scope
        // with this array: emptied, it no longer keeps the first snapshot's text (0.5 MB for
        // 1,000 services) and the deltas after it in the JS heap.
        frames.set_length(0);
        let socket = WebSocket::try_from(ws.clone()).ok()?;
        Some(EarlySocket {
            socket,
            backlog,
            subscribed,
        })
    };
    let taken = usable();
    if taken.is_none() {
        let _ = ws.close();
    }
    taken
}

fn field(object: &JsValue, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(object, &name.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// The loader's subscribe frames, read by the strict reader (the generic decoder is not in the
/// app): one that is not a plain subscribe makes the whole socket unusable (the feed could not
/// account for what it asked).
fn subscriptions(frames: &JsValue) -> Option<Vec<(String, Topic)>> {
    js_sys::Array::from(frames)
        .iter()
        .map(|text| {
            let text = text
                .as_string()
                .filter(|t| t.len() <= MAX_SUBSCRIBE_BYTES)?;
            let frame = decode_client_fast(&text)?;
            match frame.msg {
                // Whether it asked for instance updates or not, the app reads both forms.
                ClientMessage::Subscribe {
                    sub,
                    topic,
                    resume_from: None,
                    ..
                } => Some((sub, topic)),
                _ => None,
            }
        })
        .collect()
}
