//! Where a PIN post comes from: this server's own page, or another site.
//!
//! Any web page can make its visitors' browsers post a form to
//! `POST /s/{code}/pin`. Wrong PINs posted that way would come from as many
//! clients as the page has visitors, and 100 of them a day close the code's
//! check for everyone (the limit per code, [`super::PinPolicy`]). So a PIN
//! post that a browser says came from elsewhere is refused (`403`, the code's
//! page with a notice; the PIN is not checked, and counts as nothing):
//!
//! - `Sec-Fetch-Site: cross-site` or `same-site` (every current browser sends
//!   it, and no page can set it): another site, or another origin of this
//!   site. `same-origin` and `none` (a reload, a bookmark) are this page's,
//!   and then the `Origin` is not compared: a reverse proxy that rewrites
//!   `Host` does not make a current browser's posts look foreign.
//! - Without `Sec-Fetch-Site` (an older browser), an `Origin` that is not this server's own: its host and port (the
//!   scheme's default port left out) must be the request's `Host`, and its
//!   scheme `http` or `https`. On a connection from a trusted reverse proxy
//!   ([`super::ProxyHeader`]), `X-Forwarded-Host` stands for `Host` and
//!   `X-Forwarded-Proto` names the scheme, when the proxy sets them. Without
//!   a scheme from a trusted proxy either is taken: a server reached through
//!   a TLS proxy sees plain HTTP, and the host is what tells sites apart.
//!   `Origin: null` (a sandboxed frame, a page under a `no-referrer` policy)
//!   is refused.
//!
//! A post with neither header (an old browser, `curl`) is taken: the
//! headers are the browser's word, and a script outside a browser can send
//! any. The page's own form posts to its own origin, and its
//! `Referrer-Policy: same-origin` keeps the browser's `Origin` on that post
//! (under `no-referrer` a browser sends `Origin: null`).

use axum::http::header;
use axum::http::request::Parts;

use super::Consumer;
use super::client::via_trusted_proxy;

/// Why a PIN post is refused as coming from another site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForeignPost {
    /// `Sec-Fetch-Site` named another site (or another origin of this site).
    FetchSite(String),
    /// `Origin` is not this server's own (the origin, and the host it was
    /// compared with if one was known).
    Origin {
        /// The `Origin` header as sent.
        origin: String,
        /// This server's host as the request names it.
        host: Option<String>,
    },
}

/// The value of the request's last `name` header, trimmed, when it is text:
/// of a comma-separated list (`X-Forwarded-*` through several proxies), the
/// last item, the one the proxy in front added.
fn last_value<'p>(parts: &'p Parts, name: &str) -> Option<&'p str> {
    let value = parts.headers.get_all(name).iter().next_back()?;
    let text = value.to_str().ok()?;
    Some(text.rsplit(',').next().unwrap_or(text).trim()).filter(|v| !v.is_empty())
}

/// `authority` (`host[:port]`) lower-cased, without the port when it is the
/// default port of `scheme`.
fn normalize_authority(authority: &str, scheme: &str) -> String {
    let authority = authority.to_ascii_lowercase();
    let default = match scheme {
        "https" => ":443",
        _ => ":80",
    };
    match authority.strip_suffix(default) {
        // Not the end of an IPv6 address's brackets without a port.
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => authority,
    }
}

/// Whether `origin` (`scheme://host[:port]`) is the origin of a server at
/// `host` (a `Host` value) reached with `scheme` (`None`: `http` or `https`).
fn same_origin(origin: &str, host: &str, scheme: Option<&str>) -> bool {
    let Some((origin_scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let origin_scheme = origin_scheme.to_ascii_lowercase();
    if !matches!(origin_scheme.as_str(), "http" | "https")
        || scheme.is_some_and(|s| !s.eq_ignore_ascii_case(&origin_scheme))
        || authority.is_empty()
        || authority.contains(['/', '?', '#', '@'])
    {
        return false;
    }
    normalize_authority(authority, &origin_scheme) == normalize_authority(host, &origin_scheme)
}

/// Whether a PIN post comes from another site, and why (see the module
/// docs); `None` when it may be checked.
pub(super) fn foreign_post(consumer: &Consumer, parts: &Parts) -> Option<ForeignPost> {
    let fetch_site = last_value(parts, "sec-fetch-site").map(str::to_ascii_lowercase);
    match fetch_site.as_deref() {
        Some("cross-site" | "same-site") => {
            return Some(ForeignPost::FetchSite(fetch_site.unwrap_or_default()));
        }
        // The browser's own word, which no page can set: the Origin is not compared with
        // a Host that a reverse proxy may have rewritten.
        Some("same-origin" | "none") => return None,
        // Absent, or a value of a later version: the Origin decides.
        _ => {}
    }
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())?;
    if origin == "null" {
        return Some(ForeignPost::Origin { origin, host: None });
    }
    let proxied = via_trusted_proxy(consumer, parts).is_some();
    let forwarded = |name| proxied.then(|| last_value(parts, name)).flatten();
    let host = forwarded("x-forwarded-host")
        .or_else(|| last_value(parts, header::HOST.as_str()))
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let scheme = forwarded("x-forwarded-proto");
    match host {
        Some(host) if same_origin(&origin, host, scheme) => None,
        host => Some(ForeignPost::Origin {
            origin,
            host: host.map(str::to_owned),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_compared_by_host_port_and_scheme() {
        assert!(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080", None));
        assert!(same_origin("https://Shop.Example", "shop.example", None));
        assert!(same_origin(
            "https://shop.example:443",
            "shop.example",
            None
        ));
        assert!(same_origin("http://shop.example", "shop.example:80", None));
        assert!(same_origin(
            "https://shop.example",
            "shop.example",
            Some("https")
        ));
        assert!(same_origin("http://[::1]:8080", "[::1]:8080", None));
        assert!(same_origin("http://[::1]", "[::1]", None));
        // Another host, port or scheme.
        assert!(!same_origin("http://evil.example", "shop.example", None));
        assert!(!same_origin(
            "http://shop.example.evil",
            "shop.example",
            None
        ));
        assert!(!same_origin(
            "https://shop.example:8443",
            "shop.example",
            None
        ));
        assert!(!same_origin(
            "http://shop.example",
            "shop.example",
            Some("https")
        ));
        assert!(!same_origin(
            "https://shop.example",
            "shop.example:80",
            None
        ));
        // Not an origin.
        for bad in [
            "",
            "shop.example",
            "ftp://shop.example",
            "http://",
            "http://shop.example/",
            "http://user@shop.example",
            "null",
        ] {
            assert!(!same_origin(bad, "shop.example", None), "{bad}");
        }
    }
}
