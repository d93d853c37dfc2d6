//! The client's `Cursor` never panics, and leaves itself unchanged when it refuses a frame.
//! (That the server's stream loses no change across reconnects is tested against the hub:
//! `crates/server/tests/stream_props.rs`.)

use proptest::prelude::*;
use shipwatch_model::protocol::stream::Cursor;

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn cursor_never_panics(
        steps in prop::collection::vec((any::<u8>(), any::<u64>(), any::<usize>()), 0..40)
    ) {
        let mut c = Cursor::new();
        for (kind, seq, len) in steps {
            let before = c;
            match kind % 3 {
                0 => c.snapshot(seq),
                1 => { if c.resumed(seq).is_err() { prop_assert_eq!(c, before); } }
                _ => match c.delta(seq, len) {
                    Ok(r) => prop_assert!(r.start <= r.end && r.end == len),
                    Err(_) => prop_assert_eq!(c, before),
                },
            }
        }
    }
}
