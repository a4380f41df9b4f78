//! The client's IP address: the TCP peer, or — only when that peer is one of our own proxies
//! (`TRUSTED_PROXIES`) — the address the proxies recorded in `Forwarded` / `X-Forwarded-For`.
//!
//! Each proxy appends the address it received the request from, so the list is read from the
//! right: hops that are themselves trusted proxies are skipped, and the first address that is not
//! one is the client. Everything left of it was written by the client and is ignored, which is
//! what makes the header impossible to spoof from outside.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::state::AppState;

/// The client's IP address as far as our own proxies can vouch for it.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(a)| a.ip());
        Ok(ClientIp(state.proxies.client_ip(peer, &parts.headers)))
    }
}

/// `TRUSTED_PROXIES`: the networks our reverse proxies connect from.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated CIDRs; a bare address is a single host.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{p}` is not an IP network (e.g. 10.0.0.0/8) or address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // RFC 7239 `Forwarded` when present (it is the standard), else `X-Forwarded-For`.
        let hops: Vec<Option<IpAddr>> = if headers.contains_key("forwarded") {
            list(headers, "forwarded").map(forwarded_for).collect()
        } else {
            list(headers, "x-forwarded-for")
                .map(|hop| hop.parse::<IpAddr>().ok())
                .collect()
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            // An entry that is not an address cannot have been written by a proxy of ours: the
            // nearest address already vouched for is the best we know.
            let Some(ip) = hop.map(canonical) else {
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

/// The comma-separated elements of every `name` header, in order.
fn list<'h>(headers: &'h HeaderMap, name: &str) -> impl Iterator<Item = &'h str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// The `for=` address of one `Forwarded` element: `for=192.0.2.1`, `for="[2001:db8::1]:443"`,
/// `for=192.0.2.1:8080`. Obfuscated identifiers and `unknown` are not addresses.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then_some(v.trim())
    })?;
    let value = value.trim_matches('"');
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    value.parse().ok().or_else(|| {
        value
            .rsplit_once(':')?
            .0
            .parse::<Ipv4Addr>()
            .ok()
            .map(IpAddr::V4)
    })
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports) as plain IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().expect("cidrs");
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(proxies.client_ip(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.168.1.1".parse().expect("cidrs");
        // The client forged "6.6.6.6"; our proxies appended the real address and each other.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 192.168.1.1")]);
        assert_eq!(proxies.client_ip(ip("10.1.2.3"), &h), ip("198.51.100.7"));
        // Split over several header lines, as some proxies do.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(proxies.client_ip(ip("10.1.2.3"), &h), ip("198.51.100.7"));
        // No header: the proxy itself.
        assert_eq!(
            proxies.client_ip(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
        // Every hop trusted: the leftmost one.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.8.8.8")]);
        assert_eq!(proxies.client_ip(ip("10.1.2.3"), &h), ip("10.9.9.9"));
        // Garbage right of a real hop: the nearest vouched-for address (here the peer).
        let h = headers(&[("x-forwarded-for", "198.51.100.7, not-an-ip")]);
        assert_eq!(proxies.client_ip(ip("10.1.2.3"), &h), ip("10.1.2.3"));
    }

    #[test]
    fn forwarded_is_read_with_ports_brackets_and_quotes() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().expect("cidrs");
        for (value, want) in [
            ("for=198.51.100.7", "198.51.100.7"),
            ("for=198.51.100.7:4711;proto=https", "198.51.100.7"),
            ("proto=https;for=\"[2001:db8::7]:443\"", "2001:db8::7"),
            ("for=6.6.6.6, for=198.51.100.7;by=10.0.0.1", "198.51.100.7"),
        ] {
            let h = headers(&[("forwarded", value), ("x-forwarded-for", "6.6.6.6")]);
            assert_eq!(proxies.client_ip(ip("10.0.0.2"), &h), ip(want), "{value}");
        }
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(proxies.client_ip(ip("10.0.0.2"), &h), ip("10.0.0.2"));
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().expect("cidrs");
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(
            proxies.client_ip(ip("::ffff:10.0.0.5"), &h),
            ip("198.51.100.7")
        );
        assert_eq!(canonical(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
    }

    #[test]
    fn bad_networks_are_refused_by_name() {
        let err = "10.0.0.0/8, nope"
            .parse::<TrustedProxies>()
            .expect_err("bad");
        assert!(err.contains("`nope`"), "{err}");
        assert_eq!("".parse::<TrustedProxies>().expect("empty").0.len(), 0);
    }
}
