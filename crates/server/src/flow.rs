//! Flow control of one socket's data by the client's answers to pings: how much may be in
//! flight (sent, not yet known to be read by the client) and when to ask for an answer.
//!
//! Why the client's answers and not the socket's readiness: a browser drains its socket into
//! memory whatever its page does, so a socket stays writable while the page is seconds behind,
//! and a ping written then waits behind all of it. A `pong` says the page has read everything
//! sent before its `ping`. So the writer pings after every quarter window of data (each ping
//! marks a byte position), counts what the answered pings cover as read, and keeps at most one
//! window past it in flight.
//!
//! Why the window follows the client: a fixed window is stop-and-wait, one window per round
//! trip whatever the link carries (the former 128 KiB per pong gave 1.5 MB/s through a proxy
//! adding a 100 ms round trip). Here the window is twice the bytes the client is measured to read
//! per round trip (its delivery rate, the largest of the last [`RATE_MEMORY`], times the
//! smallest round trip of the last [`RTT_MEMORY`], as TCP's BBR estimates its bandwidth-delay
//! product), between [`FLOOR`] and [`CEILING`]. While the window is what limits the client,
//! each round trip measures a rate of a window per round trip, so the window doubles every
//! round trip until the client or the link is what limits it; a client that keeps up is then
//! never held. A client that slows down is measured slower within [`RATE_MEMORY`] and its
//! window shrinks to what it reads in two round trips (at least [`FLOOR`]): its next ping
//! waits behind that much data at most, and what it has not been sent meanwhile is conflated
//! by its subscriptions (it is brought to the present, not fed the backlog).
//!
//! A client that does not answer pings at all (against the protocol) is not cut off: each
//! heartbeat period in which it answered none counts [`FLOOR`] more bytes as read, so it gets
//! data at that bounded rate (256 KiB per `heartbeat_ms`); the idle rule closes it only if it
//! sends nothing at all.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Smallest window: what a client is sent before any answer, and what a slow client may have
/// ahead of its next ping. Also the most a ping waits behind for a client measured slow.
pub const FLOOR: u64 = 256 * 1024;
/// Largest window: enough for 160 MB/s over a 100 ms round trip.
pub const CEILING: u64 = 16 * 1024 * 1024;
/// How long a measured delivery rate counts towards the window.
pub const RATE_MEMORY: Duration = Duration::from_secs(2);
/// How long the smallest measured round trip counts.
pub const RTT_MEMORY: Duration = Duration::from_secs(10);
/// Pings past this many unanswered are forgotten (a client that never answers).
const MAX_MARKS: usize = 64;

/// A ping sent: what it marks.
#[derive(Debug, Clone, Copy)]
struct Mark {
    nonce: u64,
    /// Data bytes sent before it.
    at: u64,
    sent_at: Instant,
    /// What was known read when it was sent, and since when.
    read: u64,
    read_at: Instant,
}

/// One socket's flow control.
#[derive(Debug)]
pub struct Flow {
    /// Data bytes sent.
    sent: u64,
    /// Data bytes the client has read (covered by answered pings, or presumed).
    read: u64,
    /// When `read` last grew.
    read_at: Instant,
    /// Pings not answered yet, oldest first.
    marks: VecDeque<Mark>,
    /// Nonce of the last ping.
    nonce: u64,
    /// `sent` at the last ping.
    last_mark: u64,
    /// Delivery rates measured (bytes per second), with when.
    rates: VecDeque<(Instant, f64)>,
    /// Smallest round trip measured, and when.
    min_rtt: Option<(Duration, Instant)>,
    /// Bytes that may be in flight.
    window: u64,
    /// A pong came since the last heartbeat.
    answered_since_beat: bool,
}

impl Flow {
    /// A socket's flow control, starting now with the floor window.
    pub fn new(now: Instant) -> Self {
        Self {
            sent: 0,
            read: 0,
            read_at: now,
            marks: VecDeque::new(),
            nonce: 0,
            last_mark: 0,
            rates: VecDeque::new(),
            min_rtt: None,
            window: FLOOR,
            answered_since_beat: true,
        }
    }

    /// Bytes that may be in flight now.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Data bytes sent and not known to be read.
    pub fn in_flight(&self) -> u64 {
        self.sent - self.read
    }

    /// A data frame of `bytes` went out.
    pub fn data(&mut self, bytes: usize) {
        self.sent += bytes as u64;
    }

    /// A quarter window of data went out since the last ping: ask for an answer now, so the
    /// window slides on before it is used up.
    pub fn wants_ping(&self) -> bool {
        self.sent - self.last_mark >= self.window / 4
    }

    /// The window is used: data waits for an answer.
    pub fn holds(&self) -> bool {
        self.in_flight() >= self.window
    }

    /// A ping goes out at `now`: its nonce.
    pub fn ping(&mut self, now: Instant) -> u64 {
        self.nonce += 1;
        self.last_mark = self.sent;
        if self.marks.len() == MAX_MARKS {
            self.marks.pop_front();
        }
        self.marks.push_back(Mark {
            nonce: self.nonce,
            at: self.sent,
            sent_at: now,
            read: self.read,
            read_at: self.read_at,
        });
        self.nonce
    }

    /// The client answered ping `nonce` at `now` (a nonce not outstanding changes nothing).
    pub fn pong(&mut self, nonce: u64, now: Instant) {
        let Some(k) = self.marks.iter().position(|m| m.nonce == nonce) else {
            return;
        };
        let mark = self.marks[k];
        self.marks.drain(..=k);
        self.answered_since_beat = true;
        if mark.at > self.read {
            self.read = mark.at;
            self.read_at = now;
        }
        let rtt = now.saturating_duration_since(mark.sent_at);
        if self
            .min_rtt
            .is_none_or(|(min, at)| rtt <= min || now.duration_since(at) > RTT_MEMORY)
        {
            self.min_rtt = Some((rtt, now));
        }
        // Read since the ping's own view of what was read: over at least one round trip, so a
        // burst of answers does not measure a burst rate.
        let span = now.saturating_duration_since(mark.read_at).as_secs_f64();
        if span > 0.0 {
            let rate = self.read.saturating_sub(mark.read) as f64 / span;
            self.rates.push_back((now, rate));
        }
        while self.rates.len() > 1
            && self
                .rates
                .front()
                .is_some_and(|&(at, _)| now.duration_since(at) > RATE_MEMORY)
        {
            self.rates.pop_front();
        }
        self.resize();
    }

    /// A heartbeat period ended: a client that answered no ping during it is presumed to have
    /// read [`FLOOR`] more bytes, so it still gets data, at a bounded rate.
    pub fn heartbeat(&mut self, now: Instant) {
        if !self.answered_since_beat && self.sent > self.read {
            self.read = (self.read + FLOOR).min(self.sent);
            self.read_at = now;
        }
        self.answered_since_beat = false;
    }

    fn resize(&mut self) {
        let rate = self.rates.iter().map(|&(_, r)| r).fold(0.0, f64::max);
        let rtt = self.min_rtt.map_or(0.0, |(d, _)| d.as_secs_f64());
        let bdp = (2.0 * rate * rtt).round() as u64;
        self.window = bdp.clamp(FLOOR, CEILING);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A client `rtt` away that reads everything at once: frames of `frame` bytes go out while
    /// the window allows, and every ping is answered one round trip later. The state after
    /// `rounds` round trips, and the time then.
    fn link(rounds: u32, rtt: Duration, frame: usize) -> (Flow, Instant) {
        let mut now = Instant::now();
        let mut f = Flow::new(now);
        for _ in 0..rounds {
            let mut pings = Vec::new();
            while !f.holds() {
                f.data(frame);
                if f.wants_ping() {
                    pings.push(f.ping(now));
                }
            }
            now += rtt;
            for p in pings {
                f.pong(p, now);
            }
        }
        (f, now)
    }

    #[test]
    fn the_first_window_is_the_floor_and_nothing_more_goes_out_unanswered() {
        let now = Instant::now();
        let mut f = Flow::new(now);
        assert_eq!(f.window(), FLOOR);
        let mut pings = 0;
        while !f.holds() {
            f.data(16 * 1024);
            if f.wants_ping() {
                f.ping(now);
                pings += 1;
            }
        }
        assert_eq!(f.in_flight(), FLOOR);
        assert_eq!(pings, 4, "a ping every quarter window");
        f.pong(99, now + MS); // never sent: nothing
        assert!(f.holds());
    }

    #[test]
    fn the_window_doubles_every_round_trip_up_to_the_ceiling_on_a_long_fat_link() {
        let (f, _) = link(1, 100 * MS, 32 * 1024);
        assert_eq!(f.window(), 2 * FLOOR, "one round trip: twice the floor");
        let (f, _) = link(3, 100 * MS, 32 * 1024);
        assert_eq!(f.window(), 8 * FLOOR);
        let (f, _) = link(20, 100 * MS, 32 * 1024);
        assert_eq!(f.window(), CEILING);
    }

    #[test]
    fn an_answer_slides_the_window_by_what_its_ping_covers() {
        let now = Instant::now();
        let mut f = Flow::new(now);
        f.data(100_000);
        let first = f.ping(now);
        f.data(FLOOR as usize - 100_000);
        assert!(f.holds());
        f.pong(first, now + MS);
        assert_eq!(f.in_flight(), FLOOR - 100_000);
        assert!(!f.holds());
    }

    #[test]
    fn a_client_that_slows_down_gets_the_floor_window_again() {
        let (mut f, mut now) = link(8, 50 * MS, 32 * 1024);
        assert!(f.window() > 8 * FLOOR);
        // Now it takes a second per frame: after the rate memory, the window is the floor.
        for _ in 0..40 {
            f.data(32 * 1024);
            let p = f.ping(now);
            now += Duration::from_secs(1);
            f.pong(p, now);
        }
        assert_eq!(f.window(), FLOOR);
    }

    #[test]
    fn a_client_that_never_answers_gets_the_floor_per_heartbeat() {
        let mut now = Instant::now();
        let mut f = Flow::new(now);
        let mut sent = 0;
        for _ in 0..10 {
            while !f.holds() {
                f.data(8 * 1024);
                sent += 8 * 1024;
                if f.wants_ping() {
                    f.ping(now);
                }
            }
            now += Duration::from_secs(5);
            f.heartbeat(now);
        }
        // The floor before any heartbeat, then one more per silent period but the first
        // (which counts as answered: the client has had no time to answer yet).
        assert_eq!(sent, 9 * FLOOR);
        assert!(f.marks.len() <= MAX_MARKS);
    }

    #[test]
    fn a_client_that_answers_is_not_presumed_to_have_read_more() {
        let now = Instant::now();
        let mut f = Flow::new(now);
        f.data(FLOOR as usize);
        let p = f.ping(now);
        f.heartbeat(now);
        f.pong(p, now + 10 * MS);
        f.data(FLOOR as usize);
        f.ping(now + 10 * MS);
        f.heartbeat(now + 20 * MS);
        assert_eq!(
            f.in_flight(),
            FLOOR,
            "answered in that period: nothing presumed"
        );
    }
}
