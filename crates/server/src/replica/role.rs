//! What this server is among the replicas of its database, as a `watch` on
//! [`crate::app::App`]: handlers read it to decide whether they may write (a follower hands
//! writes to the leader), health reports it.

/// This server's part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The only server of its store: SQLite (one process per data directory), or ephemeral.
    Single,
    /// The lease holder on a shared PostgreSQL database: it writes, runs the simulator.
    Leader,
    /// Another replica on that database: it serves what the leader commits and writes nothing
    /// of the platform itself.
    Follower,
}

impl Role {
    /// Whether this server applies writes itself (a follower forwards them).
    pub fn writes(self) -> bool {
        !matches!(self, Role::Follower)
    }

    /// The word health and logs use.
    pub fn word(self) -> &'static str {
        match self {
            Role::Single => "single",
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}
