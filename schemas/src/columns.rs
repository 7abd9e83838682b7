//! Binding an Arrow [`RecordBatch`] to a record kind: schema checks and typed
//! column views that validation and encoding read row by row.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int32Type, TimestampMicrosecondType};
use arrow_array::{
    Array, Date32Array, Int32Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Schema, TimeUnit};

use crate::error::{SchemaError, WrongType};
use crate::kind::{FieldSpec, FieldType, Kind};

/// Time zone names accepted as UTC on input timestamp columns.
pub const UTC_ALIASES: [&str; 4] = ["UTC", "+00:00", "Etc/UTC", "Z"];

/// Finds the kind whose columns a schema has, by its marker column
/// (`gtin`, `declaration_id`, `event_type`, `inspection_type`), then checks
/// every column with [`check_schema`].
pub fn detect_kind(schema: &Schema) -> Result<Kind, SchemaError> {
    let present: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| schema.field_with_name(k.marker_column()).is_ok())
        .collect();
    match present.as_slice() {
        [kind] => {
            check_schema(*kind, schema)?;
            Ok(*kind)
        }
        _ => Err(SchemaError::UnknownKind {
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            markers: present
                .iter()
                .map(|k| format!("{} ({})", k.marker_column(), k.name()))
                .collect(),
        }),
    }
}

/// Checks that `schema` has exactly the columns of `kind`, each of an
/// accepted type, in any order. Reports every mismatch at once.
pub fn check_schema(kind: Kind, schema: &Schema) -> Result<(), SchemaError> {
    let mut missing = Vec::new();
    let mut wrong_types = Vec::new();
    for spec in kind.fields() {
        match schema.field_with_name(spec.name) {
            Ok(field) => {
                if !type_accepted(spec.ty, field.data_type()) {
                    wrong_types.push(WrongType {
                        column: spec.name,
                        expected: spec.ty.describe(),
                        found: arrow_type_name(field.data_type()),
                    });
                }
            }
            Err(_) => missing.push(spec.name),
        }
    }
    let unexpected: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| kind.field_index(f.name()).is_none())
        .map(|f| f.name().clone())
        .collect();
    // A name given twice: readers find columns by name and would read one of them only.
    let mut names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    names.sort_unstable();
    let mut duplicated: Vec<String> = names
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0].to_owned())
        .collect();
    duplicated.dedup();
    if missing.is_empty()
        && wrong_types.is_empty()
        && unexpected.is_empty()
        && duplicated.is_empty()
    {
        Ok(())
    } else {
        Err(SchemaError::Mismatch {
            kind,
            missing,
            unexpected,
            duplicated,
            wrong_types,
        })
    }
}

/// An input column's Arrow type, written as SPEC.md 2.1 writes the accepted ones
/// (`Timestamp(Microsecond, "UTC")`, `List<Utf8>`), so that the found and expected types of
/// an error read alike.
pub fn arrow_type_name(dt: &DataType) -> String {
    match dt {
        DataType::Timestamp(unit, None) => format!("Timestamp({unit:?}, no time zone)"),
        DataType::Timestamp(unit, Some(tz)) => format!("Timestamp({unit:?}, {:?})", tz.as_ref()),
        DataType::List(item) | DataType::LargeList(item) => {
            let outer = if matches!(dt, DataType::List(_)) {
                "List"
            } else {
                "LargeList"
            };
            format!("{outer}<{}>", arrow_type_name(item.data_type()))
        }
        DataType::Struct(fields) => format!(
            "Struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.name(), arrow_type_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn type_accepted(ty: FieldType, dt: &DataType) -> bool {
    match (ty, dt) {
        (FieldType::Text, DataType::Utf8) => true,
        (FieldType::Timestamp, DataType::Timestamp(TimeUnit::Microsecond, Some(tz))) => {
            UTC_ALIASES.contains(&tz.as_ref())
        }
        (FieldType::Date, DataType::Date32) => true,
        (FieldType::Int32, DataType::Int32) => true,
        (FieldType::TextList, DataType::List(item)) => item.data_type() == &DataType::Utf8,
        (FieldType::AttachmentList, DataType::List(item)) => match item.data_type() {
            DataType::Struct(fields) => {
                fields.len() == 2
                    && fields
                        .iter()
                        .any(|f| f.name() == "uri" && f.data_type() == &DataType::Utf8)
                    && fields
                        .iter()
                        .any(|f| f.name() == "digest" && f.data_type() == &DataType::Utf8)
            }
            _ => false,
        },
        _ => false,
    }
}

/// A typed view of one column of a bound batch.
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    /// A text column.
    Text(&'a StringArray),
    /// A text column decoded with its Parquet dictionary: each row's key into `values`.
    /// Decoders may produce it for dictionary-encoded column chunks (SPEC.md's input type
    /// is still `Utf8`); every reader treats it as the same texts as [`Column::Text`].
    TextDict {
        /// The key of each row (its validity is the column's).
        keys: &'a Int32Array,
        /// The distinct texts.
        values: &'a StringArray,
    },
    /// A UTC microsecond timestamp column.
    Timestamp(&'a TimestampMicrosecondArray),
    /// A date column (days since the epoch).
    Date(&'a Date32Array),
    /// A 32-bit integer column.
    Int32(&'a Int32Array),
    /// A list of texts.
    TextList {
        /// The list array (offsets, validity).
        list: &'a ListArray,
        /// Its items.
        items: &'a StringArray,
    },
    /// A list of `{uri, digest}` attachments.
    AttachmentList {
        /// The list array (offsets, validity).
        list: &'a ListArray,
        /// The items (their own validity: a null item is a null struct).
        items: &'a StructArray,
        /// The items' `uri` field.
        uri: &'a StringArray,
        /// The items' `digest` field.
        digest: &'a StringArray,
    },
}

impl<'a> Column<'a> {
    /// Whether the value at `row` is null.
    #[inline]
    pub fn is_null(&self, row: usize) -> bool {
        match self {
            Column::Text(a) => a.is_null(row),
            Column::TextDict { keys, .. } => keys.is_null(row),
            Column::Timestamp(a) => a.is_null(row),
            Column::Date(a) => a.is_null(row),
            Column::Int32(a) => a.is_null(row),
            Column::TextList { list, .. } | Column::AttachmentList { list, .. } => {
                list.is_null(row)
            }
        }
    }

    /// The column's null buffer (`None` when it has no nulls).
    #[inline]
    pub fn nulls(&self) -> Option<&arrow_buffer::NullBuffer> {
        match self {
            Column::Text(a) => a.nulls(),
            Column::TextDict { keys, .. } => keys.nulls(),
            Column::Timestamp(a) => a.nulls(),
            Column::Date(a) => a.nulls(),
            Column::Int32(a) => a.nulls(),
            Column::TextList { list, .. } | Column::AttachmentList { list, .. } => list.nulls(),
        }
    }

    /// The text at `row` of a text column (`None` when null or not a text column).
    #[inline]
    pub fn text(&self, row: usize) -> Option<&'a str> {
        match *self {
            Column::Text(a) if a.is_valid(row) => Some(a.value(row)),
            Column::TextDict { keys, values } if keys.is_valid(row) => {
                Some(values.value(dict_key(keys, row)))
            }
            _ => None,
        }
    }

    /// The item range of a list column's value at `row` (empty for other types).
    #[inline]
    pub fn list_range(&self, row: usize) -> std::ops::Range<usize> {
        match self {
            Column::TextList { list, .. } | Column::AttachmentList { list, .. } => {
                let offsets = list.value_offsets();
                offsets[row] as usize..offsets[row + 1] as usize
            }
            _ => 0..0,
        }
    }
}

/// A [`RecordBatch`] bound to a kind: its columns in the kind's schema order,
/// downcast once so that per-row work does no lookups.
#[derive(Debug)]
pub struct RecordView<'a> {
    kind: Kind,
    columns: Vec<Column<'a>>,
    rows: usize,
}

impl<'a> RecordView<'a> {
    /// Binds `batch` to `kind`, checking its schema first.
    pub fn try_new(kind: Kind, batch: &'a RecordBatch) -> Result<Self, SchemaError> {
        check_schema(kind, &undictionary(&batch.schema()))?;
        let mut columns = Vec::with_capacity(kind.fields().len());
        for spec in kind.fields() {
            let array = batch
                .column_by_name(spec.name)
                .ok_or(SchemaError::MissingColumnAfterCheck { column: spec.name })?;
            columns.push(bind(kind, spec, array.as_ref())?);
        }
        Ok(RecordView {
            kind,
            columns,
            rows: batch.num_rows(),
        })
    }

    /// The bound kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// The columns in schema order.
    pub fn columns(&self) -> &[Column<'a>] {
        &self.columns
    }

    /// The column at schema position `index`.
    pub fn column(&self, index: usize) -> &Column<'a> {
        &self.columns[index]
    }

    /// The text at `row` of the text column at schema position `index`, if not null.
    #[inline]
    pub fn text(&self, index: usize, row: usize) -> Option<&'a str> {
        self.columns[index].text(row)
    }

    /// The item code at `row`, if present (`code` column).
    #[inline]
    pub fn code(&self, row: usize) -> Option<&'a str> {
        self.text(1, row)
    }

    /// The lot id at `row`, if present (`lot_id` column).
    #[inline]
    pub fn lot_id(&self, row: usize) -> Option<&'a str> {
        self.text(2, row)
    }

    /// The subject `row` is indexed under (SPEC 4): its item code, or, for a lot's own
    /// record (no code), its lot id; `None` when it has neither (a rejected row).
    #[inline]
    pub fn subject(&self, row: usize) -> Option<(crate::SubjectType, &'a str)> {
        match self.code(row) {
            Some(code) => Some((crate::SubjectType::Item, code)),
            None => self.lot_id(row).map(|lot| (crate::SubjectType::Lot, lot)),
        }
    }

    /// The record id at `row`, if present (`record_id` column).
    #[inline]
    pub fn record_id(&self, row: usize) -> Option<&'a str> {
        self.text(0, row)
    }
}

fn bind<'a>(kind: Kind, spec: &FieldSpec, array: &'a dyn Array) -> Result<Column<'a>, SchemaError> {
    let wrong = || SchemaError::Mismatch {
        kind,
        missing: Vec::new(),
        unexpected: Vec::new(),
        duplicated: Vec::new(),
        wrong_types: vec![WrongType {
            column: spec.name,
            expected: spec.ty.describe(),
            found: arrow_type_name(array.data_type()),
        }],
    };
    Ok(match spec.ty {
        FieldType::Text => match array.as_dictionary_opt::<Int32Type>() {
            // Null texts are null keys: a dictionary with a null value is not one of ours.
            Some(dict) if dict.values().null_count() == 0 => Column::TextDict {
                keys: dict.keys(),
                values: dict.values().as_string_opt::<i32>().ok_or_else(wrong)?,
            },
            Some(_) => return Err(wrong()),
            None => Column::Text(array.as_string_opt::<i32>().ok_or_else(wrong)?),
        },
        FieldType::Timestamp => Column::Timestamp(
            array
                .as_primitive_opt::<TimestampMicrosecondType>()
                .ok_or_else(wrong)?,
        ),
        FieldType::Date => Column::Date(array.as_primitive_opt::<Date32Type>().ok_or_else(wrong)?),
        FieldType::Int32 => Column::Int32(array.as_primitive_opt::<Int32Type>().ok_or_else(wrong)?),
        FieldType::TextList => {
            let list = array.as_list_opt::<i32>().ok_or_else(wrong)?;
            let items = list.values().as_string_opt::<i32>().ok_or_else(wrong)?;
            Column::TextList { list, items }
        }
        FieldType::AttachmentList => {
            let list = array.as_list_opt::<i32>().ok_or_else(wrong)?;
            let items = list.values().as_struct_opt().ok_or_else(wrong)?;
            let uri = items
                .column_by_name("uri")
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(wrong)?;
            let digest = items
                .column_by_name("digest")
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(wrong)?;
            Column::AttachmentList {
                list,
                items,
                uri,
                digest,
            }
        }
    })
}

/// The index into a dictionary's values of the key at `row` (0 for a negative key, which a
/// dictionary array's construction has already refused).
#[inline(always)]
pub fn dict_key(keys: &Int32Array, row: usize) -> usize {
    keys.values()[row].max(0) as usize
}

/// `schema` with every `Dictionary(Int32, Utf8)` field as `Utf8`: the type a decoder that
/// keeps dictionaries stands for.
fn undictionary(schema: &Schema) -> Schema {
    let fields: Vec<arrow_schema::Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                f.as_ref().clone().with_data_type(DataType::Utf8)
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}
