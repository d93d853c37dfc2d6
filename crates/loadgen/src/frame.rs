//! Reading server frames cheaply: a swarm of thousands of clients cannot afford a JSON parse
//! per frame, so the head of each frame (type, sequence number) is scanned as text. Frames are
//! compact JSON written by the server in a fixed field order (`v`, `type`, `sub`, `seq`, ...).
//! The client's own frames are the model's, encoded by it.

use shipwatch_model::protocol::{encode, ClientFrame, ClientMessage, Topic};

/// What kind of server frame this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Ordered changes.
    Delta,
    /// A whole topic state.
    Snapshot,
    /// Resume accepted: deltas follow.
    Resumed,
    /// A server heartbeat that needs a pong.
    Ping,
    /// Anything else (hello, pong, error, unsubscribed).
    Other,
}

/// The frame's type, read from its first bytes.
pub fn kind(text: &str) -> Kind {
    let head = &text[..text.len().min(48)];
    if head.contains("\"type\":\"delta\"") {
        Kind::Delta
    } else if head.contains("\"type\":\"snapshot\"") {
        Kind::Snapshot
    } else if head.contains("\"type\":\"resumed\"") {
        Kind::Resumed
    } else if head.contains("\"type\":\"ping\"") {
        Kind::Ping
    } else {
        Kind::Other
    }
}

/// The first unsigned number after `"field":` within the frame's first 200 bytes.
pub fn number(text: &str, field: &str) -> Option<u64> {
    let head = &text[..floor_char_boundary(text, 200)];
    let key = format!("\"{field}\":");
    let at = head.find(&key)? + key.len();
    let digits: String = head[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Number of changes in a delta frame. String values are JSON-escaped, so the unescaped
/// `"op":"` only occurs as a change's tag.
pub fn changes(text: &str) -> u64 {
    text.matches("\"op\":\"").count() as u64
}

/// The pong answering a server ping.
pub fn pong(ping: &str) -> String {
    let nonce = number(ping, "nonce").unwrap_or(0);
    encode(&ClientFrame::new(ClientMessage::Pong { nonce }))
}

/// The subscribe frame for one environment, resuming after `resume_from` when given.
pub fn subscribe(env: &str, resume_from: Option<u64>) -> String {
    encode(&ClientFrame::new(ClientMessage::Subscribe {
        sub: "e".into(),
        topic: Topic::Environment { env: env.into() },
        resume_from,
        instance_updates: false,
        line_batches: false,
    }))
}

/// One service as a frame carries it.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its id.
    pub id: String,
    /// The newest time stamp it carries (instance `started_at`, deployment
    /// `started_at`/`finished_at`), in simulated milliseconds.
    pub stamp: u64,
    /// A digest of its whole state, to tell a changed service from an unchanged one.
    pub digest: u64,
}

/// Every service a delta upserts, or an environment snapshot holds.
pub fn service_stamps(text: &str) -> Vec<Seen> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let services: Vec<&serde_json::Value> = match v.get("changes").and_then(|c| c.as_array()) {
        Some(changes) => changes
            .iter()
            .filter(|c| c.get("op").and_then(|o| o.as_str()) == Some("service_upsert"))
            .collect(),
        None => v
            .pointer("/data/environment/services")
            .and_then(|s| s.as_array())
            .map(|s| s.iter().collect())
            .unwrap_or_default(),
    };
    let ms = |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_u64).unwrap_or(0);
    services
        .into_iter()
        .filter_map(|c| {
            let id = c.get("id")?.as_str()?.to_string();
            let mut newest = 0;
            for i in c
                .get("instances")
                .and_then(|i| i.as_array())
                .into_iter()
                .flatten()
            {
                newest = newest.max(ms(i.get("started_at")));
            }
            if let Some(d) = c.get("deployment") {
                newest = newest
                    .max(ms(d.get("started_at")))
                    .max(ms(d.get("finished_at")));
            }
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&c.to_string(), &mut h);
            Some(Seen {
                id,
                stamp: newest,
                digest: std::hash::Hasher::finish(&h),
            })
        })
        .collect()
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = s.len().min(max);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_delta_head_and_counts_its_changes() {
        let f = r#"{"v":1,"type":"delta","sub":"e","seq":1712000000000121,"changes":[{"op":"service_removed","id":"a"},{"op":"service_removed","id":"b \"op\":\"x"}]}"#;
        assert_eq!(kind(f), Kind::Delta);
        assert_eq!(number(f, "seq"), Some(1_712_000_000_000_121));
        assert_eq!(changes(f), 2);
    }

    #[test]
    fn answers_a_ping_with_its_nonce() {
        let f = r#"{"v":1,"type":"ping","nonce":17}"#;
        assert_eq!(kind(f), Kind::Ping);
        assert_eq!(pong(f), r#"{"v":1,"type":"pong","nonce":17}"#);
    }

    #[test]
    fn subscribes_to_an_environment_as_the_protocol_says() {
        let f = subscribe("prod \"x\"", Some(41));
        let back = shipwatch_model::protocol::decode_client(&f, 16 * 1024).unwrap();
        assert_eq!(
            back.msg,
            ClientMessage::Subscribe {
                sub: "e".into(),
                topic: Topic::Environment {
                    env: "prod \"x\"".into()
                },
                resume_from: Some(41),
                instance_updates: false,
                line_batches: false,
            }
        );
    }

    #[test]
    fn finds_the_newest_stamp_of_each_upserted_service() {
        let f = r#"{"v":1,"type":"delta","sub":"e","seq":5,"changes":[{"op":"service_upsert","id":"api","name":"api","kind":"application","instances":[{"name":"a","status":"RUNNING","version":"1","restarts":0,"started_at":10},{"name":"b","status":"RUNNING","version":"1","restarts":0,"started_at":30}],"version":"1","deployment":{"id":"d","status":"DEPLOYING","version":"2","started_at":20}}]}"#;
        let seen = service_stamps(f);
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].id.as_str(), seen[0].stamp), ("api", 30));
    }

    #[test]
    fn finds_the_stamps_of_a_snapshot() {
        let f = r#"{"v":1,"type":"snapshot","sub":"e","seq":9,"data":{"kind":"environment","environment":{"id":"p","name":"p","services":[{"id":"db","name":"db","kind":"database","instances":[{"name":"db-0","status":"RUNNING","version":"16","restarts":1,"started_at":44}],"version":"16"}]}}}"#;
        assert_eq!(kind(f), Kind::Snapshot);
        let seen = service_stamps(f);
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].id.as_str(), seen[0].stamp), ("db", 44));
        let changed = f.replace(r#""restarts":1"#, r#""restarts":2"#);
        assert_ne!(service_stamps(&changed)[0].digest, seen[0].digest);
    }
}
