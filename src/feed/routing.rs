//! Routing of decoded server frames: connection-wide ones (hello, heartbeats, store status)
//! to the feed's state, a subscription's ones to that subscription, checked against its
//! sequence numbers and joined when a snapshot comes in parts, then queued for its handler.

use super::awaited::Awaited;
use super::connection_state::{ConnState, StoreStatus};
use super::handle::Feed;
use super::sub_event::SubEvent;
use leptos::prelude::*;
use shipwatch_model::protocol::stream::SeqError;
use shipwatch_model::protocol::{
    decode_server, Change, ClientMessage, ErrorCode, LineBatch, ServerMessage, Snapshot,
};

impl Feed {
    /// Handles one text frame from the server.
    pub(super) fn receive(&self, text: &str) {
        let limit = self.0.session.limits.borrow().max_server_frame_bytes as usize;
        let frame = match decode_server(text, limit) {
            Ok(f) => f,
            Err(e) => return self.drop_frame(e.to_string()),
        };
        match frame.msg {
            ServerMessage::Hello {
                limits,
                stuck_after,
                now,
                ..
            } => {
                *self.0.session.limits.borrow_mut() = limits;
                crate::state::time_in_state::hello(stuck_after, now);
                // A new socket, perhaps to another server: its store is fine until it says not.
                self.set_store(StoreStatus::default());
                self.0.state.set(ConnState::Live {
                    since: js_sys::Date::now(),
                });
            }
            ServerMessage::Ping { nonce } => self.send(&ClientMessage::Pong { nonce }),
            ServerMessage::Pong { .. } | ServerMessage::Unsubscribed { .. } => {}
            ServerMessage::Status { store, message } => {
                self.set_store(StoreStatus {
                    state: store,
                    message,
                });
            }
            ServerMessage::Resumed { sub, seq } => {
                let mut verdict = Ok(());
                let Some(id) = self.sub_by_wire(&sub, |s| verdict = s.cursor.resumed(seq)) else {
                    return;
                };
                match verdict {
                    Ok(()) => self.answered(id),
                    Err(e) => {
                        self.drop_frame(format!("{e}; asking for a fresh snapshot"));
                        self.recover(id, false);
                    }
                }
            }
            ServerMessage::Snapshot { sub, seq, data } => {
                if let Some(id) = self.sub_by_wire(&sub, |s| {
                    s.join.clear();
                    s.cursor.snapshot(seq);
                }) {
                    self.answered(id);
                    self.enqueue(id, SubEvent::Snapshot(data));
                }
            }
            ServerMessage::SnapshotPart {
                sub,
                seq,
                part,
                parts,
                data,
            } => self.receive_part(&sub, seq, part, parts, data),
            ServerMessage::Delta { sub, seq, changes } => self.receive_delta(&sub, seq, changes),
            ServerMessage::Lines { sub, seq, lines } => self.receive_lines(&sub, seq, lines),
            ServerMessage::Error {
                code,
                message,
                sub,
                gone,
            } => match sub.and_then(|s| self.sub_by_wire(&s, |_| ())) {
                // A replica behind the page ended the subscription: it stays awaited, so it is
                // asked again from its cursor with the back-off of an unanswered subscribe,
                // and shows as recovering meanwhile; the server holds nothing to unsubscribe.
                Some(id) if code == ErrorCode::Behind => {
                    leptos::logging::warn!("shipwatch: {message}; asking again");
                    if let Some(s) = self.0.registry.subs.borrow_mut().get_mut(&id) {
                        s.wire_id.clear();
                        let mut waiting = s
                            .awaited
                            .unwrap_or_else(|| Awaited::new(js_sys::Date::now()));
                        waiting.maybe_lost = true;
                        s.awaited = Some(waiting);
                    }
                    self.count_recovering();
                }
                Some(id) => {
                    // A refused subscription was not created: nothing to unsubscribe later
                    // (the server would answer `unknown_subscription`, a dropped frame). A
                    // duplicate id names one the server still has.
                    if code != ErrorCode::DuplicateSubscription {
                        if let Some(s) = self.0.registry.subs.borrow_mut().get_mut(&id) {
                            s.wire_id.clear();
                        }
                    }
                    self.answered(id);
                    self.enqueue(id, SubEvent::Refused(code, message, gone));
                }
                None => self.drop_frame(format!("server error {}: {message}", code.as_str())),
            },
        }
    }

    fn set_store(&self, status: StoreStatus) {
        if self.0.store.get_untracked() != status {
            self.0.store.set(status);
        }
    }

    fn receive_delta(&self, wire: &str, seq: u64, mut changes: Vec<Change>) {
        if let Some((id, seen)) = self.numbered(wire, seq, changes.len()) {
            changes.drain(..seen);
            self.enqueue(id, SubEvent::Changes(changes));
        }
    }

    /// A `lines` frame: numbered like a delta of as many changes.
    fn receive_lines(&self, wire: &str, seq: u64, mut lines: LineBatch) {
        if let Some((id, seen)) = self.numbered(wire, seq, lines.len()) {
            lines.skip(seen);
            self.enqueue(id, SubEvent::Lines(lines));
        }
    }

    /// Checks the numbers of `count` changes from `seq` against the subscription's cursor:
    /// the subscription and how many of them it already has, when some are new. A gap asks
    /// again from where it is; a frame of a subscription just ended, or a resend of what it
    /// has, is nothing to apply.
    fn numbered(&self, wire: &str, seq: u64, count: usize) -> Option<(u64, usize)> {
        let mut verdict = Err(SeqError::NoBase);
        let id = self.sub_by_wire(wire, |s| verdict = s.cursor.delta(seq, count))?;
        match verdict {
            Ok(range) if range.is_empty() => None,
            Ok(range) => Some((id, range.start)),
            Err(e @ SeqError::Gap { .. }) => {
                self.drop_frame(format!("{e}; resuming"));
                self.recover(id, true);
                None
            }
            Err(e) => {
                self.drop_frame(e.to_string());
                None
            }
        }
    }

    /// One part of a snapshot: joined with the parts before it; the whole is applied as a
    /// snapshot once its last part is in.
    fn receive_part(&self, wire: &str, seq: u64, part: u32, parts: u32, data: Snapshot) {
        let now = js_sys::Date::now();
        let mut joined = Ok(None);
        let Some(id) = self.sub_by_wire(wire, |s| {
            joined = s.join.add(seq, part, parts, data);
            if let Some(a) = s.awaited.as_mut() {
                a.since = now; // the answer is coming
            }
            if let Ok(Some(_)) = joined {
                s.cursor.snapshot(seq);
            }
        }) else {
            return;
        };
        match joined {
            Ok(None) => {}
            Ok(Some(snapshot)) => {
                self.answered(id);
                self.enqueue(id, SubEvent::Snapshot(snapshot));
            }
            Err(e) => {
                self.drop_frame(format!("{e}; asking for a fresh snapshot"));
                self.recover(id, false);
            }
        }
    }
}
