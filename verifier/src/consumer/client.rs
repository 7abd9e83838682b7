//! Who sends a request, for the wrong-PIN limits per client
//! ([`super::PinPolicy`]): the connection's peer address (which the server
//! passes with each request as [`ConnectInfo`]), or, from a reverse proxy the
//! operator trusts, the address that proxy puts in a header.
//!
//! A header is believed only from a peer inside one of the trusted proxies'
//! networks: anyone else could put a new address in it on every request and
//! be a new client each time.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::http::HeaderName;
use axum::http::request::Parts;

use super::Consumer;
use super::state::PinClient;

/// A network of addresses: an address and a prefix length (`10.0.0.0/8`,
/// `2001:db8::/32`, or one address, `127.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// A string that is not an [`IpNet`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or network (`10.0.0.0/8`, `2001:db8::/32`, `127.0.0.1`)")]
pub struct IpNetError(String);

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IpNetError(s.to_owned());
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr = addr.parse::<IpAddr>().map_err(|_| err())?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(err)?
            }
            Some(_) => return Err(err()),
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl IpNet {
    /// Whether `ip` is in this network (an IPv4 address mapped into IPv6 is
    /// its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn same_prefix(a: &[u8], b: &[u8], bits: u8) -> bool {
            let whole = usize::from(bits / 8);
            let rest = bits % 8;
            a[..whole] == b[..whole]
                && (rest == 0 || {
                    let mask = 0xffu8 << (8 - rest);
                    a[whole] & mask == b[whole] & mask
                })
        }
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// The header a trusted reverse proxy puts the client's address in, and the
/// proxies' networks: [`Consumer::with_proxy_header`].
#[derive(Debug, Clone)]
pub struct ProxyHeader {
    /// The header (`X-Forwarded-For`, `X-Real-IP`, ...): the last address of
    /// its last line, the one the proxy added, is the client.
    pub name: HeaderName,
    /// The networks of the proxies whose header is believed.
    pub proxies: Vec<IpNet>,
}

/// The client of a request: the address in the proxy header when the peer
/// is a trusted proxy and the header holds one, else the peer's address,
/// else (no peer known: a request made in-process) [`PinClient::UNKNOWN`].
pub(super) fn request_client(consumer: &Consumer, parts: &Parts) -> PinClient {
    let forwarded = via_trusted_proxy(consumer, parts).and_then(|proxy| {
        let value = parts.headers.get_all(&proxy.name).iter().next_back()?;
        last_address(value.to_str().ok()?)
    });
    match forwarded.or_else(|| peer_address(parts)) {
        Some(addr) => consumer.store.view_key().pin_client(addr),
        None => PinClient::UNKNOWN,
    }
}

/// The address of the request's connection's peer, if the server passed it.
fn peer_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The trusted proxies' header, when the request's connection comes from one
/// of their networks: then what the proxy says of the request (the client's
/// address, and the host and scheme asked for) may be believed.
pub(super) fn via_trusted_proxy<'c>(
    consumer: &'c Consumer,
    parts: &Parts,
) -> Option<&'c ProxyHeader> {
    let peer = peer_address(parts)?;
    consumer
        .proxy_header
        .as_ref()
        .filter(|proxy| proxy.proxies.iter().any(|net| net.contains(peer)))
}

/// The last address of a header's list (in `X-Forwarded-For: 192.0.2.1,
/// 198.51.100.7` the proxy in front added `198.51.100.7`, the address it was
/// connected from; what comes before, the client could have sent): an IP
/// address, or one with a port (`1.2.3.4:5678`, `[2001:db8::1]:443`).
fn last_address(value: &str) -> Option<IpAddr> {
    let last = value.rsplit(',').next()?.trim();
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| last.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn networks_parse_and_contain() {
        let net: IpNet = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.1".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let one: IpNet = "127.0.0.1".parse().unwrap();
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let odd: IpNet = "192.168.0.0/23".parse().unwrap();
        assert!(odd.contains("192.168.1.255".parse().unwrap()));
        assert!(!odd.contains("192.168.2.0".parse().unwrap()));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "::/129",
            "host/8",
            "10/8",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_last_address_of_a_list() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            last_address("192.0.2.1, 198.51.100.7"),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(last_address("1.2.3.4:5678"), Some(ip("1.2.3.4")));
        assert_eq!(last_address("[2001:db8::1]:443"), Some(ip("2001:db8::1")));
        assert_eq!(last_address("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(last_address("198.51.100.7, unknown"), None);
        assert_eq!(last_address(""), None);
    }
}
