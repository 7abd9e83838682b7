//! The four record kinds, their columns and their Arrow schemas (spec v1).
//!
//! Every kind starts with the five common columns (`record_id`, `code`,
//! `lot_id`, `org_id`, `event_time`) followed by its own columns. The order of
//! [`Kind::fields`] is the schema order that the canonical encoding follows.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// The kind of a record: which party produced it and which columns it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A unit produced by a brand's factory: product, lot, origin, factory.
    Production,
    /// A customs declaration, usually for a whole lot.
    Customs,
    /// A movement or handling event (departed, labelled, delivered, ...).
    Logistics,
    /// An inspection by an agency: supervision, audit, sampling, tests.
    Inspection,
}

impl Kind {
    /// Every kind, in code order.
    pub const ALL: [Kind; 4] = [
        Kind::Production,
        Kind::Customs,
        Kind::Logistics,
        Kind::Inspection,
    ];

    /// The kind's byte in the canonical encoding.
    pub const fn code(self) -> u8 {
        match self {
            Kind::Production => 1,
            Kind::Customs => 2,
            Kind::Logistics => 3,
            Kind::Inspection => 4,
        }
    }

    /// The kind with canonical-encoding byte `code`.
    pub const fn from_code(code: u8) -> Option<Kind> {
        match code {
            1 => Some(Kind::Production),
            2 => Some(Kind::Customs),
            3 => Some(Kind::Logistics),
            4 => Some(Kind::Inspection),
            _ => None,
        }
    }

    /// The kind's name in files, plans and manifests.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Production => "production",
            Kind::Customs => "customs",
            Kind::Logistics => "logistics",
            Kind::Inspection => "inspection",
        }
    }

    /// The kind's columns in schema order (common columns first).
    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            Kind::Production => PRODUCTION,
            Kind::Customs => CUSTOMS,
            Kind::Logistics => LOGISTICS,
            Kind::Inspection => INSPECTION,
        }
    }

    /// The position of column `name` in [`Kind::fields`].
    pub fn field_index(self, name: &str) -> Option<usize> {
        self.fields().iter().position(|f| f.name == name)
    }

    /// The kind's Arrow schema, as written by proofmark and expected on input.
    pub fn arrow_schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<[SchemaRef; 4]> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| {
            Kind::ALL.map(|k| {
                let fields: Vec<Field> = k.fields().iter().map(FieldSpec::arrow_field).collect();
                Arc::new(Schema::new(fields))
            })
        });
        Arc::clone(&all[(self.code() - 1) as usize])
    }

    /// The column whose presence identifies this kind in a file's schema.
    pub const fn marker_column(self) -> &'static str {
        match self {
            Kind::Production => "gtin",
            Kind::Customs => "declaration_id",
            Kind::Logistics => "event_type",
            Kind::Inspection => "inspection_type",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for a kind name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown record kind {0:?} (expected production, customs, logistics or inspection)")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// The logical type of a column; each maps to one Arrow type and one
/// canonical encoding (see `schemas/SPEC.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// UTF-8 text (Arrow `Utf8`).
    Text,
    /// Microseconds since the Unix epoch, UTC (Arrow `Timestamp(Microsecond, "UTC")`).
    Timestamp,
    /// Days since the Unix epoch (Arrow `Date32`).
    Date,
    /// A signed 32-bit integer (Arrow `Int32`).
    Int32,
    /// A list of UTF-8 texts (Arrow `List<Utf8>`).
    TextList,
    /// A list of attachments `{uri, digest}` (Arrow `List<Struct<uri: Utf8, digest: Utf8>>`).
    AttachmentList,
}

/// A content rule a column's values must follow, beyond type and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No rule beyond type and length.
    Free,
    /// An identifier: printable ASCII without spaces (0x21..=0x7E).
    Identifier,
    /// A traceability code (SPEC.md, "Codes").
    Code,
    /// A lot id (same charset as codes, 1..=64 bytes).
    LotId,
    /// A GS1 GTIN of 8, 12, 13 or 14 digits with a valid check digit.
    Gtin,
    /// An ISO 3166-1 alpha-2 country code.
    Country,
    /// A Harmonized System code of 6 to 10 digits.
    HsCode,
    /// A content digest `sha256:` or `blake3:` followed by 64 lowercase hex digits.
    Digest,
    /// A non-negative integer.
    NonNegative,
    /// One of a closed set of values.
    OneOf(&'static [&'static str]),
}

/// One column of a kind: name, type, nullability, limit and rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Column name.
    pub name: &'static str,
    /// Logical type.
    pub ty: FieldType,
    /// Whether a null is a valid value (otherwise a null is a `missing_value` defect).
    pub nullable: bool,
    /// For text: the maximum length in bytes; for lists: the maximum number of items.
    pub max_len: u32,
    /// The content rule.
    pub rule: Rule,
}

/// Maximum length in bytes of a text item inside a list column.
pub const MAX_LIST_ITEM_LEN: u32 = 256;
/// Maximum length in bytes of an attachment URI.
pub const MAX_URI_LEN: u32 = 512;

const fn f(
    name: &'static str,
    ty: FieldType,
    nullable: bool,
    max_len: u32,
    rule: Rule,
) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        nullable,
        max_len,
        rule,
    }
}

use FieldType::{AttachmentList, Date, Int32, Text, TextList, Timestamp};

/// Values of the customs `status` column.
pub const CUSTOMS_STATUSES: &[&str] = &["declared", "inspecting", "released", "held", "rejected"];
/// Values of the logistics `event_type` column.
pub const LOGISTICS_EVENT_TYPES: &[&str] = &[
    "departed",
    "arrived",
    "customs_released",
    "warehoused",
    "labelled",
    "shipped",
    "delivered",
    "returned",
    "recalled",
    "destroyed",
];
/// Values of the inspection `inspection_type` column.
pub const INSPECTION_TYPES: &[&str] = &[
    "loading_supervision",
    "factory_audit",
    "circulation_sampling",
    "ingredient_test",
    "label_check",
    "quarantine",
];
/// Values of the inspection `result` column.
pub const INSPECTION_RESULTS: &[&str] = &["pass", "fail", "conditional"];

const COMMON: [FieldSpec; 5] = [
    f("record_id", Text, false, 64, Rule::Identifier),
    f("code", Text, true, 48, Rule::Code),
    f("lot_id", Text, true, 64, Rule::LotId),
    f("org_id", Text, false, 64, Rule::Identifier),
    f("event_time", Timestamp, false, 0, Rule::Free),
];

const PRODUCTION: &[FieldSpec] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    COMMON[4],
    f("gtin", Text, false, 14, Rule::Gtin),
    f("product_name", Text, false, 256, Rule::Free),
    f("brand", Text, false, 128, Rule::Free),
    f("sku", Text, false, 64, Rule::Identifier),
    f("lot_number", Text, false, 64, Rule::Identifier),
    f("production_date", Date, false, 0, Rule::Free),
    f("expiry_date", Date, true, 0, Rule::Free),
    f("origin_country", Text, false, 2, Rule::Country),
    f("factory_id", Text, false, 64, Rule::Identifier),
    f("factory_name", Text, true, 256, Rule::Free),
    f("factory_address", Text, true, 512, Rule::Free),
    f("certifications", TextList, true, 32, Rule::Free),
    f("ingredients", Text, true, 2048, Rule::Free),
    f("attachments", AttachmentList, true, 16, Rule::Free),
];

const CUSTOMS: &[FieldSpec] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    COMMON[4],
    f("declaration_id", Text, false, 64, Rule::Identifier),
    f("filing_id", Text, true, 64, Rule::Identifier),
    f("hs_code", Text, false, 10, Rule::HsCode),
    f("origin_country", Text, false, 2, Rule::Country),
    f("trade_country", Text, true, 2, Rule::Country),
    f("port_of_entry", Text, false, 128, Rule::Free),
    f("declared_at", Timestamp, false, 0, Rule::Free),
    f("cleared_at", Timestamp, true, 0, Rule::Free),
    f("status", Text, false, 32, Rule::OneOf(CUSTOMS_STATUSES)),
];

const LOGISTICS: &[FieldSpec] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    COMMON[4],
    f(
        "event_type",
        Text,
        false,
        32,
        Rule::OneOf(LOGISTICS_EVENT_TYPES),
    ),
    f("location", Text, false, 256, Rule::Free),
    f("carrier", Text, true, 128, Rule::Free),
    f("waybill", Text, true, 64, Rule::Identifier),
];

const INSPECTION: &[FieldSpec] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    COMMON[4],
    f("agency_id", Text, false, 64, Rule::Identifier),
    f("agency_name", Text, false, 256, Rule::Free),
    f(
        "inspection_type",
        Text,
        false,
        32,
        Rule::OneOf(INSPECTION_TYPES),
    ),
    f("result", Text, false, 16, Rule::OneOf(INSPECTION_RESULTS)),
    f("report_id", Text, false, 64, Rule::Identifier),
    f("report_digest", Text, true, 71, Rule::Digest),
    f("sample_size", Int32, true, 0, Rule::NonNegative),
];

/// The time zone proofmark writes on timestamp columns.
pub const UTC: &str = "UTC";

impl FieldSpec {
    /// The Arrow field proofmark writes for this column.
    ///
    /// Every field is declared nullable at the Arrow level, list items too:
    /// whether a null is allowed is a validation rule (a `missing_value` or
    /// `null_list_item` defect rejects the row), not a type rule that would
    /// make a whole file unreadable.
    pub fn arrow_field(&self) -> Field {
        Field::new(self.name, self.ty.arrow_type(), true)
    }
}

impl FieldType {
    /// The Arrow type proofmark writes for this logical type.
    pub fn arrow_type(self) -> DataType {
        match self {
            Text => DataType::Utf8,
            Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            Date => DataType::Date32,
            Int32 => DataType::Int32,
            TextList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            AttachmentList => DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(attachment_fields()),
                true,
            ))),
        }
    }

    /// Short human-readable name used in error messages.
    pub const fn describe(self) -> &'static str {
        match self {
            Text => "Utf8",
            Timestamp => "Timestamp(Microsecond, \"UTC\")",
            Date => "Date32",
            Int32 => "Int32",
            TextList => "List<Utf8>",
            AttachmentList => "List<Struct<uri: Utf8, digest: Utf8>>",
        }
    }
}

/// The two fields of an attachment struct: `uri`, then `digest`.
pub fn attachment_fields() -> Fields {
    Fields::from(vec![
        Field::new("uri", DataType::Utf8, true),
        Field::new("digest", DataType::Utf8, true),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_names_parse() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_code(k.code()), Some(k));
            assert_eq!(k.name().parse::<Kind>(), Ok(k));
        }
        assert_eq!(Kind::from_code(0), None);
        assert!("shipping".parse::<Kind>().is_err());
    }

    #[test]
    fn every_kind_starts_with_common_columns_and_has_unique_names() {
        for k in Kind::ALL {
            let names: Vec<_> = k.fields().iter().map(|f| f.name).collect();
            assert_eq!(
                &names[..5],
                &["record_id", "code", "lot_id", "org_id", "event_time"]
            );
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "{k}");
            assert!(k.field_index(k.marker_column()).is_some());
            assert_eq!(k.arrow_schema().fields().len(), names.len());
        }
    }

    #[test]
    fn marker_columns_belong_to_one_kind_only() {
        for k in Kind::ALL {
            for other in Kind::ALL {
                if k != other {
                    assert!(other.field_index(k.marker_column()).is_none());
                }
            }
        }
    }
}
