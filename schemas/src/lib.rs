//! Record schemas, validation and the canonical record encoding of proofmark.
//!
//! proofmark gives every imported item a tamper-evident history: records about
//! items (production, customs, logistics, inspection) are hashed into Merkle
//! trees whose roots are anchored on a chain. This crate is the contract those
//! hashes rest on, specified byte by byte in `schemas/SPEC.md`:
//!
//! - [`Kind`]: the four record kinds, their columns ([`FieldSpec`]) and Arrow schemas;
//! - [`RecordView`]: an Arrow `RecordBatch` bound to a kind after a schema check
//!   ([`check_schema`], [`detect_kind`]) that names every missing, unexpected, duplicated or
//!   mistyped column;
//! - [`validate()`]: every defect of every row, with stable reason codes;
//! - [`encode_row`]: the canonical encoding v1, zero-padded to whole 64-byte
//!   blocks so that equal-length records hash together in SIMD lanes;
//! - [`subject_key`]: the 16-byte lookup key of an item code or a lot id.
//!
//! ```
//! use proofmark_schemas::{Kind, RecordView, encode_row, batch_from_json, decode};
//! use serde_json::json;
//!
//! let batch = batch_from_json(Kind::Logistics, &[json!({
//!     "record_id": "ev-1", "code": "01234567890123456789", "org_id": "carrier-7",
//!     "event_time": 1_700_000_000_000_000i64, "event_type": "departed",
//!     "location": "Auckland",
//! })])?;
//! let view = RecordView::try_new(Kind::Logistics, &batch)?;
//! let mut buf = Vec::new();
//! let len = encode_row(&view, 0, &mut buf);
//! assert_eq!(len % 64, 0);
//! assert_eq!(decode(&buf)?.kind, Kind::Logistics);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod columns;
pub mod country;
pub mod encode;
pub mod error;
pub mod json;
pub mod kind;
pub mod subject;
pub mod validate;

pub use columns::{Column, RecordView, arrow_type_name, check_schema, detect_kind};
pub use encode::{
    BLOCK_LEN, DecodedRecord, DecodedRef, ENCODING_VERSION, Value, ValueRef, decode, decode_ref,
    encode_row, padded_len,
};
pub use error::{DecodeError, SchemaError, WrongType};
pub use json::{
    JsonError, batch_from_json, encode_json, row_to_json, value_to_json, write_decoded_json,
    write_json_array, write_json_str, write_row_json,
};
pub use kind::{FieldSpec, FieldType, Kind, Rule};
pub use subject::{SubjectKey, SubjectType, subject_key};
pub use validate::{Defect, DefectKind, RecordIdTracker, Validation, ValidationContext, validate};

/// The version of the proofmark specification (`schemas/SPEC.md`) this crate implements.
pub const SPEC_VERSION: u32 = 1;
