//! The HTML of a known code's records: the product, the inspections, the
//! customs declarations, the journey timeline, and the summary of records
//! that need the buyer's attention.
//!
//! Every record is shown in full once, with who provided it: the
//! production record in the product section, inspections and customs
//! declarations in theirs, logistics events in the journey. The journey
//! lists the others too, at the time they happened, by name only (with an
//! inspection's result), each linking to where it is shown: the page stays
//! short on a phone and still reads as one story in time order.

use std::fmt::Write as _;
use std::ptr;

use super::countries::country_name;
use super::html::Esc;
use super::i18n::{Lang, customs_event, fill, format_days, label};
use super::journey::{
    Alert, AlertKind, Journey, attachments, int, micros, shown_time, text, text_list,
};
use super::page::{Viewer, date_tag, time_tag};
use crate::report::RecordEntry;

/// Org ids of at most this many characters are kept on one line (with their
/// brackets); longer ones may wrap, rather than run off a phone's screen.
const ORG_ID_KEEP_WHOLE_CHARS: usize = 24;

/// Writes `<dt>label</dt><dd>value</dd>` when the value is present.
fn row(out: &mut String, label: &str, value: Option<&str>) {
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", Esc(label), Esc(value));
    }
}

/// Writes a row whose value is a time, as `<time datetime>`.
fn time_row(out: &mut String, viewer: &Viewer<'_>, label: &str, us: Option<i64>) {
    if us.is_some() {
        let _ = write!(
            out,
            "<dt>{}</dt><dd>{}</dd>",
            Esc(label),
            time_tag(viewer, us)
        );
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

/// Who provided a record, as HTML: its `org_id`, after the organisation's
/// name when the directory has one ("SF Express (carrier-00)"). A short id
/// and its brackets stay on one line (`<span class="org">`), so that a
/// phone does not break `wh-03` after its dash.
fn provider(viewer: &Viewer<'_>, entry: &RecordEntry) -> String {
    let id = entry.source.provided_by.as_str();
    let class = if id.chars().count() <= ORG_ID_KEEP_WHOLE_CHARS {
        " class=\"org\""
    } else {
        ""
    };
    match (viewer.orgs.name(id), viewer.lang) {
        (Some(name), Lang::Zh) => format!("{}<span{class}>（{}）</span>", Esc(name), Esc(id)),
        (Some(name), Lang::En) => format!("{} <span{class}>({})</span>", Esc(name), Esc(id)),
        (None, _) => format!("<span{class}>{}</span>", Esc(id)),
    }
}

fn provided_by(out: &mut String, viewer: &Viewer<'_>, entry: &RecordEntry) {
    let _ = write!(
        out,
        "<dt>{}</dt><dd class=\"provided-by\">{}</dd>",
        Esc(viewer.lang.texts().provided_by),
        provider(viewer, entry)
    );
}

/// The product section; `verified` says whether the page's verdict is
/// green, for the text shown when there is no production record.
pub(super) fn product_section(
    out: &mut String,
    viewer: &Viewer<'_>,
    production: Option<&RecordEntry>,
    verified: bool,
) {
    let t = viewer.lang.texts();
    let Some(entry) = production else {
        // Said, not left out: a page without the product's name, lot and dates must not
        // read as complete; and the records below are called verified only when they are.
        let missing = if verified {
            t.product_missing
        } else {
            t.product_missing_unverified
        };
        let _ = write!(
            out,
            "<section id=\"product\" class=\"warn\"><h2>{}</h2><p>{}</p></section>",
            Esc(t.product),
            Esc(missing)
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
    // A long value takes the section's whole width, under its label, rather than a
    // narrow column beside it; documents (addresses and digests) are folded away below.
    if let Some(ingredients) = text(r, "ingredients").filter(|v| !v.is_empty()) {
        let _ = write!(
            out,
            "<dt class=\"wide\">{}</dt><dd class=\"wide\">{}</dd>",
            Esc(t.ingredients),
            Esc(ingredients)
        );
    }
    provided_by(out, viewer, entry);
    out.push_str("</dl>");
    let files = attachments(r, "attachments");
    if !files.is_empty() {
        let summary = match viewer.lang {
            Lang::Zh => format!("{}（{}）", t.attachments, files.len()),
            Lang::En => format!("{} ({})", t.attachments, files.len()),
        };
        let _ = write!(
            out,
            "<details id=\"attachments\"><summary>{}</summary><ul>",
            Esc(&summary)
        );
        for (uri, digest) in files {
            let _ = write!(
                out,
                "<li>{}<br><span class=\"mono\">{}</span></li>",
                Esc(uri),
                Esc(digest)
            );
        }
        out.push_str("</ul></details>");
    }
    out.push_str("</section>");
}

/// The CSS class of an inspection result (`pass`, `fail`, `conditional`).
fn result_class(result: &str) -> &str {
    match result {
        "pass" | "fail" | "conditional" => result,
        _ => "",
    }
}

pub(super) fn inspections_section(out: &mut String, viewer: &Viewer<'_>, records: &[&RecordEntry]) {
    let t = viewer.lang.texts();
    let _ = write!(
        out,
        "<section id=\"inspections\"><h2>{}</h2>",
        Esc(t.inspections)
    );
    if records.is_empty() {
        let _ = write!(out, "<p>{}</p>", Esc(t.none));
    }
    for (i, entry) in records.iter().enumerate() {
        let r = &entry.record;
        let kind = labelled(viewer.lang, text(r, "inspection_type").unwrap_or_default());
        let result = text(r, "result").unwrap_or_default();
        let _ = write!(
            out,
            "<dl class=\"inspection\" id=\"inspection-{}\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd class=\"{}\">{}</dd>",
            i + 1,
            time_tag(viewer, micros(r, "event_time")),
            Esc(&kind),
            Esc(t.result),
            result_class(result),
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

pub(super) fn customs_section(out: &mut String, viewer: &Viewer<'_>, records: &[&RecordEntry]) {
    let t = viewer.lang.texts();
    let _ = write!(out, "<section id=\"customs\"><h2>{}</h2>", Esc(t.customs));
    if records.is_empty() {
        let _ = write!(out, "<p>{}</p>", Esc(t.none));
    }
    for (i, entry) in records.iter().enumerate() {
        let r = &entry.record;
        let _ = write!(out, "<dl class=\"declaration\" id=\"customs-{}\">", i + 1);
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
        time_row(out, viewer, t.declared_at, micros(r, "declared_at"));
        // `cleared_at` is a clearance only when the goods were released; on a declaration
        // held or refused it is when customs decided; on one still declared or under
        // inspection, only the time of that status.
        let concluded = match text(r, "status") {
            Some("released") => t.cleared_at,
            Some("held" | "rejected") => t.decided_at,
            _ => t.status_at,
        };
        time_row(out, viewer, concluded, micros(r, "cleared_at"));
        provided_by(out, viewer, entry);
        out.push_str("</dl>");
    }
    out.push_str("</section>");
}

/// The 1-based position of `entry` in `list`, by identity.
fn position(list: &[&RecordEntry], entry: &RecordEntry) -> Option<usize> {
    list.iter().position(|e| ptr::eq(*e, entry)).map(|i| i + 1)
}

/// The journey: every record in the order of the times it shows (the line
/// that says their zone is at the page's top). Logistics events in full;
/// the others by name, linking to their section.
pub(super) fn timeline_section(out: &mut String, viewer: &Viewer<'_>, journey: &Journey<'_>) {
    let t = viewer.lang.texts();
    let _ = write!(
        out,
        "<section id=\"journey\"><h2>{}</h2><ol>",
        Esc(t.journey),
    );
    for &entry in &journey.timeline {
        let r = &entry.record;
        let _ = write!(
            out,
            "<li class=\"event {}\">{} ",
            Esc(&entry.kind),
            time_tag(viewer, shown_time(entry))
        );
        // Where the record is shown in full, if not here.
        let anchor = match entry.kind.as_str() {
            "production" if journey.production.is_some_and(|p| ptr::eq(p, entry)) => {
                Some("product".to_owned())
            }
            "inspection" => {
                position(&journey.inspections, entry).map(|n| format!("inspection-{n}"))
            }
            "customs" => position(&journey.customs, entry).map(|n| format!("customs-{n}")),
            _ => None,
        };
        match (entry.kind.as_str(), anchor) {
            ("inspection", Some(anchor)) => {
                let result = text(r, "result").unwrap_or_default();
                let _ = write!(
                    out,
                    "<a href=\"#{anchor}\">{}</a> · <span class=\"{}\">{}</span></li>",
                    Esc(&labelled(
                        viewer.lang,
                        text(r, "inspection_type").unwrap_or_default()
                    )),
                    result_class(result),
                    Esc(&labelled(viewer.lang, result)),
                );
            }
            ("customs", Some(anchor)) => {
                let status = text(r, "status").unwrap_or_default();
                let name = customs_event(viewer.lang, status)
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        format!("{} · {}", labelled(viewer.lang, "customs"), status)
                    });
                let _ = write!(out, "<a href=\"#{anchor}\">{}</a></li>", Esc(&name));
            }
            (_, Some(anchor)) => {
                let _ = write!(
                    out,
                    "<a href=\"#{anchor}\">{}</a></li>",
                    Esc(&labelled(viewer.lang, &entry.kind))
                );
            }
            (_, None) => logistics_event(out, viewer, entry),
        }
    }
    out.push_str("</ol></section>");
}

/// A record shown in full in the journey (a logistics event, or a record
/// of another kind that no section shows), closing its `<li>`.
fn logistics_event(out: &mut String, viewer: &Viewer<'_>, entry: &RecordEntry) {
    let t = viewer.lang.texts();
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
        other => (labelled(viewer.lang, other), String::new()),
    };
    let _ = write!(out, "<strong>{}</strong>", Esc(&what));
    if !detail.is_empty() {
        let _ = write!(out, "<br>{}", Esc(&detail));
    }
    let _ = write!(
        out,
        "<br><span class=\"by\">{}{}<span class=\"provided-by\">{}</span></span></li>",
        Esc(t.provided_by),
        t.colon,
        provider(viewer, entry)
    );
}

/// The page's warning about the records that need the buyer's attention, at
/// its top: headed by the gravest (a recall first), each listed with its
/// date, then what the buyer should do about each kind, gravest first; red
/// when one is grave (a recall, a destruction, a failed inspection, goods
/// refused entry), amber otherwise; nothing when there is none.
pub(super) fn alerts_section(out: &mut String, viewer: &Viewer<'_>, alerts: &[Alert<'_>]) {
    if alerts.is_empty() {
        return;
    }
    let t = viewer.lang.texts();
    let mut kinds: Vec<AlertKind> = alerts.iter().map(Alert::kind).collect();
    kinds.sort_unstable_by(|a, b| b.cmp(a));
    kinds.dedup();
    let Some(&gravest) = kinds.first() else {
        return;
    };
    let class = if alerts.iter().any(Alert::is_grave) {
        "bad"
    } else {
        "warn"
    };
    let _ = write!(
        out,
        "<section id=\"alerts\" class=\"{class}\" role=\"alert\"><h2>{}</h2><ul>",
        Esc(t.alert_words(gravest).0)
    );
    let date = |us: Option<i64>| date_tag(viewer, us);
    for alert in alerts {
        let line = match *alert {
            Alert::Logistics { event, at_us } => {
                let template = match event {
                    "recalled" => t.alert_recalled,
                    "destroyed" => t.alert_destroyed,
                    _ => t.alert_returned,
                };
                fill(&Esc(template).to_string(), &[("date", &date(at_us))])
            }
            Alert::InspectionFailed {
                inspection_type,
                at_us,
            } => fill(
                &Esc(t.alert_inspection_failed).to_string(),
                &[
                    (
                        "type",
                        &if inspection_type.is_empty() {
                            Esc(t.unknown_value).to_string()
                        } else {
                            Esc(&labelled(viewer.lang, inspection_type)).to_string()
                        },
                    ),
                    ("date", &date(at_us)),
                ],
            ),
            Alert::Customs { status, at_us } => fill(
                &Esc(if status == "rejected" {
                    t.alert_customs_rejected
                } else {
                    t.alert_customs_held
                })
                .to_string(),
                &[("date", &date(at_us))],
            ),
        };
        let _ = write!(out, "<li>{line}</li>");
    }
    out.push_str("</ul>");
    for kind in kinds {
        let _ = write!(
            out,
            "<p class=\"advice\"><strong>{}</strong></p>",
            Esc(t.alert_words(kind).1)
        );
    }
    out.push_str("</section>");
}
