//! The `--drop-snapshots` test knob loses the first snapshots of a socket as a network fault
//! would (a frame the client cannot read), and only those: a client that asks again gets its
//! state.

mod common;

use common::{start, Client};
use futures_util::StreamExt;
use shipwatch_model::protocol::{decode_server, ServerMessage, Topic};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The next text frame, raw.
async fn raw(c: &mut Client) -> String {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), c.ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("open")
            .expect("no error");
        if let Message::Text(t) = msg {
            return t.as_str().to_string();
        }
    }
}

#[tokio::test]
async fn the_first_snapshot_is_lost_and_asking_again_gets_it() {
    let h = start(&["--drop-snapshots", "1", "--scenario", "calm"]).await;
    let mut c = Client::connect(&h).await;
    c.subscribe("first", Topic::Environments, None).await;
    let lost = raw(&mut c).await;
    assert!(
        decode_server(&lost, 1 << 20).is_err(),
        "the snapshot arrives unreadable: {lost}"
    );
    c.subscribe("again", Topic::Environments, None).await;
    loop {
        let text = raw(&mut c).await;
        match decode_server(&text, 1 << 20).expect("readable").msg {
            ServerMessage::Snapshot { sub, .. } if sub == "again" => break,
            ServerMessage::Snapshot { sub, .. } => panic!("a snapshot for {sub}"),
            _ => {}
        }
    }
    h.shutdown();
}
