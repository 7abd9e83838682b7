//! ISO 3166-1 alpha-2 country codes (the 249 officially assigned codes).

/// Every officially assigned ISO 3166-1 alpha-2 code, sorted.
pub const ISO_3166_ALPHA2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// The codes as bits: bit `j` of entry `i` is set when the letters `A + i`, `A + j` form a
/// code (built from [`ISO_3166_ALPHA2`] at compile time).
const ASSIGNED: [u32; 26] = {
    let mut table = [0u32; 26];
    let mut n = 0;
    while n < ISO_3166_ALPHA2.len() {
        let b = ISO_3166_ALPHA2[n].as_bytes();
        table[(b[0] - b'A') as usize] |= 1 << (b[1] - b'A');
        n += 1;
    }
    table
};

/// Whether `s` is an assigned ISO 3166-1 alpha-2 code (upper case, exactly two letters).
pub fn is_iso_3166_alpha2(s: &str) -> bool {
    match *s.as_bytes() {
        [a @ b'A'..=b'Z', b @ b'A'..=b'Z'] => ASSIGNED[(a - b'A') as usize] >> (b - b'A') & 1 == 1,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table agrees with the list for every two-byte input.
    #[test]
    fn table_equals_the_list() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let bytes = [a, b];
                let Ok(s) = std::str::from_utf8(&bytes) else {
                    continue;
                };
                assert_eq!(is_iso_3166_alpha2(s), ISO_3166_ALPHA2.contains(&s), "{s:?}");
            }
        }
        assert!(!is_iso_3166_alpha2("D") && !is_iso_3166_alpha2("DEU") && !is_iso_3166_alpha2(""));
    }

    #[test]
    fn list_is_sorted_unique_and_well_formed() {
        assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
        assert!(
            ISO_3166_ALPHA2
                .iter()
                .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn lookups() {
        assert!(is_iso_3166_alpha2("CN"));
        assert!(is_iso_3166_alpha2("NZ"));
        assert!(!is_iso_3166_alpha2("cn"));
        assert!(!is_iso_3166_alpha2("XX"));
        assert!(!is_iso_3166_alpha2("UK"));
        assert!(!is_iso_3166_alpha2("CHN"));
        assert!(!is_iso_3166_alpha2(""));
    }
}
