#!/usr/bin/env python3
"""Check committed proofmark batches from their inputs, as schemas/SPEC.md (version 1) says.

For each batch: reads the plan's input files (8.1: sizes, digests, footers, row group byte
ranges, schemas of 2.1 and 2.2, duplicate record ids), re-validates every row (2.3, 2.4),
re-encodes and re-hashes every accepted record (3, 5), rebuilds the segment trees and the batch
root (6, 8.2, 8.3), the index entries (4, 8.4) and the rejects (8.5), and compares all of it with
the stored segment files, `index/entries.bin`, `rejects.parquet` and `manifest.json` (8.6);
checks the ledger receipts (9.3). For the store: the `previous` links and `HEAD.json` (8.6), and
the batch log (9.1, 9.2): its entries, and every checkpoint's signature and root.

It uses nothing of the Rust implementation: proofmark_spec.py (encoding, subject keys, suites,
trees), proofmark_spec_validate.py (validation rules) and, for Ed25519, signed notes and ledger
receipts, verifier/python/verify_proof.py of this repository. Needs Python 3.11+ and the PyPI
packages `blake3` and `pyarrow`.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "verifier" / "python"))
try:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from blake3 import blake3

    import proofmark_spec as pm
    import proofmark_spec_validate as pv
    import verify_proof as vp
except ImportError as missing:
    print(f"error: {missing} (this checker needs the PyPI packages blake3 and pyarrow, and "
          "verifier/python/verify_proof.py of the repository)", file=sys.stderr)
    sys.exit(2)

_, SHA256_LEAF, SHA256_NODE = pm.SUITES["sha256-rfc6962"]
HEX64 = re.compile(r"[0-9a-f]{64}")
BATCH_ID = re.compile(r"[0-9A-Za-z._-]{1,128}")
#: Section 8: names of the temporary files a rerun removes; an input copy so named is prefixed.
PARTIAL_NAMES = (re.compile(r".+#[0-9]+", re.S), re.compile(r"\..+\.[0-9]+\.[0-9]+\.tmp", re.S),
                 re.compile(r"\.proofmark-.+\.tmp", re.S))
#: Section 2.2: the marker column of each kind.
MARKERS = {"gtin": "production", "declaration_id": "customs", "event_type": "logistics",
           "inspection_type": "inspection"}
#: Section 2.1: the time zones of a timestamp column.
UTC_NAMES = {"UTC", "+00:00", "Etc/UTC", "Z"}
KIND_ORDER = list(pm.KINDS)

# The fields of the store's JSON files, each with the test of its JSON type (vp.field_problems).
TEXT, U64, ARRAY, OBJECT = vp.TEXT, vp.U64, vp.ARRAY, vp.OBJECT
U64_LIST = (lambda v: isinstance(v, list) and all(U64[0](x) for x in v), "an array of integers")
ROOT_OR_NULL = (lambda v: v is None or (isinstance(v, str) and HEX64.fullmatch(v) is not None),
                "null or 64 lowercase hex digits")
OBJECT_OR_NULL = (lambda v: v is None or isinstance(v, dict), "null or an object")
PLAN_FIELDS = {"format": TEXT, "spec_version": U64, "batch_id": TEXT, "batch_date": TEXT,
               "suite": TEXT, "input_mode": TEXT, "created_at": TEXT, "tool_version": TEXT,
               "files": ARRAY, "segments": ARRAY, "total_rows": U64}
PLAN_FILE_FIELDS = {"index": U64, "source": TEXT, "path": TEXT, "kind": TEXT, "size": U64,
                    "digest": TEXT, "footer_digest": TEXT, "rows": U64, "row_groups": ARRAY,
                    "duplicate_rows": U64_LIST}
ROW_GROUP_FIELDS = {"rows": U64, "offset": U64, "length": U64, "digest": TEXT}
PLAN_SEGMENT_FIELDS = {"segment": U64, "file": U64, "row_group": U64, "first_row": U64,
                       "rows": U64}
SUMMARY_FIELDS = {"segment": U64, "file": U64, "row_group": U64, "first_row": U64,
                  "rows_read": U64, "rows_accepted": U64, "rows_rejected": U64,
                  "leaf_count": U64, "root": ROOT_OR_NULL, "rejected_rows": U64_LIST,
                  "input_digest": TEXT, "leaves_digest": TEXT, "tree_digest": TEXT,
                  "index_digest": TEXT, "rejects_digest": TEXT, "reasons": OBJECT}
MANIFEST_FIELDS = {"format": TEXT, "spec_version": U64, "encoding_version": U64,
                   "batch_id": TEXT, "batch_date": TEXT, "suite": TEXT, "plan_digest": TEXT,
                   "files": ARRAY, "segments": ARRAY, "rows_read": U64, "rows_accepted": U64,
                   "rows_rejected": U64, "leaf_count": U64, "root": TEXT, "index_digest": TEXT,
                   "rejects_digest": TEXT, "previous": OBJECT_OR_NULL, "tool_version": TEXT,
                   "committed_at": TEXT}
MANIFEST_FILE_FIELDS = {"source": TEXT, "path": TEXT, "kind": TEXT, "digest": TEXT,
                        "rows_read": U64, "rows_accepted": U64, "rows_rejected": U64}
MANIFEST_SEGMENT_FIELDS = {"segment": U64, "leaf_count": U64, "first_leaf": U64,
                           "root": ROOT_OR_NULL, "summary_digest": TEXT}
PREVIOUS_FIELDS = {"batch_id": TEXT, "root": TEXT, "manifest_digest": TEXT}
HEAD_FIELDS = {"format": TEXT, "batch_id": TEXT, "root": TEXT, "manifest_digest": TEXT,
               "updated_at": TEXT}
LOG_ENTRY_FIELDS = {"index": U64, "batch_id": TEXT, "suite": TEXT, "root": TEXT,
                    "leaf_count": U64, "manifest_digest": TEXT}
#: Section 8.5: the keys of a `.rejects.jsonl` line, in order.
REJECT_KEYS = ["file", "row", "record_id", "reasons", "columns", "record"]
#: Section 8.5: the columns of rejects.parquet, their types, and which one is nullable.
REJECTS_SCHEMA = [("file", pa.string(), False), ("row", pa.uint64(), False),
                  ("record_id", pa.string(), True), ("reasons", pa.string(), False),
                  ("columns", pa.string(), False), ("record_json", pa.string(), False)]
#: Section 8.2: a segment's files besides its summary -> (the summary's digest field, the
#: point of the report they belong to).
SEGMENT_FILES = {".leaves": ("leaves_digest", "records"), ".tree": ("tree_digest", "records"),
                 ".index": ("index_digest", "index"),
                 ".rejects.jsonl": ("rejects_digest", "rejects")}

# ---------------------------------------------------------------- the report

#: point -> (title, summary template over the point's counts).
BATCH_POINTS = {
    "inputs": ("inputs (2.1, 2.2, 8.1)",
               "files: {files}, row groups: {row_groups} (sizes, digests, footers, byte ranges, "
               "schemas, duplicate record ids)"),
    "validation": ("validation (2.3, 2.4, 8.2)",
                   "rows re-validated: {rows} (segments re-read: {reread} of {segments}), "
                   "accepted: {accepted}, rejected: {rejected}"),
    "rejects": ("rejects (8.5)",
                "lines of segments/*.rejects.jsonl: {lines} (recomputed: {lines_recomputed}), "
                "rows of rejects.parquet: {parquet_rows}"),
    "records": ("records and trees (3, 5, 6, 8.2, 8.3)",
                "records re-encoded and re-hashed: {records}, stored leaves compared: {records}, "
                "segment roots: {segment_roots}, .tree files: {trees}, batch root: {batch_roots}"),
    "index": ("index (4, 8.4)",
              "entries of segments/*.index: {segment_entries}, of index/entries.bin: "
              "{batch_entries}"),
    "manifest": ("plan and manifest (8.1, 8.2, 8.6)",
                 "plan.json, segment summaries: {summaries}, manifest.json (fields, digests, "
                 "row counts)"),
    "anchors": ("anchors (9.3)", "ledger receipts checked: {ledger_receipts}"),
}
STORE_POINTS = {
    "chain": ("batch chain (8.6)",
              "committed batches: {manifests}, previous links: {links}, HEAD.json"),
    "log": ("batch log (9.1, 9.2)",
            "entries: {entries}, checkpoints signed and recomputed: {checkpoints}, "
            "checkpoint.txt"),
}
MAX_SHOWN = 10  # failures printed per point


class Report:
    """What one batch (or the store) passed: counts, notes and failures per point. Failure
    messages are prefixed with `prefix`, the batch's folder in the store."""

    def __init__(self, name: str, points: dict[str, tuple[str, str]], prefix: str = "") -> None:
        self.name, self.heading, self.points, self.prefix = name, name, points, prefix
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.notes: dict[str, list[str]] = defaultdict(list)
        self.failures: dict[str, list[str]] = defaultdict(list)

    def fail(self, point: str, message: str) -> None:
        """Records a failure; `message` names the file, the segment or row, and what differs."""
        self.failures[point].append(self.prefix + message)

    def check(self, ok: bool, point: str, message: str) -> bool:
        """Records `message` as a failure unless `ok`; returns `ok`."""
        if not ok:
            self.fail(point, message)
        return ok

    def count(self, point: str, name: str, n: int = 1) -> None:
        """Adds `n` to a count of the point's summary."""
        self.counts[point][name] += n

    def note(self, point: str, message: str) -> None:
        """Adds a remark (not a failure) to the point's summary line."""
        self.notes[point].append(message)

    def total_failures(self) -> int:
        """Number of failures over all points."""
        return sum(len(f) for f in self.failures.values())

    def print(self) -> None:
        """Prints one line per point (ok or FAILED, and what was checked), then its failures."""
        print(self.heading)
        for point, (title, template) in self.points.items():
            failures = self.failures.get(point, [])
            status = f"FAILED ({len(failures)})" if failures else "ok"
            summary = "; ".join([template.format_map(self.counts[point])] + self.notes[point])
            print(f"  {status:<12} {title}: {summary}")
            for message in failures[:MAX_SHOWN]:
                print(f"      - {message}")
            if len(failures) > MAX_SHOWN:
                print(f"      - ... and {len(failures) - MAX_SHOWN} more")


class Stop(Exception):
    """A failure (already reported) after which a part of a batch cannot be checked."""


class Unreadable(Exception):
    """Input the checker cannot read at all (exit 2)."""


# ---------------------------------------------------------------- small helpers

def b3(data: bytes) -> str:
    """`blake3:` + hex of the BLAKE3 hash of `data` (the store's digests)."""
    return "blake3:" + blake3(data).hexdigest()


def file_digest(path: Path) -> str:
    """`b3` of a file's bytes, read in chunks."""
    hasher = blake3()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
    return "blake3:" + hasher.hexdigest()


def read_range(path: Path, offset: int, length: int) -> bytes:
    """`length` bytes of a file from `offset`."""
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(length)


def plural(n: int, noun: str) -> str:
    """`n` and the noun, in the plural unless n is 1."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{'es' if noun.endswith('ch') else 's'}"


def first_difference(a: Sequence, b: Sequence) -> int:
    """The first offset at which `a` and `b` (bytes, lists) differ (the shorter length if one
    is a prefix of the other)."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def differing(stored: bytes, recomputed: bytes, size: int) -> list[int]:
    """Positions of the `size`-byte items at which two concatenations differ."""
    count = -(-max(len(stored), len(recomputed)) // size)
    return [i for i in range(count)
            if stored[i * size:(i + 1) * size] != recomputed[i * size:(i + 1) * size]]


def segment_name(number: int, suffix: str) -> str:
    """Section 8: `segments/<n><suffix>`, n zero-padded to at least 6 digits."""
    return f"segments/{number:06d}{suffix}"


def record_json(record: dict[str, Any]) -> str:
    """Section 8.5: a row in the JSON form of section 10, compact, keys in byte order."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class Reject(NamedTuple):
    """A rejected row (section 8.5): its input file's source URL, row, reasons and values."""
    file: str
    row: int
    record_id: str | None
    reasons: list[str]
    columns: list[str]
    record: dict[str, Any]

    def line(self) -> str:
        """The exact `.rejects.jsonl` line (without its `\\n`)."""
        head = json.dumps(dict(zip(REJECT_KEYS, self[:5])), ensure_ascii=False,
                          separators=(",", ":"))
        return f'{head[:-1]},"record":{record_json(self.record)}}}'

    def well_typed(self) -> bool:
        """Whether the values read from a stored line have the types of section 8.5."""
        return (isinstance(self.file, str) and U64[0](self.row)
                and isinstance(self.record_id, (str, type(None)))
                and all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                        for v in (self.reasons, self.columns))
                and isinstance(self.record, dict))


def copy_names(files: list[dict]) -> list[str]:
    """Section 8: the names of the input copies under `inputs/<kind>/`: the source's base
    name, prefixed with `<file index>-` when two inputs share it or it looks like a
    temporary file's."""
    bases = [unquote(urlsplit(f["source"]).path).rsplit("/", 1)[-1] for f in files]
    counts = Counter(bases)
    return [f"{i}-{b}" if counts[b] > 1 or any(p.fullmatch(b) for p in PARTIAL_NAMES) else b
            for i, b in enumerate(bases)]


def arrow_type_ok(ctype: str, t: pa.DataType) -> bool:
    """Section 2.1: whether an Arrow field type is the one a column of type `ctype` has."""
    if ctype == pm.TEXT:
        return pa.types.is_string(t)
    if ctype == pm.TIMESTAMP:
        return pa.types.is_timestamp(t) and t.unit == "us" and t.tz in UTC_NAMES
    if ctype == pm.DATE:
        return pa.types.is_date32(t)
    if ctype == pm.INT32:
        return pa.types.is_int32(t)
    if not pa.types.is_list(t):
        return False
    if ctype == pm.TEXT_LIST:
        return pa.types.is_string(t.value_type)
    item = t.value_type
    return (pa.types.is_struct(item) and sorted(item.names) == ["digest", "uri"]
            and all(pa.types.is_string(item.field(i).type) for i in range(item.num_fields)))


def schema_kind(schema: pa.Schema) -> tuple[str | None, list[str]]:
    """Section 2.2: a file's kind by its marker column, and its columns that mismatch."""
    kinds = [MARKERS[name] for name in schema.names if name in MARKERS]
    if len(kinds) != 1:
        return None, [f"{len(kinds)} marker columns ({', '.join(kinds) or 'none'})"]
    kind = kinds[0]
    expected = dict(pm.KINDS[kind][1])
    names = Counter(schema.names)
    problems = [f"{n} named twice" for n, k in names.items() if k > 1]
    problems += [f"{n} unexpected" for n in names if n not in expected]
    problems += [f"{n} missing" for n in expected if n not in names]
    problems += [f"{n} of type {schema.field(n).type}" for n, ctype in expected.items()
                 if names[n] == 1 and not arrow_type_ok(ctype, schema.field(n).type)]
    return kind, problems


def row_group_range(meta: pq.RowGroupMetaData) -> tuple[int, int]:
    """Section 8.1: (offset, length) of a row group's column chunks: from the smallest chunk
    start (its dictionary page, else its first data page) to the end of the last chunk."""
    spans = []
    for c in range(meta.num_columns):
        chunk = meta.column(c)
        start = (chunk.dictionary_page_offset if chunk.has_dictionary_page
                 else chunk.data_page_offset)
        spans.append((start, start + chunk.total_compressed_size))
    start = min(s for s, _ in spans)
    return start, max(e for _, e in spans) - start


def python_values(column: pa.ChunkedArray, ctype: str) -> list[Any]:
    """A column's values in the JSON-style form of proofmark_spec (timestamps and dates as
    integers)."""
    if ctype == pm.TIMESTAMP:
        column = column.cast(pa.int64())
    elif ctype == pm.DATE:
        column = column.cast(pa.int32())
    return column.to_pylist()


# ---------------------------------------------------------------- the batch log (9)

class Ledger:
    """The store's batch log (section 9): entries and their leaf hashes, and the trusted key."""

    def __init__(self, key: tuple[str, bytes, bytes]) -> None:
        self.key = key
        self.entries: list[dict] = []
        self.leaf_hashes: list[bytes] = []

    def root(self, size: int) -> bytes:
        """The log root of the first `size` entries (RFC 6962, `sha256-rfc6962`)."""
        return pm.mth(SHA256_NODE, self.leaf_hashes[:size])


# ---------------------------------------------------------------- one batch (8)

@dataclass
class Input:
    """An input file of the plan, as read: its Parquet reader (None when it cannot be read),
    the row groups whose bytes are the plan's, and its duplicate rows (8.1)."""
    entry: dict
    name: str
    parquet: pq.ParquetFile | None = None
    good_row_groups: set[int] = field(default_factory=set)
    duplicates: set[int] = field(default_factory=set)


@dataclass
class Segment:
    """What a segment contributes to the batch: its summary, and its leaves, index entries and
    rejects, recomputed from the rows when they were re-read, else as stored."""
    entry: dict
    summary: dict
    summary_digest: str
    leaves: list[bytes]
    entries: list[bytes]
    rejects: list[Reject]
    root: bytes | None


class BatchCheck:
    """The checks of one committed batch (`batches/<batch_id>/`); failures go to `report`."""

    def __init__(self, store: Path, batch_id: str, sample: int | None,
                 anchor_required: bool = True) -> None:
        self.batch_id, self.sample = batch_id, sample
        self.anchor_required = anchor_required
        self.dir = store / "batches" / batch_id
        self.report = Report(f"batch {batch_id}", BATCH_POINTS, f"batches/{batch_id}/")
        self.manifest: dict | None = None
        self.manifest_digest = ""
        self.day = 0  # the batch date in days (2.3), from the plan

    # -- reading the batch's files

    def read(self, rel: str, point: str) -> bytes:
        """The bytes of a file of the batch; a missing one is a failure of `point` (Stop)."""
        try:
            return (self.dir / rel).read_bytes()
        except FileNotFoundError:
            self.report.fail(point, f"{rel}: missing")
            raise Stop from None

    def load(self, data: bytes, rel: str, point: str, fields: dict | None) -> dict:
        """A strict JSON object (no member twice) with exactly `fields`, each of its type, or
        any fields when `fields` is None (or Stop)."""
        try:
            obj = vp.load_json(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            self.report.fail(point, f"{rel}: not strict JSON ({e})")
            raise Stop from None
        if fields is None:
            if not isinstance(obj, dict):
                self.report.fail(point, f"{rel}: not a JSON object")
                raise Stop
            return obj
        self.shape(obj, fields, rel, point)
        return obj

    def shape(self, obj: Any, fields: dict, what: str, point: str) -> None:
        """Fails `point` (and stops) unless `obj` has exactly `fields`, each of its type."""
        wrong = vp.field_problems(obj, fields, what)
        if wrong:
            self.report.fail(point, wrong)
            raise Stop

    # -- the whole batch

    def run(self, ledger: Ledger | None) -> None:
        """Runs every check of the batch, then those of its receipts."""
        inputs: list[Input] = []
        try:
            manifest_bytes = self.read("manifest.json", "manifest")
            self.manifest_digest = b3(manifest_bytes)
            self.manifest = self.load(manifest_bytes, "manifest.json", "manifest",
                                      MANIFEST_FIELDS)
            plan_bytes = self.read("plan.json", "manifest")
            plan = self.load(plan_bytes, "plan.json", "manifest", PLAN_FIELDS)
            self.check_plan(plan)
            self.report.heading += f" ({plan['suite']}, batch date {plan['batch_date']})"
            reread = self.choose_segments(len(plan["segments"]))
            inputs = [self.check_input(plan, f, name)
                      for f, name in zip(plan["files"], copy_names(plan["files"]))]
            segments = [self.check_segment(plan, s, inputs[s["file"]], n in reread)
                        for n, s in enumerate(plan["segments"])]
            self.check_manifest(plan, plan_bytes, inputs, segments)
        except Stop:
            pass
        finally:
            for i in inputs:
                if i.parquet is not None:
                    i.parquet.close()
        if self.manifest is not None:
            self.check_anchors(ledger)

    def choose_segments(self, count: int) -> set[int]:
        """The segments whose rows are re-read: all, or `--sample` of them at random."""
        self.report.count("validation", "segments", count)
        if self.sample is None or self.sample >= count:
            return set(range(count))
        chosen = set(random.SystemRandom().sample(range(count), self.sample))
        listed = ", ".join(str(n) for n in sorted(chosen))
        self.report.note("validation", f"--sample {self.sample}: " + (
            f"rows re-read for segments {listed} only" if chosen else "no row re-read"))
        return chosen

    # -- plan (8.1)

    def check_plan(self, plan: dict) -> None:
        """The plan's own fields, files, row groups and segments (section 8.1); stops when the
        other checks could not rely on it."""
        r, at = self.report, "manifest"
        ok = r.check(plan["format"] == "proofmark-plan", at,
                     "plan.json: format is not proofmark-plan")
        ok &= r.check(plan["spec_version"] == 1, at, "plan.json: spec_version is not 1")
        ok &= r.check(plan["batch_id"] == self.batch_id, at,
                      f"plan.json: batch_id {plan['batch_id']!r} is not the folder's name")
        ok &= r.check(plan["suite"] in pm.SUITES, at,
                      f"plan.json: unknown suite {plan['suite']!r}")
        ok &= r.check(plan["input_mode"] in ("copy", "reference"), at,
                      f"plan.json: unknown input_mode {plan['input_mode']!r}")
        r.check(BATCH_ID.fullmatch(self.batch_id) is not None
                and not self.batch_id.startswith(".") and self.batch_id != "HEAD.json", at,
                "the batch id breaks the rule of section 8")
        try:
            self.day = pv.batch_day(plan["batch_date"])
        except ValueError as e:
            ok = r.check(False, at, f"plan.json: {e}")
        files = plan["files"]
        for i, f in enumerate(files):
            # Plans made before footer_digest existed lack it (8.1).
            old = isinstance(f, dict) and "footer_digest" not in f
            fields = {k: v for k, v in PLAN_FILE_FIELDS.items()
                      if not (old and k == "footer_digest")}
            self.shape(f, fields, f"plan.json files[{i}]", at)
            for g, rg in enumerate(f["row_groups"]):
                self.shape(rg, ROW_GROUP_FIELDS, f"plan.json files[{i}].row_groups[{g}]", at)
            ok &= r.check(f["index"] == i, at, f"plan.json files[{i}]: index is {f['index']}")
            ok &= r.check(f["kind"] in pm.KINDS, at,
                          f"plan.json files[{i}]: unknown kind {f['kind']!r}")
            r.check(f["rows"] == sum(rg["rows"] for rg in f["row_groups"]), at,
                    f"plan.json files[{i}]: rows is not the sum of its row groups' rows")
        if not ok:
            raise Stop
        order = sorted(files, key=lambda f: (KIND_ORDER.index(f["kind"]), f["source"].encode()))
        r.check(order == files, at, "plan.json: files are not ordered by kind, then source URL")
        for n, s in enumerate(plan["segments"]):
            self.shape(s, PLAN_SEGMENT_FIELDS, f"plan.json segments[{n}]", at)
        expected = []
        for f in files:
            first = 0
            for g, rg in enumerate(f["row_groups"]):
                expected.append({"segment": len(expected), "file": f["index"], "row_group": g,
                                 "first_row": first, "rows": rg["rows"]})
                first += rg["rows"]
        if not r.check(plan["segments"] == expected, at,
                       "plan.json: segments are not one per row group, by file then row group"):
            raise Stop
        r.check(plan["total_rows"] == sum(f["rows"] for f in files), at,
                "plan.json: total_rows is not the sum of the files' rows")

    # -- input files (8.1, 2.1, 2.2)

    def input_path(self, plan: dict, f: dict, name: str) -> tuple[Path, str]:
        """Where an input is read, and how messages name it (8: copy or reference mode)."""
        if plan["input_mode"] == "copy":
            rel = f"inputs/{f['kind']}/{name}"
            if not self.report.check(f["path"] == f"batches/{self.batch_id}/{rel}", "inputs",
                                     f"plan.json files[{f['index']}]: path {f['path']!r} is "
                                     f"not batches/{self.batch_id}/{rel}"):
                raise Stop  # not read: the plan names another file than section 8's
            return self.dir / rel, rel
        try:
            url = urlsplit(f["source"])
        except ValueError as e:
            self.report.fail("inputs", f"plan.json files[{f['index']}]: source {f['source']!r} "
                                       f"is not a URL ({e})")
            raise Stop from e
        self.report.check(f["path"] == f["source"], "inputs",
                          f"plan.json files[{f['index']}]: path is not the source URL")
        if url.scheme != "file":
            raise Unreadable(f"batch {self.batch_id}: input {f['source']} (input mode "
                             "reference) is not a local file; this checker reads local files")
        return Path(unquote(url.path)), f"plan.json files[{f['index']}] ({f['source']})"

    def check_input(self, plan: dict, f: dict, name: str) -> Input:
        """Reads an input file whole against the plan: size, digest, footer, row groups (their
        rows, byte ranges and digests), schema and duplicate record ids."""
        r, at = self.report, "inputs"
        r.count(at, "files")
        try:
            path, label = self.input_path(plan, f, name)
        except Stop:
            return Input(f, f["path"])
        inp = Input(f, label)
        if not path.is_file():
            r.fail(at, f"{label}: missing")
            return inp
        size = path.stat().st_size
        r.check(size == f["size"], at, f"{label}: {size} bytes, the plan says {f['size']}")
        r.check(file_digest(path) == f["digest"], at,
                f"{label}: the file's digest is not the plan's")
        tail = read_range(path, max(size - 8, 0), 8)
        footer_len = int.from_bytes(tail[:4], "little") if len(tail) == 8 else 0
        if not r.check(tail[4:] == b"PAR1" and footer_len + 8 <= size, at,
                       f"{label}: not a Parquet file"):
            return inp
        footer = read_range(path, size - 8 - footer_len, footer_len + 8)
        if "footer_digest" in f and not r.check(b3(footer) == f["footer_digest"], at,
                                                f"{label}: the footer's digest is not the "
                                                "plan's footer_digest"):
            return inp
        try:
            inp.parquet = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as e:
            r.fail(at, f"{label}: cannot be read as Parquet ({e})")
            return inp
        meta = inp.parquet.metadata
        r.check(meta.num_rows == f["rows"], at,
                f"{label}: {meta.num_rows} rows, the plan says {f['rows']}")
        r.check(meta.num_row_groups == len(f["row_groups"]), at,
                f"{label}: {meta.num_row_groups} row groups, the plan lists "
                f"{len(f['row_groups'])}")
        for g, rg in enumerate(f["row_groups"][:meta.num_row_groups]):
            r.count(at, "row_groups")
            where = f"{label}: row group {g}"
            rows = meta.row_group(g).num_rows
            offset, length = row_group_range(meta.row_group(g))
            ok = r.check(rows == rg["rows"], at,
                         f"{where}: {rows} rows, the plan says {rg['rows']}")
            ok &= r.check((offset, length) == (rg["offset"], rg["length"]), at,
                          f"{where}: bytes {offset}+{length}, the plan says "
                          f"{rg['offset']}+{rg['length']}")
            ok &= r.check(b3(read_range(path, rg["offset"], rg["length"])) == rg["digest"], at,
                          f"{where} (bytes {rg['offset']}+{rg['length']}): digest is not the "
                          "plan's")
            if ok:
                inp.good_row_groups.add(g)
        kind, problems = schema_kind(inp.parquet.schema_arrow)
        if not r.check(not problems and kind == f["kind"], at,
                       f"{label}: schema is not that of a {f['kind']} file: "
                       f"{'; '.join(problems) or f'it is a {kind} file'}"):
            inp.good_row_groups.clear()
            return inp
        try:
            ids = inp.parquet.read(columns=["record_id"]).column("record_id").to_pylist()
        except (pa.ArrowException, OSError, ValueError) as e:
            r.fail(at, f"{label}: the record_id column cannot be read ({e})")
            inp.good_row_groups.clear()
            return inp
        seen: set[str] = set()
        duplicates = []
        for row, record_id in enumerate(ids):
            if record_id is not None and record_id in seen:
                duplicates.append(row)
            seen.add(record_id)
        r.check(duplicates == f["duplicate_rows"], at,
                f"plan.json files[{f['index']}] ({label}): duplicate_rows "
                f"{f['duplicate_rows']}, the file's record ids repeat at rows {duplicates}")
        inp.duplicates = set(duplicates)
        return inp

    # -- segments (8.2 to 8.5)

    def check_segment(self, plan: dict, seg: dict, inp: Input, reread: bool) -> Segment | None:
        """One segment's summary and stored files against the plan, and, when its rows are
        re-read, against the rows (None when the segment could not be checked)."""
        r, n = self.report, seg["segment"]
        rel = segment_name(n, ".json")
        try:
            summary_bytes = self.read(rel, "manifest")
            summary = self.load(summary_bytes, rel, "manifest", SUMMARY_FIELDS)
            r.count("manifest", "summaries")
            self.check_summary(plan, seg, summary, rel)
            stored = {suffix: self.read(segment_name(n, suffix), point)
                      for suffix, (_, point) in SEGMENT_FILES.items()}
        except Stop:
            return None
        for suffix, (key, _) in SEGMENT_FILES.items():
            r.check(b3(stored[suffix]) == summary[key], "manifest",
                    f"{rel}: {key} is not the digest of {segment_name(n, suffix)}")
        stored_leaves = stored[".leaves"]
        r.check(len(stored_leaves) == 32 * summary["leaf_count"], "records",
                f"{segment_name(n, '.leaves')}: {len(stored_leaves)} bytes for "
                f"{summary['leaf_count']} leaves")
        stored_rejects = self.parse_rejects(n, stored[".rejects.jsonl"], inp.entry["source"],
                                            seg, summary)
        rows = self.read_rows(inp, seg) if reread else None
        if rows is None:
            leaves = [stored_leaves[i:i + 32] for i in range(0, len(stored_leaves) - 31, 32)]
            entries = self.stored_entries(n, stored[".index"], len(leaves))
            rejects = stored_rejects
        else:
            leaves, entries, rejects = self.recompute(plan, seg, inp, rows, summary, stored,
                                                      stored_rejects)
        reasons = Counter(reason for x in rejects for reason in set(x.reasons))
        r.check(dict(summary["reasons"]) == dict(reasons), "validation",
                f"{rel}: reasons {summary['reasons']}, the rejected rows give {dict(reasons)}")
        root = self.check_tree(n, summary, leaves, stored[".tree"], plan["suite"])
        return Segment(seg, summary, b3(summary_bytes), leaves, entries, rejects, root)

    def check_summary(self, plan: dict, seg: dict, summary: dict, rel: str) -> None:
        """Section 8.2: the summary's plan fields and row accounting."""
        r, at = self.report, "manifest"
        for key in ("segment", "file", "row_group", "first_row"):
            r.check(summary[key] == seg[key], at,
                    f"{rel}: {key} {summary[key]}, the plan says {seg[key]}")
        r.check(summary["rows_read"] == seg["rows"], at,
                f"{rel}: rows_read {summary['rows_read']}, the plan's row group has {seg['rows']}")
        r.check(summary["rows_read"] == summary["rows_accepted"] + summary["rows_rejected"], at,
                f"{rel}: rows_read is not rows_accepted + rows_rejected")
        r.check(summary["leaf_count"] == summary["rows_accepted"], at,
                f"{rel}: leaf_count is not rows_accepted")
        rejected = summary["rejected_rows"]
        r.check(rejected == sorted(set(rejected)) and all(x < seg["rows"] for x in rejected)
                and len(rejected) == summary["rows_rejected"], at,
                f"{rel}: rejected_rows are not rows_rejected ascending rows of the row group")
        digest = plan["files"][seg["file"]]["row_groups"][seg["row_group"]]["digest"]
        r.check(summary["input_digest"] == digest, at,
                f"{rel}: input_digest is not the plan's row group digest")

    def parse_rejects(self, n: int, data: bytes, source: str, seg: dict,
                      summary: dict) -> list[Reject]:
        """Section 8.5: the stored `.rejects.jsonl`, each line in its exact form, the lines for
        the rows that the summary lists as rejected."""
        r, rel = self.report, segment_name(n, ".rejects.jsonl")
        try:
            lines = data.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            r.fail("rejects", f"{rel}: not UTF-8")
            return []
        if not r.check(lines.pop() == "", "rejects", f"{rel}: does not end with a line end"):
            return []
        rejects = []
        for i, line in enumerate(lines):
            r.count("rejects", "lines")
            where = f"{rel}: line {i + 1}"
            try:
                obj = vp.load_json(line)
            except (ValueError, RecursionError) as e:
                r.fail("rejects", f"{where}: not strict JSON ({e})")
                continue
            if not r.check(isinstance(obj, dict) and list(obj) == REJECT_KEYS, "rejects",
                           f"{where}: keys are not {', '.join(REJECT_KEYS)} in this order"):
                continue
            reject = Reject(**obj)
            if not r.check(reject.well_typed(), "rejects",
                           f"{where}: a value is not of its type (section 8.5)"):
                continue
            r.check(reject.file == source, "rejects",
                    f"{where}: file {reject.file!r} is not the segment's input {source}")
            r.check(reject.line() == line, "rejects",
                    f"{where}: not in the exact JSON form of section 8.5")
            rejects.append(reject)
        r.check(len(lines) == summary["rows_rejected"], "rejects",
                f"{rel}: {len(lines)} lines for {summary['rows_rejected']} rejected rows")
        rows = [x.row for x in rejects]
        listed = [seg["first_row"] + i for i in summary["rejected_rows"]]
        if rows != listed:
            i = first_difference(rows, listed)
            r.fail("rejects", f"{rel}: the lines' rows are not the summary's rejected_rows: "
                              f"line {i + 1} is for row {rows[i] if i < len(rows) else 'none'}, "
                              f"rejected_rows give row {listed[i] if i < len(listed) else 'none'}")
        return rejects

    def stored_entries(self, n: int, data: bytes, leaf_count: int) -> list[bytes]:
        """Section 8.4: a stored `.index` (used when the segment's rows were not re-read): one
        entry per leaf, sorted."""
        entries = [data[i:i + 24] for i in range(0, len(data), 24)]
        local = sorted(int.from_bytes(e[16:], "big") for e in entries)
        self.report.check(len(data) == 24 * leaf_count and entries == sorted(entries)
                          and local == list(range(leaf_count)), "index",
                          f"{segment_name(n, '.index')}: not one sorted entry per leaf")
        self.report.count("index", "segment_entries", len(entries))
        return entries

    def read_rows(self, inp: Input, seg: dict) -> list[dict] | None:
        """The rows of a segment's row group as records (None when they cannot be read)."""
        r, g = self.report, seg["row_group"]
        if inp.parquet is None or g not in inp.good_row_groups:
            r.note("validation", f"segment {seg['segment']}: rows not re-read (row group {g} "
                                 f"of {inp.name} failed its checks, above)")
            return None
        columns = pv.COLUMNS[inp.entry["kind"]]
        names = [c.name for c in columns]
        try:
            table = inp.parquet.read_row_group(g, columns=names)
            values = [python_values(table.column(c.name), c.type) for c in columns]
        except (pa.ArrowException, OSError, ValueError) as e:
            r.fail("inputs", f"{inp.name}: row group {g} cannot be decoded ({e})")
            return None
        return [dict(zip(names, row)) for row in zip(*values)]

    def recompute(self, plan: dict, seg: dict, inp: Input, rows: list[dict], summary: dict,
                  stored: dict[str, bytes], stored_rejects: list[Reject]
                  ) -> tuple[list[bytes], list[bytes], list[Reject]]:
        """Re-validates, re-encodes and re-hashes a segment's rows (2.3 to 5, 8.4, 8.5) and
        compares the outcome with the stored files; returns (leaves, index entries, rejects)."""
        r, n, kind = self.report, seg["segment"], inp.entry["kind"]
        leaf = pm.SUITES[plan["suite"]][1]
        leaves, leaf_rows, entries, rejects, rejected_rows = [], [], [], [], []
        for i, record in enumerate(rows):
            row = seg["first_row"] + i
            defects = pv.validate(kind, record, self.day, row in inp.duplicates)
            if defects:
                rejected_rows.append(i)
                rejects.append(Reject(inp.entry["source"], row, record["record_id"],
                                      [reason for _, reason in defects],
                                      [column for column, _ in defects], record))
                continue
            code = record["code"]
            key = (pm.subject_key(pm.ITEM, code) if code is not None
                   else pm.subject_key(pm.LOT, record["lot_id"]))
            entries.append(key + len(leaves).to_bytes(8, "big"))
            leaves.append(leaf(pm.encode(kind, record)))
            leaf_rows.append(row)
        entries.sort()
        for name, count in (("reread", 1), ("rows", len(rows)), ("accepted", len(leaves)),
                            ("rejected", len(rejects))):
            r.count("validation", name, count)
        listed = summary["rejected_rows"]
        r.check(listed == rejected_rows, "validation",
                f"{segment_name(n, '.json')}: rejected_rows differ from the re-validated rows "
                f"of {inp.name}: listed, not rejected: {sorted(set(listed) - set(rejected_rows))}"
                f"; rejected, not listed: {sorted(set(rejected_rows) - set(listed))}")
        self.compare_rejects(n, stored_rejects, rejects, stored[".rejects.jsonl"])
        recomputed = b"".join(leaves)
        bad = differing(stored[".leaves"], recomputed, 32)
        if bad:
            i = bad[0]
            row = f"row {leaf_rows[i]} of {inp.name}" if i < len(leaf_rows) else "no record"
            r.fail("records", f"{segment_name(n, '.leaves')}: {len(bad)} of {len(leaves)} leaves "
                              f"differ from the re-hashed records; first leaf {i} ({row}): "
                              f"stored {stored['.leaves'][32 * i:32 * i + 32].hex() or 'none'}, "
                              f"recomputed {recomputed[32 * i:32 * i + 32].hex() or 'none'}")
        r.count("records", "records", len(leaves))
        bad = differing(stored[".index"], b"".join(entries), 24)
        r.check(not bad, "index", f"{segment_name(n, '.index')}: {len(bad)} of {len(entries)} "
                                  "entries differ from those of the records' subject keys "
                                  f"(first at entry {bad[0] if bad else 0})")
        r.count("index", "segment_entries", len(entries))
        return leaves, entries, rejects

    def compare_rejects(self, n: int, stored: list[Reject], recomputed: list[Reject],
                        data: bytes) -> None:
        """The stored rejects of a segment against the re-validated rows, line by line."""
        r, rel = self.report, segment_name(n, ".rejects.jsonl")
        r.count("rejects", "lines_recomputed", len(recomputed))
        if data == "".join(x.line() + "\n" for x in recomputed).encode("utf-8"):
            return
        by_row = {x.row: x for x in stored}
        for x in recomputed:
            have = by_row.get(x.row)
            if have is None:
                r.fail("rejects", f"{rel}: no line for rejected row {x.row} (reasons {x.reasons})")
            elif have != x:
                fields = [k for k in REJECT_KEYS if getattr(have, k) != getattr(x, k)]
                detail = [f"{k} {getattr(have, k)!r} stored, {getattr(x, k)!r} recomputed"
                          for k in fields if k != "record"]
                if "record" in fields:
                    detail.append("the record's values differ")
                r.fail("rejects", f"{rel}: line for row {x.row}: {'; '.join(detail)}")
        extra = sorted(by_row.keys() - {x.row for x in recomputed})
        r.check(not extra, "rejects", f"{rel}: lines for rows {extra}, which are not rejected")

    def check_tree(self, n: int, summary: dict, leaves: list[bytes], tree: bytes,
                   suite: str) -> bytes | None:
        """Sections 6 and 8.3: the segment root and the stored `.tree` levels of `leaves`."""
        r, rel = self.report, segment_name(n, ".tree")
        suite_id, _, node = pm.SUITES[suite]
        levels = pm.tree_levels(node, leaves) if leaves else []
        root = levels[-1][0].hex() if levels else None
        r.check(summary["root"] == root, "records",
                f"{segment_name(n, '.json')}: root {summary['root']}, the leaves give {root}")
        r.count("records", "segment_roots")
        lowest = tree[2] if len(tree) >= 12 else 0  # readers accept 1 to 32 (8.3)
        if r.check(1 <= lowest <= 32, "records", f"{rel}: no valid 12-byte header"):
            stored_levels = levels[lowest:]
            expected = (bytes([1, suite_id, lowest, len(stored_levels)])
                        + len(leaves).to_bytes(8, "little")
                        + b"".join(h for level in stored_levels for h in level))
            r.check(tree == expected, "records",
                    f"{rel}: differs from the levels >= {lowest} of the segment's tree from "
                    f"byte {first_difference(tree, expected)} on ({len(tree)} bytes, expected "
                    f"{len(expected)})")
            r.count("records", "trees")
        return bytes.fromhex(root) if root else None

    # -- the manifest and the batch files (8.4 to 8.6)

    def check_manifest(self, plan: dict, plan_bytes: bytes, inputs: list[Input],
                       segments: list[Segment | None]) -> None:
        """Section 8.6: the manifest against the plan and the segments; the batch root;
        `index/entries.bin` and `rejects.parquet`."""
        r, at, m = self.report, "manifest", self.manifest
        r.check((m["format"], m["spec_version"], m["encoding_version"])
                == ("proofmark-manifest", 1, 1), at,
                "manifest.json: format, spec_version and encoding_version are not "
                "proofmark-manifest, 1, 1")
        for key in ("batch_id", "batch_date", "suite"):
            r.check(m[key] == plan[key], at,
                    f"manifest.json: {key} {m[key]!r}, the plan says {plan[key]!r}")
        r.check(m["plan_digest"] == b3(plan_bytes), at,
                "manifest.json: plan_digest is not the digest of plan.json")
        if not r.check(len(m["files"]) == len(plan["files"]), at,
                       "manifest.json: files differ in number from the plan's"):
            raise Stop
        for i, (mf, f) in enumerate(zip(m["files"], plan["files"])):
            where = f"manifest.json files[{i}]"
            self.shape(mf, MANIFEST_FILE_FIELDS, where, at)
            for key in ("source", "path", "kind", "digest"):
                r.check(mf[key] == f[key], at, f"{where}: {key} is not the plan's")
            r.check(mf["rows_read"] == f["rows"], at, f"{where}: rows_read is not the plan's rows")
            mine = [s for s, p in zip(segments, plan["segments"]) if p["file"] == i]
            if None in mine:
                continue  # a segment that could not be read (above)
            for key in ("rows_read", "rows_accepted", "rows_rejected"):
                total = sum(s.summary[key] for s in mine)
                r.check(mf[key] == total, at, f"{where} ({inputs[i].name}): {key} {mf[key]}, "
                                              f"its segments' summaries give {total}")
        if None in segments or not r.check(len(m["segments"]) == len(segments), at,
                                           "manifest.json: segments differ in number from the "
                                           "plan's"):
            raise Stop
        first_leaf = 0
        for s, ms in zip(segments, m["segments"]):
            n = s.entry["segment"]
            where = f"manifest.json segments[{n}]"
            self.shape(ms, MANIFEST_SEGMENT_FIELDS, where, at)
            r.check(ms["segment"] == n, at, f"{where}: segment {ms['segment']}")
            r.check(ms["leaf_count"] == len(s.leaves), at,
                    f"{where}: leaf_count {ms['leaf_count']}, the segment has {len(s.leaves)}")
            r.check(ms["first_leaf"] == first_leaf, at,
                    f"{where}: first_leaf {ms['first_leaf']}, the segments before it have "
                    f"{first_leaf} leaves")
            r.check(ms["root"] == (s.root.hex() if s.root else None), at,
                    f"{where}: root is not the segment's root")
            r.check(ms["summary_digest"] == s.summary_digest, at,
                    f"{where}: summary_digest is not the digest of {segment_name(n, '.json')}")
            first_leaf += len(s.leaves)
        for key in ("rows_read", "rows_accepted", "rows_rejected"):
            total = sum(s.summary[key] for s in segments)
            r.check(m[key] == total, at,
                    f"manifest.json: {key} {m[key]}, the segments give {total}")
        r.check(m["rows_read"] == plan["total_rows"], at,
                "manifest.json: rows_read is not the plan's total_rows")
        r.check(m["leaf_count"] == first_leaf, at,
                f"manifest.json: leaf_count {m['leaf_count']}, the segments have {first_leaf}")
        roots = [s.root for s in segments if s.root is not None]
        root = pm.mth(pm.SUITES[plan["suite"]][2], roots).hex() if roots else None
        r.check(m["root"] == root, "records",
                f"manifest.json: root {m['root']}, the segment roots give {root}")
        r.count("records", "batch_roots")
        self.check_index(segments)
        self.check_rejects_parquet(segments)

    def check_index(self, segments: list[Segment]) -> None:
        """Section 8.4: `index/entries.bin` is every segment's entries with global leaf
        indexes, sorted."""
        r, rel = self.report, "index/entries.bin"
        expected, first = [], 0
        for s in segments:
            expected += [e[:16] + (first + int.from_bytes(e[16:], "big")).to_bytes(8, "big")
                         for e in s.entries]
            first += len(s.leaves)
        expected.sort()
        try:
            data = self.read(rel, "index")
        except Stop:
            return
        r.check(self.manifest["index_digest"] == b3(data), "manifest",
                f"manifest.json: index_digest is not the digest of {rel}")
        bad = differing(data, b"".join(expected), 24)
        r.check(not bad, "index", f"{rel}: {len(bad)} of {len(expected)} entries differ from the "
                                  f"segments' entries (first at entry {bad[0] if bad else 0})")
        r.count("index", "batch_entries", len(expected))

    def check_rejects_parquet(self, segments: list[Segment]) -> None:
        """Section 8.5: `rejects.parquet` holds every segment's rejects, in order."""
        r, rel = self.report, "rejects.parquet"
        try:
            data = self.read(rel, "rejects")
        except Stop:
            return
        r.check(self.manifest["rejects_digest"] == b3(data), "manifest",
                f"manifest.json: rejects_digest is not the digest of {rel}")
        try:
            table = pq.read_table(pa.BufferReader(data))
            rows = table.to_pylist()
        except (pa.ArrowException, OSError, ValueError) as e:
            r.fail("rejects", f"{rel}: cannot be read as Parquet ({e})")
            return
        schema = [(f.name, f.type, f.nullable) for f in table.schema]
        if not r.check(schema == REJECTS_SCHEMA, "rejects",
                       f"{rel}: columns {schema}, not those of section 8.5"):
            return
        expected = [{"file": x.file, "row": x.row, "record_id": x.record_id,
                     "reasons": ",".join(x.reasons), "columns": ",".join(x.columns),
                     "record_json": record_json(x.record)}
                    for s in segments for x in s.rejects]
        r.check(len(rows) == len(expected), "rejects",
                f"{rel}: {len(rows)} rows, the segments have {len(expected)} rejects")
        for i, (have, want) in enumerate(zip(rows, expected)):
            if have != want:
                fields = ", ".join(k for k in want if have[k] != want[k])
                r.fail("rejects", f"{rel}: row {i} ({want['file']} row {want['row']}) differs "
                                  f"from the segments' rejects in: {fields}")
        r.count("rejects", "parquet_rows", len(rows))

    # -- anchors (9.3)

    def check_anchors(self, ledger: Ledger | None) -> None:
        """Every receipt under `anchors/`: ledger receipts in full (9.3), others noted."""
        receipts = sorted((self.dir / "anchors").glob("*.json"))
        for path in receipts:
            rel = f"anchors/{path.name}"
            try:
                receipt = self.load(path.read_bytes(), rel, "anchors", None)
            except Stop:
                continue
            if "type" in receipt:
                self.check_chain_receipt(receipt, rel)
            else:
                self.check_ledger_receipt(receipt, rel, path.stem, ledger)
        # Nothing vouches for a batch without an anchor checked against the trusted key.
        if self.report.counts["anchors"]["ledger_receipts"] == 0:
            message = ("no ledger receipt checked with the trusted key: nothing this checker "
                       "can check vouches for the batch")
            if self.anchor_required:
                self.report.fail("anchors", message + " (--no-anchor-required to check the "
                                                      "batch's contents alone)")
            else:
                self.report.note("anchors", message)

    def check_chain_receipt(self, receipt: dict, rel: str) -> None:
        """A receipt of another chain (an `evm` one): what it says of the batch is compared with
        the manifest; whether its chain holds it is not checked here (it needs the chain's
        node: `proofmark audit batch --chain`)."""
        r, m, at = self.report, self.manifest, "anchors"
        for key, want in (("batch_id", self.batch_id), ("root", m["root"]),
                          ("leaf_count", m["leaf_count"]), ("suite", m["suite"]),
                          ("manifest_digest", self.manifest_digest)):
            if key in receipt:
                r.check(receipt[key] == want, at,
                        f"{rel}: {key} {receipt[key]!r}, the batch has {want!r}")
        r.note(at, f"{rel}: a {receipt['type']!r} receipt, compared with the manifest but not "
                   "checked on its chain (proofmark audit batch --chain does)")

    def check_ledger_receipt(self, receipt: dict, rel: str, chain: str,
                             ledger: Ledger | None) -> None:
        """Section 9.3: a ledger receipt commits to this batch, is signed by the trusted key,
        and its entry is the stored log's, included in the stored log's tree."""
        r, m, at = self.report, self.manifest, "anchors"
        if not r.check(ledger is not None, at,
                       f"{rel}: a ledger receipt, but the store has no log/"):
            return
        try:
            _, signature = vp.check_ledger(receipt, ledger.key)
        except (vp.Invalid, ValueError) as e:
            r.fail(at, f"{rel}: {e}")
            return
        r.check(signature.startswith("checkpoint signed"), at, f"{rel}: {signature}")
        r.check(receipt["chain"] == chain, at,
                f"{rel}: chain {receipt['chain']!r} is not {chain!r}")
        for key, want in (("batch_id", self.batch_id), ("suite", m["suite"]), ("root", m["root"]),
                          ("leaf_count", m["leaf_count"]),
                          ("manifest_digest", self.manifest_digest)):
            r.check(receipt[key] == want, at,
                    f"{rel}: {key} {receipt[key]!r}, the batch has {want!r}")
        index, size = receipt["log_index"], receipt["log_size"]
        entry = ledger.entries[index] if index < len(ledger.entries) else None
        r.check(entry is not None
                and all(entry[k] == receipt[k] for k in LOG_ENTRY_FIELDS if k != "index"), at,
                f"{rel}: log_index {index} is not this batch's entry in log/entries/")
        note = receipt["checkpoint"]
        _, _, root = vp.parse_checkpoint(note[:note.find("\n\n") + 1])
        r.check(size <= len(ledger.entries) and root == ledger.root(size), at,
                f"{rel}: the checkpoint's root is not that of the first {size} entries of "
                "log/entries/")
        r.count(at, "ledger_receipts")


# ---------------------------------------------------------------- the store (8.6, 9)

def load_json(path: Path, fields: dict, what: str, report: Report, point: str) -> dict | None:
    """A store JSON file, strict, with exactly `fields` (None and a failure otherwise)."""
    try:
        obj = vp.load_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        report.fail(point, f"{what}: missing")
        return None
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        report.fail(point, f"{what}: not strict JSON ({e})")
        return None
    wrong = vp.field_problems(obj, fields, what)
    if wrong:
        report.fail(point, wrong)
        return None
    return obj


def check_log(store: Path, key: tuple[str, bytes, bytes], report: Report) -> Ledger:
    """Sections 9.1 and 9.2: the log's entries, and every checkpoint: signed by `key`, of its
    file's size, with the root of that many entries; `checkpoint.txt` is the latest."""
    at, log = "log", store / "log"
    ledger = Ledger(key)
    for i, name in enumerate(sorted(p.name for p in (log / "entries").glob("*.json"))):
        what = f"log/entries/{name}"
        if not report.check(name == f"{i:020d}.json", at, f"{what}: entry {i} is missing"):
            break
        entry = load_json(log / "entries" / name, LOG_ENTRY_FIELDS, what, report, at)
        if entry is None:
            break
        report.check(entry["index"] == i, at, f"{what}: index {entry['index']}")
        ledger.entries.append(entry)
        ledger.leaf_hashes.append(SHA256_LEAF(pm.log_entry_bytes(
            entry["batch_id"], entry["suite"], entry["root"], entry["leaf_count"],
            entry["manifest_digest"])))
    report.count(at, "entries", len(ledger.entries))
    twice = sorted(b for b, c in Counter(e["batch_id"] for e in ledger.entries).items() if c > 1)
    report.check(not twice, at, f"log/entries: batch ids appear twice: {twice}")
    latest: tuple[int, bytes] | None = None
    for path in sorted((log / "checkpoints").glob("*.txt")):
        what = f"log/checkpoints/{path.name}"
        data = path.read_bytes()
        try:
            origin, size, root = vp.parse_checkpoint(vp.open_note(data.decode("utf-8"), key))
        except (vp.Invalid, ValueError) as e:
            report.fail(at, f"{what}: {e}")
            continue
        report.check(origin == key[0], at,
                     f"{what}: origin {origin!r} is not the key's name {key[0]!r}")
        report.check(path.name == f"{size:020d}.txt", at,
                     f"{what}: holds the checkpoint of size {size}")
        report.check(0 < size <= len(ledger.entries) and root == ledger.root(size), at,
                     f"{what}: root is not that of the first {size} entries of log/entries/")
        report.count(at, "checkpoints")
        if latest is None or size > latest[0]:
            latest = (size, data)
    if latest is None:
        report.check(not ledger.entries, at,
                     f"log/checkpoints: no checkpoint signed by the key, for "
                     f"{plural(len(ledger.entries), 'entry')}")
    else:
        current = log / "checkpoint.txt"
        report.check(current.is_file() and current.read_bytes() == latest[1], at,
                     f"log/checkpoint.txt: is not the latest checkpoint (size {latest[0]})")
        if latest[0] < len(ledger.entries):
            report.note(at, f"the latest checkpoint signs {latest[0]} of "
                            f"{len(ledger.entries)} entries (an append not finished)")
    return ledger


def check_chain(store: Path, committed: list[str], ledger: Ledger | None,
                report: Report) -> None:
    """Section 8.6: every committed batch's `previous` names a committed manifest by its digest
    and root; `HEAD.json` names a committed batch that no other names as its previous; and
    each log entry of a committed batch is its manifest's (9.1)."""
    at = "chain"
    manifests: dict[str, tuple[dict, str]] = {}
    for batch_id in committed:
        path = store / "batches" / batch_id / "manifest.json"
        manifest = load_json(path, MANIFEST_FIELDS, f"batches/{batch_id}/manifest.json",
                             report, at)
        if manifest is not None:
            manifests[batch_id] = (manifest, b3(path.read_bytes()))
    report.count(at, "manifests", len(committed))

    def names(batch_id: str, root: str, manifest_digest: str) -> bool:
        """Whether a batch is committed with that root and manifest digest."""
        found = manifests.get(batch_id)
        return found is not None and (found[0]["root"], found[1]) == (root, manifest_digest)

    for batch_id, (manifest, _) in manifests.items():
        previous = manifest["previous"]
        if previous is None:
            continue
        what = f"batches/{batch_id}/manifest.json previous"
        wrong = vp.field_problems(previous, PREVIOUS_FIELDS, what)
        if wrong:
            report.fail(at, wrong)
            continue
        report.check(names(previous["batch_id"], previous["root"], previous["manifest_digest"]),
                     at, f"{what}: names batch {previous['batch_id']!r}, which is not committed "
                         "with that root and manifest digest")
        report.count(at, "links")
    head = load_json(store / "batches" / "HEAD.json", HEAD_FIELDS, "batches/HEAD.json",
                     report, at)
    if head is not None:
        report.check(head["format"] == "proofmark-head"
                     and names(head["batch_id"], head["root"], head["manifest_digest"]), at,
                     f"batches/HEAD.json: names batch {head['batch_id']!r}, which is not "
                     "committed with that root and manifest digest")
        later = [b for b, (m, _) in manifests.items()
                 if m["previous"] and m["previous"].get("batch_id") == head["batch_id"]]
        report.check(not later, at, f"batches/HEAD.json: names {head['batch_id']!r}, but "
                                    f"{later} came after it")
    for entry in ledger.entries if ledger else []:
        if entry["batch_id"] in manifests:
            manifest, digest = manifests[entry["batch_id"]]
            report.check((entry["suite"], entry["leaf_count"])
                         == (manifest["suite"], manifest["leaf_count"])
                         and names(entry["batch_id"], entry["root"], entry["manifest_digest"]),
                         at, f"log/entries/{entry['index']:020d}.json: is not batch "
                             f"{entry['batch_id']!r} as committed")


# ---------------------------------------------------------------- command line

def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (see --help)."""
    parser = argparse.ArgumentParser(
        prog="check_batch.py",
        description="\n\n".join(__doc__.split("\n\n")[:2]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 when every check passed; 1 when any failed (each failure names\n"
               "the batch's file, the segment or row, and what differed); 2 for a usage error\n"
               "or input that cannot be read (no such store or batch, no key or a bad one).\n\n"
               "Not checked: whether an evm chain holds its receipts (their fields are\n"
               "compared with the manifest; `proofmark audit batch --chain` checks them on\n"
               "their chain); inputs or stores behind URLs (local folders only).")
    parser.add_argument("store", metavar="STORE", type=Path,
                        help="the store: a local folder holding batches/ (and log/); object "
                             "store URLs are not read")
    parser.add_argument("batch_ids", metavar="BATCH_ID", nargs="*", default=[],
                        help="the batches to check (default: every committed batch of the "
                             "store, that is every batches/<id>/ with a manifest.json)")
    parser.add_argument("--verifier-key", metavar="KEY|@FILE",
                        help="the ledger's verifier key, name+keyid+base64key, or @FILE to read "
                             "it from FILE; obtain it independently (the store's own "
                             "log/verifier-key.txt is only for a local try). Needed when the "
                             "store has a batch log: it checks every checkpoint's and receipt's "
                             "signature")
    parser.add_argument("--no-anchor-required", action="store_true",
                        help="check a batch's contents even when no ledger receipt of it can "
                             "be checked with the key (an unanchored batch, or one anchored "
                             "on evm chains only); by default that is a failure, since nothing "
                             "this checker can check then vouches for the batch")
    parser.add_argument("--sample", metavar="N", type=int,
                        help="re-read, re-validate and re-hash the rows of only N segments per "
                             "batch, chosen at random (default: every segment); the other "
                             "checks, stored leaves against the roots included, still cover "
                             "every segment")
    args = parser.parse_args(argv)
    if args.sample is not None and args.sample < 0:
        parser.error("--sample N needs N >= 0")
    return args


def trusted_key(text: str) -> tuple[str, bytes, bytes]:
    """The verifier key given as KEY or @FILE, parsed (section 9.2)."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as e:
            raise Unreadable(f"--verifier-key: {e}") from e
    try:
        return vp.parse_verifier_key(text)
    except (vp.Invalid, ValueError) as e:
        raise Unreadable(f"--verifier-key: not a verifier key ({e})") from e


def main(argv: list[str]) -> int:
    """Checks the batches; prints the summary and the verdict; returns the exit status."""
    args = parse_args(argv)
    store: Path = args.store
    try:
        if not (store / "batches").is_dir():
            raise Unreadable(f"{store}: not a store (no batches/ folder)")
        committed = sorted(p.parent.name for p in (store / "batches").glob("*/manifest.json"))
        for batch_id in args.batch_ids:
            if batch_id not in committed:
                raise Unreadable(f"{store}: no committed batch {batch_id!r} "
                                 f"(no batches/{batch_id}/manifest.json)")
        store_report = Report(f"store {store}", STORE_POINTS)
        ledger = None
        if (store / "log").is_dir():
            if args.verifier_key is None:
                raise Unreadable(f"{store} has a batch log: give --verifier-key KEY|@FILE, "
                                 "obtained independently (for a local try, "
                                 f"@{store / 'log' / 'verifier-key.txt'})")
            ledger = check_log(store, trusted_key(args.verifier_key), store_report)
        else:
            store_report.note("log", "the store has no batch log")
        reports = []
        for batch_id in args.batch_ids or committed:
            check = BatchCheck(store, batch_id, args.sample, not args.no_anchor_required)
            check.run(ledger)
            reports.append(check.report)
        check_chain(store, committed, ledger, store_report)
    except (Unreadable, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - a bug here must not read as a verdict on the store
        print(f"error: internal: {type(e).__name__}: {e} (a bug of this checker, not a verdict "
              "on the store)", file=sys.stderr)
        return 2
    reports.append(store_report)
    for report in reports:
        report.print()
    failures = sum(r.total_failures() for r in reports)
    records = sum(r.counts["records"]["records"] for r in reports)
    roots = sum(r.counts["records"]["segment_roots"] + r.counts["records"]["batch_roots"]
                for r in reports)
    if failures:
        failed = ", ".join(f"{r.name}: {r.total_failures()}" for r in reports
                           if r.total_failures())
        print(f"NOT VERIFIED: {plural(failures, 'failure')} ({failed})")
        return 1
    reread = sum(r.counts["validation"]["reread"] for r in reports)
    segments = sum(r.counts["validation"]["segments"] for r in reports)
    sampled = (f" (rows re-read for {reread} of {segments} segments only: --sample)"
               if reread < segments else "")
    anchored = sum(1 for r in reports[:-1] if r.counts["anchors"]["ledger_receipts"])
    print(f"VERIFIED: {plural(len(reports) - 1, 'batch')} ({anchored} with a ledger receipt "
          f"checked with the key), {plural(records, 'record')} re-hashed, "
          f"{plural(roots, 'root')} recomputed: the store agrees with SPEC.md{sampled}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
