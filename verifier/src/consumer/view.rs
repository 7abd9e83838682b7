//! View tokens: how the server tells a viewer changing the view of a page
//! they already have (the page's language link, its zone form) from a new
//! scan.
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
//! A request that makes a valid choice of language or zone and sends a
//! token good for its code is a change of view; any other request is a scan
//! (a reload of the bare page too). A token is good for [`VIEW_TOKEN_TTL_S`]
//! after the scan that set it (and up to a minute before, for a clock that
//! stepped back); changes of view do not renew it. So within those two
//! hours, the same browser opening the code's page with a language or zone
//! in its query (a reload of a switched page, a rescan of a label printed
//! with `?lang=`) is not counted again: one browser's views of a code count
//! at least once per two hours. A browser that refuses cookies has every
//! change of view counted.
//!
//! The cookie is `Secure`: browsers keep it over HTTPS (and on `localhost`)
//! only, so that it cannot be planted over plain HTTP; a server reached
//! over plain HTTP on another host counts every change of view.
//!
//! The view key is 32 random bytes kept in the consumer state (made when the
//! state is first opened), so tokens survive a restart of the server. It is
//! not the PIN key and tells nothing about it.

/// The cookie that carries a view token (path the code's page, `Secure`,
/// `HttpOnly`, `SameSite=Lax`, lasting [`VIEW_TOKEN_TTL_S`]).
pub const VIEW_COOKIE: &str = "pm_view";

/// How long a token stays good, in seconds.
pub const VIEW_TOKEN_TTL_S: i64 = 2 * 3600;
/// How far in the future a token's time may be (a clock that stepped back).
const CLOCK_SLACK_S: i64 = 60;
const CONTEXT: &[u8] = b"proofmark-view/1";
const MAC_LEN: usize = 12;

/// The key view tokens are made and checked with.
#[derive(Clone)]
pub struct ViewKey([u8; 32]);

impl std::fmt::Debug for ViewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ViewKey(..)")
    }
}

impl ViewKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> ViewKey {
        ViewKey(bytes)
    }

    fn mac(&self, code: &str, issued_s: u64) -> [u8; MAC_LEN] {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(CONTEXT);
        let len = u32::try_from(code.len()).unwrap_or(u32::MAX);
        hasher.update(&len.to_le_bytes());
        hasher.update(code.as_bytes());
        hasher.update(&issued_s.to_le_bytes());
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&hasher.finalize().as_bytes()[..MAC_LEN]);
        mac
    }

    /// The token for a scan of `code` at `now_us` (µs since the epoch). Its
    /// characters (digits, `.`, hex) need no quoting in a cookie.
    pub fn token(&self, code: &str, now_us: i64) -> String {
        let issued_s = u64::try_from(now_us.div_euclid(1_000_000)).unwrap_or(0);
        format!("{issued_s}.{}", hex::encode(self.mac(code, issued_s)))
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
        let mut mac = [0u8; MAC_LEN];
        if mac_hex.len() != 2 * MAC_LEN || hex::decode_to_slice(mac_hex, &mut mac).is_err() {
            return false;
        }
        let now_s = now_us.div_euclid(1_000_000);
        let Ok(issued_i) = i64::try_from(issued_s) else {
            return false;
        };
        let age = now_s.saturating_sub(issued_i);
        if !(-CLOCK_SLACK_S..=VIEW_TOKEN_TTL_S).contains(&age) {
            return false;
        }
        // Compared without stopping at the first difference.
        let expected = self.mac(code, issued_s);
        expected
            .iter()
            .zip(mac.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
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
}
