//! Reading a Parquet file's footer: its metadata, Arrow schema, kind and row-group byte ranges.

use std::sync::Arc;

use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader, RowGroupMetaData};
use proofmark_schemas::{Kind, detect_kind};

use crate::error::IngestError;
use crate::store::{Store, is_not_found};

/// Bytes read from the end of a file on the first try (enough for most footers).
const FOOTER_GUESS_BYTES: u64 = 64 * 1024;

/// A file's footer, decoded.
#[derive(Clone, Debug)]
pub struct Footer {
    /// The Parquet metadata with the Arrow schema derived from it.
    pub arrow: ArrowReaderMetadata,
    /// The kind the schema matches.
    pub kind: Kind,
    /// `blake3:` + hex of the footer's bytes: the file's last `8 + L` bytes, where `L` is
    /// the metadata length in the 4 bytes before the closing `PAR1` (the Thrift metadata,
    /// that length and the magic). The row group digests do not cover them, and they say how
    /// the row groups' bytes are read (column names, types, encodings).
    pub digest: String,
}

impl Footer {
    /// The Parquet metadata.
    pub fn metadata(&self) -> &Arc<ParquetMetaData> {
        self.arrow.metadata()
    }
}

/// The byte range of a row group: from the first column chunk's start to the last one's end.
pub fn row_group_range(rg: &RowGroupMetaData) -> std::ops::Range<u64> {
    let mut start = u64::MAX;
    let mut end = 0u64;
    for col in rg.columns() {
        let (s, len) = col.byte_range();
        start = start.min(s);
        end = end.max(s.saturating_add(len));
    }
    if start == u64::MAX { 0..0 } else { start..end }
}

/// Reads and decodes the footer of the file at `path` in `store`, whose size is `size`.
/// `url` names the file in errors. A missing file is [`IngestError::Vanished`] when
/// `vanished` is set, else the store error.
pub async fn read_footer(
    store: &Store,
    path: &str,
    url: &str,
    size: u64,
    vanished: bool,
) -> Result<Footer, IngestError> {
    let bad = |source| IngestError::BadParquet {
        url: url.to_owned(),
        source,
    };
    if size == 0 {
        return Err(IngestError::EmptyFile {
            url: url.to_owned(),
        });
    }
    let fetch = |range: std::ops::Range<u64>| async move {
        match store.get_range(path, range).await {
            Err(e) if vanished && is_not_found(&e) => Err(IngestError::Vanished {
                url: url.to_owned(),
            }),
            other => other,
        }
    };
    let mut want = size.min(FOOTER_GUESS_BYTES);
    let mut reader = ParquetMetaDataReader::new();
    let tail = loop {
        let tail: Bytes = fetch(size - want..size).await?;
        if (tail.len() as u64) < want {
            return Err(bad(ParquetError::EOF(format!(
                "file shorter than expected: {} bytes read of {want}",
                tail.len()
            ))));
        }
        match reader.try_parse_sized(&tail, size) {
            Ok(()) => break tail,
            Err(ParquetError::NeedMoreData(needed))
                if (needed as u64) > want && (needed as u64) <= size =>
            {
                want = needed as u64;
            }
            Err(e) => return Err(bad(e)),
        }
    };
    let metadata = Arc::new(reader.finish().map_err(bad)?);
    let digest = footer_digest(&tail).ok_or_else(|| {
        bad(ParquetError::General(
            "the footer's length runs past the file's start".into(),
        ))
    })?;
    for (i, rg) in metadata.row_groups().iter().enumerate() {
        let range = row_group_range(rg);
        if range.end > size || rg.num_rows() < 0 {
            return Err(bad(ParquetError::General(format!(
                "row group {i} claims bytes {}..{} (rows {}) in a file of {size} bytes",
                range.start,
                range.end,
                rg.num_rows()
            ))));
        }
    }
    let arrow = ArrowReaderMetadata::try_new(metadata, ArrowReaderOptions::new()).map_err(bad)?;
    let kind = detect_kind(arrow.schema()).map_err(|source| IngestError::UnknownSchema {
        url: url.to_owned(),
        source: Box::new(source),
    })?;
    Ok(Footer {
        arrow,
        kind,
        digest,
    })
}

/// The digest of the footer at the end of `tail` (the file's last bytes, the whole footer
/// among them), or `None` when its length field claims more than `tail` holds.
fn footer_digest(tail: &[u8]) -> Option<String> {
    let end = tail.len();
    let len_bytes: [u8; 4] = tail.get(end.checked_sub(8)?..end - 4)?.try_into().ok()?;
    let metadata_len = usize::try_from(u32::from_le_bytes(len_bytes)).ok()?;
    let start = end.checked_sub(8)?.checked_sub(metadata_len)?;
    Some(crate::digest::digest_of(&tail[start..]))
}
