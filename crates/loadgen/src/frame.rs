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
    /// One part of a topic state too large for one frame (see [`Parts`]).
    SnapshotPart,
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
    } else if head.contains("\"type\":\"snapshot_part\"") {
        Kind::SnapshotPart
    } else if head.contains("\"type\":\"resumed\"") {
        Kind::Resumed
    } else if head.contains("\"type\":\"ping\"") {
        Kind::Ping
    } else {
        Kind::Other
    }
}

/// The first unsigned number after `"field":` within the frame's first 200 bytes (no
/// allocation: it runs for every frame of every client).
pub fn number(text: &str, field: &str) -> Option<u64> {
    let head = &text.as_bytes()[..floor_char_boundary(text, 200)];
    let f = field.as_bytes();
    let at = (0..head.len()).find(|&i| {
        head[i] == b'"'
            && head[i + 1..].starts_with(f)
            && head[i + 1 + f.len()..].starts_with(b"\":")
    })? + f.len()
        + 3;
    let mut digits = head[at..].iter().take_while(|b| b.is_ascii_digit());
    let n = digits.try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    n.filter(|_| head.get(at).is_some_and(u8::is_ascii_digit))
}

/// Number of changes in a delta frame. String values are JSON-escaped, so the unescaped
/// `"op":"` only occurs as a change's tag.
pub fn changes(text: &str) -> u64 {
    text.matches("\"op\":\"").count() as u64
}

/// Where a `snapshot_part` frame stands, read from its head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// The snapshot's sequence number (every part carries it).
    pub seq: u64,
    /// This part's number, from 0.
    pub part: u64,
    /// How many parts the snapshot has.
    pub parts: u64,
}

/// The head of a `snapshot_part` frame; None when a field is missing.
pub fn part(text: &str) -> Option<Part> {
    Some(Part {
        seq: number(text, "seq")?,
        part: number(text, "part")?,
        parts: number(text, "parts")?,
    })
}

/// What adding a part gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Joined {
    /// More parts are due.
    Pending,
    /// The last part is in: the snapshot at `seq` is whole.
    Whole {
        /// Its sequence number.
        seq: u64,
    },
    /// A part out of order, of another `seq`, or numbered past its count: the snapshot is
    /// lost (the page would ask for a fresh one), and the parts so far are forgotten.
    Broken,
}

/// A snapshot being joined from its parts, by their heads only: the swarm does not decode
/// frames, so it keeps the model's rules (`SnapshotJoin`: parts `0..parts` in order, one
/// `seq`) without the data. Probes read each part's services as it comes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Parts {
    /// The snapshot's `seq`, the next part due and the count.
    partial: Option<(u64, u64, u64)>,
}

impl Parts {
    /// Adds the part with head `p`.
    pub fn add(&mut self, p: Part) -> Joined {
        let next = match self.partial.take() {
            _ if p.part >= p.parts => return Joined::Broken,
            None if p.part == 0 => (p.seq, 1, p.parts),
            Some((seq, due, count)) if p.part == due && p.seq == seq && p.parts == count => {
                (seq, due + 1, count)
            }
            _ => return Joined::Broken,
        };
        if next.1 == next.2 {
            Joined::Whole { seq: next.0 }
        } else {
            self.partial = Some(next);
            Joined::Pending
        }
    }
}

/// The pong answering a server ping.
pub fn pong(ping: &str) -> String {
    let nonce = number(ping, "nonce").unwrap_or(0);
    encode(&ClientFrame::new(ClientMessage::Pong { nonce }))
}

/// The subscribe frame for one environment, resuming after `resume_from` when given; with
/// `instance_updates`, an instance's change comes as an `instance_update`, as the page asks.
pub fn subscribe(env: &str, resume_from: Option<u64>, instance_updates: bool) -> String {
    encode(&ClientFrame::new(ClientMessage::Subscribe {
        sub: "e".into(),
        topic: Topic::Environment { env: env.into() },
        resume_from,
        instance_updates,
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

/// Every service a delta upserts, or an environment snapshot holds; and the service of every
/// instance an `instance_update` changes, stamped by that instance (the service's newest stamp
/// is the largest of its instances' and its deployment's).
pub fn service_stamps(text: &str) -> Vec<Seen> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let op = |c: &serde_json::Value, name: &str| c.get("op").and_then(|o| o.as_str()) == Some(name);
    let digest = |c: &serde_json::Value| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&c.to_string(), &mut h);
        std::hash::Hasher::finish(&h)
    };
    let mut instances: Vec<Seen> = v
        .get("changes")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
        .filter(|c| op(c, "instance_update"))
        .filter_map(|c| {
            Some(Seen {
                id: c.get("service")?.as_str()?.to_string(),
                stamp: c
                    .pointer("/instance/started_at")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0),
                digest: digest(c),
            })
        })
        .collect();
    let services: Vec<&serde_json::Value> = match v.get("changes").and_then(|c| c.as_array()) {
        Some(changes) => changes.iter().filter(|c| op(c, "service_upsert")).collect(),
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
            Some(Seen {
                id,
                stamp: newest,
                digest: digest(c),
            })
        })
        .chain(instances.drain(..))
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
        assert_eq!(number(f, "sub"), None, "not a number");
        assert_eq!(number(f, "eq"), None, "a field's name whole");
        assert_eq!(number(r#"{"part":3,"parts":9}"#, "parts"), Some(9));
        assert_eq!(number(r#"{"seq":99999999999999999999}"#, "seq"), None);
    }

    fn part_frame(seq: u64, part: u64, parts: u64) -> String {
        format!(
            r#"{{"v":1,"type":"snapshot_part","sub":"e","seq":{seq},"part":{part},"parts":{parts},"data":{{"kind":"environments","environments":[]}}}}"#
        )
    }

    #[test]
    fn reads_a_snapshot_parts_head() {
        let f = part_frame(1_712_000_000_000_300, 1, 3);
        assert_eq!(kind(&f), Kind::SnapshotPart);
        assert_eq!(
            part(&f),
            Some(Part {
                seq: 1_712_000_000_000_300,
                part: 1,
                parts: 3
            })
        );
        assert_eq!(
            kind(&f.replace("snapshot_part", "snapshot")),
            Kind::Snapshot
        );
    }

    #[test]
    fn joins_parts_in_order_and_only_then() {
        let mut j = Parts::default();
        let p = |part, parts| Part {
            seq: 7,
            part,
            parts,
        };
        assert_eq!(j.add(p(0, 3)), Joined::Pending);
        assert_eq!(j.add(p(1, 3)), Joined::Pending);
        assert_eq!(j.add(p(2, 3)), Joined::Whole { seq: 7 });
        // A one-part snapshot is whole at once; the joiner starts afresh after each.
        assert_eq!(j.add(p(0, 1)), Joined::Whole { seq: 7 });
        assert_eq!(j.add(p(1, 3)), Joined::Broken, "a snapshot's tail alone");
        assert_eq!(j.add(p(0, 2)), Joined::Pending);
        assert_eq!(j.add(p(0, 2)), Joined::Broken, "part 0 again");
        assert_eq!(j.add(p(0, 2)), Joined::Pending, "forgot the broken one");
        let other_seq = Part {
            seq: 8,
            part: 1,
            parts: 2,
        };
        assert_eq!(j.add(other_seq), Joined::Broken);
        assert_eq!(j.add(p(2, 2)), Joined::Broken, "numbered past its count");
    }

    /// The head-only joiner agrees with the model's `SnapshotJoin` (the protocol's owner of
    /// the rules) on every sequence of up to 4 parts' heads drawn from a few values.
    #[test]
    fn agrees_with_the_models_join() {
        use shipwatch_model::protocol::{Snapshot, SnapshotJoin};
        let heads: Vec<Part> = [
            (5, 0, 2),
            (5, 1, 2),
            (5, 0, 1),
            (6, 1, 2),
            (5, 2, 3),
            (5, 1, 3),
        ]
        .iter()
        .map(|&(seq, part, parts)| Part { seq, part, parts })
        .collect();
        let data = || Snapshot::Environments {
            environments: Vec::new(),
        };
        let mut sequences: Vec<Vec<Part>> = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<Part>> = sequences
                .iter()
                .flat_map(|s| {
                    heads.iter().map(move |h| {
                        let mut s = s.clone();
                        s.push(*h);
                        s
                    })
                })
                .collect();
            sequences = longer;
        }
        for seq in sequences {
            let (mut ours, mut model) = (Parts::default(), SnapshotJoin::default());
            for h in &seq {
                let theirs = match model.add(h.seq, h.part as u32, h.parts as u32, data()) {
                    Ok(None) => Joined::Pending,
                    Ok(Some(_)) => Joined::Whole { seq: h.seq },
                    Err(_) => {
                        model.clear();
                        Joined::Broken
                    }
                };
                assert_eq!(ours.add(*h), theirs, "{seq:?}");
            }
        }
    }

    #[test]
    fn answers_a_ping_with_its_nonce() {
        let f = r#"{"v":1,"type":"ping","nonce":17}"#;
        assert_eq!(kind(f), Kind::Ping);
        assert_eq!(pong(f), r#"{"v":1,"type":"pong","nonce":17}"#);
    }

    #[test]
    fn subscribes_to_an_environment_as_the_protocol_says() {
        let f = subscribe("prod \"x\"", Some(41), false);
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
    fn an_instance_update_is_stamped_by_its_instance() {
        let f = r#"{"v":1,"type":"delta","sub":"e","seq":6,"changes":[{"op":"instance_update","service":"api","index":1,"instance":{"name":"b","status":"STARTING","version":"2","restarts":0,"started_at":77}},{"op":"service_remove","id":"old"}]}"#;
        let seen = service_stamps(f);
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].id.as_str(), seen[0].stamp), ("api", 77));
        let changed = f.replace("STARTING", "RUNNING");
        assert_ne!(service_stamps(&changed)[0].digest, seen[0].digest);
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
