//! The viewer's language and time zone, and the page's words in Chinese and
//! English.
//!
//! The language comes from `?lang=`, then the `pm_lang` cookie, then
//! `Accept-Language`, then Chinese. The time zone comes from `?tz=` (an IANA
//! name such as `Europe/Berlin`, or a UTC offset such as `+05:30`), then the
//! `pm_tz` cookie, then China Standard Time. The page names a zone as people
//! call its time ([`ViewerZone::time_name`]: "London time", "伦敦时间",
//! `UTC+5:30`), never by its IANA name alone.

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

use super::journey::AlertKind;
use super::verdict::Finding;

/// Cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "pm_lang";
/// Cookie that remembers the chosen time zone.
pub const TZ_COOKIE: &str = "pm_tz";
/// The default time zone: China Standard Time.
pub const DEFAULT_TZ: &str = "Asia/Shanghai";

/// A language of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The language tag used in `?lang=` and in `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `<html lang>` value.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch link.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// Parses a language tag (`zh`, `zh-CN`, `en-GB`, ...), by its primary
    /// subtag.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("zh") {
            Some(Lang::Zh)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The supported language an `Accept-Language` header prefers most
    /// (highest `q`, earliest on ties), if any.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(Lang, u32)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(1000, parse_quality);
            if q > 0 && best.is_none_or(|(_, b)| q > b) {
                best = Some((lang, q));
            }
        }
        best.map(|(lang, _)| lang)
    }

    /// The page's words in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
}

/// `q` in thousandths (`0.8` -> 800); malformed values count as 0.
fn parse_quality(q: &str) -> u32 {
    let q = q.trim();
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    let int = match int {
        "0" => 0,
        "1" => 1000,
        _ => return 0,
    };
    let mut thousandths = 0;
    let mut scale = 100;
    for c in frac.chars().take(3) {
        let Some(d) = c.to_digit(10) else { return 0 };
        thousandths += d * scale;
        scale /= 10;
    }
    (int + thousandths).min(1000)
}

/// Chooses the language: an explicit choice, then the cookie, then the
/// `Accept-Language` header, then Chinese.
pub fn choose_lang(
    query: Option<&str>,
    cookie: Option<&str>,
    accept_language: Option<&str>,
) -> Lang {
    query
        .and_then(Lang::parse)
        .or_else(|| cookie.and_then(Lang::parse))
        .or_else(|| accept_language.and_then(Lang::from_accept_language))
        .unwrap_or(Lang::Zh)
}

/// The time zone times are shown in.
#[derive(Debug, Clone)]
pub struct ViewerZone {
    /// The zone.
    pub tz: TimeZone,
    /// How it was asked for (`Asia/Shanghai`, `+05:30`).
    pub name: String,
}

impl ViewerZone {
    /// China Standard Time, the default.
    pub fn default_zone() -> ViewerZone {
        let tz = TimeZone::get(DEFAULT_TZ).unwrap_or_else(|_| {
            // China has kept UTC+8 without daylight saving since 1991.
            TimeZone::fixed(Offset::constant(8))
        });
        ViewerZone {
            tz,
            name: DEFAULT_TZ.to_owned(),
        }
    }

    /// Parses an IANA zone name or a UTC offset (`+08:00`, `-0530`, `UTC+8`,
    /// `UTC`); `None` when it is neither.
    pub fn parse(text: &str) -> Option<ViewerZone> {
        // `?tz=+05:30` typed into an address bar arrives as " 05:30" (a `+` in a query is a
        // space): a space before the hours is that plus sign.
        let plus;
        let text = match text.strip_prefix(' ') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => {
                plus = format!("+{}", rest.trim_end());
                plus.as_str()
            }
            _ => text.trim(),
        };
        if text.is_empty()
            || text.len() > 64
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+-:".contains(&b))
        {
            return None;
        }
        // An offset is named in one form (`utc`, `+05:30` and `GMT+5:30` are `UTC`,
        // `UTC+05:30`), which the page and the cookie keep.
        let (tz, name) = match parse_offset(text) {
            Some(offset) => (TimeZone::fixed(offset), offset_name(offset)),
            None => (TimeZone::get(text).ok()?, text.to_owned()),
        };
        Some(ViewerZone { tz, name })
    }

    /// The zone from `?tz=`, then the cookie, then the default; and whether
    /// `?tz=` named a valid zone (so that it is remembered in the cookie).
    pub fn choose(query: Option<&str>, cookie: Option<&str>) -> (ViewerZone, bool) {
        if let Some(zone) = query.and_then(ViewerZone::parse) {
            return (zone, true);
        }
        let zone = cookie
            .and_then(ViewerZone::parse)
            .unwrap_or_else(ViewerZone::default_zone);
        (zone, false)
    }

    /// Formats a time (microseconds since the epoch, UTC) in this zone as
    /// `YYYY-MM-DD HH:MM`; `None` when out of range.
    pub fn format_micros(&self, micros: i64) -> Option<String> {
        let ts = Timestamp::from_microsecond(micros).ok()?;
        Some(
            ts.to_zoned(self.tz.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string(),
        )
    }

    /// Formats a time as [`ViewerZone::format_micros`] does, as RFC 3339
    /// with this zone's offset (`2026-11-24T08:00:00+08:00`), for
    /// `<time datetime>`; `None` when out of range.
    pub fn rfc3339_micros(&self, micros: i64) -> Option<String> {
        let ts = Timestamp::from_microsecond(micros).ok()?;
        Some(
            ts.to_zoned(self.tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
        )
    }

    /// The date of a time in this zone, as `YYYY-MM-DD`; `None` when out of
    /// range.
    pub fn format_date_micros(&self, micros: i64) -> Option<String> {
        let ts = Timestamp::from_microsecond(micros).ok()?;
        Some(ts.to_zoned(self.tz.clone()).date().to_string())
    }

    /// Whether this is the default zone, China Standard Time.
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_TZ
    }

    /// The zone's UTC offset at `micros`; `None` when out of range.
    pub fn offset_at(&self, micros: i64) -> Option<Offset> {
        Timestamp::from_microsecond(micros)
            .ok()
            .map(|ts| self.tz.to_offset(ts))
    }

    /// Whether the zone is only an offset from UTC, said as the offset
    /// (`UTC`, `UTC+05:30`, `Etc/GMT+5`): no place's time.
    pub fn is_offset(&self) -> bool {
        // UTC and the IANA names that are UTC under another name.
        matches!(
            self.name.as_str(),
            "UTC" | "UCT" | "Zulu" | "Universal" | "Greenwich" | "GMT" | "GMT0" | "GMT+0" | "GMT-0"
        ) || self.name.starts_with("UTC+")
            || self.name.starts_with("UTC-")
            || self.name.starts_with("Etc/")
    }

    /// How the page calls the zone's time in `lang`: China Standard Time,
    /// a place's time by the place's name ("London time", "伦敦时间"; a zone
    /// without a name of its own by its IANA name's last part, "Kolkata time"),
    /// or an offset by the offset at `now_us` (`UTC`, `UTC+5:30`; an `Etc/`
    /// zone's sign is the opposite of its name's, `Etc/GMT+5` is `UTC-5`).
    pub fn time_name(&self, lang: Lang, now_us: i64) -> String {
        if self.is_offset() {
            let offset = self.offset_at(now_us).unwrap_or(Offset::UTC);
            return match (offset == Offset::UTC, lang) {
                (true, Lang::Zh) => "协调世界时（UTC）".to_owned(),
                (true, Lang::En) => "UTC".to_owned(),
                (false, _) => offset_short(offset),
            };
        }
        if self.is_default() {
            return match lang {
                Lang::Zh => "北京时间".to_owned(),
                Lang::En => "China Standard Time".to_owned(),
            };
        }
        let place = zone_name(lang, &self.name).map_or_else(
            || {
                let last = self.name.rsplit('/').next().unwrap_or(&self.name);
                last.replace('_', " ")
            },
            str::to_owned,
        );
        match lang {
            Lang::Zh if place.is_ascii() => format!("{place} 时间"),
            Lang::Zh => format!("{place}时间"),
            Lang::En => format!("{place} time"),
        }
    }
}

/// The name a fixed offset is kept under: `UTC`, or `UTC+05:30`.
fn offset_name(offset: Offset) -> String {
    let secs = offset.seconds();
    if secs == 0 {
        return "UTC".to_owned();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
}

/// An offset as the page shows it: `UTC+8`, `UTC+5:30`, `UTC-3:30`, `UTC+0`.
pub fn offset_short(offset: Offset) -> String {
    let secs = offset.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    let (hours, minutes) = (abs / 3600, (abs % 3600) / 60);
    if minutes == 0 {
        format!("UTC{sign}{hours}")
    } else {
        format!("UTC{sign}{hours}:{minutes:02}")
    }
}

/// Parses `UTC`, `Z`, `+HH`, `+HH:MM`, `+HHMM` (also after `UTC` or `GMT`).
fn parse_offset(text: &str) -> Option<Offset> {
    let rest = ["UTC", "GMT"]
        .iter()
        .find_map(|p| {
            text.get(..p.len())
                .filter(|head| head.eq_ignore_ascii_case(p))
                .map(|_| &text[p.len()..])
        })
        .unwrap_or(text);
    if rest.is_empty() || rest == "Z" {
        return (rest.len() < text.len() || rest == "Z").then_some(Offset::UTC);
    }
    let (sign, digits) = match rest.as_bytes()[0] {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() > 2 => digits.split_at(2),
        None => (digits, "0"),
    };
    if hours.is_empty() || hours.len() > 2 || minutes.is_empty() || minutes.len() > 2 {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if hours > 14 || minutes > 59 {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

/// Formats a date given as days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_days(days: i64) -> Option<String> {
    let ts = Timestamp::from_second(days.checked_mul(86_400)?).ok()?;
    Some(ts.to_zoned(TimeZone::UTC).date().to_string())
}

/// Fills `{name}` placeholders of a template with already escaped values.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The fixed words of the page in one language. Templates hold `{name}`
/// placeholders filled with [`fill`].
#[derive(Debug)]
pub struct Texts {
    /// Page title.
    pub title: &'static str,
    /// The link to the other language, in that language.
    pub switch_to_other: &'static str,
    /// A colon after a label, as the language writes it ("：" in Chinese).
    pub colon: &'static str,
    /// Label of the time zone form.
    pub time_zone: &'static str,
    /// The zone form's button.
    pub apply: &'static str,
    /// The zone line when every time shown has one offset: "{zone}" (the
    /// zone's time, [`ViewerZone::time_name`]), "{offset}".
    pub times_at: &'static str,
    /// The zone line of a zone that is an offset: "{zone}" (the offset).
    pub times_offset: &'static str,
    /// The zone line when the times shown have different offsets (daylight
    /// saving), each time marked with its own: "{zone}".
    pub times_each: &'static str,
    /// The verified badge's heading.
    pub verified: &'static str,
    /// The verified badge's explanation.
    pub verified_detail: &'static str,
    /// The verified badge's heading while the page warns that the label may
    /// be a copy: the records are authentic, the label may not be.
    pub verified_copied: &'static str,
    /// The summary of the verified badge's folded anchors.
    pub anchor_details: &'static str,
    /// Under that summary, when a batch is anchored on a blockchain.
    pub anchors_chain: &'static str,
    /// Under that summary, when every anchor is the embedded ledger (the
    /// publisher's signed batch log, not a blockchain).
    pub anchors_ledger: &'static str,
    /// Ledger anchor: entry "{number}" (from 1) of the signed batch log
    /// "{chain}", signed when the log reached entry "{size}" (its checkpoint;
    /// the log grows after it).
    pub anchor_ledger: &'static str,
    /// Chain anchor: transaction "{tx}" in block "{block}" of "{chain}".
    pub anchor_chain: &'static str,
    /// Batch line under the anchors.
    pub anchored_batch: &'static str,
    /// Heading of the failed verification warning.
    pub not_verified: &'static str,
    /// Explanation of the failed verification warning.
    pub not_verified_detail: &'static str,
    /// Heading of the "cannot confirm right now" notice (nothing was found
    /// wrong, but no anchor could be checked against a trusted source).
    pub unconfirmed: &'static str,
    /// Explanation of that notice.
    pub unconfirmed_detail: &'static str,
    /// The verified badge's heading while the page warns of a record at its
    /// top (a recall, a failed inspection, ...): the records, that one
    /// included, are authentic; the product is not vouched for.
    pub verified_alert: &'static str,
    /// The heading of the page's warning when its gravest record is a recall.
    pub alert_heading_recalled: &'static str,
    /// What the buyer should do about a recall.
    pub alert_advice_recalled: &'static str,
    /// The heading when the gravest is a destruction.
    pub alert_heading_destroyed: &'static str,
    /// What the buyer should do about an item recorded as destroyed.
    pub alert_advice_destroyed: &'static str,
    /// The heading when the gravest is goods refused entry by customs.
    pub alert_heading_customs_rejected: &'static str,
    /// What the buyer should do about goods refused entry.
    pub alert_advice_customs_rejected: &'static str,
    /// The heading when the gravest is a failed inspection.
    pub alert_heading_inspection_failed: &'static str,
    /// What the buyer should do about a failed inspection.
    pub alert_advice_inspection_failed: &'static str,
    /// The heading when the gravest is a return.
    pub alert_heading_returned: &'static str,
    /// What the buyer should do about a returned item.
    pub alert_advice_returned: &'static str,
    /// The heading when the gravest is goods held by customs.
    pub alert_heading_customs_held: &'static str,
    /// What the buyer should do about goods held by customs.
    pub alert_advice_customs_held: &'static str,
    /// A recall, on `{date}`.
    pub alert_recalled: &'static str,
    /// A return, on `{date}`.
    pub alert_returned: &'static str,
    /// A destruction, on `{date}`.
    pub alert_destroyed: &'static str,
    /// A failed inspection: `{type}` on `{date}`.
    pub alert_inspection_failed: &'static str,
    /// Goods held by customs.
    pub alert_customs_held: &'static str,
    /// Goods refused entry by customs.
    pub alert_customs_rejected: &'static str,
    /// Heading of the unknown code page.
    pub unknown_code: &'static str,
    /// Explanation of the unknown code page.
    pub unknown_code_detail: &'static str,
    /// The summary of what an amber or red verdict found, folded away.
    pub details: &'static str,
    /// Found: a record, or the way the records are given, does not check.
    pub finding_records: &'static str,
    /// Found: the batch of the records does not check.
    pub finding_batch: &'static str,
    /// Found: the seal of the records holds something else.
    pub finding_seal: &'static str,
    /// Found: the seal is from a source the service does not trust.
    pub finding_untrusted_seal: &'static str,
    /// Found: the stored records do not match their batch.
    pub finding_store: &'static str,
    /// Found: the service has nothing to check the seal against.
    pub finding_no_source: &'static str,
    /// Found: the seal's blockchain could not be read just now.
    pub finding_source_unreachable: &'static str,
    /// Heading of the page of an address that holds no code at all (not
    /// the form of a code, SPEC.md 2.3): what it holds is not shown.
    pub not_a_code: &'static str,
    /// Explanation of that page.
    pub not_a_code_detail: &'static str,
    /// Heading of the page of a consumer address that names no page.
    pub page_not_found: &'static str,
    /// Explanation of that page (and of the next): scan or type the code.
    pub page_not_found_detail: &'static str,
    /// Heading of the page of a consumer address asked with a method it does
    /// not take.
    pub method_not_allowed: &'static str,
    /// Heading of the page of a PIN form whose body did not arrive in time.
    pub pin_timeout: &'static str,
    /// Explanation of that page.
    pub pin_timeout_detail: &'static str,
    /// Heading of the service error page.
    pub unavailable: &'static str,
    /// Explanation of the service error page.
    pub unavailable_detail: &'static str,
    /// Heading of the page of a code whose history is over the service's limit.
    pub too_large: &'static str,
    /// Explanation of that page.
    pub too_large_detail: &'static str,
    /// "Code".
    pub code: &'static str,
    /// Heading of the page to type a code on (`GET /s`).
    pub enter_code: &'static str,
    /// What to type there.
    pub enter_code_help: &'static str,
    /// The button that looks the typed code up.
    pub enter_code_submit: &'static str,
    /// The notice for an empty form.
    pub enter_code_empty: &'static str,
    /// The notice for typed text that cannot be a code.
    pub enter_code_malformed: &'static str,
    /// Above the form on an unknown code's page.
    pub retype_code: &'static str,
    /// Scan line: "Scanned {count} times; first scan {first}".
    pub scans: &'static str,
    /// Heading of the caution shown for a code scanned many times.
    pub many_scans: &'static str,
    /// That caution: "{count}" scans since "{first}".
    pub many_scans_detail: &'static str,
    /// Instead of the scan line when the scan could not be recorded.
    pub scan_not_counted: &'static str,
    /// Heading of the copy warning.
    pub copy_warning: &'static str,
    /// Copy warning text with `{confirmed}`, `{count}` (not 1) and `{first}`.
    pub copy_warning_detail: &'static str,
    /// Copy warning text with `{confirmed}` and `{first}`, for a code scanned
    /// once.
    pub copy_warning_detail_once: &'static str,
    /// Copy warning text with `{confirmed}` only, for a code with no counted
    /// scan (its PIN was confirmed without a scan of the bare page).
    pub copy_warning_detail_unscanned: &'static str,
    /// Added to the copy warning in the browser that confirmed the PIN, with
    /// `{confirmed}`.
    pub copy_warning_this_browser: &'static str,
    /// Heading of the notice shown when the code's scans and PIN state cannot be read.
    pub state_unreadable: &'static str,
    /// That notice: a copy warning may be missing.
    pub state_unreadable_detail: &'static str,
    /// Heading of the PIN form.
    pub pin_heading: &'static str,
    /// Explanation of the PIN form.
    pub pin_help: &'static str,
    /// PIN field label.
    pub pin_label: &'static str,
    /// PIN button.
    pub pin_submit: &'static str,
    /// PIN confirmed.
    pub pin_confirmed: &'static str,
    /// PIN confirmed, explanation.
    pub pin_confirmed_detail: &'static str,
    /// The right PIN again, from the browser that confirmed it at
    /// `{confirmed}` (a reload of the answer that confirmed it).
    pub pin_confirmed_here: &'static str,
    /// PIN entered after an earlier confirmation at `{confirmed}`, by a
    /// browser that did not confirm it.
    pub pin_already_confirmed: &'static str,
    /// Wrong PIN with `{left}` attempts left (not 1).
    pub pin_wrong: &'static str,
    /// Wrong PIN with one attempt left.
    pub pin_wrong_one: &'static str,
    /// Too many wrong PINs from this viewer's network, retry after `{retry}`.
    pub pin_rate_limited: &'static str,
    /// Too many wrong PINs for the code from many places: its check is locked
    /// for everyone until `{retry}`.
    pub pin_code_locked: &'static str,
    /// The PIN is not well formed: says what [`normalize_pin`] accepts.
    ///
    /// [`normalize_pin`]: super::pin::normalize_pin
    pub pin_malformed: &'static str,
    /// The same on a page without the PIN form (the PIN was confirmed
    /// before): says that nothing was checked, not to enter one.
    pub pin_malformed_no_form: &'static str,
    /// No PIN is registered for this code.
    pub pin_none: &'static str,
    /// PIN checks are not available on this server.
    pub pin_unavailable: &'static str,
    /// The PIN could not be checked now (the server's state failed).
    pub pin_try_later: &'static str,
    /// The PIN was not checked: it was posted by another website's page.
    pub pin_foreign: &'static str,
    /// After a notice, when the page shows the PIN form: enter it here.
    pub pin_enter_here: &'static str,
    /// Heading of the product section.
    pub product: &'static str,
    /// The product section of an item without a published production
    /// record, on a verified page.
    pub product_missing: &'static str,
    /// The same on a page that is not verified (amber or red): the records
    /// below are not called verified.
    pub product_missing_unverified: &'static str,
    /// The factory's address.
    pub factory_address: &'static str,
    /// Product name.
    pub product_name: &'static str,
    /// Brand.
    pub brand: &'static str,
    /// GTIN.
    pub gtin: &'static str,
    /// SKU.
    pub sku: &'static str,
    /// Lot number.
    pub lot: &'static str,
    /// Production date.
    pub production_date: &'static str,
    /// Expiry date.
    pub expiry_date: &'static str,
    /// Country (or region) of origin.
    pub origin: &'static str,
    /// Factory.
    pub factory: &'static str,
    /// Certifications.
    pub certifications: &'static str,
    /// Ingredients.
    pub ingredients: &'static str,
    /// Attachments (documents referenced by digest).
    pub attachments: &'static str,
    /// Heading of the inspections section.
    pub inspections: &'static str,
    /// The body that inspected.
    pub agency: &'static str,
    /// Result.
    pub result: &'static str,
    /// Report number.
    pub report: &'static str,
    /// Sample size.
    pub sample_size: &'static str,
    /// Heading of the customs section.
    pub customs: &'static str,
    /// Declaration number.
    pub declaration: &'static str,
    /// Port of entry.
    pub port: &'static str,
    /// HS code.
    pub hs_code: &'static str,
    /// Trade country (or region).
    pub trade_country: &'static str,
    /// Customs status.
    pub status: &'static str,
    /// Declared at.
    pub declared_at: &'static str,
    /// A released declaration's `cleared_at`: when customs released it.
    pub cleared_at: &'static str,
    /// The `cleared_at` of a declaration held or refused entry: when customs
    /// decided, not a clearance.
    pub decided_at: &'static str,
    /// The `cleared_at` of a declaration still declared or under inspection:
    /// neither a clearance nor a decision.
    pub status_at: &'static str,
    /// Heading of the journey timeline.
    pub journey: &'static str,
    /// "Provided by".
    pub provided_by: &'static str,
    /// "None yet" for an empty section.
    pub none: &'static str,
    /// Shown for a value that is absent.
    pub unknown_value: &'static str,
}

/// Chinese.
static ZH: Texts = Texts {
    title: "商品溯源",
    switch_to_other: "English",
    colon: "：",
    time_zone: "时区",
    apply: "应用",
    times_at: "以下时间均为{zone}（{offset}）",
    times_offset: "以下时间均为{zone}",
    times_each: "以下时间均为{zone}，每个时间后标注其 UTC 偏移",
    verified: "✔ 验证通过：本商品的溯源记录真实、未被篡改",
    verified_detail: "所有记录与品牌方及合作方登记时完全一致。",
    verified_copied: "✔ 记录真实，但标签可能被复制",
    anchor_details: "技术细节",
    anchors_chain: "已在链上验证：本页所有记录均与已上链的批次根哈希一致。",
    anchors_ledger: "已在签名批次日志中验证：本页所有记录均与发布方经签名、只可追加的批次日志（不是区块链）中记录的批次根哈希一致。",
    anchor_ledger: "签名批次日志“{chain}”中的第 {number} 条（日志到第 {size} 条时签名）",
    anchor_chain: "区块链“{chain}”第 {block} 号区块中的交易 {tx}",
    anchored_batch: "批次 {batch}（{date}）",
    not_verified: "✖ 验证未通过",
    not_verified_detail: "此码的信息与品牌方登记的不一致，可能已被篡改。请勿相信本页信息，请联系品牌方核实。",
    unconfirmed: "⚠ 暂时无法确认",
    unconfirmed_detail: "暂时无法完成核验。这并不代表商品是假冒的，请稍后再扫一次；如仍出现此提示，请联系品牌方。",
    verified_alert: "✔ 记录真实、未被篡改（包括以上警示）",
    alert_heading_recalled: "⚠ 此商品已被召回",
    alert_advice_recalled: "请立即停止使用此商品，并联系品牌方或销售方了解召回事宜。",
    alert_heading_destroyed: "⚠ 此商品已被记录为销毁",
    alert_advice_destroyed: "已销毁的商品不应在售：请勿使用，并联系品牌方或销售方。",
    alert_heading_customs_rejected: "⚠ 此商品被海关拒绝入境",
    alert_advice_customs_rejected: "被拒绝入境的商品不应在境内销售：请勿使用，并联系销售方。",
    alert_heading_inspection_failed: "⚠ 此商品检验不合格",
    alert_advice_inspection_failed: "在向品牌方或销售方确认之前，请勿使用此商品。",
    alert_heading_returned: "⚠ 此商品曾被退回",
    alert_advice_returned: "如果您是作为新品购买的，请在使用前联系销售方。",
    alert_heading_customs_held: "⚠ 此商品被海关扣留，且没有放行记录",
    alert_advice_customs_held: "此商品可能尚未获准销售：请向销售方确认。",
    alert_recalled: "已于 {date} 召回",
    alert_returned: "已于 {date} 退回",
    alert_destroyed: "已于 {date} 销毁",
    alert_inspection_failed: "检验不合格：{type}（{date}）",
    alert_customs_held: "海关：扣留（{date}）",
    alert_customs_rejected: "海关：拒绝入境（{date}）",
    unknown_code: "✖ 未查询到此码",
    unknown_code_detail: "系统中没有此码的记录。请核对扫描或输入是否正确；如确认无误，该商品可能不是正品，请联系品牌方核实。",
    details: "详细信息",
    finding_records: "本页有记录与登记时的内容不一致，可能在登记后被改动过。",
    finding_batch: "这些记录所属的批次与其发布时的描述不一致。",
    finding_seal: "这些记录的封存凭证（签名日志中的条目或区块链上的交易）与记录不一致。",
    finding_untrusted_seal: "这些记录的封存凭证来自本服务不认可的来源。",
    finding_store: "所存储的记录与其发布时所属的批次不一致。",
    finding_no_source: "本服务暂时无法核对这些记录的封存凭证（签名日志中的条目或区块链上的交易）。",
    finding_source_unreachable: "暂时无法连接保存这些记录封存凭证的区块链。",
    not_a_code: "✖ 这不是查询码",
    not_a_code_detail: "此链接中没有有效的查询码（查询码由 6 至 48 位字母、数字或“.”“_”“-”组成），因此这里不显示链接中的文字。请勿相信链接中附带的任何电话、网址或说明。请输入标签上印的查询码。",
    page_not_found: "✖ 此网址没有对应的页面",
    page_not_found_detail: "请重新扫描标签上的二维码，或在下方输入标签上印的查询码。",
    method_not_allowed: "✖ 无法以这种方式打开此页面",
    pin_timeout: "✖ 未能收到密码",
    pin_timeout_detail: "网络太慢，密码未能完整送达，因此没有验证，也不算作错误。请在下方打开此码的页面，重新输入密码。",
    unavailable: "服务暂时不可用",
    unavailable_detail: "暂时无法查询此码，请稍后再试。",
    too_large: "无法显示此码的记录",
    too_large_detail: "此码所属批号的记录数超过本服务在一个页面中列出的上限。本服务不会只显示其中一部分，因此无法在此核验。请联系品牌方。",
    code: "查询码",
    enter_code: "手动输入标签上的查询码",
    enter_code_help: "如果无法扫描二维码，请输入印在标签上的查询码（可不输空格）。",
    enter_code_submit: "查询",
    enter_code_empty: "请输入查询码。",
    enter_code_malformed: "输入的查询码格式不正确：查询码由 6 至 48 位字母、数字或“.”“_”“-”组成，请核对后重新输入。",
    retype_code: "重新输入",
    scans: "已扫描 {count} 次；首次扫描：{first}",
    many_scans: "⚠ 此码已被多次扫描",
    many_scans_detail: "此码自 {first} 起已被扫描 {count} 次。一个标签通常只被扫描几次；如果您刚购买此商品，请刮开涂层并输入密码验证，以确认标签不是复制品。",
    scan_not_counted: "本次扫描暂时无法计数。以上验证结果不受影响。",
    copy_warning: "⚠ 警告：此标签可能是复制品",
    copy_warning_detail: "此码的防伪密码已于 {confirmed} 被验证过。此码共被扫描 {count} 次，首次扫描于 {first}。如果不是您本人验证的，此标签可能被复制，谨防假冒，请联系品牌方核实。",
    copy_warning_detail_once: "此码的防伪密码已于 {confirmed} 被验证过。此码共被扫描 1 次，扫描于 {first}。如果不是您本人验证的，此标签可能被复制，谨防假冒，请联系品牌方核实。",
    copy_warning_detail_unscanned: "此码的防伪密码已于 {confirmed} 被验证过。如果不是您本人验证的，此标签可能被复制，谨防假冒，请联系品牌方核实。",
    copy_warning_this_browser: "此浏览器已于 {confirmed} 验证过此密码。",
    state_unreadable: "⚠ 暂时无法读取此码的扫描记录",
    state_unreadable_detail: "暂时无法读取此码的扫描次数和防伪密码状态，因此本页可能缺少“标签可能被复制”的提示。请稍后再扫一次。",
    pin_heading: "刮开涂层验证密码",
    pin_help: "刮开标签上的涂层，输入密码。每个密码只能验证一次。",
    pin_label: "密码",
    pin_submit: "验证",
    pin_confirmed: "✔ 密码正确",
    pin_confirmed_detail: "这是此标签的首次验证。之后再查询此码会提示密码已被验证过，若是您本人操作可放心。",
    pin_confirmed_here: "✔ 密码正确：您已于 {confirmed} 在此浏览器中验证过此密码。",
    pin_already_confirmed: "⚠ 此密码已于 {confirmed} 被验证过。如果不是您本人验证的，此标签可能是复制品。",
    pin_wrong: "✖ 密码错误。还可尝试 {left} 次。",
    pin_wrong_one: "✖ 密码错误。还可尝试 1 次。",
    pin_rate_limited: "✖ 错误次数过多。请于 {retry} 之后再试。",
    pin_code_locked: "✖ 今天已有多处对此码提交了过多的错误密码，此码的密码验证对所有人暂停，请于 {retry} 之后再试。如果这些错误密码不是您提交的，可能有人在阻止此标签被验证：请届时再试，或联系品牌方。",
    pin_malformed: "请输入标签涂层下的密码：4 至 32 位字母或数字（空格和连字符不计入位数，会被忽略）。",
    pin_malformed_no_form: "✖ 没有验证密码：提交的内容不是密码（4 至 32 位字母或数字）。",
    pin_none: "此码没有登记防伪密码。",
    pin_unavailable: "此服务器暂不提供密码验证。",
    pin_try_later: "暂时无法验证密码，请稍后再试。您的密码未被记录为错误。",
    pin_foreign: "✖ 此密码未被验证：它是由其他网站提交的，而不是由本页提交的。",
    pin_enter_here: "如需验证，请在本页下方输入密码。",
    product: "产品",
    product_missing: "未发布此商品的生产记录，因此无法显示产品信息（名称、批号、生产日期和保质期）。以下记录均已核验，但请向品牌方确认产品信息。",
    product_missing_unverified: "未发布此商品的生产记录，因此无法显示产品信息（名称、批号、生产日期和保质期）。以下记录也未能核验，请向品牌方确认产品信息。",
    factory_address: "工厂地址",
    product_name: "品名",
    brand: "品牌",
    gtin: "商品条码",
    sku: "SKU",
    lot: "批号",
    production_date: "生产日期",
    expiry_date: "保质期至",
    origin: "原产国（地区）",
    factory: "工厂",
    certifications: "认证",
    ingredients: "配料",
    attachments: "附件",
    inspections: "检验",
    agency: "检验机构",
    result: "结果",
    report: "报告编号",
    sample_size: "抽样数量",
    customs: "海关",
    declaration: "报关单号",
    port: "入境口岸",
    hs_code: "HS 编码",
    trade_country: "贸易国（地区）",
    status: "状态",
    declared_at: "申报时间",
    cleared_at: "放行时间",
    decided_at: "决定时间",
    status_at: "状态时间",
    journey: "流转记录",
    provided_by: "数据提供方",
    none: "暂无",
    unknown_value: "—",
};

/// English.
static EN: Texts = Texts {
    title: "Product history",
    switch_to_other: "中文",
    colon: ": ",
    time_zone: "Time zone",
    apply: "Apply",
    times_at: "Times are {zone} ({offset})",
    times_offset: "Times are {zone}",
    times_each: "Times are {zone}, each with its UTC offset",
    verified: "✔ Verified: this product's records are authentic and unaltered",
    verified_detail: "Every record matches what the brand and its partners registered.",
    verified_copied: "✔ Records authentic, but this label may be copied",
    anchor_details: "Technical details",
    anchors_chain: "Verified on chain: every record on this page matches a batch root anchored on a blockchain.",
    anchors_ledger: "Verified in the signed batch log: every record on this page matches a batch root recorded in the publisher's signed, append-only batch log (not a blockchain).",
    anchor_ledger: "Entry {number} of the signed batch log “{chain}”, signed when the log reached entry {size}",
    anchor_chain: "Transaction {tx} in block {block} of the blockchain “{chain}”",
    anchored_batch: "Batch {batch} ({date})",
    not_verified: "✖ Verification failed",
    not_verified_detail: "This code's information does not match what the brand registered; it may have been tampered with. Do not trust the information on this page, and contact the brand to check.",
    unconfirmed: "⚠ Cannot confirm right now",
    unconfirmed_detail: "The check cannot be completed right now. This does not mean the product is fake. Please scan again later; if you still see this notice, contact the brand.",
    verified_alert: "✔ Records authentic and unaltered, the warning above included",
    alert_heading_recalled: "⚠ This product has been recalled",
    alert_advice_recalled: "Stop using this product and contact the brand or the seller about the recall.",
    alert_heading_destroyed: "⚠ This item was recorded as destroyed",
    alert_advice_destroyed: "A destroyed item should not be on sale: do not use it, and contact the brand or the seller.",
    alert_heading_customs_rejected: "⚠ Customs refused entry to this product",
    alert_advice_customs_rejected: "Goods refused entry should not be on sale here: do not use it, and contact the seller.",
    alert_heading_inspection_failed: "⚠ This product failed an inspection",
    alert_advice_inspection_failed: "Do not use this product until you have checked with the brand or the seller.",
    alert_heading_returned: "⚠ This item was returned",
    alert_advice_returned: "If you bought it as new, contact the seller before using it.",
    alert_heading_customs_held: "⚠ Customs held this product, and no release is recorded",
    alert_advice_customs_held: "It may not be cleared for sale: check with the seller.",
    alert_recalled: "Recalled on {date}",
    alert_returned: "Returned on {date}",
    alert_destroyed: "Destroyed on {date}",
    alert_inspection_failed: "Inspection failed: {type} on {date}",
    alert_customs_held: "Customs: held ({date})",
    alert_customs_rejected: "Customs: entry refused ({date})",
    unknown_code: "✖ Code not found",
    unknown_code_detail: "There is no record of this code. Check that it was scanned or typed correctly; if it was, the product may not be genuine: contact the brand to check.",
    details: "Details",
    finding_records: "A record on this page does not match what was registered: it may have been changed afterwards.",
    finding_batch: "The batch these records were published in does not match its published description.",
    finding_seal: "The seal of these records (their entry in a signed log or their transaction on a blockchain) does not match them.",
    finding_untrusted_seal: "These records are sealed by a source this service does not recognise.",
    finding_store: "The stored records do not match the batch they were published in.",
    finding_no_source: "This service cannot check the seal of these records (their entry in a signed log or their transaction on a blockchain) at the moment.",
    finding_source_unreachable: "The blockchain that holds the seal of these records could not be reached just now.",
    not_a_code: "✖ This is not a product code",
    not_a_code_detail: "This link does not hold a valid product code (a code has 6 to 48 letters, digits, '.', '_' or '-'), so its text is not shown here. Do not trust any phone number, address or instructions that came with the link. Type the code printed on the label.",
    page_not_found: "✖ There is no page at this address",
    page_not_found_detail: "Scan the label's QR code again, or type the code printed on the label below.",
    method_not_allowed: "✖ This page cannot be opened this way",
    pin_timeout: "✖ The PIN did not arrive",
    pin_timeout_detail: "The connection was too slow for the PIN to arrive, so it was not checked and does not count as wrong. Open the code's page below and enter the PIN again.",
    unavailable: "Service unavailable",
    unavailable_detail: "This code cannot be looked up right now. Please try again later.",
    too_large: "This code's history cannot be shown",
    too_large_detail: "The lot of this code has more records than this service lists on one page. It shows all of them or none, so this code cannot be checked here. Contact the brand.",
    code: "Code",
    enter_code: "Type the code from the label",
    enter_code_help: "If the QR code cannot be scanned, type the code printed on the label (spaces can be left out).",
    enter_code_submit: "Look up",
    enter_code_empty: "Please type a code.",
    enter_code_malformed: "That does not look like a code: a code has 6 to 48 letters, digits, '.', '_' or '-'. Please check it and type it again.",
    retype_code: "Type the code again",
    scans: "Scans of this code: {count}; first scan {first}",
    many_scans: "⚠ This code has been scanned many times",
    many_scans_detail: "This code has been scanned {count} times since {first}. A label is usually scanned only a few times: if you just bought this product, scratch off the coating and enter its PIN to make sure the label is not a copy.",
    scan_not_counted: "This scan could not be counted just now. The check above is not affected.",
    copy_warning: "⚠ Warning: this label may be a copy",
    copy_warning_detail: "The scratch-off PIN of this code was already confirmed on {confirmed}. This code has been scanned {count} times, first on {first}. If you did not confirm it yourself, the label may have been copied: beware of fakes and contact the brand to check.",
    copy_warning_detail_once: "The scratch-off PIN of this code was already confirmed on {confirmed}. This code has been scanned once, on {first}. If you did not confirm it yourself, the label may have been copied: beware of fakes and contact the brand to check.",
    copy_warning_detail_unscanned: "The scratch-off PIN of this code was already confirmed on {confirmed}. If you did not confirm it yourself, the label may have been copied: beware of fakes and contact the brand to check.",
    copy_warning_this_browser: "This browser confirmed the PIN at {confirmed}.",
    state_unreadable: "⚠ This code's scan history cannot be read right now",
    state_unreadable_detail: "The scan count and PIN status of this code cannot be read right now, so a warning that this label may be a copy could be missing from this page. Please scan again later.",
    pin_heading: "Check the scratch-off PIN",
    pin_help: "Scratch the label's coating and enter the PIN. Each PIN can be confirmed once.",
    pin_label: "PIN",
    pin_submit: "Check",
    pin_confirmed: "✔ PIN correct",
    pin_confirmed_detail: "This is the first confirmation of this label. Later lookups of this code will say that its PIN was already confirmed; if that was you, there is nothing to worry about.",
    pin_confirmed_here: "✔ PIN correct: you confirmed it from this browser at {confirmed}.",
    pin_already_confirmed: "⚠ This PIN was already confirmed on {confirmed}. If you did not confirm it yourself, the label may be a copy.",
    pin_wrong: "✖ Wrong PIN. {left} attempts left.",
    pin_wrong_one: "✖ Wrong PIN. 1 attempt left.",
    pin_rate_limited: "✖ Too many wrong PINs. Try again after {retry}.",
    pin_code_locked: "✖ Too many wrong PINs have been sent for this code today, from several places, so its PIN check is closed for everyone until {retry}. If you did not send them, someone may be trying to stop this label from being checked: try again then, or contact the brand.",
    pin_malformed: "Enter the PIN printed under the label's coating: 4 to 32 letters or digits (spaces and dashes are ignored and do not count).",
    pin_malformed_no_form: "✖ No PIN was checked: what was sent is not a PIN (4 to 32 letters or digits).",
    pin_none: "No scratch-off PIN is registered for this code.",
    pin_unavailable: "PIN checks are not available on this server.",
    pin_try_later: "The PIN cannot be checked just now. Please try again later; this attempt does not count as wrong.",
    pin_foreign: "✖ This PIN was not checked: it was sent by another website, not by this page.",
    pin_enter_here: "To check it, enter the PIN below on this page.",
    product: "Product",
    product_missing: "No production record of this item is published, so its product details (name, lot, production and best-before dates) cannot be shown. The records below are verified, but check the product details with the brand.",
    product_missing_unverified: "No production record of this item is published, so its product details (name, lot, production and best-before dates) cannot be shown. The records below could not be verified either: check the product details with the brand.",
    factory_address: "Factory address",
    product_name: "Name",
    brand: "Brand",
    gtin: "GTIN",
    sku: "SKU",
    lot: "Lot",
    production_date: "Produced",
    expiry_date: "Best before",
    origin: "Origin",
    factory: "Factory",
    certifications: "Certifications",
    ingredients: "Ingredients",
    attachments: "Attachments",
    inspections: "Inspections",
    agency: "Inspection body",
    result: "Result",
    report: "Report no.",
    sample_size: "Sample size",
    customs: "Customs",
    declaration: "Declaration no.",
    port: "Port of entry",
    hs_code: "HS code",
    trade_country: "Trade country",
    status: "Status",
    declared_at: "Declared",
    cleared_at: "Cleared",
    decided_at: "Decision",
    status_at: "Status as of",
    journey: "Journey",
    provided_by: "Provided by",
    none: "None yet",
    unknown_value: "—",
};

impl Texts {
    /// What the page says of a verdict's `finding`.
    pub fn finding(&self, finding: Finding) -> &'static str {
        match finding {
            Finding::Records => self.finding_records,
            Finding::Batch => self.finding_batch,
            Finding::Seal => self.finding_seal,
            Finding::UntrustedSeal => self.finding_untrusted_seal,
            Finding::Store => self.finding_store,
            Finding::NoSource => self.finding_no_source,
            Finding::SourceUnreachable => self.finding_source_unreachable,
        }
    }

    /// The heading and the advice of the page's warning about a record of
    /// `kind`.
    pub fn alert_words(&self, kind: AlertKind) -> (&'static str, &'static str) {
        match kind {
            AlertKind::Recalled => (self.alert_heading_recalled, self.alert_advice_recalled),
            AlertKind::Destroyed => (self.alert_heading_destroyed, self.alert_advice_destroyed),
            AlertKind::CustomsRejected => (
                self.alert_heading_customs_rejected,
                self.alert_advice_customs_rejected,
            ),
            AlertKind::InspectionFailed => (
                self.alert_heading_inspection_failed,
                self.alert_advice_inspection_failed,
            ),
            AlertKind::Returned => (self.alert_heading_returned, self.alert_advice_returned),
            AlertKind::CustomsHeld => (
                self.alert_heading_customs_held,
                self.alert_advice_customs_held,
            ),
        }
    }
}

/// The label of a closed-set value (logistics event, inspection type and
/// result, customs status, record kind) in `lang`; `None` for a value not in
/// the spec's sets.
pub fn label(lang: Lang, value: &str) -> Option<&'static str> {
    let (zh, en) = match value {
        "production" => ("生产", "Produced"),
        "customs" => ("海关", "Customs"),
        "logistics" => ("物流", "Logistics"),
        "inspection" => ("检验", "Inspection"),
        "departed" => ("启运", "Departed"),
        "arrived" => ("到达", "Arrived"),
        "customs_released" => ("海关放行", "Released by customs"),
        "warehoused" => ("入库", "Warehoused"),
        "labelled" => ("贴标", "Labelled"),
        "shipped" => ("发货", "Shipped"),
        "delivered" => ("已送达", "Delivered"),
        "returned" => ("退回", "Returned"),
        "recalled" => ("召回", "Recalled"),
        "destroyed" => ("销毁", "Destroyed"),
        "loading_supervision" => ("装运前监装", "Loading supervision"),
        "factory_audit" => ("工厂审核", "Factory audit"),
        "circulation_sampling" => ("流通抽检", "Market sampling"),
        "ingredient_test" => ("配料检测", "Ingredient test"),
        "label_check" => ("标签检查", "Label check"),
        "quarantine" => ("检疫", "Quarantine"),
        "pass" => ("合格", "Pass"),
        "fail" => ("不合格", "Fail"),
        "conditional" => ("有条件合格", "Passed with conditions"),
        "declared" => ("已申报", "Declared"),
        "inspecting" => ("查验中", "Inspecting"),
        "released" => ("已放行", "Released"),
        "held" => ("扣留", "Held"),
        "rejected" => ("拒绝入境", "Rejected"),
        _ => return None,
    };
    Some(match lang {
        Lang::Zh => zh,
        Lang::En => en,
    })
}

/// What a customs record's `status` (SPEC.md 2.2) says happened, as the
/// journey names the event: `released` is "Cleared customs", not the
/// declaration; `None` for a status not in the spec's set.
pub fn customs_event(lang: Lang, status: &str) -> Option<&'static str> {
    let (zh, en) = match status {
        "declared" => ("海关申报", "Customs declaration"),
        "inspecting" => ("海关查验", "Customs inspection"),
        "released" => ("海关放行", "Cleared customs"),
        "held" => ("海关扣留", "Held by customs"),
        "rejected" => ("海关拒绝入境", "Refused entry by customs"),
        _ => return None,
    };
    Some(match lang {
        Lang::Zh => zh,
        Lang::En => en,
    })
}

/// The name of a zone of the zone form in `lang` (a city, or China
/// Standard Time); `None` for a zone the form does not offer.
pub fn zone_choice_label(lang: Lang, zone: &str) -> Option<&'static str> {
    match zone {
        "Asia/Shanghai" => Some(match lang {
            Lang::Zh => "北京时间",
            Lang::En => "China Standard Time",
        }),
        "UTC" => Some(match lang {
            Lang::Zh => "协调世界时（UTC）",
            Lang::En => "UTC",
        }),
        _ => zone_name(lang, zone),
    }
}

/// The place an IANA zone is named after, in `lang`, for the zones of the
/// zone form and other common ones; `None` for the others.
pub fn zone_name(lang: Lang, zone: &str) -> Option<&'static str> {
    let (zh, en) = match zone {
        "Asia/Shanghai" => ("上海", "Shanghai"),
        "Asia/Hong_Kong" => ("香港", "Hong Kong"),
        "Asia/Taipei" => ("台北", "Taipei"),
        "Asia/Singapore" => ("新加坡", "Singapore"),
        "Asia/Tokyo" => ("东京", "Tokyo"),
        "Australia/Sydney" => ("悉尼", "Sydney"),
        "Pacific/Auckland" => ("奥克兰", "Auckland"),
        "Europe/London" => ("伦敦", "London"),
        "Europe/Paris" => ("巴黎", "Paris"),
        "Europe/Berlin" => ("柏林", "Berlin"),
        "America/New_York" => ("纽约", "New York"),
        "America/Los_Angeles" => ("洛杉矶", "Los Angeles"),
        "Asia/Macau" => ("澳门", "Macau"),
        "Asia/Seoul" => ("首尔", "Seoul"),
        "Asia/Bangkok" => ("曼谷", "Bangkok"),
        "Asia/Kuala_Lumpur" => ("吉隆坡", "Kuala Lumpur"),
        "Asia/Jakarta" => ("雅加达", "Jakarta"),
        "Asia/Manila" => ("马尼拉", "Manila"),
        "Asia/Ho_Chi_Minh" => ("胡志明市", "Ho Chi Minh City"),
        "Asia/Kolkata" => ("印度", "India"),
        "Asia/Dubai" => ("迪拜", "Dubai"),
        "Australia/Melbourne" => ("墨尔本", "Melbourne"),
        "Australia/Perth" => ("珀斯", "Perth"),
        "Europe/Madrid" => ("马德里", "Madrid"),
        "Europe/Rome" => ("罗马", "Rome"),
        "Europe/Amsterdam" => ("阿姆斯特丹", "Amsterdam"),
        "Europe/Zurich" => ("苏黎世", "Zurich"),
        "Europe/Dublin" => ("都柏林", "Dublin"),
        "Europe/Moscow" => ("莫斯科", "Moscow"),
        "America/Chicago" => ("芝加哥", "Chicago"),
        "America/Denver" => ("丹佛", "Denver"),
        "America/Toronto" => ("多伦多", "Toronto"),
        "America/Vancouver" => ("温哥华", "Vancouver"),
        "America/Sao_Paulo" => ("圣保罗", "São Paulo"),
        "Pacific/Honolulu" => ("檀香山", "Honolulu"),
        _ => return None,
    };
    Some(match lang {
        Lang::Zh => zh,
        Lang::En => en,
    })
}

/// `c` as ASCII when it is a full-width form of ASCII (U+FF01 to U+FF5E:
/// what a Chinese keyboard types in full-width mode, `１２ＡＢ－`), else
/// `c` itself. Both the code form and the PIN form read typed text through it.
pub fn fold_full_width(c: char) -> char {
    match u32::from(c) {
        cp @ 0xFF01..=0xFF5E => char::from_u32(cp - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_highest_quality() {
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("fr;q=1, zh-CN;q=0.7, en;q=0.5"),
            Some(Lang::Zh)
        );
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(Lang::from_accept_language("en;q=0"), None);
        assert_eq!(choose_lang(None, None, None), Lang::Zh);
        assert_eq!(choose_lang(Some("zh"), Some("en"), Some("en")), Lang::Zh);
        assert_eq!(choose_lang(Some("xx"), Some("en"), Some("zh")), Lang::En);
    }

    #[test]
    fn zones_parse_names_and_offsets() {
        let shanghai = ViewerZone::default_zone();
        // 2026-11-24T00:00:00Z is 08:00 in Shanghai.
        let micros = 1_795_478_400_000_000;
        assert_eq!(
            shanghai.format_micros(micros).as_deref(),
            Some("2026-11-24 08:00")
        );
        assert_eq!(
            shanghai.offset_at(micros).map(offset_short).as_deref(),
            Some("UTC+8")
        );
        let india = ViewerZone::parse("+05:30").expect("offset");
        assert_eq!(
            india.format_micros(micros).as_deref(),
            Some("2026-11-24 05:30")
        );
        let utc = ViewerZone::parse("UTC").expect("utc");
        assert_eq!(
            utc.offset_at(micros).map(offset_short).as_deref(),
            Some("UTC+0")
        );
        let ny = ViewerZone::parse("America/New_York").expect("iana");
        assert_eq!(
            ny.format_micros(micros).as_deref(),
            Some("2026-11-23 19:00")
        );
        assert_eq!(
            shanghai.rfc3339_micros(micros).as_deref(),
            Some("2026-11-24T08:00:00+08:00")
        );
        assert_eq!(
            ny.rfc3339_micros(micros).as_deref(),
            Some("2026-11-23T19:00:00-05:00")
        );
        assert_eq!(ny.format_date_micros(micros).as_deref(), Some("2026-11-23"));
        assert!(shanghai.is_default());
        assert!(!ny.is_default());
        assert!(ViewerZone::parse("Mars/Olympus").is_none());
        assert!(ViewerZone::parse("<script>").is_none());
        assert!(ViewerZone::parse("+25:00").is_none());
    }

    /// Each zone is said as people call its time, in the page's language: China Standard
    /// Time, a place's time by the place's name (or, without one here, the IANA name's last
    /// part), an offset as the offset (one form for all its spellings; an `Etc/GMT` zone's
    /// sign is the opposite of its name's).
    #[test]
    fn zones_are_named_as_their_time() {
        let now = 1_795_478_400_000_000; // 2026-11-24, winter in the north
        let named = |tz: &str, lang: Lang| {
            ViewerZone::parse(tz)
                .unwrap_or_else(|| panic!("{tz}"))
                .time_name(lang, now)
        };
        for (tz, zh, en) in [
            ("Asia/Shanghai", "北京时间", "China Standard Time"),
            ("Europe/London", "伦敦时间", "London time"),
            ("Asia/Kolkata", "印度时间", "India time"),
            (
                "America/Argentina/Buenos_Aires",
                "Buenos Aires 时间",
                "Buenos Aires time",
            ),
            ("UTC", "协调世界时（UTC）", "UTC"),
            ("utc", "协调世界时（UTC）", "UTC"),
            ("Etc/UTC", "协调世界时（UTC）", "UTC"),
            ("Etc/GMT+5", "UTC-5", "UTC-5"),
            ("+05:30", "UTC+5:30", "UTC+5:30"),
            ("GMT-3:30", "UTC-3:30", "UTC-3:30"),
        ] {
            assert_eq!(named(tz, Lang::Zh), zh, "{tz}");
            assert_eq!(named(tz, Lang::En), en, "{tz}");
        }
        // Offsets are kept under one name, which the zone form and the cookie use.
        for (tz, name) in [
            ("utc", "UTC"),
            (" 05:30", "UTC+05:30"),
            ("GMT+0530", "UTC+05:30"),
        ] {
            assert_eq!(ViewerZone::parse(tz).map(|z| z.name).as_deref(), Some(name));
        }
        let name = ViewerZone::parse("UTC+05:30").map(|z| z.name);
        assert_eq!(name.as_deref(), Some("UTC+05:30"));
        assert!(ViewerZone::parse("Etc/GMT+5").expect("etc").is_offset());
        assert!(!ViewerZone::parse("Asia/Kolkata").expect("iana").is_offset());
        // UTC under its other IANA names is called UTC, not "Zulu time".
        for alias in ["Zulu", "UCT", "Universal", "Greenwich"] {
            let zone = ViewerZone::parse(alias).expect(alias);
            assert!(zone.is_offset(), "{alias}");
            assert_eq!(zone.time_name(Lang::En, 0), "UTC", "{alias}");
        }
    }

    #[test]
    fn pin_help_says_what_normalize_pin_accepts() {
        use crate::consumer::pin::{MAX_PIN_LEN, MIN_PIN_LEN, normalize_pin};
        let en = EN.pin_malformed;
        assert!(en.contains(&format!("{MIN_PIN_LEN} to {MAX_PIN_LEN} letters or digits")));
        let zh = ZH.pin_malformed;
        assert!(zh.contains(&format!("{MIN_PIN_LEN} 至 {MAX_PIN_LEN} 位字母或数字")));
        // Letters are accepted, and spaces and dashes ignored, as both say; they do not
        // count towards the length, which is why the field takes twice as many characters
        // (PIN_INPUT_MAX_CHARS).
        assert_eq!(normalize_pin("ab-12 cd").as_deref(), Some("AB12CD"));
        assert!(en.contains("(spaces and dashes are ignored and do not count)"));
        assert!(zh.contains("（空格和连字符不计入位数，会被忽略）"));
        assert!(!en.contains("digits only"));
        assert!(!zh.contains("数字密码"));
        for t in [&EN, &ZH] {
            let no_form = t.pin_malformed_no_form;
            assert!(
                !no_form.contains("Enter") && !no_form.contains("请输入"),
                "{no_form}"
            );
        }
    }

    /// A result reads the same in both languages: "conditional" passed, with conditions.
    #[test]
    fn an_inspection_result_means_the_same_in_both_languages() {
        assert_eq!(
            label(Lang::En, "conditional"),
            Some("Passed with conditions")
        );
        assert_eq!(label(Lang::Zh, "conditional"), Some("有条件合格"));
        assert_eq!(label(Lang::En, "pass"), Some("Pass"));
        assert_eq!(label(Lang::En, "fail"), Some("Fail"));
    }

    #[test]
    fn every_text_is_filled_with_its_own_placeholders_only() {
        for t in [&ZH, &EN] {
            assert!(!t.copy_warning_detail_unscanned.contains("{count}"));
            assert!(!t.copy_warning_detail_unscanned.contains("{first}"));
            assert!(t.copy_warning_detail_unscanned.contains("{confirmed}"));
            assert!(!t.pin_wrong_one.contains('{'));
            assert!(!t.copy_warning_detail_once.contains("{count}"));
            assert!(t.copy_warning_detail_once.contains("{first}"));
            assert!(t.copy_warning_this_browser.contains("{confirmed}"));
            assert!(t.pin_confirmed_here.contains("{confirmed}"));
            assert!(t.pin_already_confirmed.contains("{confirmed}"));
            assert!(t.times_at.contains("{zone}") && t.times_at.contains("{offset}"));
            for line in [t.times_offset, t.times_each] {
                assert!(
                    line.contains("{zone}") && !line.contains("{offset}"),
                    "{line}"
                );
            }
            for alert in [t.alert_recalled, t.alert_returned, t.alert_destroyed] {
                assert!(alert.contains("{date}"), "{alert}");
            }
            assert!(t.pin_rate_limited.contains("{retry}"));
            assert!(t.pin_code_locked.contains("{retry}"));
            assert!(t.alert_inspection_failed.contains("{type}"));
            assert!(t.alert_inspection_failed.contains("{date}"));
        }
        // Everyone but the confirming browser is told the label may be a copy only if
        // they did not confirm it themselves, as the copy warning says.
        assert!(
            EN.pin_already_confirmed
                .contains("If you did not confirm it yourself,")
        );
        assert!(ZH.pin_already_confirmed.contains("如果不是您本人验证的，"));
        // The records are never called verified on a page that is not.
        assert!(!EN.product_missing_unverified.contains("are verified"));
        assert!(!ZH.product_missing_unverified.contains("均已核验"));
        assert!(EN.pin_wrong_one.contains("1 attempt left."));
    }

    #[test]
    fn customs_events_are_named_by_their_status() {
        assert_eq!(customs_event(Lang::En, "released"), Some("Cleared customs"));
        assert_eq!(customs_event(Lang::Zh, "released"), Some("海关放行"));
        assert_eq!(
            customs_event(Lang::En, "declared"),
            Some("Customs declaration")
        );
        assert_eq!(customs_event(Lang::Zh, "held"), Some("海关扣留"));
        assert_eq!(customs_event(Lang::En, "cleared"), None);
        // Every status of the spec's set (SPEC.md 2.2) has a name and a label.
        for status in ["declared", "inspecting", "released", "held", "rejected"] {
            for lang in [Lang::Zh, Lang::En] {
                assert!(customs_event(lang, status).is_some(), "{status}");
                assert!(label(lang, status).is_some(), "{status}");
            }
        }
    }

    #[test]
    fn dates_and_templates() {
        assert_eq!(format_days(0).as_deref(), Some("1970-01-01"));
        assert_eq!(format_days(20_781).as_deref(), Some("2026-11-24"));
        assert_eq!(fill("a {x} b {y}", &[("x", "1"), ("y", "2")]), "a 1 b 2");
    }
}
