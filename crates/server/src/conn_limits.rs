//! Connections per client address: at most `--max-connections-per-ip` open at once (HTTP and
//! websocket alike), so one address cannot take every file descriptor of the server. A
//! connection past the limit is closed at once, logged at debug level and counted.
//!
//! A connection from a trusted proxy (`--trusted-proxy`, `trusted_proxy.rs`) is not counted
//! against the proxy's address when accepted: each request on it counts for the client the
//! proxy names ([`ConnSlot`]), and one past that client's limit is answered 429.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Open connections by address.
#[derive(Debug)]
pub struct ConnLimits {
    /// Most connections per address (0: no limit).
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
    refused: AtomicU64,
}

/// One admitted connection; the address's count goes down when it drops.
#[derive(Debug)]
pub struct Permit {
    limits: Arc<ConnLimits>,
    ip: IpAddr,
}

impl ConnLimits {
    /// At most `max` connections per address (0: no limit).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
        })
    }

    /// Admits one more connection from `ip`, or counts a refusal. An IPv4 address seen
    /// through an IPv6 socket counts as itself.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if self.max > 0 && *n >= self.max {
            drop(open);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *n += 1;
        Some(Permit {
            limits: self.clone(),
            ip,
        })
    }

    /// Connections refused since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections open from `ip`.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&ip.to_canonical()).copied().unwrap_or(0)
    }
}

impl Permit {
    /// The address it counts for.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
}

/// The permit a connection holds: taken when accepted for a direct client; for a connection
/// from a trusted proxy, taken by its first request for the client the proxy names, and moved
/// when a kept-alive proxy connection carries another client's request. So each connection
/// counts once, for the client it serves now.
#[derive(Debug)]
pub struct ConnSlot {
    limits: Arc<ConnLimits>,
    permit: Mutex<Option<Permit>>,
}

impl ConnSlot {
    /// A slot of `limits` holding `permit` (a direct client's), or empty (a proxy's
    /// connection).
    pub fn new(limits: Arc<ConnLimits>, permit: Option<Permit>) -> Self {
        Self {
            limits,
            permit: Mutex::new(permit),
        }
    }

    /// Makes the connection count for `client`; false when that address is at its limit
    /// (the connection then counts for nobody).
    pub fn hold_for(&self, client: IpAddr) -> bool {
        let mut permit = self.permit.lock().unwrap_or_else(|p| p.into_inner());
        if permit
            .as_ref()
            .is_some_and(|p| p.ip == client.to_canonical())
        {
            return true;
        }
        *permit = None;
        *permit = self.limits.admit(client);
        permit.is_some()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_per_address_and_a_closed_connection_frees_its_place() {
        let limits = ConnLimits::new(2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = limits.admit(a).expect("first");
        let _second = limits.admit(a).expect("second");
        assert!(limits.admit(a).is_none(), "third from one address");
        assert!(limits.admit(b).is_some(), "another address");
        assert_eq!(limits.refused(), 1);
        drop(first);
        assert_eq!(limits.open(a), 1);
        let _third = limits.admit(a).expect("a place freed");
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(
            limits.admit(mapped).is_none(),
            "the same address seen over IPv6"
        );
    }

    #[test]
    fn a_proxys_connection_counts_for_the_client_it_serves_now() {
        let limits = ConnLimits::new(1);
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        let first = ConnSlot::new(limits.clone(), None);
        assert!(first.hold_for(a));
        assert!(first.hold_for(a), "the same client again");
        let second = ConnSlot::new(limits.clone(), None);
        assert!(!second.hold_for(a), "a second connection for a");
        assert_eq!(limits.refused(), 1);
        assert!(first.hold_for(b), "the kept-alive connection moves to b");
        assert_eq!((limits.open(a), limits.open(b)), (0, 1));
        assert!(second.hold_for(a), "a's place was freed");
        drop(second);
        assert_eq!(limits.open(a), 0);
    }

    #[test]
    fn zero_means_no_limit() {
        let limits = ConnLimits::new(0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let permits: Vec<_> = (0..1000).filter_map(|_| limits.admit(a)).collect();
        assert_eq!(permits.len(), 1000);
        drop(permits);
        assert_eq!(limits.open(a), 0);
    }
}
