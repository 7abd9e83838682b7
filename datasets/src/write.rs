//! Writing a planned dataset: Parquet record files (row groups generated and
//! encoded in parallel, appended in order), the ground truth, the PINs and
//! `dataset.json`.
//!
//! The row groups of all files, in file order, are cut into windows of twice
//! as many row groups as there are worker threads; a window is generated
//! and encoded in parallel, then appended in order (so small files do not
//! leave threads idle). The bytes depend only on the plan, never on the
//! number of threads, and memory holds at most one window of row groups.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowRowGroupWriterFactory, ArrowWriterOptions, compute_leaves,
};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use proofmark_schemas::{Kind, SPEC_VERSION};
use rayon::prelude::*;

use crate::error::DatasetError;
use crate::layout::FilePlan;
use crate::lexicon;
use crate::plan::DatasetPlan;
use crate::records::{build_group, item_pin, push_item_code, push_padded};
use crate::summary::{Arguments, DatasetSummary, FileSummary, KindSummary};

/// The generator's name and version, as written in `dataset.json` and the Parquet footers.
pub const GENERATOR: &str = concat!("proofmark-datasets ", env!("CARGO_PKG_VERSION"));
/// Path of the ground truth, relative to the dataset directory.
pub const TRUTH_PATH: &str = "truth/defects.jsonl";
/// Path of the PINs, relative to the dataset directory.
pub const PINS_PATH: &str = "secrets/pins.csv";
/// Path of the organisations' names, relative to the dataset directory.
pub const ORGS_PATH: &str = "orgs.csv";
/// Path of the dataset description, relative to the dataset directory.
pub const DESCRIPTION_PATH: &str = "dataset.json";
/// Items per chunk of the PIN file.
const PIN_CHUNK: u64 = 65_536;

/// Columns whose values are (nearly) all distinct: no dictionary.
const UNIQUE_COLUMNS: [&str; 9] = [
    "record_id",
    "code",
    "event_time",
    "waybill",
    "declaration_id",
    "filing_id",
    "declared_at",
    "cleared_at",
    "report_id",
];

fn writer_properties(kind: Kind) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(GENERATOR.to_owned());
    for spec in kind.fields() {
        if UNIQUE_COLUMNS.contains(&spec.name) {
            let path = ColumnPath::from(spec.name);
            props = props.set_column_dictionary_enabled(path.clone(), false);
            if matches!(spec.ty, proofmark_schemas::FieldType::Timestamp) {
                props = props.set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
            }
        }
    }
    props.build()
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError {
    let path = path.to_path_buf();
    move |e| DatasetError::io(action, path, e)
}

/// Prepares the output directory: refuses (or, with `overwrite`, removes) a
/// dataset already there, and creates the folders.
fn prepare_dir(plan: &DatasetPlan) -> Result<(), DatasetError> {
    let out = &plan.options.out_dir;
    let existing = [
        out.join("records"),
        out.join(DESCRIPTION_PATH),
        out.join("truth"),
        out.join("secrets"),
        out.join(ORGS_PATH),
    ];
    if existing.iter().any(|p| p.exists()) {
        if !plan.options.overwrite {
            return Err(DatasetError::OutputNotEmpty { path: out.clone() });
        }
        for p in &existing {
            if p.is_dir() {
                fs::remove_dir_all(p).map_err(io("remove", p))?;
            } else if p.exists() {
                fs::remove_file(p).map_err(io("remove", p))?;
            }
        }
    }
    for kind in Kind::ALL {
        let dir = out.join("records").join(kind.name());
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    }
    for dir in [out.join("truth"), out.join("secrets")] {
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    }
    Ok(())
}

/// One encoded row group.
struct EncodedGroup {
    chunks: Vec<ArrowColumnChunk>,
    truth: String,
    rows: u64,
    bad_rows: u64,
}

fn encode_group(
    plan: &DatasetPlan,
    file: &FilePlan,
    group: u64,
    factory: &ArrowRowGroupWriterFactory,
    path: &Path,
) -> Result<EncodedGroup, DatasetError> {
    let parquet_err = |source| DatasetError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let generated = build_group(plan, file, group)?;
    let batch = &generated.batch;
    let mut writers = factory
        .create_column_writers(group as usize)
        .map_err(parquet_err)?;
    let mut next = writers.iter_mut();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        for leaf in compute_leaves(field, column).map_err(parquet_err)? {
            if let Some(writer) = next.next() {
                writer.write(&leaf).map_err(parquet_err)?;
            }
        }
    }
    let chunks = writers
        .into_iter()
        .map(|w| w.close())
        .collect::<Result<Vec<_>, _>>()
        .map_err(parquet_err)?;
    Ok(EncodedGroup {
        chunks,
        truth: generated.truth,
        rows: batch.num_rows() as u64,
        bad_rows: generated.bad_rows,
    })
}

/// A record file being written.
struct OpenFile {
    index: usize,
    path: PathBuf,
    writer: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    appended: u64,
    bad_rows: u64,
}

impl OpenFile {
    fn create(plan: &DatasetPlan, index: usize) -> Result<Self, DatasetError> {
        let file = &plan.files[index];
        let path = plan.options.out_dir.join(&file.path);
        let parquet_err = |source| DatasetError::Parquet {
            path: path.clone(),
            source,
        };
        let sink =
            BufWriter::with_capacity(1 << 20, File::create(&path).map_err(io("create", &path))?);
        let options = ArrowWriterOptions::new().with_properties(writer_properties(file.kind));
        let writer = ArrowWriter::try_new_with_options(sink, plan.file_schema(file.kind), options)
            .map_err(parquet_err)?;
        let (writer, factory) = writer.into_serialized_writer().map_err(parquet_err)?;
        Ok(OpenFile {
            index,
            path,
            writer,
            factory,
            appended: 0,
            bad_rows: 0,
        })
    }

    fn append(&mut self, group: EncodedGroup) -> Result<(), DatasetError> {
        let parquet_err = |source| DatasetError::Parquet {
            path: self.path.clone(),
            source,
        };
        let mut row_group = self.writer.next_row_group().map_err(parquet_err)?;
        for chunk in group.chunks {
            chunk
                .append_to_row_group(&mut row_group)
                .map_err(parquet_err)?;
        }
        row_group.close().map_err(parquet_err)?;
        self.appended += 1;
        self.bad_rows += group.bad_rows;
        Ok(())
    }

    fn finish(self, plan: &DatasetPlan) -> Result<FileSummary, DatasetError> {
        let file = &plan.files[self.index];
        let path = self.path;
        let mut sink = self
            .writer
            .into_inner()
            .map_err(|source| DatasetError::Parquet {
                path: path.clone(),
                source,
            })?;
        sink.flush().map_err(io("write", &path))?;
        let bytes = fs::metadata(&path).map_err(io("read", &path))?.len();
        tracing::debug!(file = %file.path, rows = file.num_rows(), bytes, "wrote file");
        Ok(FileSummary {
            file: file.path.clone(),
            rows: file.num_rows(),
            bad_rows: self.bad_rows,
            row_groups: self.appended,
            bytes,
        })
    }
}

/// Writes every record file and the ground truth: the row groups of all
/// files, in order, are generated and encoded in parallel windows and
/// appended in order, so at most one window of row groups is in memory.
fn write_records(
    plan: &DatasetPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<FileSummary>, DatasetError> {
    let truth_path = plan.options.out_dir.join(TRUTH_PATH);
    let mut truth = BufWriter::with_capacity(
        1 << 20,
        File::create(&truth_path).map_err(io("create", &truth_path))?,
    );
    let window = 2 * rayon::current_num_threads().max(1);
    let files = &plan.files;
    let mut summaries = Vec::with_capacity(files.len());
    let mut open: VecDeque<OpenFile> = VecDeque::new();
    let (mut next_file, mut next_group) = (0, 0);
    let mut tasks: Vec<(usize, u64)> = Vec::with_capacity(window);
    loop {
        tasks.clear();
        while tasks.len() < window && next_file < files.len() {
            if next_group == 0 {
                open.push_back(OpenFile::create(plan, next_file)?);
            }
            if next_group < files[next_file].row_groups() {
                tasks.push((next_file, next_group));
                next_group += 1;
            }
            if next_group >= files[next_file].row_groups() {
                next_file += 1;
                next_group = 0;
            }
        }
        let encoded: Vec<Result<EncodedGroup, DatasetError>> = {
            // The open files have consecutive indices: a task's file is at `index - first`.
            let first = open.front().map_or(0, |o| o.index);
            let targets: Vec<(&ArrowRowGroupWriterFactory, &Path)> = open
                .iter()
                .map(|o| (&o.factory, o.path.as_path()))
                .collect();
            tasks
                .par_iter()
                .map(|&(f, g)| {
                    let (factory, path) = targets[f - first];
                    encode_group(plan, &files[f], g, factory, path)
                })
                .collect()
        };
        for (&(f, _), group) in tasks.iter().zip(encoded) {
            let group = group?;
            truth
                .write_all(group.truth.as_bytes())
                .map_err(io("write", &truth_path))?;
            let rows = group.rows;
            let first = open.front().map_or(0, |o| o.index);
            if let Some(target) = open.get_mut(f - first) {
                target.append(group)?;
            }
            progress(rows);
        }
        while open
            .front()
            .is_some_and(|o| o.index < next_file || next_file == files.len())
        {
            if let Some(done) = open.pop_front() {
                summaries.push(done.finish(plan)?);
            }
        }
        if next_file == files.len() && open.is_empty() {
            break;
        }
    }
    truth.flush().map_err(io("write", &truth_path))?;
    Ok(summaries)
}

/// Writes `secrets/pins.csv`: `code,pin`, then one line per item.
fn write_pins(plan: &DatasetPlan) -> Result<(), DatasetError> {
    let path = plan.options.out_dir.join(PINS_PATH);
    let mut sink =
        BufWriter::with_capacity(1 << 20, File::create(&path).map_err(io("create", &path))?);
    sink.write_all(b"code,pin\n").map_err(io("write", &path))?;
    let seed = plan.options.seed;
    let items = plan.options.items;
    let chunks = items.div_ceil(PIN_CHUNK);
    let window = 2 * rayon::current_num_threads().max(1) as u64;
    let mut first = 0;
    while first < chunks {
        let last = (first + window).min(chunks);
        let texts: Vec<String> = (first..last)
            .into_par_iter()
            .map(|c| {
                let range = c * PIN_CHUNK..((c + 1) * PIN_CHUNK).min(items);
                let mut s = String::with_capacity(30 * (range.end - range.start) as usize);
                for item in range {
                    push_item_code(&mut s, seed, item);
                    s.push(',');
                    push_padded(&mut s, u64::from(item_pin(seed, item)), 8);
                    s.push('\n');
                }
                s
            })
            .collect();
        for t in texts {
            sink.write_all(t.as_bytes()).map_err(io("write", &path))?;
        }
        first = last;
    }
    sink.flush().map_err(io("write", &path))
}

/// Quotes a CSV field when it needs it (a comma, a quote).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Writes `orgs.csv`: `org_id,name`, then one line per organisation of the
/// generator's world (every brand of the catalog, whether or not it has
/// items in this dataset; warehouses, carriers, customs brokers, inspection
/// agencies), for `proofmark serve --orgs`.
fn write_orgs(plan: &DatasetPlan) -> Result<(), DatasetError> {
    let path = plan.options.out_dir.join(ORGS_PATH);
    let mut text = String::from("org_id,name\n");
    let mut line = |id: &str, name: &str| {
        text.push_str(&csv_field(id));
        text.push(',');
        text.push_str(&csv_field(name));
        text.push('\n');
    };
    for brand in &plan.journeys.catalog.brands {
        line(&brand.org_id, &brand.name);
    }
    let parties = &plan.parties;
    for (id, name) in parties.warehouses.iter().zip(lexicon::WAREHOUSES) {
        line(id, name);
    }
    for (id, (name, _, _)) in parties.carriers.iter().zip(lexicon::CARRIERS) {
        line(id, name);
    }
    for (i, id) in parties.brokers.iter().enumerate() {
        line(id, &format!("Customs Broker {i:03} 报关行 {i:03}"));
    }
    for (id, (_, name)) in parties.agencies.iter().zip(lexicon::AGENCIES) {
        line(id, name);
    }
    fs::write(&path, text).map_err(io("write", &path))
}

/// Writes the whole dataset; `progress` is called with the number of records
/// of each row group as it is written.
pub(crate) fn write_dataset(
    plan: &DatasetPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<DatasetSummary, DatasetError> {
    prepare_dir(plan)?;
    let files = write_records(plan, progress)?;
    write_pins(plan)?;
    write_orgs(plan)?;

    let kinds: Vec<KindSummary> = Kind::ALL
        .iter()
        .map(|&kind| {
            let files: Vec<FileSummary> = plan
                .files
                .iter()
                .zip(&files)
                .filter(|(p, _)| p.kind == kind)
                .map(|(_, s)| s.clone())
                .collect();
            KindSummary {
                kind: kind.name().to_owned(),
                rows: files.iter().map(|f| f.rows).sum(),
                bad_rows: files.iter().map(|f| f.bad_rows).sum(),
                bytes: files.iter().map(|f| f.bytes).sum(),
                files,
            }
        })
        .collect();
    let summary = DatasetSummary {
        generator: GENERATOR.to_owned(),
        spec_version: SPEC_VERSION,
        arguments: Arguments::from(&plan.options),
        items: plan.options.items,
        lots: plan.lots(),
        rows: kinds.iter().map(|k| k.rows).sum(),
        bad_rows: kinds.iter().map(|k| k.bad_rows).sum(),
        bytes: kinds.iter().map(|k| k.bytes).sum(),
        kinds,
        truth: TRUTH_PATH.to_owned(),
        secrets: PINS_PATH.to_owned(),
        orgs: Some(ORGS_PATH.to_owned()),
    };
    tracing::info!(
        out = %plan.options.out_dir.display(),
        rows = summary.rows,
        bad_rows = summary.bad_rows,
        bytes = summary.bytes,
        "generated dataset"
    );
    let path = plan.options.out_dir.join(DESCRIPTION_PATH);
    let mut json = serde_json::to_vec_pretty(&summary).map_err(|source| DatasetError::Json {
        path: path.clone(),
        source,
    })?;
    json.push(b'\n');
    fs::write(&path, json).map_err(io("write", &path))?;
    Ok(summary)
}
