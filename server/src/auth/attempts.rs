//! Token guessing is bounded per client: failed token checks (the sign-in form's and bearer
//! headers') are counted per client, and a client with too many is refused until a minute passes
//! without one. Only failures count (an attempt is counted as it starts, so guesses sent at once
//! are bounded too, and taken back when the token was good). The client is the TCP
//! peer, or behind a proxy the operator trusts (`--trusted-proxies`), the address that proxy
//! says it forwarded (`X-Forwarded-For`); IPv6 clients count per /64, as one host holds a /64.
//! Memory is bounded: at most [`MAX_CLIENTS`] clients are remembered.

use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

use axum::http::HeaderMap;
use moka::ops::compute::Op;

/// Clients whose failures are remembered at most (the least recent are forgotten first).
pub const MAX_CLIENTS: u64 = 100_000;
/// A client's failures are forgotten this long after its last one.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// Who a request comes from, for counting: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client(IpAddr);

impl From<IpAddr> for Client {
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                Client(IpAddr::V6(Ipv6Addr::from(network)))
            }
            v4 => Client(v4),
        }
    }
}

/// Failed token checks per client.
pub struct FailedAttempts {
    failures: moka::sync::Cache<Client, u32>,
    allowed: u32,
}

impl FailedAttempts {
    /// Allows `allowed` failures a minute per client.
    pub fn new(allowed: u32) -> Self {
        FailedAttempts {
            // LRU, not moka's default TinyLFU, which may refuse a new client once full (and a
            // client never stored is never blocked).
            failures: moka::sync::Cache::builder()
                .max_capacity(MAX_CLIENTS)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .time_to_live(FORGET_AFTER)
                .build(),
            allowed: allowed.max(1),
        }
    }

    /// Counts an attempt by `client` as failed until [`forgive`](Self::forgive)n, unless its
    /// failures are used up (false: its token is not to be checked). Keeps its count another
    /// minute.
    pub fn begin(&self, client: Client) -> bool {
        let allowed = self.allowed;
        let mut admitted = false;
        self.failures.entry(client).and_compute_with(|entry| {
            let count = entry.map_or(0, |e| e.into_value());
            if count >= allowed {
                Op::Nop
            } else {
                admitted = true;
                Op::Put(count + 1)
            }
        });
        admitted
    }

    /// Takes back an attempt [`begin`](Self::begin) counted: the token was good, or could not
    /// be checked.
    pub fn forgive(&self, client: Client) {
        self.failures
            .entry(client)
            .and_compute_with(|entry| match entry.map(|e| e.into_value()) {
                Some(count) if count > 1 => Op::Put(count - 1),
                Some(_) => Op::Remove,
                None => Op::Nop,
            });
    }
}

/// Networks of the proxies in front of the dashboard whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

/// An address range, `10.0.0.0/8` or `fd00::/8` (an address alone is one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip.to_canonical()) {
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

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated networks: `10.0.0.0/8,192.168.0.5`.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (address, prefix) = part.split_once('/').unwrap_or((part, ""));
            let address: IpAddr = address
                .parse()
                .map_err(|_| format!("{part:?} is not an address or network (10.0.0.0/8)"))?;
            let longest = if address.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                "" => longest,
                bits => bits
                    .parse::<u8>()
                    .ok()
                    .filter(|bits| *bits <= longest)
                    .ok_or_else(|| format!("{part:?}: the prefix must be 0 to {longest}"))?,
            };
            networks.push(Network { address, prefix });
        }
        Ok(TrustedProxies(networks))
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client of a request from `peer`: `peer` itself unless it is a trusted proxy; then the
    /// last `X-Forwarded-For` hop that is not a trusted proxy (the first hops are the client's
    /// to write, so they are not believed).
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusts(ip) => client = ip,
                Ok(ip) => return ip,
                // A hop that is no address: the proxies' chain is broken there; go no further.
                Err(_) => return client,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn a_client_with_too_many_failures_waits_and_others_do_not() {
        let attempts = FailedAttempts::new(3);
        let guesser = Client::from(ip("203.0.113.7"));
        let neighbour = Client::from(ip("203.0.113.8"));
        // Three attempts at once are admitted, a fourth is not, whatever their outcome later.
        assert!((0..3).all(|_| attempts.begin(guesser)));
        assert!(!attempts.begin(guesser));
        assert!(attempts.begin(neighbour));
        // A good token takes its attempt back: the client may try again.
        attempts.forgive(guesser);
        assert!(attempts.begin(guesser));
        assert!(!attempts.begin(guesser));
        attempts.forgive(neighbour);
        attempts.forgive(neighbour);
        assert!(
            (0..3).all(|_| attempts.begin(neighbour)),
            "forgiving is not credit"
        );
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        assert_eq!(
            Client::from(ip("2001:db8:1:2:aaaa::1")),
            Client::from(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            Client::from(ip("2001:db8:1:2::1")),
            Client::from(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            Client::from(ip("::ffff:192.0.2.1")),
            Client::from(ip("192.0.2.1"))
        );
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted: TrustedProxies = "10.0.0.0/8, 192.168.0.5".parse().unwrap();
        let headers = forwarded(&["198.51.100.1, 203.0.113.9", "10.1.2.3"]);
        // From a trusted ingress: the last hop it did not add itself.
        assert_eq!(
            trusted.client_of(ip("10.9.9.9"), &headers),
            ip("203.0.113.9")
        );
        assert_eq!(
            trusted.client_of(ip("192.168.0.5"), &forwarded(&["198.51.100.1"])),
            ip("198.51.100.1")
        );
        // From anyone else, the header is the sender's to write: not believed.
        assert_eq!(
            trusted.client_of(ip("203.0.113.50"), &headers),
            ip("203.0.113.50")
        );
        assert_eq!(
            TrustedProxies::default().client_of(ip("10.9.9.9"), &headers),
            ip("10.9.9.9")
        );
        // A trusted proxy with no header, or garbage in it, is the client.
        assert_eq!(
            trusted.client_of(ip("10.9.9.9"), &HeaderMap::new()),
            ip("10.9.9.9")
        );
        assert_eq!(
            trusted.client_of(ip("10.9.9.9"), &forwarded(&["evil, junk"])),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn networks_are_parsed_with_their_errors_named() {
        assert!("".parse::<TrustedProxies>().unwrap().0.is_empty());
        assert!(
            "0.0.0.0/0"
                .parse::<TrustedProxies>()
                .unwrap()
                .trusts(ip("8.8.8.8"))
        );
        assert!(
            "fd00::/8"
                .parse::<TrustedProxies>()
                .unwrap()
                .trusts(ip("fd12::1"))
        );
        assert!(
            !"fd00::/8"
                .parse::<TrustedProxies>()
                .unwrap()
                .trusts(ip("10.0.0.1"))
        );
        assert_eq!(
            "10.0.0.0/33".parse::<TrustedProxies>(),
            Err("\"10.0.0.0/33\": the prefix must be 0 to 32".into())
        );
        assert!(
            "ingress"
                .parse::<TrustedProxies>()
                .unwrap_err()
                .contains("not an address")
        );
    }
}
