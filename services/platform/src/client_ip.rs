//! The client's IP address, as the login attempt limits count it.
//!
//! The gateway stores a [`ClientIp`] in every request's extensions. It is the socket peer, unless
//! the peer is one of the configured trusted proxies. Then it is the rightmost address in
//! `X-Forwarded-For` that is not a trusted proxy, because the client itself may have written
//! every address left of it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

/// The address a request came from, after trusted proxies were looked through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Returns the client address of a request from the socket peer and its `X-Forwarded-For`
/// headers. Without a peer (a request that did not come over a socket) the result is
/// `0.0.0.0`, so all such requests share one limit.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
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

fn is_trusted(address: IpAddr, trusted_proxies: &[IpAddr]) -> bool {
    trusted_proxies
        .iter()
        .any(|proxy| canonical(*proxy) == address)
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
        let client = resolve(Some(ip("203.0.113.7")), &headers, &[ip("10.0.0.1")]);
        assert_eq!(client, ip("203.0.113.7"));
    }

    #[test]
    fn trusted_peer_takes_rightmost_untrusted_hop() {
        let headers = forwarded(&["1.1.1.1, 198.51.100.9, 10.0.0.2"]);
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        let client = resolve(Some(ip("10.0.0.1")), &headers, &trusted);
        assert_eq!(client, ip("198.51.100.9"));
    }

    #[test]
    fn trusted_peer_joins_repeated_headers() {
        let headers = forwarded(&["1.1.1.1", "198.51.100.9"]);
        let client = resolve(Some(ip("10.0.0.1")), &headers, &[ip("10.0.0.1")]);
        assert_eq!(client, ip("198.51.100.9"));
    }

    #[test]
    fn trusted_peer_without_header_is_client() {
        let client = resolve(Some(ip("10.0.0.1")), &HeaderMap::new(), &[ip("10.0.0.1")]);
        assert_eq!(client, ip("10.0.0.1"));
    }

    #[test]
    fn only_trusted_hops_give_leftmost() {
        let headers = forwarded(&["10.0.0.3, 10.0.0.2"]);
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")];
        let client = resolve(Some(ip("10.0.0.1")), &headers, &trusted);
        assert_eq!(client, ip("10.0.0.3"));
    }

    #[test]
    fn unreadable_hop_stops_at_last_trusted() {
        let headers = forwarded(&["198.51.100.9, unknown, 10.0.0.2"]);
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        let client = resolve(Some(ip("10.0.0.1")), &headers, &trusted);
        assert_eq!(client, ip("10.0.0.2"));
    }

    #[test]
    fn hops_with_ports_and_mapped_addresses() {
        let headers = forwarded(&["[2001:db8::1]:4711"]);
        let client = resolve(Some(ip("10.0.0.1")), &headers, &[ip("10.0.0.1")]);
        assert_eq!(client, ip("2001:db8::1"));

        let headers = forwarded(&["203.0.113.7:4711"]);
        let client = resolve(Some(ip("::ffff:10.0.0.1")), &headers, &[ip("10.0.0.1")]);
        assert_eq!(client, ip("203.0.113.7"));
    }

    #[test]
    fn missing_peer_is_unspecified() {
        assert_eq!(resolve(None, &HeaderMap::new(), &[]), ip("0.0.0.0"));
    }
}
