//! Several replicas on one PostgreSQL database (issue 19): one at a time is the **leader**,
//! holding a lease row in the database; it runs the store's writer, the simulator and every
//! source that publishes. The others are **followers**: their hub is loaded from the store and
//! kept current by tailing the change log the leader's writer commits, so every replica serves
//! the same topics at the same sequence numbers. When the leader dies its lease expires and a
//! follower takes over (docs/store.md, "Several replicas").

pub mod inbox;
pub mod role;
pub mod writes;

pub use role::Role;
