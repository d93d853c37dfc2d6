//! Behind a reverse proxy (nginx, a Kubernetes ingress) every connection comes from the
//! proxy's address, and the client's address is in `X-Forwarded-For`, which the proxy appends
//! to. Anyone can send that header, so it is read only on connections from the proxies listed
//! with `--trusted-proxy` (an address or a network, repeatable); from any other peer it is
//! ignored. The address found is what the per-address limits count: connections
//! (`--max-connections-per-ip`, `conn_limits.rs`) and failed writes (`write_access.rs`).

use axum::http::HeaderMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// The header a proxy appends the address of its peer to.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// One `--trusted-proxy`: an address (`127.0.0.1`, `::1`) or a network (`10.0.0.0/8`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

impl ProxyNet {
    /// Whether `ip` is in this network (an IPv4 address seen over IPv6 counts as itself).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for ProxyNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!("`{s}` is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8, ::1)")
        })?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length should be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

impl fmt::Debug for ProxyNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<ProxyNet>);

impl TrustedProxies {
    /// Trusts these networks (none: the header is never read).
    pub fn new(nets: Vec<ProxyNet>) -> Self {
        Self(nets)
    }

    /// Whether a connection from `ip` comes from a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client of a request that came from `peer`: `peer` itself unless it is a trusted
    /// proxy; otherwise the rightmost address of `X-Forwarded-For` that is not a trusted
    /// proxy (each proxy appends its own peer, so entries left of that one were written by
    /// the client and prove nothing). When every entry is a trusted proxy, the leftmost; when
    /// an entry cannot be read, the trusted hop that passed it on.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let joined: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let mut client = peer;
        for entry in joined.iter().flat_map(|v| v.split(',')).rev() {
            let Some(ip) = parse_entry(entry) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// One entry of `X-Forwarded-For`: an address, perhaps with a port (`1.2.3.4:5678`,
/// `[::1]:5678`), as some proxies write it.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client's address of a request, as the listener resolved it with [`TrustedProxies`]
/// (an extension of every request it serves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(X_FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn trusted(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    #[test]
    fn parses_addresses_and_networks() {
        let net: ProxyNet = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4 over IPv6");
        let one: ProxyNet = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: ProxyNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: ProxyNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.7")));
        for bad in ["localhost", "10.0.0.0/33", "10.0.0.0/x", "::1/129", ""] {
            assert!(bad.parse::<ProxyNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_header_from_an_untrusted_peer_is_ignored() {
        let t = trusted(&["127.0.0.1"]);
        let h = forwarded(&["203.0.113.7"]);
        assert_eq!(t.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), &h),
            ip("127.0.0.1"),
            "no proxy trusted: never read"
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let t = trusted(&["127.0.0.1"]);
        assert_eq!(
            t.client(ip("127.0.0.1"), &forwarded(&["203.0.113.7"])),
            ip("203.0.113.7")
        );
        assert_eq!(
            t.client(ip("127.0.0.1"), &forwarded(&[])),
            ip("127.0.0.1"),
            "no header: the proxy itself"
        );
    }

    #[test]
    fn a_forged_entry_left_of_the_proxys_own_is_not_believed() {
        // The client sent `X-Forwarded-For: 10.9.9.9`; nginx appended its peer.
        let t = trusted(&["127.0.0.1"]);
        let h = forwarded(&["10.9.9.9, 203.0.113.7"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("203.0.113.7"));
        // Two proxies (an ingress in 10.0.0.0/8, then nginx on loopback), two header lines.
        let t = trusted(&["127.0.0.1", "10.0.0.0/8"]);
        let h = forwarded(&["10.9.9.9, 203.0.113.7", "10.0.0.5"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("203.0.113.7"));
        // Every hop trusted: the leftmost.
        let h = forwarded(&["10.0.0.4, 10.0.0.5"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("10.0.0.4"));
    }

    #[test]
    fn ports_are_dropped_and_garbage_stops_the_walk() {
        let t = trusted(&["127.0.0.1", "10.0.0.0/8"]);
        let h = forwarded(&["203.0.113.7:4711"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("203.0.113.7"));
        let h = forwarded(&["[2001:db8::7]:4711"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("2001:db8::7"));
        let h = forwarded(&["203.0.113.7, unknown, 10.0.0.5"]);
        assert_eq!(
            t.client(ip("127.0.0.1"), &h),
            ip("10.0.0.5"),
            "the trusted hop that passed garbage on"
        );
    }
}
