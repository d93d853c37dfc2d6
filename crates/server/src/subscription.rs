//! One subscription's forwarding loop: head (snapshot or resumed), then ordered deltas into
//! the socket's bounded queue. When the queue is full this task waits, its broadcast receiver
//! falls behind, and on `Lagged` it catches up from the replay buffer by sequence number, or
//! takes a fresh snapshot when the buffer has moved on. So a slow client costs bounded memory
//! and never slows the publisher or other clients.

use crate::frames;
use crate::hub::{Head, Item, Read, Start, TopicCell};
use shipwatch_model::protocol::{ErrorCode, ServerMessage};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// Most changes in one delta frame.
pub const MAX_BATCH: usize = 500;

/// Forwards a topic to a socket until the socket or the topic goes away.
pub async fn forward(sub: String, cell: Arc<TopicCell>, start: Start, out: mpsc::Sender<String>) {
    let sub_json = frames::sub_json(&sub);
    let Start {
        head,
        mut next_seq,
        mut rx,
    } = start;
    if out.send(head_frame(&sub, &sub_json, head)).await.is_err() {
        return;
    }
    loop {
        // Catch up from the replay buffer until up to date.
        loop {
            match cell.read_from(next_seq, MAX_BATCH) {
                Read::Items(items) => {
                    next_seq += items.len() as u64;
                    if out.send(frames::delta(&sub_json, &items)).await.is_err() {
                        return;
                    }
                }
                Read::UpToDate => break,
                Read::Gone => {
                    tracing::debug!(
                        sub,
                        "subscriber fell behind the replay buffer: fresh snapshot"
                    );
                    let Some(start) = cell.subscribe(None) else {
                        ended(&sub, &out).await;
                        return;
                    };
                    rx = start.rx;
                    next_seq = start.next_seq;
                    if out
                        .send(head_frame(&sub, &sub_json, start.head))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        // Live: batch what is already waiting into one frame.
        loop {
            let first = match rx.recv().await {
                Ok(item) => item,
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => {
                    ended(&sub, &out).await;
                    return;
                }
            };
            if first.seq < next_seq {
                continue; // already sent during catch-up
            }
            if first.seq > next_seq {
                break; // a gap: the replay buffer has it
            }
            let mut batch: Vec<Arc<Item>> = vec![first];
            let mut catch_up = false;
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(item) if item.seq == next_seq + batch.len() as u64 => batch.push(item),
                    Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {
                        catch_up = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            next_seq += batch.len() as u64;
            if out.send(frames::delta(&sub_json, &batch)).await.is_err() {
                return;
            }
            if catch_up {
                break;
            }
        }
    }
}

fn head_frame(sub: &str, sub_json: &str, head: Head) -> String {
    match head {
        Head::Snapshot { seq, data } => frames::snapshot(sub_json, seq, &data),
        Head::Resumed { seq } => frames::message(ServerMessage::Resumed {
            sub: sub.to_string(),
            seq,
        }),
    }
}

async fn ended(sub: &str, out: &mpsc::Sender<String>) {
    let frame = frames::error(
        ErrorCode::UnknownTopic,
        "the topic ended (server shutting down or log expired)",
        Some(sub),
    );
    let _ = out.send(frame).await;
}
