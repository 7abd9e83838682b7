//! The consumer page's HTML: hand-written markup, every untrusted value
//! through [`Esc`], no JavaScript, one small inline style sheet that reads
//! well on a phone. The page shell, the pages without records, the verdict
//! and the PIN form are here; the records' own sections are in
//! [`super::sections`].

use std::cell::Cell;
use std::fmt::Write as _;

use super::html::{Esc, path_segment};
use super::i18n::{Lang, ViewerZone, fill, offset_short, zone_choice_label};
use super::journey::Journey;
use super::orgs::OrgNames;
use super::pin::MAX_PIN_LEN;
use super::sections::{
    alerts_section, customs_section, inspections_section, product_section, timeline_section,
};
use super::state::{LockScope, PinLock, PinOutcome, ScanInfo};
use super::verdict::{AnchorLocation, Finding, Verification};
use crate::report::CodeReport;
use proofmark_schemas::validate::is_valid_code;

/// The PIN field's `maxlength`: the longest PIN
/// [`normalize_pin`](super::pin::normalize_pin) accepts
/// ([`MAX_PIN_LEN`] letters or digits) with a separator (space or dash, which
/// it drops) after each character.
pub const PIN_INPUT_MAX_CHARS: usize = 2 * MAX_PIN_LEN;

/// Zones offered in the zone form (the viewer's own is added when missing),
/// each shown by its name in the page's language ([`zone_choice_label`]).
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

/// The style sheet. Colours of text on their backgrounds are at least 4.5:1
/// (WCAG AA); controls are at least 44 px high (a thumb's target).
const STYLE: &str = "body{font-family:system-ui,-apple-system,\"PingFang SC\",\"Microsoft YaHei\",sans-serif;margin:0;background:#f4f5f7;color:#1c1e21;line-height:1.45}\
header{background:#123;color:#fff;padding:.75rem 1rem;display:flex;justify-content:space-between;align-items:center;gap:1rem}\
header h1{font-size:1.15rem;margin:0}header a{color:#fff}\
main{max-width:42rem;margin:0 auto;padding:.75rem;box-sizing:border-box}\
section{background:#fff;border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}\
h2{font-size:1.05rem;margin:.1rem 0 .5rem}#verdict h2,#alerts h2{font-size:1.4rem}\
.ok{border-left:.4rem solid #1a7f37;background:#eafbea}.ok h2{color:#1a7f37}\
.bad{border-left:.4rem solid #c62828;background:#fdecea}.bad h2{color:#c62828}\
.warn{border-left:.4rem solid #b26a00;background:#fff8e1}.warn h2{color:#8a5300}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .75rem;margin:0}dt{color:#555}dd{margin:0;overflow-wrap:anywhere}.wide{grid-column:1/-1}dd ul{margin:0;padding-left:1.1rem}dd li{margin:.1rem 0}\
ol{padding-left:1.2rem;margin:0}li{margin:.4rem 0}.by{color:#555;font-size:.9em}.org{display:inline-block}\
dl.inspection+dl.inspection,dl.declaration+dl.declaration{border-top:1px solid #ddd;margin-top:.6rem;padding-top:.6rem}\
.pass{color:#1a7f37;font-weight:600}.fail{color:#c62828;font-weight:600}.conditional{color:#8a5300;font-weight:600}\
.mono{font-family:ui-monospace,monospace;font-size:.85em;overflow-wrap:anywhere}time,small{white-space:nowrap}\
.zone{color:#555;font-size:.9em;margin:0 0 .5rem}summary{cursor:pointer}#attachments{margin-top:.5rem}\
input,select,button{font-size:1rem;padding:.4rem;min-height:44px;box-sizing:border-box}button{padding:.4rem 1rem}\
form{margin:.4rem 0}#code-input{width:100%;box-sizing:border-box;font-family:ui-monospace,monospace}\
#code-form button{display:block;margin-top:.5rem}\
footer{max-width:42rem;margin:0 auto;box-sizing:border-box;padding:0 1.75rem 1.5rem;color:#555;font-size:.9em}";

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
    /// The UTC offsets of the times shown (start with the default).
    pub offsets: TimeOffsets,
}

/// The UTC offsets of the times a page shows, for the line that says their
/// zone: [`render_code_page`] finds them out, then says the one offset they
/// all have in that line, or (daylight saving) marks each time with its own.
#[derive(Debug, Clone, Default)]
pub struct TimeOffsets {
    /// The offset of the first time shown (seconds), and whether another
    /// time's differed.
    seen: Cell<Option<(i32, bool)>>,
    /// Whether each time is shown with its offset.
    marked: Cell<bool>,
}

impl TimeOffsets {
    /// Notes the offset of a time shown.
    fn saw(&self, seconds: i32) {
        let seen = match self.seen.get() {
            None => (seconds, false),
            Some((first, varied)) => (first, varied || first != seconds),
        };
        self.seen.set(Some(seen));
    }

    /// What a page that showed the times noted here does: each marked when
    /// their offsets differ, else the one they have said once.
    fn settled(&self) -> TimeOffsets {
        let marked = self.seen.get().is_some_and(|(_, varied)| varied);
        TimeOffsets {
            seen: Cell::new(self.seen.get()),
            marked: Cell::new(marked),
        }
    }
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
    /// The right PIN of a code whose PIN was already confirmed, from the
    /// browser that confirmed it (it holds the PIN proof of that
    /// confirmation, or the view token and client of its confirmer tag,
    /// [`super::view`]): a reload of the answer that confirmed it, or the
    /// second post of a double tap, not a sign of a copy.
    ConfirmedHere {
        /// The confirmation time.
        confirmed_us: i64,
    },
    /// The input was not a PIN.
    Malformed,
    /// The server cannot check PINs.
    Unavailable,
    /// The PIN could not be checked now: the state cannot be written.
    TryLater,
    /// The PIN was not checked: the post came from another site
    /// ([`super::origin`]).
    Foreign,
}

/// Everything the page of a known code shows.
#[derive(Debug)]
pub struct CodePage<'a> {
    /// The report.
    pub report: &'a CodeReport,
    /// Its verification.
    pub verification: &'a Verification,
    /// The scan state, `None` when it could not be read (the page then says
    /// that a copy warning may be missing).
    pub scans: Option<ScanInfo>,
    /// Whether this view was a scan that could not be recorded (the state
    /// failed): the page says so instead of giving a count.
    pub scan_not_counted: bool,
    /// When the code's PIN was confirmed (microseconds since the epoch), if
    /// this view shows the copy warning: every view once the PIN was
    /// confirmed, except the answer that confirmed it (and its reload by the
    /// browser that confirmed it). Given apart from `scans`: a PIN answer
    /// knows the time from the check even when the scans cannot be read.
    pub copy_warning: Option<i64>,
    /// Whether the viewer's browser confirmed the code's PIN (it holds the
    /// PIN proof of the confirmation the state keeps): the copy warning
    /// says so.
    pub pin_confirmed_here: bool,
    /// The lock on this viewer's PIN checks, if wrong PINs lock them now:
    /// the form is shown disabled, with the time it opens again.
    pub pin_lock: Option<PinLock>,
    /// The PIN part.
    pub pin: PinPanel,
    /// The token of this page's PIN form (a hidden field, sent back with the PIN), by which
    /// the second post of a double tap is told to be the confirming page's; empty for none.
    pub form_token: &'a str,
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

/// A time as HTML: `<time datetime="RFC 3339">YYYY-MM-DD HH:MM</time>` in
/// the viewer's zone (followed by its UTC offset, `UTC+1`, when the page
/// marks each time's), or the "unknown" dash.
pub(super) fn time_tag(viewer: &Viewer<'_>, us: Option<i64>) -> String {
    time_element(viewer, us, ViewerZone::format_micros, true)
}

/// A time's date as HTML: `<time datetime="RFC 3339">YYYY-MM-DD</time>` in
/// the viewer's zone, or the "unknown" dash.
pub(super) fn date_tag(viewer: &Viewer<'_>, us: Option<i64>) -> String {
    time_element(viewer, us, ViewerZone::format_date_micros, false)
}

/// `<time>` with the time's RFC 3339 form and its text as `shown` writes it;
/// a time of day (`with_offset`) notes its offset in the viewer's
/// [`TimeOffsets`], and shows it when they say so.
fn time_element(
    viewer: &Viewer<'_>,
    us: Option<i64>,
    shown: fn(&ViewerZone, i64) -> Option<String>,
    with_offset: bool,
) -> String {
    let zone = viewer.zone;
    let parts = us.and_then(|us| {
        Some((
            zone.rfc3339_micros(us)?,
            shown(zone, us)?,
            zone.offset_at(us)?,
        ))
    });
    match parts {
        Some((datetime, mut shown, offset)) => {
            if with_offset {
                viewer.offsets.saw(offset.seconds());
                if viewer.offsets.marked.get() {
                    shown.push(' ');
                    shown.push_str(&offset_short(offset));
                }
            }
            format!(
                "<time datetime=\"{}\">{}</time>",
                Esc(&datetime),
                Esc(&shown)
            )
        }
        None => Esc(viewer.lang.texts().unknown_value).to_string(),
    }
}

/// The line that says which zone the page's times are in, as HTML: the
/// zone's time by name ([`ViewerZone::time_name`]) with the one UTC offset of
/// the times shown (or, with none shown, now's), or, when their offsets
/// differ (daylight saving), that each time is marked with its own; a zone
/// that is an offset by the offset alone.
fn zone_line(viewer: &Viewer<'_>) -> String {
    let t = viewer.lang.texts();
    let zone = Esc(&viewer.zone.time_name(viewer.lang, viewer.now_us)).to_string();
    if viewer.offsets.marked.get() {
        return fill(&Esc(t.times_each).to_string(), &[("zone", &zone)]);
    }
    if viewer.zone.is_offset() {
        return fill(&Esc(t.times_offset).to_string(), &[("zone", &zone)]);
    }
    let seconds = match viewer.offsets.seen.get() {
        Some((seconds, _)) => Some(seconds),
        None => viewer.zone.offset_at(viewer.now_us).map(|o| o.seconds()),
    };
    let offset = seconds
        .and_then(|s| jiff::tz::Offset::from_seconds(s).ok())
        .map_or_else(String::new, offset_short);
    fill(
        &Esc(t.times_at).to_string(),
        &[("zone", &zone), ("offset", &Esc(&offset).to_string())],
    )
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
         <header><h1>{}</h1><a id=\"lang-switch\" lang=\"{}\" hreflang=\"{}\" href=\"{}?lang={}\">{}</a></header><main>",
        viewer.lang.html_lang(),
        Esc(t.title),
        // Never a text that is not a code: an address must not title the page.
        if !is_valid_code(viewer.code) {
            String::new()
        } else {
            format!(" · {}", Esc(viewer.code))
        },
        Esc(t.title),
        other.html_lang(),
        other.tag(),
        Esc(query_base),
        other.tag(),
        Esc(t.switch_to_other),
    );
}

/// Closes a page that shows no times: no zone form.
fn close_page(out: &mut String) {
    out.push_str("</main></body></html>");
}

/// Closes a page that shows times, with the form to choose their zone.
fn close_page_with_zone_form(out: &mut String, viewer: &Viewer<'_>, query_base: &str) {
    let t = viewer.lang.texts();
    let _ = write!(
        out,
        "</main><footer><form id=\"zone-form\" method=\"get\" action=\"{}\">\
         <input type=\"hidden\" name=\"lang\" value=\"{}\">\
         <label>{} <select name=\"tz\">",
        Esc(query_base),
        viewer.lang.tag(),
        Esc(t.time_zone),
    );
    let current = viewer.zone.name.as_str();
    if !ZONE_CHOICES.contains(&current) {
        let _ = write!(
            out,
            "<option value=\"{}\" selected>{}</option>",
            Esc(current),
            Esc(&viewer.zone.time_name(viewer.lang, viewer.now_us)),
        );
    }
    for zone in ZONE_CHOICES {
        let selected = if *zone == current { " selected" } else { "" };
        let name = zone_choice_label(viewer.lang, zone).unwrap_or(zone);
        let _ = write!(
            out,
            "<option value=\"{zone}\"{selected}>{}</option>",
            Esc(name)
        );
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

/// The form that looks a typed code up (`GET /s?code=...`): the field as
/// wide as its section (a 20-digit code fits a phone), the button under it.
fn code_form(out: &mut String, viewer: &Viewer<'_>, field: &CodeField<'_>) {
    let t = viewer.lang.texts();
    let _ = write!(
        out,
        "<form id=\"code-form\" method=\"get\" action=\"{ENTRY_PATH}\">\
         <label for=\"code-input\">{}</label><br>\
         <input id=\"code-input\" name=\"code\" value=\"{}\" maxlength=\"{CODE_INPUT_MAX_CHARS}\" \
         autocomplete=\"off\" autocapitalize=\"off\" spellcheck=\"false\" required{}{}>\
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
    close_page(&mut out);
    out
}

/// "Code: <code>", as every page of a code shows it: a buyer compares it
/// with the code printed on the label.
fn code_line(out: &mut String, viewer: &Viewer<'_>, code: &str) {
    let t = viewer.lang.texts();
    let _ = write!(
        out,
        "<p id=\"code\">{}{}<span class=\"mono\">{}</span></p>",
        Esc(t.code),
        t.colon,
        Esc(code)
    );
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
        "<section id=\"verdict\" class=\"bad\" role=\"alert\"><h2 id=\"badge\">{}</h2><p>{}</p>",
        Esc(t.unknown_code),
        Esc(t.unknown_code_detail),
    );
    code_line(&mut out, viewer, viewer.code);
    let _ = write!(
        out,
        "</section><section id=\"entry\"><h2>{}</h2>",
        Esc(t.retype_code)
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
    close_page(&mut out);
    out
}

/// The page of an address that holds no code: a fixed notice and the empty
/// code form; its language link leads to the page to type a code on.
fn render_not_a_code(viewer: &Viewer<'_>) -> String {
    let t = viewer.lang.texts();
    notice_page(viewer, (t.not_a_code, t.not_a_code_detail), "")
}

/// Why a consumer address is answered with an error page rather than what
/// it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPage {
    /// No page is at the address (`404`).
    NotFound,
    /// The page is not opened with this method (`405`).
    MethodNotAllowed,
    /// A PIN form's body did not arrive in time (`408`): the PIN was not
    /// checked.
    PinTimeout,
}

/// The page of a consumer address that cannot be answered as asked: what
/// went wrong, and the code form to go on with (holding `viewer.code` when it
/// is the form of a code, and the language link leading to the form), in
/// the viewer's language.
pub fn render_error(viewer: &Viewer<'_>, page: ErrorPage) -> String {
    let t = viewer.lang.texts();
    let words = match page {
        ErrorPage::NotFound => (t.page_not_found, t.page_not_found_detail),
        ErrorPage::MethodNotAllowed => (t.method_not_allowed, t.page_not_found_detail),
        ErrorPage::PinTimeout => (t.pin_timeout, t.pin_timeout_detail),
    };
    let code = viewer.code.trim();
    notice_page(viewer, words, if is_valid_code(code) { code } else { "" })
}

/// A page of one red notice (heading, detail) and the code form, holding
/// `typed`; its language link leads to the page to type a code on.
fn notice_page(viewer: &Viewer<'_>, (heading, detail): (&str, &str), typed: &str) -> String {
    let t = viewer.lang.texts();
    let mut out = String::with_capacity(4096);
    open_page(&mut out, viewer, ENTRY_PATH);
    let _ = write!(
        out,
        "<section id=\"verdict\" class=\"bad\" role=\"alert\"><h2 id=\"badge\">{}</h2><p>{}</p></section>\
         <section id=\"entry\"><h2>{}</h2>",
        Esc(heading),
        Esc(detail),
        Esc(t.enter_code),
    );
    code_form(
        &mut out,
        viewer,
        &CodeField {
            typed,
            autofocus: false,
            refused: false,
        },
    );
    out.push_str("</section>");
    close_page(&mut out);
    out
}

/// The page of a code whose stored records do not match their batch: the
/// lookup itself found the tampering, so there is no report to show. The
/// code asked for is shown (trimmed) when it is the form of a code.
pub fn render_not_verified(viewer: &Viewer<'_>, reason: &str) -> String {
    let base = code_path(viewer.code);
    let mut out = String::with_capacity(4096);
    open_page(&mut out, viewer, &base);
    let code = viewer.code.trim();
    verdict_section(
        &mut out,
        viewer,
        &Verification::failed(vec![reason.to_owned()], vec![Finding::Store]),
        VerdictContext {
            code: is_valid_code(code).then_some(code),
            copy_warning: false,
            alert: false,
        },
    );
    close_page(&mut out);
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

/// A page of a code that cannot be shown now: the notice, and the code asked
/// for (trimmed) when it is the form of a code.
fn warning_page(viewer: &Viewer<'_>, heading: &str, detail: &str) -> String {
    let base = code_path(viewer.code);
    let mut out = String::with_capacity(4096);
    open_page(&mut out, viewer, &base);
    let _ = write!(
        out,
        "<section id=\"verdict\" class=\"warn\" role=\"alert\"><h2 id=\"badge\">{}</h2><p>{}</p>",
        Esc(heading),
        Esc(detail)
    );
    let code = viewer.code.trim();
    if is_valid_code(code) {
        code_line(&mut out, viewer, code);
    }
    out.push_str("</section>");
    close_page(&mut out);
    out
}

/// The page of a known code. It is made twice: once to find out the UTC
/// offsets of the times it shows ([`TimeOffsets`]), then with the line that
/// says their zone, near its top, and the times marked with their offsets
/// when those differ.
pub fn render_code_page(viewer: &Viewer<'_>, page: &CodePage<'_>) -> String {
    let probe = Viewer {
        offsets: TimeOffsets::default(),
        ..viewer.clone()
    };
    let _ = render_code_page_once(&probe, page);
    let settled = Viewer {
        offsets: probe.offsets.settled(),
        ..viewer.clone()
    };
    render_code_page_once(&settled, page)
}

fn render_code_page_once(viewer: &Viewer<'_>, page: &CodePage<'_>) -> String {
    let t = viewer.lang.texts();
    let base = code_path(viewer.code);
    let mut out = String::with_capacity(16 * 1024);
    open_page(&mut out, viewer, &base);
    // Said once, above every time of the page.
    let _ = write!(
        out,
        "<p id=\"zone\" class=\"zone\">{}</p>",
        zone_line(viewer)
    );
    // The state could not be read: whether the PIN was confirmed is unknown, so the copy
    // warning may be missing. Said first, not left out.
    if page.scans.is_none() {
        let _ = write!(
            out,
            "<section id=\"state-unreadable\" class=\"warn\" role=\"alert\"><h2>{}</h2><p>{}</p></section>",
            Esc(t.state_unreadable),
            Esc(t.state_unreadable_detail)
        );
    }
    // A recall, a destruction, a failed inspection, goods refused or held at customs: what
    // the buyer must know about the product before anything else, when its records verify
    // (or cannot be confirmed yet). On a red page they come after the verdict: records that
    // failed their checks do not head the page.
    let journey = Journey::from_report(page.report);
    let failed = matches!(page.verification, Verification::Failed { .. });
    if !failed {
        alerts_section(&mut out, viewer, &journey.alerts);
    }
    let scans = page.scans.unwrap_or_default();
    // Times in sentences are `<time>` too: kept on one line, and machine-readable.
    let first = time_tag(viewer, scans.first_scan_us);
    let count = scans.count.to_string();
    if let Some(confirmed_us) = page.copy_warning {
        let confirmed = time_tag(viewer, Some(confirmed_us));
        // Without a counted scan there is no count or first scan to give.
        let template = match (scans.count, scans.first_scan_us) {
            (0, _) | (_, None) => t.copy_warning_detail_unscanned,
            (1, Some(_)) => t.copy_warning_detail_once,
            _ => t.copy_warning_detail,
        };
        let _ = write!(
            out,
            "<section id=\"copy-warning\" class=\"bad\" role=\"alert\"><h2>{}</h2><p>{}</p>",
            Esc(t.copy_warning),
            fill(
                &Esc(template).to_string(),
                &[
                    ("confirmed", &confirmed),
                    ("count", &count),
                    ("first", &first),
                ]
            )
        );
        // The warning stays (a copied label is scanned in other browsers), but the buyer
        // who confirmed the PIN from this browser is told that it was them.
        if page.pin_confirmed_here {
            let _ = write!(
                out,
                "<p id=\"confirmed-here\">{}</p>",
                fill(
                    &Esc(t.copy_warning_this_browser).to_string(),
                    &[("confirmed", &confirmed)]
                )
            );
        }
        out.push_str("</section>");
    }
    // Many scans and no PIN confirmed: most buyers never scratch the PIN, so a copied label
    // shows mostly as scans. Said near the top, as a caution rather than an alarm.
    if page.copy_warning.is_none() && scans.count >= MANY_SCANS {
        let _ = write!(
            out,
            "<section id=\"many-scans\" class=\"warn\"><h2>{}</h2><p>{}</p></section>",
            Esc(t.many_scans),
            fill(
                &Esc(t.many_scans_detail).to_string(),
                &[("count", &count), ("first", &first)]
            )
        );
    }
    // The copy warning first: it matters more than the records' proofs.
    verdict_section(
        &mut out,
        viewer,
        page.verification,
        VerdictContext {
            code: Some(viewer.code),
            copy_warning: page.copy_warning.is_some(),
            alert: !failed && !journey.alerts.is_empty(),
        },
    );
    if failed {
        alerts_section(&mut out, viewer, &journey.alerts);
    }
    pin_section(&mut out, viewer, page, &base);
    product_section(
        &mut out,
        viewer,
        journey.production,
        page.verification.is_verified(),
    );
    inspections_section(&mut out, viewer, &journey.inspections);
    customs_section(&mut out, viewer, &journey.customs);
    timeline_section(&mut out, viewer, &journey);
    if page.scan_not_counted && page.scans.is_some() {
        let _ = write!(
            out,
            "<section id=\"scans\" class=\"warn\"><p>{}</p></section>",
            Esc(t.scan_not_counted)
        );
    } else if scans.count > 0 {
        let _ = write!(
            out,
            "<section id=\"scans\"><p>{}</p></section>",
            fill(
                &Esc(t.scans).to_string(),
                &[("count", &count), ("first", &first)]
            )
        );
    }
    close_page_with_zone_form(&mut out, viewer, &base);
    out
}

/// What the verdict section needs to know of its page.
#[derive(Debug, Clone, Copy)]
struct VerdictContext<'a> {
    /// The code, shown under the verdict's text (`None`: not shown).
    code: Option<&'a str>,
    /// Whether the page warns that the label may be a copy: a green badge
    /// then says that the records are authentic, not that the label is.
    copy_warning: bool,
    /// Whether the page warns of a record above the verdict (a recall, ...):
    /// a green badge then says that the records, that one included, are
    /// authentic, not that all is well with the product.
    alert: bool,
}

/// A transaction hash as shown: `0x9f3a…b2e4` when longer than 14
/// characters (the whole hash is in the element's `title`).
fn short_hash(tx: &str) -> String {
    let chars: Vec<char> = tx.chars().collect();
    if chars.len() <= 14 {
        return tx.to_owned();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

fn verdict_section(
    out: &mut String,
    viewer: &Viewer<'_>,
    verification: &Verification,
    context: VerdictContext<'_>,
) {
    let t = viewer.lang.texts();
    match verification {
        Verification::Verified { anchors } => {
            let heading = if context.copy_warning {
                t.verified_copied
            } else if context.alert {
                t.verified_alert
            } else {
                t.verified
            };
            // "On chain" only when a blockchain holds an anchor: the embedded ledger is the
            // publisher's own signed log, and says so.
            let on_chain = anchors
                .iter()
                .any(|a| matches!(a.location, AnchorLocation::Chain { .. }));
            let anchored = if on_chain {
                t.anchors_chain
            } else {
                t.anchors_ledger
            };
            let _ = write!(
                out,
                "<section id=\"verdict\" class=\"ok\"><h2 id=\"badge\">{}</h2><p>{}</p>",
                Esc(heading),
                Esc(t.verified_detail),
            );
            if let Some(code) = context.code {
                code_line(out, viewer, code);
            }
            let _ = write!(
                out,
                "<details id=\"anchors\"><summary>{}</summary><p>{}</p><ul>",
                Esc(t.anchor_details),
                Esc(anchored),
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
                            ("number", &log_index.saturating_add(1).to_string()),
                            ("size", &log_size.to_string()),
                        ],
                    ),
                    AnchorLocation::Chain { tx, block } => fill(
                        &Esc(t.anchor_chain).to_string(),
                        &[
                            ("chain", &Esc(&a.chain).to_string()),
                            (
                                "tx",
                                &format!(
                                    "<span class=\"mono\" title=\"{}\">{}</span>",
                                    Esc(tx),
                                    Esc(&short_hash(tx))
                                ),
                            ),
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
            out.push_str("</ul></details></section>");
        }
        Verification::Unconfirmed { findings, .. } => warning_section(
            out,
            viewer,
            ("warn", "status"),
            (t.unconfirmed, t.unconfirmed_detail),
            findings,
            context.code,
        ),
        Verification::Failed { findings, .. } => warning_section(
            out,
            viewer,
            ("bad", "alert"),
            (t.not_verified, t.not_verified_detail),
            findings,
            context.code,
        ),
    }
}

/// The verdict section of a page that cannot show the badge: its class and ARIA role, its
/// heading and text, the code if given, and what was found, in the page's language, folded
/// away (the verifier's own reasons are for the log).
fn warning_section(
    out: &mut String,
    viewer: &Viewer<'_>,
    (class, role): (&str, &str),
    (heading, detail): (&str, &str),
    findings: &[Finding],
    code: Option<&str>,
) {
    let _ = write!(
        out,
        "<section id=\"verdict\" class=\"{class}\" role=\"{role}\"><h2 id=\"badge\">{}</h2><p>{}</p>",
        Esc(heading),
        Esc(detail),
    );
    if let Some(code) = code {
        code_line(out, viewer, code);
    }
    let t = viewer.lang.texts();
    let _ = write!(
        out,
        "<details id=\"findings\"><summary>{}</summary><ul>",
        Esc(t.details)
    );
    for &finding in findings {
        let _ = write!(out, "<li>{}</li>", Esc(t.finding(finding)));
    }
    out.push_str("</ul></details></section>");
}

/// The "too many wrong PINs, try again after" message: from this browser's
/// network, or (a lock of the code) from many, for everyone.
fn rate_limited(viewer: &Viewer<'_>, lock: PinLock) -> String {
    let t = viewer.lang.texts();
    let template = match lock.scope {
        LockScope::Client => t.pin_rate_limited,
        LockScope::Code => t.pin_code_locked,
    };
    fill(
        &Esc(template).to_string(),
        &[("retry", &time_tag(viewer, Some(minute_up(lock.until_us))))],
    )
}

fn pin_section(out: &mut String, viewer: &Viewer<'_>, page: &CodePage<'_>, base: &str) {
    let t = viewer.lang.texts();
    let PinPanel::Form(notice) = page.pin else {
        return;
    };
    // When the form opens again, if wrong PINs lock it: from this answer, or from the
    // state (a page without an answer, or an answer that did not check the PIN).
    let locked = match notice {
        Some(PinNotice::Outcome(PinOutcome::RateLimited { lock })) => Some(lock),
        Some(PinNotice::Outcome(PinOutcome::Wrong {
            attempts_left: 0,
            lock,
        })) => lock,
        _ => page.pin_lock,
    };
    let confirmed_now = matches!(
        notice,
        Some(
            PinNotice::Outcome(PinOutcome::Confirmed { .. } | PinOutcome::AlreadyConfirmed { .. })
                | PinNotice::ConfirmedHere { .. }
        )
    );
    // Not while the state cannot be read: the PIN may have been confirmed already.
    let show_form = page
        .scans
        .is_some_and(|s| s.pin_confirmed_us.is_none() && !confirmed_now);
    let (class, message) = match notice {
        // Nothing was checked: while locked, the form says until when.
        None => match locked {
            Some(lock) => ("bad", Some(rate_limited(viewer, lock))),
            None => ("", None),
        },
        // Told to enter the PIN only where the form is.
        Some(PinNotice::Malformed) if !show_form => {
            ("warn", Some(Esc(t.pin_malformed_no_form).to_string()))
        }
        Some(PinNotice::Malformed) => {
            let mut message = Esc(t.pin_malformed).to_string();
            if let Some(lock) = locked {
                if viewer.lang == Lang::En {
                    message.push(' ');
                }
                message.push_str(&rate_limited(viewer, lock));
            }
            ("warn", Some(message))
        }
        Some(PinNotice::Unavailable) => ("warn", Some(Esc(t.pin_unavailable).to_string())),
        Some(PinNotice::TryLater) => ("warn", Some(Esc(t.pin_try_later).to_string())),
        Some(PinNotice::Foreign) => {
            let mut message = Esc(t.pin_foreign).to_string();
            if show_form {
                if viewer.lang == Lang::En {
                    message.push(' ');
                }
                message.push_str(&Esc(t.pin_enter_here).to_string());
            }
            ("bad", Some(message))
        }
        Some(PinNotice::ConfirmedHere { confirmed_us }) => (
            "ok",
            Some(fill(
                &Esc(t.pin_confirmed_here).to_string(),
                &[("confirmed", &time_tag(viewer, Some(confirmed_us)))],
            )),
        ),
        Some(PinNotice::Outcome(outcome)) => match outcome {
            PinOutcome::Confirmed { .. } => (
                "ok",
                Some(format!(
                    "<strong>{}</strong> {}",
                    Esc(t.pin_confirmed),
                    Esc(t.pin_confirmed_detail)
                )),
            ),
            PinOutcome::AlreadyConfirmed { confirmed_us, .. } => (
                "bad",
                Some(fill(
                    &Esc(t.pin_already_confirmed).to_string(),
                    &[("confirmed", &time_tag(viewer, Some(confirmed_us)))],
                )),
            ),
            PinOutcome::Wrong {
                attempts_left,
                lock,
            } => match lock {
                Some(lock) if attempts_left == 0 => ("bad", Some(rate_limited(viewer, lock))),
                _ if attempts_left == 1 => ("bad", Some(Esc(t.pin_wrong_one).to_string())),
                _ => (
                    "bad",
                    Some(fill(
                        &Esc(t.pin_wrong).to_string(),
                        &[("left", &attempts_left.to_string())],
                    )),
                ),
            },
            PinOutcome::RateLimited { lock } => ("bad", Some(rate_limited(viewer, lock))),
            PinOutcome::NoPin => ("warn", Some(Esc(t.pin_none).to_string())),
        },
    };
    if message.is_none() && !show_form {
        return;
    }
    let _ = write!(out, "<section id=\"pin\" class=\"{class}\">");
    if let Some(message) = &message {
        let _ = write!(out, "<p id=\"pin-result\" role=\"status\">{message}</p>");
    }
    if show_form {
        // The field is marked invalid, and described by the message, when what was typed
        // was refused; while locked the form is shown disabled, the message giving the time.
        let refused = matches!(
            notice,
            Some(PinNotice::Malformed | PinNotice::Outcome(PinOutcome::Wrong { .. }))
        );
        let mut field_attrs = String::new();
        if refused && message.is_some() {
            field_attrs.push_str(" aria-invalid=\"true\" aria-describedby=\"pin-result\"");
        }
        let disabled = if locked.is_some() { " disabled" } else { "" };
        let _ = write!(
            out,
            "<h2>{}</h2><p>{}</p><form method=\"post\" action=\"{}/pin?lang={}\">\
             {}<label>{} <input name=\"pin\" autocomplete=\"off\" autocapitalize=\"characters\" \
             spellcheck=\"false\" maxlength=\"{PIN_INPUT_MAX_CHARS}\" required{field_attrs}{disabled}></label> \
             <button type=\"submit\"{disabled}>{}</button></form>",
            Esc(t.pin_heading),
            Esc(t.pin_help),
            Esc(base),
            viewer.lang.tag(),
            if page.form_token.is_empty() {
                String::new()
            } else {
                format!(
                    "<input type=\"hidden\" name=\"tap\" value=\"{}\">",
                    Esc(page.form_token)
                )
            },
            Esc(t.pin_label),
            Esc(t.pin_submit),
        );
    }
    out.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_transaction_hashes_are_shortened() {
        let tx = format!("0x9f3a{}b2e4", "0".repeat(56));
        assert_eq!(short_hash(&tx), "0x9f3a…b2e4");
        assert_eq!(short_hash("0xab"), "0xab");
        assert_eq!(short_hash("0x0123456789ab"), "0x0123456789ab");
        // Characters, not bytes: no panic in the middle of one.
        assert_eq!(
            short_hash("交易交易交易交易交易交易交易交易"),
            "交易交易交易…交易交易"
        );
    }

    /// A PIN answer whose state could not be read afterwards still knows from
    /// the check when the PIN was confirmed: the copy warning gives that
    /// time, not the "unknown" dash.
    #[test]
    fn the_copy_warning_gives_the_confirmation_time_without_the_scans() {
        let report = CodeReport {
            format: crate::report::CODE_REPORT_FORMAT.to_owned(),
            code: "PM-TEST".to_owned(),
            subjects: Vec::new(),
            records: Vec::new(),
            batches: Default::default(),
        };
        let verification = Verification::failed(vec!["test".to_owned()], vec![Finding::Records]);
        let zone = ViewerZone::default_zone();
        let orgs = OrgNames::empty();
        let viewer = Viewer {
            lang: Lang::En,
            zone: &zone,
            code: "PM-TEST",
            now_us: 1_780_000_000_000_000,
            orgs: &orgs,
            offsets: TimeOffsets::default(),
        };
        // 2026-05-28 20:26:40 UTC, 2026-05-29 04:26 in China Standard Time.
        let confirmed_us = 1_780_000_000_000_000;
        let page = CodePage {
            report: &report,
            verification: &verification,
            scans: None,
            scan_not_counted: false,
            copy_warning: Some(confirmed_us),
            pin_confirmed_here: false,
            pin_lock: None,
            pin: PinPanel::Absent,
            form_token: "",
        };
        let html = render_code_page(&viewer, &page);
        let start = html.find("id=\"copy-warning\"").expect("the copy warning");
        let warning = &html[start..start + html[start..].find("</section>").expect("its end")];
        assert!(
            warning.contains("<time datetime=\"2026-05-29T04:26:40+08:00\">"),
            "{warning}"
        );
        assert!(
            !warning.contains(Lang::En.texts().unknown_value),
            "{warning}"
        );
        assert!(html.contains("id=\"state-unreadable\""));
    }

    #[test]
    fn lockouts_are_shown_at_the_next_minute() {
        assert_eq!(minute_up(0), 0);
        assert_eq!(minute_up(60_000_000), 60_000_000);
        assert_eq!(minute_up(60_000_001), 120_000_000);
        assert_eq!(minute_up(-1), 0);
    }
}
