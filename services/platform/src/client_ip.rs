//! The client's IP address, as the login attempt limits count it.
//!
//! The gateway stores a [`ClientIp`] in every request's extensions. It is the socket peer, unless
//! the peer is one of the configured trusted proxies. Then it is the rightmost address in
//! `X-Forwarded-For` that is not a trusted proxy, because the client itself may have written
//! every address left of it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

/// A trusted proxy: one address (`10.0.0.1`) or a network in CIDR notation (`10.0.0.0/8`,
/// `fd00::/8`), for proxies whose addresses change, such as ingress controller pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// Returns true when the address lies in this network.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => same_prefix(
                network.to_bits().into(),
                address.to_bits().into(),
                32,
                self.prefix,
            ),
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                same_prefix(network.to_bits(), address.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Returns true when the first `prefix` of `width` bits of both values are equal.
fn same_prefix(network: u128, address: u128, width: u32, prefix: u8) -> bool {
    let host_bits = width - u32::from(prefix);
    if host_bits >= width {
        return true;
    }
    (network >> host_bits) == (address >> host_bits)
}

impl From<IpAddr> for TrustedProxy {
    fn from(address: IpAddr) -> Self {
        let network = canonical(address);
        let prefix = if network.is_ipv4() { 32 } else { 128 };
        Self { network, prefix }
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| {
            format!("{text:?} is neither an IP address nor a network like 10.0.0.0/8")
        })?;
        let mut proxy = Self::from(address);
        if let Some(prefix) = prefix {
            let mut bits: u8 = prefix
                .parse()
                .map_err(|_| format!("{text:?} has no valid prefix length after '/'"))?;
            // `::ffff:10.0.0.0/104` names the IPv4 network 10.0.0.0/8.
            if address.is_ipv6() && proxy.network.is_ipv4() {
                bits = bits
                    .checked_sub(96)
                    .ok_or_else(|| format!("{text:?}: prefix too short"))?;
            }
            let width = if proxy.network.is_ipv4() { 32 } else { 128 };
            if bits > width {
                return Err(format!("{text:?}: the prefix length is at most {width}"));
            }
            proxy.prefix = bits;
        }
        Ok(proxy)
    }
}

/// The address a request came from, after trusted proxies were looked through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Returns the client address of a request from the socket peer and its `X-Forwarded-For`
/// headers. Without a peer (a request that did not come over a socket) the result is
/// `0.0.0.0`, so all such requests share one limit.
pub fn resolve(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[TrustedProxy],
) -> IpAddr {
    let Some(peer) = peer.map(canonical) else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    if !is_trusted(peer, trusted_proxies) {
        return peer;
    }
    // Several headers count as one list in order, as RFC 9110, section 5.3 allows.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A trusted proxy writes valid addresses, so an unreadable entry ends the walk at the
        // last address a trusted proxy vouched for.
        let Some(address) = parse_hop(hop) else {
            return client;
        };
        client = address;
        if !is_trusted(address, trusted_proxies) {
            return address;
        }
    }
    client
}

/// Returns true when the address is one of the trusted proxies or lies in one of their
/// networks.
pub fn is_trusted(address: IpAddr, trusted_proxies: &[TrustedProxy]) -> bool {
    trusted_proxies.iter().any(|proxy| proxy.contains(address))
}

/// Reads one `X-Forwarded-For` entry: an address, optionally with a port (`203.0.113.7:4711`,
/// `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    hop.parse::<SocketAddr>()
        .ok()
        .map(|socket| canonical(socket.ip()))
}

/// Maps IPv4 addresses written as IPv6 (`::ffff:203.0.113.7`) to plain IPv4, so both forms
/// count as one client.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    /// Takes the address the gateway stored, else the socket peer, else `0.0.0.0`.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(client) = parts.extensions.get::<ClientIp>() {
            return Ok(*client);
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(Self(resolve(peer, &HeaderMap::new(), &[])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxy(text: &str) -> TrustedProxy {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn untrusted_peer_ignores_header() {
        let headers = forwarded(&["198.51.100.9"]);
        let client = resolve(Some(ip("203.0.113.7")), &headers, &[proxy("10.0.0.1")]);
        assert_eq!(client, ip("203.0.113.7"));
    }

    #[test]
    fn trusted_peer_takes_rightmost_untrusted_hop() {
        let headers = forwarded(&["1.1.1.1, 198.51.100.9, 10.0.0.2"]);
        let trusted = [proxy("10.0.0.1"), proxy("10.0.0.2")];
        let client = resolve(Some(ip("10.0.0.1")), &headers, &trusted);
        assert_eq!(client, ip("198.51.100.9"));
    }

    #[test]
    fn trusted_peer_joins_repeated_headers() {
        let headers = forwarded(&["1.1.1.1", "198.51.100.9"]);
        let client = resolve(Some(ip("10.0.0.1")), &headers, &[proxy("10.0.0.1")]);
        assert_eq!(client, ip("198.51.100.9"));
    }

    #[test]
    fn trusted_peer_without_header_is_client() {
        let client = resolve(
            Some(ip("10.0.0.1")),
            &HeaderMap::new(),
            &[proxy("10.0.0.1")],
        );
        assert_eq!(client, ip("10.0.0.1"));
    }

    #[test]
    fn only_trusted_hops_give_leftmost() {
        let headers = forwarded(&["10.0.0.3, 10.0.0.2"]);
        let trusted = [proxy("10.0.0.1"), proxy("10.0.0.2"), proxy("10.0.0.3")];
        let client = resolve(Some(ip("10.0.0.1")), &headers, &trusted);
        assert_eq!(client, ip("10.0.0.3"));
    }

    #[test]
    fn unreadable_hop_stops_at_last_trusted() {
        let headers = forwarded(&["198.51.100.9, unknown, 10.0.0.2"]);
        let trusted = [proxy("10.0.0.1"), proxy("10.0.0.2")];
        let client = resolve(Some(ip("10.0.0.1")), &headers, &trusted);
        assert_eq!(client, ip("10.0.0.2"));
    }

    #[test]
    fn hops_with_ports_and_mapped_addresses() {
        let headers = forwarded(&["[2001:db8::1]:4711"]);
        let client = resolve(Some(ip("10.0.0.1")), &headers, &[proxy("10.0.0.1")]);
        assert_eq!(client, ip("2001:db8::1"));

        let headers = forwarded(&["203.0.113.7:4711"]);
        let client = resolve(Some(ip("::ffff:10.0.0.1")), &headers, &[proxy("10.0.0.1")]);
        assert_eq!(client, ip("203.0.113.7"));
    }

    #[test]
    fn missing_peer_is_unspecified() {
        assert_eq!(resolve(None, &HeaderMap::new(), &[]), ip("0.0.0.0"));
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let pods = proxy("10.42.0.0/16");
        assert!(pods.contains(ip("10.42.7.9")));
        assert!(pods.contains(ip("::ffff:10.42.0.1")));
        assert!(!pods.contains(ip("10.43.0.1")));
        assert!(!pods.contains(ip("fd00::1")));
        let v6 = proxy("fd00:1::/32");
        assert!(v6.contains(ip("fd00:1:ffff::1")));
        assert!(!v6.contains(ip("fd00:2::1")));
        assert!(proxy("0.0.0.0/0").contains(ip("203.0.113.7")));
        assert!(proxy("::ffff:10.0.0.0/104").contains(ip("10.9.9.9")));
        assert_eq!(proxy("10.0.0.1"), proxy("10.0.0.1/32"));
        for bad in [
            "",
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0.0/x",
            "eth0",
            "::ffff:1.2.3.4/90",
        ] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn forwarded_for_through_a_proxy_network() {
        let headers = forwarded(&["198.51.100.9, 10.42.3.3"]);
        let client = resolve(Some(ip("10.42.1.1")), &headers, &[proxy("10.42.0.0/16")]);
        assert_eq!(client, ip("198.51.100.9"));
    }
}
