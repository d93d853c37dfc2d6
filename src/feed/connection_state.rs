//! What the connection indicator shows.

/// The state of the one websocket of this tab.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnState {
    /// First attempt in progress.
    Connecting,
    /// Hello received; frames flow.
    Live {
        /// When it became live (ms since epoch).
        since: f64,
    },
    /// Lost; trying again.
    Reconnecting {
        /// Attempt number, from 1.
        attempt: u32,
        /// When the next try starts (ms since epoch).
        next_try_at: f64,
        /// When the connection was lost (ms since epoch).
        since: f64,
    },
    /// The browser says there is no network.
    Offline {
        /// Since when (ms since epoch).
        since: f64,
    },
}

impl ConnState {
    /// Whether data on screen is current.
    pub fn is_live(&self) -> bool {
        matches!(self, Self::Live { .. })
    }
}

/// Counters of frames the app refused, shown by the indicator.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dropped {
    /// How many frames were dropped.
    pub count: u32,
    /// Why the last one was.
    pub last_reason: Option<String>,
}

/// What the server said of its store (its `status` frames).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreStatus {
    /// Whether it commits.
    pub state: shipwatch_model::protocol::StoreState,
    /// What fails, while it does not.
    pub message: Option<String>,
}

impl StoreStatus {
    /// Whether writes commit (a state this app does not know counts as not).
    pub fn is_ok(&self) -> bool {
        self.state == shipwatch_model::protocol::StoreState::Ok
    }
}
