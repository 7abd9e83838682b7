//! The consumer page's HTML: hand-written markup, every untrusted value
//! through [`Esc`], no JavaScript, one small inline style sheet that reads
//! well on a phone.

use std::fmt::Write as _;

use super::countries::country_name;
use super::html::{Esc, path_segment};
use super::i18n::{Lang, ViewerZone, fill, format_days, label};
use super::journey::{Journey, attachments, int, micros, text, text_list};
use super::orgs::OrgNames;
use super::pin::MAX_PIN_LEN;
use super::state::{PinOutcome, ScanInfo};
use super::verdict::{AnchorLocation, Verification};
use crate::report::{CodeReport, RecordEntry};
use proofmark_schemas::validate::is_valid_code;

/// The PIN field's `maxlength`: the longest PIN
/// [`normalize_pin`](super::pin::normalize_pin) accepts
/// ([`MAX_PIN_LEN`] letters or digits) with a separator (space or dash, which
/// it drops) after each character.
pub const PIN_INPUT_MAX_CHARS: usize = 2 * MAX_PIN_LEN;

/// Zones offered in the zone form (the viewer's own is added when missing).
const ZONE_CHOICES: &[&str] = &[
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
];

const STYLE: &str = "body{font-family:system-ui,-apple-system,\"PingFang SC\",\"Microsoft YaHei\",sans-serif;margin:0;background:#f4f5f7;color:#1c1e21;line-height:1.45}\
header{background:#123;color:#fff;padding:.75rem 1rem;display:flex;justify-content:space-between;align-items:center;gap:1rem}\
header h1{font-size:1.15rem;margin:0}header a{color:#fff}\
main{max-width:42rem;margin:0 auto;padding:.75rem}\
section{background:#fff;border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}\
h2{font-size:1.05rem;margin:.1rem 0 .5rem}\
.ok{border-left:.4rem solid #1a7f37;background:#eafbea}.ok h2{color:#1a7f37}\
.bad{border-left:.4rem solid #c62828;background:#fdecea}.bad h2{color:#c62828}\
.warn{border-left:.4rem solid #b26a00;background:#fff8e1}.warn h2{color:#8a5300}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .75rem;margin:0}dt{color:#555}dd{margin:0;overflow-wrap:anywhere}\
ol{padding-left:1.2rem;margin:0}li{margin:.4rem 0}.by{color:#555;font-size:.9em}\
.inspection+.inspection{border-top:1px solid #ddd;margin-top:.6rem;padding-top:.6rem}\
.pass{color:#1a7f37;font-weight:600}.fail{color:#c62828;font-weight:600}.conditional{color:#b26a00;font-weight:600}\
.mono{font-family:ui-monospace,monospace;font-size:.85em;overflow-wrap:anywhere}\
input,select,button{font-size:1rem;padding:.4rem}form{margin:.4rem 0}footer{padding:0 1rem 1.5rem;color:#555;font-size:.9em}";

/// Scans of one code from which its page cautions that the label may have been copied,
/// even when no PIN was confirmed (a label is scanned a few times by its buyer).
pub const MANY_SCANS: u64 = 10;

/// Who is looking: language, zone, and the code asked for.
#[derive(Debug, Clone)]
pub struct Viewer<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The zone times are shown in.
    pub zone: &'a ViewerZone,
    /// The code: on the page of a known code the report's own (canonical)
    /// code, which the page's links and forms use; on the other pages the
    /// code as asked for (untrusted).
    pub code: &'a str,
    /// Now, for the zone's offset label.
    pub now_us: i64,
    /// Who provides the records, by `org_id`.
    pub orgs: &'a OrgNames,
}

/// What the PIN part of the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinPanel {
    /// No PIN check for this code (none registered, or no key on the server).
    Absent,
    /// The form, and the outcome of a PIN just submitted if any.
    Form(Option<PinNotice>),
}

/// The outcome of a submitted PIN, as shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinNotice {
    /// The store's answer.
    Outcome(PinOutcome),
    /// The input was not a PIN.
    Malformed,
    /// The server cannot check PINs.
    Unavailable,
    /// The PIN could not be checked now: the state cannot be written.
    TryLater,
}

/// Everything the page of a known code shows.
#[derive(Debug)]
pub struct CodePage<'a> {
    /// The report.
    pub report: &'a CodeReport,
    /// Its verification.
    pub verification: &'a Verification,
    /// The scan state.
    pub scans: ScanInfo,
    /// Whether this view was a scan that could not be recorded (the state
    /// failed): the page says so instead of giving a count.
    pub scan_not_counted: bool,
    /// Whether this view shows the copy warning: every view once the code's
    /// PIN was confirmed, except the answer that confirmed it.
    pub copy_warning: bool,
    /// The PIN part.
    pub pin: PinPanel,
}

/// `us` rounded up to the next whole minute: a time a viewer may act at is
/// shown to the minute, and must not be before it (a PIN lockout that ends
/// at 12:39:11 is shown as 12:40, not 12:39).
fn minute_up(us: i64) -> i64 {
    const MINUTE_US: i64 = 60_000_000;
    match us.rem_euclid(MINUTE_US) {
        0 => us,
        r => us.saturating_add(MINUTE_US - r),
    }
}

fn time(viewer: &Viewer<'_>, us: Option<i64>) -> String {
    us.and_then(|us| viewer.zone.format_micros(us))
        .unwrap_or_else(|| viewer.lang.texts().unknown_value.to_owned())
}

fn open_page(out: &mut String, viewer: &Viewer<'_>, query_base: &str) {
    let t = viewer.lang.texts();
    let other = viewer.lang.other();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{}{}</title><style>{STYLE}</style></head><body>\
         <header><h1>{}</h1><a id=\"lang-switch\" hreflang=\"{}\" href=\"{}?lang={}\">{}</a></header><main>",
        viewer.lang.html_lang(),
        Esc(t.title),
        // Never a text that is not a code: an address must not title the page.
        if !is_valid_code(viewer.code) {
            String::new()
        } else {
            format!(" · {}", Esc(viewer.code))
        },
        Esc(t.title),
        other.tag(),
        Esc(query_base),
        other.tag(),
        Esc(t.switch_to_other),
    );
}

fn close_page(out: &mut String, viewer: &Viewer<'_>, query_base: &str) {
    let t = viewer.lang.texts();
    // A fixed offset is its own label; a named zone's offset changes with daylight saving
    // (each time shown is converted at its own instant), so the label gives today's.
    let zone_label = if viewer.zone.name.starts_with(['+', '-']) || viewer.zone.name == "UTC" {
        viewer.zone.name.clone()
    } else {
        fill(
            t.zone_now,
            &[
                ("zone", viewer.zone.name.as_str()),
                ("offset", viewer.zone.offset_label(viewer.now_us).as_str()),
            ],
        )
    };
    let _ = write!(
        out,
        "</main><footer><p id=\"zone\">{}</p>\
         <form method=\"get\" action=\"{}\"><input type=\"hidden\" name=\"lang\" value=\"{}\">\
         <label>{} <select name=\"tz\">",
        fill(t.times_in, &[("zone", &Esc(&zone_label).to_string())]),
        Esc(query_base),
        viewer.lang.tag(),
        Esc(t.time_zone),
    );
    let current = viewer.zone.name.as_str();
    if !ZONE_CHOICES.contains(&current) {
        let _ = write!(
            out,
            "<option value=\"{0}\" selected>{0}</option>",
            Esc(current)
        );
    }
    for zone in ZONE_CHOICES {
        let selected = if *zone == current { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{zone}\"{selected}>{zone}</option>");
    }
    let _ = write!(
        out,
        "</select></label> <button type=\"submit\">{}</button></form></footer></body></html>",
        Esc(t.apply)
    );
}

/// The page path of a code, percent-encoded.
pub fn code_path(code: &str) -> String {
    format!("/s/{}", path_segment(code))
}

/// The path of the page to type a code on.
pub const ENTRY_PATH: &str = "/s";

/// Longest text the code form takes (a code is at most 48 characters; people
/// type spaces between groups of digits).
pub const CODE_INPUT_MAX_CHARS: usize = 120;

/// Why the page to type a code on is shown again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryNotice {
    /// The form was sent empty.
    Empty,
    /// What was typed cannot be a code (SPEC.md 2.3).
    Malformed,
}

/// How the code form's field is set up.
struct CodeField<'a> {
    /// What the field holds.
    typed: &'a str,
    /// Whether the field takes the focus (on the page to type a code on).
    autofocus: bool,
    /// Whether a notice says the field's value was refused: the field is
    /// marked invalid and described by `entry-notice`.
    refused: bool,
}

/// The form that looks a typed code up (`GET /s?code=...`).
fn code_form(out: &mut String, viewer: &Viewer<'_>, field: &CodeField<'_>) {
    let t = viewer.lang.texts();
    let _ = write!(
        out,
        "<form id=\"code-form\" method=\"get\" action=\"{ENTRY_PATH}\">\
         <label for=\"code-input\">{}</label><br>\
         <input id=\"code-input\" name=\"code\" value=\"{}\" maxlength=\"{CODE_INPUT_MAX_CHARS}\" \
         autocomplete=\"off\" autocapitalize=\"off\" spellcheck=\"false\" required{}{}> \
         <button type=\"submit\">{}</button></form>",
        Esc(t.code),
        Esc(field.typed),
        if field.autofocus { " autofocus" } else { "" },
        if field.refused {
            " aria-invalid=\"true\" aria-describedby=\"entry-notice\""
        } else {
            ""
        },
        Esc(t.enter_code_submit),
    );
}

/// The page to type a code on, for a label whose QR code cannot be
/// scanned: a form that sends the code to `GET /s?code=...`, which
/// redirects to the code's page. `typed` is what was sent (shown again
/// with the notice).
pub fn render_entry(viewer: &Viewer<'_>, notice: Option<EntryNotice>, typed: &str) -> String {
    let t = viewer.lang.texts();
    let mut out = String::with_capacity(4096);
    open_page(&mut out, viewer, ENTRY_PATH);
    let _ = write!(
        out,
        "<section id=\"entry\"><h2>{}</h2><p>{}</p>",
        Esc(t.enter_code),
        Esc(t.enter_code_help)
    );
    if let Some(notice) = notice {
        let text = match notice {
            EntryNotice::Empty => t.enter_code_empty,
            EntryNotice::Malformed => t.enter_code_malformed,
        };
        let _ = write!(
            out,
            "<p id=\"entry-notice\" class=\"fail\" role=\"alert\">{}</p>",
            Esc(text)
        );
    }
    code_form(
        &mut out,
        viewer,
        &CodeField {
            typed,
            autofocus: true,
            refused: notice.is_some(),
        },
    );
    out.push_str("</section>");
    close_page(&mut out, viewer, ENTRY_PATH);
    out
}

/// The page of a code that no published batch holds, with the form to type
/// the code again. A `viewer.code` that is not the form of a code (SPEC.md
/// 2.3) is not shown at all, in the title, the text, the links or the form:
/// a fixed "this is not a product code" page instead, so that an address
/// cannot make the page say what it likes.
pub fn render_unknown(viewer: &Viewer<'_>) -> String {
    if !is_valid_code(viewer.code) {
        return render_not_a_code(&Viewer {
            code: "",
            ..viewer.clone()
        });
    }
    let t = viewer.lang.texts();
    let base = code_path(viewer.code);
    let mut out = String::with_capacity(4096);
    open_page(&mut out, viewer, &base);
    let _ = write!(
        out,
        "<section id=\"verdict\" class=\"bad\" role=\"alert\"><h2>{}</h2><p>{}</p>\
         <p>{}: <span class=\"mono\">{}</span></p></section><section id=\"entry\"><h2>{}</h2>",
        Esc(t.unknown_code),
        Esc(t.unknown_code_detail),
        Esc(t.code),
        Esc(viewer.code),
        Esc(t.retype_code),
    );
    let typed: String = viewer.code.chars().take(CODE_INPUT_MAX_CHARS).collect();
    code_form(
        &mut out,
        viewer,
        &CodeField {
            typed: &typed,
            autofocus: false,
            refused: false,
        },
    );
    out.push_str("</section>");
    close_page(&mut out, viewer, &base);
    out
}

/// The page of an address that holds no code: a fixed notice and the empty
/// code form; its language link leads to the page to type a code on.
fn render_not_a_code(viewer: &Viewer<'_>) -> String {
    let t = viewer.lang.texts();
    let mut out = String::with_capacity(4096);
    open_page(&mut out, viewer, ENTRY_PATH);
    let _ = write!(
        out,
        "<section id=\"verdict\" class=\"bad\" role=\"alert\"><h2>{}</h2><p>{}</p></section>\
         <section id=\"entry\"><h2>{}</h2>",
        Esc(t.not_a_code),
        Esc(t.not_a_code_detail),
        Esc(t.enter_code),
    );
    code_form(
        &mut out,
        viewer,
        &CodeField {
            typed: "",
            autofocus: false,
            refused: false,
        },
    );
    out.push_str("</section>");
    close_page(&mut out, viewer, ENTRY_PATH);
    out
}

/// The page of a code whose stored records do not match their batch: the
/// lookup itself found the tampering, so there is no report to show.
pub fn render_not_verified(viewer: &Viewer<'_>, reason: &str) -> String {
    let base = code_path(viewer.code);
    let mut out = String::with_capacity(4096);
    open_page(&mut out, viewer, &base);
    verdict_section(
        &mut out,
        viewer,
        &Verification::Failed {
            reasons: vec![reason.to_owned()],
        },
    );
    close_page(&mut out, viewer, &base);
    out
}

/// The page shown when the code cannot be looked up now.
pub fn render_unavailable(viewer: &Viewer<'_>) -> String {
    let t = viewer.lang.texts();
    warning_page(viewer, t.unavailable, t.unavailable_detail)
}

/// The page of a code bound to a lot with more records than the service
/// lists: no partial journey is shown.
pub fn render_too_large(viewer: &Viewer<'_>) -> String {
    let t = viewer.lang.texts();
    warning_page(viewer, t.too_large, t.too_large_detail)
}

fn warning_page(viewer: &Viewer<'_>, heading: &str, detail: &str) -> String {
    let base = code_path(viewer.code);
    let mut out = String::with_capacity(4096);
    open_page(&mut out, viewer, &base);
    let _ = write!(
        out,
        "<section id=\"verdict\" class=\"warn\" role=\"alert\"><h2>{}</h2><p>{}</p></section>",
        Esc(heading),
        Esc(detail)
    );
    close_page(&mut out, viewer, &base);
    out
}

/// The page of a known code.
pub fn render_code_page(viewer: &Viewer<'_>, page: &CodePage<'_>) -> String {
    let t = viewer.lang.texts();
    let base = code_path(viewer.code);
    let mut out = String::with_capacity(16 * 1024);
    open_page(&mut out, viewer, &base);
    let first = time(viewer, page.scans.first_scan_us);
    let count = page.scans.count.to_string();
    if page.copy_warning {
        let confirmed = time(viewer, page.scans.pin_confirmed_us);
        // Without a counted scan there is no count or first scan to give.
        let template = match (page.scans.count, page.scans.first_scan_us) {
            (0, _) | (_, None) => t.copy_warning_detail_unscanned,
            (1, Some(_)) => t.copy_warning_detail_once,
            _ => t.copy_warning_detail,
        };
        let _ = write!(
            out,
            "<section id=\"copy-warning\" class=\"bad\" role=\"alert\"><h2>{}</h2><p>{}</p></section>",
            Esc(t.copy_warning),
            fill(
                &Esc(template).to_string(),
                &[
                    ("confirmed", &Esc(&confirmed).to_string()),
                    ("count", &count),
                    ("first", &Esc(&first).to_string()),
                ]
            )
        );
    }
    // Many scans and no PIN confirmed: most buyers never scratch the PIN, so a copied label
    // shows mostly as scans. Said near the top, as a caution rather than an alarm.
    if !page.copy_warning && page.scans.count >= MANY_SCANS {
        let _ = write!(
            out,
            "<section id=\"many-scans\" class=\"warn\"><h2>{}</h2><p>{}</p></section>",
            Esc(t.many_scans),
            fill(
                &Esc(t.many_scans_detail).to_string(),
                &[("count", &count), ("first", &Esc(&first).to_string())]
            )
        );
    }
    // The copy warning first: it matters more than the records' proofs.
    verdict_section(&mut out, viewer, page.verification);
    pin_section(&mut out, viewer, page, &base);
    let journey = Journey::from_report(page.report);
    product_section(&mut out, viewer, journey.production);
    inspections_section(&mut out, viewer, &journey.inspections);
    customs_section(&mut out, viewer, &journey.customs);
    timeline_section(&mut out, viewer, &journey.timeline);
    if page.scan_not_counted {
        let _ = write!(
            out,
            "<section id=\"scans\" class=\"warn\"><p>{}</p></section>",
            Esc(t.scan_not_counted)
        );
    } else if page.scans.count > 0 {
        let _ = write!(
            out,
            "<section id=\"scans\"><p>{}</p></section>",
            fill(
                &Esc(t.scans).to_string(),
                &[("count", &count), ("first", &Esc(&first).to_string())]
            )
        );
    }
    close_page(&mut out, viewer, &base);
    out
}

fn verdict_section(out: &mut String, viewer: &Viewer<'_>, verification: &Verification) {
    let t = viewer.lang.texts();
    match verification {
        Verification::Verified { anchors } => {
            // "On chain" only when a blockchain holds an anchor: the embedded ledger is the
            // publisher's own signed log, and says so.
            let on_chain = anchors
                .iter()
                .any(|a| matches!(a.location, AnchorLocation::Chain { .. }));
            let (heading, detail) = if on_chain {
                (t.verified, t.verified_detail)
            } else {
                (t.verified_ledger, t.verified_ledger_detail)
            };
            let _ = write!(
                out,
                "<section id=\"verdict\" class=\"ok\"><h2 id=\"badge\">{}</h2><p>{}</p><ul>",
                Esc(heading),
                Esc(detail)
            );
            for a in anchors {
                let line = match &a.location {
                    AnchorLocation::Ledger {
                        log_index,
                        log_size,
                    } => fill(
                        &Esc(t.anchor_ledger).to_string(),
                        &[
                            ("chain", &Esc(&a.chain).to_string()),
                            ("index", &log_index.to_string()),
                            ("size", &log_size.to_string()),
                        ],
                    ),
                    AnchorLocation::Chain { tx, block } => fill(
                        &Esc(t.anchor_chain).to_string(),
                        &[
                            ("chain", &Esc(&a.chain).to_string()),
                            ("tx", &format!("<span class=\"mono\">{}</span>", Esc(tx))),
                            ("block", &block.to_string()),
                        ],
                    ),
                };
                let batch = fill(
                    &Esc(t.anchored_batch).to_string(),
                    &[
                        ("batch", &Esc(&a.batch_id).to_string()),
                        ("date", &Esc(&a.batch_date).to_string()),
                    ],
                );
                let _ = write!(
                    out,
                    "<li class=\"anchor\">{line}<br><small>{batch}</small></li>"
                );
            }
            out.push_str("</ul></section>");
        }
        Verification::Unconfirmed { reasons } => warning_section(
            out,
            ("warn", "status"),
            (t.unconfirmed, t.unconfirmed_detail, t.technical_details),
            reasons,
        ),
        Verification::Failed { reasons } => warning_section(
            out,
            ("bad", "alert"),
            (t.not_verified, t.not_verified_detail, t.technical_details),
            reasons,
        ),
    }
}

/// The verdict section of a page that cannot show the badge: its class and ARIA role, its
/// heading and text, and the verifier's reasons (at most 20, in English) folded away under
/// `technical` (which says so in the page's language).
fn warning_section(
    out: &mut String,
    (class, role): (&str, &str),
    (heading, detail, technical): (&str, &str, &str),
    reasons: &[String],
) {
    let _ = write!(
        out,
        "<section id=\"verdict\" class=\"{class}\" role=\"{role}\"><h2>{}</h2><p>{}</p>\
         <details><summary>{}</summary><ul>",
        Esc(heading),
        Esc(detail),
        Esc(technical),
    );
    for r in reasons.iter().take(20) {
        let _ = write!(out, "<li class=\"mono\">{}</li>", Esc(r));
    }
    out.push_str("</ul></details></section>");
}

fn pin_section(out: &mut String, viewer: &Viewer<'_>, page: &CodePage<'_>, base: &str) {
    let t = viewer.lang.texts();
    let PinPanel::Form(notice) = page.pin else {
        return;
    };
    let (class, message) = match notice {
        None => ("", None),
        Some(PinNotice::Malformed) => ("warn", Some(Esc(t.pin_malformed).to_string())),
        Some(PinNotice::Unavailable) => ("warn", Some(Esc(t.pin_unavailable).to_string())),
        Some(PinNotice::TryLater) => ("warn", Some(Esc(t.pin_try_later).to_string())),
        Some(PinNotice::Outcome(outcome)) => match outcome {
            PinOutcome::Confirmed { .. } => (
                "ok",
                Some(format!(
                    "<strong>{}</strong> {}",
                    Esc(t.pin_confirmed),
                    Esc(t.pin_confirmed_detail)
                )),
            ),
            PinOutcome::AlreadyConfirmed { confirmed_us } => (
                "bad",
                Some(fill(
                    &Esc(t.pin_already_confirmed).to_string(),
                    &[(
                        "confirmed",
                        &Esc(&time(viewer, Some(confirmed_us))).to_string(),
                    )],
                )),
            ),
            PinOutcome::Wrong {
                attempts_left,
                retry_at_us,
            } => match retry_at_us {
                Some(retry) if attempts_left == 0 => (
                    "bad",
                    Some(fill(
                        &Esc(t.pin_rate_limited).to_string(),
                        &[(
                            "retry",
                            &Esc(&time(viewer, Some(minute_up(retry)))).to_string(),
                        )],
                    )),
                ),
                _ if attempts_left == 1 => ("bad", Some(Esc(t.pin_wrong_one).to_string())),
                _ => (
                    "bad",
                    Some(fill(
                        &Esc(t.pin_wrong).to_string(),
                        &[("left", &attempts_left.to_string())],
                    )),
                ),
            },
            PinOutcome::RateLimited { retry_at_us } => (
                "bad",
                Some(fill(
                    &Esc(t.pin_rate_limited).to_string(),
                    &[(
                        "retry",
                        &Esc(&time(viewer, Some(minute_up(retry_at_us)))).to_string(),
                    )],
                )),
            ),
            PinOutcome::NoPin => ("warn", Some(Esc(t.pin_none).to_string())),
        },
    };
    let confirmed_now = matches!(
        notice,
        Some(PinNotice::Outcome(
            PinOutcome::Confirmed { .. } | PinOutcome::AlreadyConfirmed { .. }
        ))
    );
    let show_form = page.scans.pin_confirmed_us.is_none() && !confirmed_now;
    if message.is_none() && !show_form {
        return;
    }
    let _ = write!(out, "<section id=\"pin\" class=\"{class}\">");
    if let Some(message) = message {
        let _ = write!(out, "<p id=\"pin-result\" role=\"status\">{message}</p>");
    }
    if show_form {
        let _ = write!(
            out,
            "<h2>{}</h2><p>{}</p><form method=\"post\" action=\"{}/pin?lang={}\">\
             <label>{} <input name=\"pin\" autocomplete=\"off\" autocapitalize=\"characters\" \
             spellcheck=\"false\" maxlength=\"{PIN_INPUT_MAX_CHARS}\" required></label> <button type=\"submit\">{}</button></form>",
            Esc(t.pin_heading),
            Esc(t.pin_help),
            Esc(base),
            viewer.lang.tag(),
            Esc(t.pin_label),
            Esc(t.pin_submit),
        );
    }
    out.push_str("</section>");
}

/// Writes `<dt>label</dt><dd>value</dd>` when the value is present.
fn row(out: &mut String, label: &str, value: Option<&str>) {
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", Esc(label), Esc(value));
    }
}

/// A country code with its name in the viewer's language: "France (FR)",
/// "法国（FR）"; the code alone when it has no name.
fn country(lang: Lang, code: Option<&str>) -> Option<String> {
    let code = code.filter(|c| !c.is_empty())?;
    Some(match (country_name(code, lang), lang) {
        (Some(name), Lang::Zh) => format!("{name}（{code}）"),
        (Some(name), Lang::En) => format!("{name} ({code})"),
        (None, _) => code.to_owned(),
    })
}

/// A closed-set value in the viewer's language (the raw value if unknown).
fn labelled(lang: Lang, value: &str) -> String {
    label(lang, value).unwrap_or(value).to_owned()
}

/// Who provided a record: its `org_id`, after the organisation's name when
/// the directory has one ("SF Express (carrier-00)").
fn provider(viewer: &Viewer<'_>, entry: &RecordEntry) -> String {
    let id = entry.source.provided_by.as_str();
    match (viewer.orgs.name(id), viewer.lang) {
        (Some(name), Lang::Zh) => format!("{name}（{id}）"),
        (Some(name), Lang::En) => format!("{name} ({id})"),
        (None, _) => id.to_owned(),
    }
}

fn provided_by(out: &mut String, viewer: &Viewer<'_>, entry: &RecordEntry) {
    let _ = write!(
        out,
        "<dt>{}</dt><dd class=\"provided-by\">{}</dd>",
        Esc(viewer.lang.texts().provided_by),
        Esc(&provider(viewer, entry))
    );
}

fn product_section(out: &mut String, viewer: &Viewer<'_>, production: Option<&RecordEntry>) {
    let t = viewer.lang.texts();
    let Some(entry) = production else {
        // Said, not left out: a verified page without the product's name, lot and dates
        // must not read as complete.
        let _ = write!(
            out,
            "<section id=\"product\" class=\"warn\"><h2>{}</h2><p>{}</p></section>",
            Esc(t.product),
            Esc(t.product_missing)
        );
        return;
    };
    let r = &entry.record;
    let _ = write!(
        out,
        "<section id=\"product\"><h2>{}</h2><dl>",
        Esc(t.product)
    );
    row(out, t.product_name, text(r, "product_name"));
    row(out, t.brand, text(r, "brand"));
    row(out, t.gtin, text(r, "gtin"));
    row(out, t.sku, text(r, "sku"));
    row(out, t.lot, text(r, "lot_number").or(text(r, "lot_id")));
    let date = |c: &str| int(r, c).and_then(format_days);
    row(out, t.production_date, date("production_date").as_deref());
    row(out, t.expiry_date, date("expiry_date").as_deref());
    row(
        out,
        t.origin,
        country(viewer.lang, text(r, "origin_country")).as_deref(),
    );
    let factory = [
        text(r, "factory_name"),
        text(r, "factory_id").map(|id| id.trim()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    row(out, t.factory, Some(&factory));
    if let Some(address) = text(r, "factory_address") {
        let _ = write!(
            out,
            "<dt>{}</dt><dd>{}</dd>",
            Esc(t.factory_address),
            Esc(address)
        );
    }
    let certs = text_list(r, "certifications");
    if !certs.is_empty() {
        let _ = write!(out, "<dt>{}</dt><dd><ul>", Esc(t.certifications));
        for c in certs {
            let _ = write!(out, "<li>{}</li>", Esc(c));
        }
        out.push_str("</ul></dd>");
    }
    row(out, t.ingredients, text(r, "ingredients"));
    let files = attachments(r, "attachments");
    if !files.is_empty() {
        let _ = write!(out, "<dt>{}</dt><dd><ul>", Esc(t.attachments));
        for (uri, digest) in files {
            let _ = write!(
                out,
                "<li>{}<br><span class=\"mono\">{}</span></li>",
                Esc(uri),
                Esc(digest)
            );
        }
        out.push_str("</ul></dd>");
    }
    provided_by(out, viewer, entry);
    out.push_str("</dl></section>");
}

fn inspections_section(out: &mut String, viewer: &Viewer<'_>, records: &[&RecordEntry]) {
    let t = viewer.lang.texts();
    let _ = write!(
        out,
        "<section id=\"inspections\"><h2>{}</h2>",
        Esc(t.inspections)
    );
    if records.is_empty() {
        let _ = write!(out, "<p>{}</p>", Esc(t.none));
    }
    for entry in records {
        let r = &entry.record;
        let kind = labelled(viewer.lang, text(r, "inspection_type").unwrap_or_default());
        let result = text(r, "result").unwrap_or_default();
        let class = match result {
            "pass" | "fail" | "conditional" => result,
            _ => "",
        };
        let _ = write!(
            out,
            "<dl class=\"inspection\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd class=\"{class}\">{}</dd>",
            Esc(&time(viewer, micros(r, "event_time"))),
            Esc(&kind),
            Esc(t.result),
            Esc(&labelled(viewer.lang, result)),
        );
        row(out, t.agency, text(r, "agency_name"));
        row(out, t.report, text(r, "report_id"));
        let sample = int(r, "sample_size").map(|n| n.to_string());
        row(out, t.sample_size, sample.as_deref());
        provided_by(out, viewer, entry);
        out.push_str("</dl>");
    }
    out.push_str("</section>");
}

fn customs_section(out: &mut String, viewer: &Viewer<'_>, records: &[&RecordEntry]) {
    let t = viewer.lang.texts();
    let _ = write!(out, "<section id=\"customs\"><h2>{}</h2>", Esc(t.customs));
    if records.is_empty() {
        let _ = write!(out, "<p>{}</p>", Esc(t.none));
    }
    for entry in records {
        let r = &entry.record;
        out.push_str("<dl class=\"declaration\">");
        row(out, t.declaration, text(r, "declaration_id"));
        row(
            out,
            t.status,
            text(r, "status")
                .map(|s| labelled(viewer.lang, s))
                .as_deref(),
        );
        row(out, t.port, text(r, "port_of_entry"));
        row(out, t.hs_code, text(r, "hs_code"));
        row(
            out,
            t.origin,
            country(viewer.lang, text(r, "origin_country")).as_deref(),
        );
        row(
            out,
            t.trade_country,
            country(viewer.lang, text(r, "trade_country")).as_deref(),
        );
        let declared = micros(r, "declared_at").map(|us| time(viewer, Some(us)));
        row(out, t.declared_at, declared.as_deref());
        let cleared = micros(r, "cleared_at").map(|us| time(viewer, Some(us)));
        row(out, t.cleared_at, cleared.as_deref());
        provided_by(out, viewer, entry);
        out.push_str("</dl>");
    }
    out.push_str("</section>");
}

fn timeline_section(out: &mut String, viewer: &Viewer<'_>, records: &[&RecordEntry]) {
    let t = viewer.lang.texts();
    let _ = write!(
        out,
        "<section id=\"journey\"><h2>{}</h2><ol>",
        Esc(t.journey)
    );
    for entry in records {
        let r = &entry.record;
        let (what, detail) = match entry.kind.as_str() {
            "logistics" => (
                labelled(viewer.lang, text(r, "event_type").unwrap_or_default()),
                [
                    text(r, "location"),
                    text(r, "carrier").map(|c| c.trim()),
                    text(r, "waybill").map(|w| w.trim()),
                ]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
            ),
            "inspection" => (
                labelled(viewer.lang, text(r, "inspection_type").unwrap_or_default()),
                [
                    text(r, "agency_name"),
                    text(r, "result").and_then(|v| label(viewer.lang, v).or(Some(v))),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            ),
            "customs" => (
                labelled(viewer.lang, "customs"),
                [
                    text(r, "port_of_entry"),
                    text(r, "status").and_then(|v| label(viewer.lang, v).or(Some(v))),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            ),
            "production" => (
                labelled(viewer.lang, "production"),
                [
                    text(r, "factory_name").map(str::to_owned),
                    country(viewer.lang, text(r, "origin_country")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            ),
            other => (other.to_owned(), String::new()),
        };
        let _ = write!(
            out,
            "<li class=\"event {}\"><time>{}</time> <strong>{}</strong>",
            Esc(&entry.kind),
            Esc(&time(viewer, micros(r, "event_time"))),
            Esc(&what)
        );
        if !detail.is_empty() {
            let _ = write!(out, "<br>{}", Esc(&detail));
        }
        let _ = write!(
            out,
            "<br><span class=\"by\">{}: <span class=\"provided-by\">{}</span></span></li>",
            Esc(t.provided_by),
            Esc(&provider(viewer, entry))
        );
    }
    out.push_str("</ol></section>");
}
