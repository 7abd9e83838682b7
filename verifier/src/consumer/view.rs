//! View tokens and PIN proofs: how the server tells a viewer who already
//! has a code's page (the page's language link, its zone form, a reload)
//! from a new scan, and the browser that confirmed a code's PIN from every
//! other.
//!
//! A query choosing a language or a zone (`?lang=en`, `?tz=UTC`) used to be
//! enough for a request not to be counted. A copied label could then encode
//! `/s/{code}?lang=zh` and its scans would never count: the "many scans"
//! caution and the scan count would not show that the code is being scanned
//! all over. A token in the URL would not close that either: a label can
//! point at a server of the copier's that fetches a fresh token and
//! redirects.
//!
//! So the token is a cookie, which only this server sets and only in the
//! browser that scanned: a counted scan of a code answers with the cookie
//! [`VIEW_COOKIE`], its path the code's page (so each code a browser
//! scanned keeps its own), holding `<issued>.<mac>`, where `issued` is the time in
//! whole seconds since the epoch (decimal) and `mac` the first 12 bytes, hex,
//! of `BLAKE3-keyed(view key, "proofmark-view/1" || u32 LE len(code) || code || u64 LE issued)`.
//! A `GET` of the code's page that sends a token good for its code is a
//! view, not a scan, whatever its query: a reload, the page's language
//! link or zone form, the way back from a PIN answer. Any other `GET` is a
//! scan. A token is good for [`VIEW_TOKEN_TTL_S`] after the scan that set
//! it (and up to a minute before, for a clock that stepped back); views do
//! not renew it, and only a counted scan sets one. So one browser counts at
//! most once per two hours per code, however often it reloads or switches,
//! and at least once per two hours while it keeps coming back. A browser
//! that refuses cookies has every view counted.
//!
//! The PIN proof is the same kind of MAC, kept in the cookie [`PIN_COOKIE`]
//! by the browser whose PIN answer confirmed the code's PIN (path the code's
//! page, a year): the first 12 bytes, hex, of
//! `BLAKE3-keyed(view key, "proofmark-pin/1" || u32 LE len(code) || code || i64 LE confirmed_us)`,
//! `confirmed_us` the confirmation time the state holds. It proves nothing
//! about the label, only that this browser was told "PIN correct" at that
//! time: a reload of that answer (the browser posts the PIN again) tells it
//! so rather than "already confirmed", and the copy warning that every
//! later page of the code shows adds that this browser confirmed it. The
//! warning itself stays: a copied label is scanned in other browsers.
//!
//! Both cookies are `Secure` and named with the `__Secure-` prefix: browsers
//! keep them only when set over HTTPS (or on `localhost`) with `Secure`, so a
//! network attacker cannot plant one over plain HTTP (a `Secure` flag alone
//! would not stop a plain-HTTP answer from setting a cookie of the same name
//! without it). A site on a sibling subdomain could still set one with a
//! `Domain=` attribute: serve the page on a host whose parent domain is not
//! shared with sites others control. A server reached over plain HTTP on
//! another host counts every view and never recognises the confirming browser.
//!
//! A planted cookie could only be the attacker's own: a view token of their
//! scan (a victim's scan within two hours of it would not count) or the PIN
//! proof of their confirmation. The proof makes the right PIN posted again
//! answer "you confirmed it from this browser" only within two hours of the
//! confirmation ([`VIEW_TOKEN_TTL_S`]); after that, the answer warns as for
//! anyone else, so a phone that confirmed a genuine tin's PIN cannot show a
//! warning-free answer to a later buyer.
//!
//! A double tap on a slow phone posts the right PIN twice at once: the first
//! request confirms it, the second (the answer the browser shows) finds it
//! confirmed and cannot carry the PIN proof, which only the first answer
//! sets. So the confirmation also keeps a confirmer tag
//! ([`ViewKey::confirmer_tag`]): the first 16 bytes of
//! `BLAKE3-keyed(view key, "proofmark-confirmer/1" || u32 LE len(code) || code || u32 LE len(token) || token || client)`,
//! `client` the confirming request's 8-byte [`PinClient`] digest and `token`
//! what the request carries of its page: the token of the page's PIN form as
//! `tap:<token>` (a hidden field of 16 random bytes, hex, new on every page
//! shown, which both posts of a double tap send), or, from a form without
//! one, the request's view token (good for the code). The right PIN posted
//! again within [`VIEW_TOKEN_TTL_S`] of the confirmation with the same token
//! from the same client is the same page's: it is answered as the confirming
//! browser's reload is, and gets the PIN proof too. A request with neither
//! keeps no tag and matches none.
//!
//! The same key makes the digest that stands for a client in the wrong-PIN
//! limits ([`ViewKey::pin_client`]): the first 8 bytes of
//! `BLAKE3-keyed(view key, "proofmark-pin-client/1" || u32 LE 1 || family || network)`,
//! `family` `4` or `6`, `network` the IPv4 address or the /48 of the IPv6
//! address (its first 6 bytes), zero-padded to 8 bytes, so that the state
//! keeps no client's address.
//!
//! The view key is 32 random bytes kept in the consumer state (made when the
//! state is first opened), so tokens and proofs survive a restart of the
//! server. It is not the PIN key and tells nothing about it.

use super::state::{ConfirmerTag, PinClient};

/// The cookie that carries a view token (path the code's page, `Secure`,
/// `HttpOnly`, `SameSite=Lax`, lasting [`VIEW_TOKEN_TTL_S`]).
pub const VIEW_COOKIE: &str = "__Secure-pm_view";

/// How long a token stays good, in seconds.
pub const VIEW_TOKEN_TTL_S: i64 = 2 * 3600;

/// The cookie that carries a PIN proof (path the code's page, `Secure`,
/// `HttpOnly`, `SameSite=Lax`, lasting [`PIN_PROOF_MAX_AGE_S`]).
pub const PIN_COOKIE: &str = "__Secure-pm_pin";

/// How long a browser keeps its PIN proof, in seconds (a year).
pub const PIN_PROOF_MAX_AGE_S: i64 = 365 * 24 * 3600;

/// How far in the future a token's time may be (a clock that stepped back).
const CLOCK_SLACK_S: i64 = 60;
/// Domain separation of view tokens.
const VIEW_CONTEXT: &[u8] = b"proofmark-view/1";
/// Domain separation of PIN proofs.
const PIN_CONTEXT: &[u8] = b"proofmark-pin/1";
/// Domain separation of the digests of PIN clients.
const CLIENT_CONTEXT: &[u8] = b"proofmark-pin-client/1";
/// Domain separation of confirmer tags.
const CONFIRMER_CONTEXT: &[u8] = b"proofmark-confirmer/1";
const MAC_LEN: usize = 12;

/// The key view tokens and PIN proofs are made and checked with.
#[derive(Clone)]
pub struct ViewKey([u8; 32]);

impl std::fmt::Debug for ViewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ViewKey(..)")
    }
}

/// Whether two MACs are equal, compared without stopping at the first
/// difference.
fn same_mac(a: &[u8; MAC_LEN], b: &[u8; MAC_LEN]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `text` as a MAC: exactly `2 * MAC_LEN` hex digits.
fn parse_mac(text: &str) -> Option<[u8; MAC_LEN]> {
    let mut mac = [0u8; MAC_LEN];
    (text.len() == 2 * MAC_LEN && hex::decode_to_slice(text, &mut mac).is_ok()).then_some(mac)
}

impl ViewKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> ViewKey {
        ViewKey(bytes)
    }

    /// `BLAKE3-keyed(key, context || u32 LE len(code) || code || value)`, its
    /// first [`MAC_LEN`] bytes.
    fn mac(&self, context: &[u8], code: &str, value: [u8; 8]) -> [u8; MAC_LEN] {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(context);
        let len = u32::try_from(code.len()).unwrap_or(u32::MAX);
        hasher.update(&len.to_le_bytes());
        hasher.update(code.as_bytes());
        hasher.update(&value);
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&hasher.finalize().as_bytes()[..MAC_LEN]);
        mac
    }

    /// The token for a scan of `code` at `now_us` (µs since the epoch). Its
    /// characters (digits, `.`, hex) need no quoting in a cookie.
    pub fn token(&self, code: &str, now_us: i64) -> String {
        let issued_s = u64::try_from(now_us.div_euclid(1_000_000)).unwrap_or(0);
        format!(
            "{issued_s}.{}",
            hex::encode(self.mac(VIEW_CONTEXT, code, issued_s.to_le_bytes()))
        )
    }

    /// Whether `token` was made by this key for `code`, and is still good at
    /// `now_us`.
    pub fn check(&self, code: &str, token: &str, now_us: i64) -> bool {
        let Some((issued, mac_hex)) = token.split_once('.') else {
            return false;
        };
        // Digits only: `u64::from_str` would also take a leading `+`.
        if issued.is_empty() || issued.len() > 20 || !issued.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(issued_s) = issued.parse::<u64>() else {
            return false;
        };
        let Some(mac) = parse_mac(mac_hex) else {
            return false;
        };
        let now_s = now_us.div_euclid(1_000_000);
        let Ok(issued_i) = i64::try_from(issued_s) else {
            return false;
        };
        let age = now_s.saturating_sub(issued_i);
        if !(-CLOCK_SLACK_S..=VIEW_TOKEN_TTL_S).contains(&age) {
            return false;
        }
        same_mac(&self.mac(VIEW_CONTEXT, code, issued_s.to_le_bytes()), &mac)
    }

    /// The PIN proof of the browser that confirmed the PIN of `code` at
    /// `confirmed_us` (the time the state keeps): 24 hex digits, which need no
    /// quoting in a cookie.
    pub fn pin_proof(&self, code: &str, confirmed_us: i64) -> String {
        hex::encode(self.mac(PIN_CONTEXT, code, confirmed_us.to_le_bytes()))
    }

    /// The client of the wrong-PIN limits for a request from `addr`: a
    /// digest of its IPv4 address, or of the first 48 bits of its IPv6
    /// address (the /48 that a site, or anyone from a free tunnel broker,
    /// gets whole: counting /64s would make one such holder 65,536 clients;
    /// an IPv4 address mapped into IPv6 counts as the IPv4 address). Keyed,
    /// so that the state holds no address and no one can match digests to
    /// addresses.
    pub fn pin_client(&self, addr: std::net::IpAddr) -> PinClient {
        let mut network = [0u8; 8];
        let family = match addr.to_canonical() {
            std::net::IpAddr::V4(v4) => {
                network[..4].copy_from_slice(&v4.octets());
                "4"
            }
            std::net::IpAddr::V6(v6) => {
                network[..6].copy_from_slice(&v6.octets()[..6]);
                "6"
            }
        };
        let mac = self.mac(CLIENT_CONTEXT, family, network);
        let mut digest = [0u8; 8];
        digest.copy_from_slice(&mac[..8]);
        // The zero digest is the unknown client's.
        if digest == [0; 8] {
            digest[0] = 1;
        }
        PinClient::from_bytes(digest)
    }

    /// The confirmer tag of a PIN check of `code` sent with `token` (its
    /// form's token as `tap:<token>`, or a view token [`ViewKey::check`]
    /// found good) by `client`: what the
    /// state keeps with a confirmation, so that the same browser's second
    /// post of the right PIN (a double tap) is told apart from anyone
    /// else's.
    pub fn confirmer_tag(&self, code: &str, token: &str, client: PinClient) -> ConfirmerTag {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(CONFIRMER_CONTEXT);
        for part in [code, token] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            hasher.update(&len.to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.update(client.as_bytes());
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        ConfirmerTag::from_bytes(tag)
    }

    /// Whether `proof` is the PIN proof of `code` confirmed at
    /// `confirmed_us`. It does not expire: the cookie's `Max-Age` bounds it.
    pub fn check_pin_proof(&self, code: &str, confirmed_us: i64, proof: &str) -> bool {
        parse_mac(proof).is_some_and(|mac| {
            same_mac(
                &self.mac(PIN_CONTEXT, code, confirmed_us.to_le_bytes()),
                &mac,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const NOW: i64 = 1_780_000_000_000_000;

    fn key(b: u8) -> ViewKey {
        ViewKey::from_bytes([b; 32])
    }

    #[test]
    fn a_token_is_good_for_its_code_for_two_hours() {
        let k = key(1);
        let t = k.token("CODE-1", NOW);
        assert!(k.check("CODE-1", &t, NOW));
        assert!(k.check("CODE-1", &t, NOW + VIEW_TOKEN_TTL_S * 1_000_000));
        assert!(!k.check("CODE-1", &t, NOW + (VIEW_TOKEN_TTL_S + 1) * 1_000_000));
        assert!(k.check("CODE-1", &t, NOW - 30 * 1_000_000));
        assert!(!k.check("CODE-1", &t, NOW - 120 * 1_000_000));
        assert!(!k.check("CODE-2", &t, NOW));
        assert!(!key(2).check("CODE-1", &t, NOW));
    }

    #[test]
    fn edited_or_malformed_tokens_are_refused() {
        let k = key(1);
        let t = k.token("CODE-1", NOW);
        let (issued, mac) = t.split_once('.').unwrap();
        // Inside the window, so that only the MAC can refuse it.
        let earlier: u64 = issued.parse::<u64>().unwrap() - 60;
        for bad in [
            String::new(),
            ".".to_owned(),
            issued.to_owned(),
            mac.to_owned(),
            format!("{earlier}.{mac}"),
            format!("+{issued}.{mac}"),
            format!("{issued}.{}", &mac[..22]),
            format!("{issued}.{}0", &mac[..23]),
            format!("99999999999999999999999.{mac}"),
            format!("{issued}.{mac}.{mac}"),
        ] {
            if bad == t {
                continue;
            }
            assert!(!k.check("CODE-1", &bad, NOW), "{bad}");
        }
    }

    #[test]
    fn a_pin_proof_is_the_documented_mac() {
        let k = key(7);
        let confirmed_us: i64 = 1_795_572_000_123_456;
        // BLAKE3-keyed(view key, "proofmark-pin/1" || u32 LE len(code) || code || i64 LE t).
        let mut message = b"proofmark-pin/1".to_vec();
        message.extend_from_slice(&6u32.to_le_bytes());
        message.extend_from_slice(b"CODE-1");
        message.extend_from_slice(&confirmed_us.to_le_bytes());
        let full = blake3::keyed_hash(&[7; 32], &message);
        let expected = hex::encode(&full.as_bytes()[..12]);
        assert_eq!(k.pin_proof("CODE-1", confirmed_us), expected);
        assert!(k.check_pin_proof("CODE-1", confirmed_us, &expected));
    }

    #[test]
    fn a_confirmer_tag_is_the_documented_digest_of_code_token_and_client() {
        let k = key(7);
        let client = PinClient::from_bytes([3; 8]);
        let token = k.token("CODE-1", NOW);
        let mut message = b"proofmark-confirmer/1".to_vec();
        message.extend_from_slice(&6u32.to_le_bytes());
        message.extend_from_slice(b"CODE-1");
        message.extend_from_slice(&u32::try_from(token.len()).unwrap().to_le_bytes());
        message.extend_from_slice(token.as_bytes());
        message.extend_from_slice(&[3; 8]);
        let full = blake3::keyed_hash(&[7; 32], &message);
        let tag = k.confirmer_tag("CODE-1", &token, client);
        assert_eq!(tag.as_bytes().as_slice(), &full.as_bytes()[..16]);
        // Another token, client, code or key: another tag.
        let other_token = k.token("CODE-1", NOW + 1_000_000);
        assert_ne!(k.confirmer_tag("CODE-1", &other_token, client), tag);
        assert_ne!(
            k.confirmer_tag("CODE-1", &token, PinClient::from_bytes([4; 8])),
            tag
        );
        assert_ne!(k.confirmer_tag("CODE-2", &token, client), tag);
        assert_ne!(key(8).confirmer_tag("CODE-1", &token, client), tag);
    }

    #[test]
    fn a_pin_proof_holds_for_its_code_time_and_key_only() {
        let k = key(1);
        let t = 1_795_572_000_000_000;
        let proof = k.pin_proof("CODE-1", t);
        assert_eq!(proof.len(), 24);
        assert!(k.check_pin_proof("CODE-1", t, &proof));
        // Years later too: the cookie's lifetime bounds it, not the MAC.
        assert!(k.check_pin_proof("CODE-1", t, &k.pin_proof("CODE-1", t)));
        assert!(!k.check_pin_proof("CODE-2", t, &proof));
        assert!(!k.check_pin_proof("CODE-1", t + 1, &proof));
        assert!(!key(2).check_pin_proof("CODE-1", t, &proof));
        // Upper-case hex is the same bytes; anything else is refused.
        assert!(k.check_pin_proof("CODE-1", t, &proof.to_uppercase()));
        for bad in [
            String::new(),
            proof[..22].to_owned(),
            format!("{proof}00"),
            format!("{}g", &proof[..23]),
            format!("1.{proof}"),
        ] {
            assert!(!k.check_pin_proof("CODE-1", t, &bad), "{bad}");
        }
        // A view token's MAC is no PIN proof, nor the reverse: the same code and the
        // same eight bytes of time, only the context differs.
        let issued_s = t.div_euclid(1_000_000);
        let token = k.token("CODE-1", t);
        let (_, view_mac) = token.split_once('.').unwrap();
        assert!(!k.check_pin_proof("CODE-1", issued_s, view_mac));
        let as_token = format!("{issued_s}.{}", k.pin_proof("CODE-1", issued_s));
        assert!(!k.check("CODE-1", &as_token, t));
        assert!(k.check("CODE-1", &token, t));
    }
}
