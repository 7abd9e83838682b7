#!/usr/bin/env python3
"""Independent verifier of proofmark code reports, written from schemas/SPEC.md alone.

Usage:
    verify_proof.py REPORT.json [--ledger-key KEY] [--no-anchor-required] [--quiet]
    verify_proof.py -               (the report on standard input)

REPORT.json is the body of `GET /v1/codes/{code}` (format `proofmark-code/1`), read as strict
JSON: an object with a member named twice fails the report (section 11.1). For every record:
its lists must be as a committed record has them (no null item; an attachment has exactly a
`uri` and a `digest`, both text), and its values are re-encoded canonically (SPEC.md section
3) and must equal `canonical`; those bytes are leaf-hashed with the batch's suite (section 5) and must equal
`leaf_hash`; the batch proof (sections 7.4 and 7.5, decoded strictly) must lead from the leaf
hash to the batch root; the record must be about the code (its `code`, or, with a null
`code`, a lot listed in `subjects`). The first subject must be the item of the code, the lot
subjects exactly the lots bound to it by its `production` records or `labelled` logistics
events, and `batches` exactly the records' batches (section 11.2, step 1). Across the records
of each batch, the proofs must place the leaves consistently: one segment start and size per
segment, no leaf twice, segments in order (the placement rule, step 4). For every batch: its
suite must be known, its root and manifest digest lowercase hex and its leaf count not 0; every
anchor receipt must carry and commit to the batch's id, suite, root, leaf count and manifest
digest; a `ledger` receipt (one without a `type` field) must have a checkpoint that parses, of
its `log_size`, in whose tree its entry (section 9.1) is included (RFC 6962 inclusion,
SHA-256), whatever key is trusted: these checks need none (section 9.3). With `--ledger-key`
(the log's verifier key `name+keyid+base64key`, obtained independently) the checkpoint's
Ed25519 signature is checked too (section 9.2) with a pure-Python Ed25519 (RFC 8032) built on
hashlib, when the key has the name of the checkpoint's origin or of the receipt's key; a key of
that name that did not sign it fails the receipt. Receipts with a `type` (of any value, `null`
included) are reported as not checked against their chain. `source.file` and `source.row` are
not checked: nothing commits to them (section 11.2).

The report is VERIFIED only if every check passed and every batch has an anchor checked
against a trusted key (unless --no-anchor-required). KEY is the key itself or a file holding
it. Exit status: 0 verified, 1 not verified (also a JSON document that is no code report),
2 error (unreadable input, the `blake3` package missing).

Needs Python 3.9+ and the `blake3` package; nothing else beyond the standard library, and
nothing from the rest of this repository, on purpose: it shows that the spec alone is enough.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import os
import struct
import sys
from typing import Any, Callable, Optional

try:
    import blake3
except ImportError:  # reported by main(), after --help
    blake3 = None

# ---------------------------------------------------------------- records (sections 2 and 3)

T, TS, DATE, I32, TLIST, ALIST = "text", "timestamp", "date", "int32", "text list", "attachments"
COMMON = [("record_id", T), ("code", T), ("lot_id", T), ("org_id", T), ("event_time", TS)]
KINDS: dict[str, tuple[int, list[tuple[str, str]]]] = {
    "production": (1, COMMON + [
        ("gtin", T), ("product_name", T), ("brand", T), ("sku", T), ("lot_number", T),
        ("production_date", DATE), ("expiry_date", DATE), ("origin_country", T),
        ("factory_id", T), ("factory_name", T), ("factory_address", T),
        ("certifications", TLIST), ("ingredients", T), ("attachments", ALIST)]),
    "customs": (2, COMMON + [
        ("declaration_id", T), ("filing_id", T), ("hs_code", T), ("origin_country", T),
        ("trade_country", T), ("port_of_entry", T), ("declared_at", TS), ("cleared_at", TS),
        ("status", T)]),
    "logistics": (3, COMMON + [
        ("event_type", T), ("location", T), ("carrier", T), ("waybill", T)]),
    "inspection": (4, COMMON + [
        ("agency_id", T), ("agency_name", T), ("inspection_type", T), ("result", T),
        ("report_id", T), ("report_digest", T), ("sample_size", I32)]),
}


class Invalid(Exception):
    """Something in the report is not what the spec allows."""


def _text(v: Any) -> bytes:
    if not isinstance(v, str):
        raise Invalid(f"expected text, got {v!r}")
    b = v.encode("utf-8")
    return struct.pack("<I", len(b)) + b


def _int(v: Any, fmt: str, lo: int, hi: int) -> bytes:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise Invalid(f"expected an integer in [{lo}, {hi}], got {v!r}")
    return struct.pack(fmt, v)


def _value(ty: str, v: Any) -> bytes:
    if ty == T:
        return _text(v)
    if ty == TS:
        return _int(v, "<q", -(2**63), 2**63 - 1)
    if ty in (DATE, I32):
        return _int(v, "<i", -(2**31), 2**31 - 1)
    if not isinstance(v, list):
        raise Invalid(f"expected a list, got {v!r}")
    out = struct.pack("<I", len(v))
    # Section 11.2, step 2.1: the lists of a record that can have been committed. A null item,
    # or an attachment with a null, missing or extra key, has canonical bytes (section 3), but
    # no committed record has one (the null_list_item defect, 2.4) and the bytes would not
    # show what the report shows.
    for item in v:
        if ty == TLIST:
            out += _text(item)
        else:
            if not isinstance(item, dict) or set(item) != {"uri", "digest"}:
                raise Invalid(f"expected an attachment with exactly a uri and a digest, got {item!r}")
            for key in ("uri", "digest"):
                out += _text(item[key])
    return out


def canonical(kind: str, record: dict) -> bytes:
    """The canonical bytes of a record, padding included (section 3)."""
    if kind not in KINDS:
        raise Invalid(f"unknown kind {kind!r}")
    kind_byte, columns = KINDS[kind]
    unknown = set(record) - {name for name, _ in columns}
    if unknown:
        raise Invalid(f"columns not of kind {kind}: {sorted(unknown)}")
    missing = [name for name, _ in columns if name not in record]
    if missing:
        raise Invalid(f"the record lacks the {kind} columns {missing}")
    body = b""
    for name, ty in columns:
        v = record.get(name)
        body += b"\x00" if v is None else b"\x01" + _value(ty, v)
    length = 6 + len(body)
    data = bytes([1, kind_byte]) + struct.pack("<I", length) + body
    return data + bytes(-len(data) % 64)


# ---------------------------------------------------------------- hash suites (sections 4, 5)

def _derive(context: str) -> bytes:
    if blake3 is None:  # main() refuses to run without it
        return b""
    return blake3.blake3(b"", derive_key_context=context).digest()


LEAF_KEY = _derive("proofmark 2026-11-25 v1 merkle leaf")
NODE_KEY = _derive("proofmark 2026-11-25 v1 merkle node")
SUBJECT_KEY = _derive("proofmark 2026-11-25 v1 subject key")

SUITES: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes, bytes], bytes]]] = {
    "blake3": (lambda d: blake3.blake3(d, key=LEAF_KEY).digest(),
               lambda l, r: blake3.blake3(l + r, key=NODE_KEY).digest()),
    "sha256-rfc6962": (lambda d: hashlib.sha256(b"\x00" + d).digest(),
                       lambda l, r: hashlib.sha256(b"\x01" + l + r).digest()),
}


def subject_key(type_byte: int, subject_id: str) -> bytes:
    return blake3.blake3(bytes([type_byte]) + subject_id.encode("utf-8"), key=SUBJECT_KEY).digest()[:16]


# ---------------------------------------------------------------- proofs (sections 6, 7)

HEX64 = re.compile(r"[0-9a-f]{64}")
BATCH_FIELDS = ["version", "suite", "kind", "index", "tree_size", "hashes",
                "segment_index", "segment_count", "upper_hashes"]


def _hash(text: Any, what: str) -> bytes:
    if not isinstance(text, str) or not HEX64.fullmatch(text):
        raise Invalid(f"{what} is not 64 lowercase hex digits")
    return bytes.fromhex(text)


def _u64(v: Any, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**64:
        raise Invalid(f"{what} is not an unsigned 64-bit integer")
    return v


def decode_batch_proof(obj: Any) -> dict:
    """Decodes a JSON batch proof strictly (section 7.5)."""
    if not isinstance(obj, dict):
        raise Invalid("the proof is not a JSON object")
    extra = set(obj) - set(BATCH_FIELDS)
    if extra:
        raise Invalid(f"unexpected proof fields {sorted(extra)}")
    missing = [f for f in BATCH_FIELDS if f not in obj]
    if missing:
        raise Invalid(f"missing proof fields {missing}")
    if type(obj["version"]) is not int or obj["version"] != 1:
        raise Invalid(f"proof version {obj['version']!r} is not 1")
    if obj["kind"] != "batch":
        raise Invalid(f"proof kind {obj['kind']!r} is not batch")
    if obj["suite"] not in SUITES:
        raise Invalid(f"unknown suite {obj['suite']!r}")
    out = {"suite": obj["suite"]}
    for f in ("index", "tree_size", "segment_index", "segment_count"):
        out[f] = _u64(obj[f], f)
    for f in ("hashes", "upper_hashes"):
        if not isinstance(obj[f], list) or len(obj[f]) > 64:
            raise Invalid(f"{f} is not a list of at most 64 hashes")
        out[f] = [_hash(h, f) for h in obj[f]]
    return out


def root_from_inclusion(node, leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """Section 7.1 steps 1-2: the root a path leads to; raises on a malformed proof."""
    if size == 0:
        raise Invalid("EmptyTree")
    if index >= size:
        raise Invalid("IndexOutOfRange")
    need, i, last = 0, index, size - 1
    while last > 0:
        if i & 1 or i < last:
            need += 1
        i, last = i >> 1, last >> 1
    if len(path) != need:
        raise Invalid("TooFewHashes" if len(path) < need else "TooManyHashes")
    r, i, last, k = leaf, index, size - 1, 0
    while last > 0:
        if i & 1:
            r, k = node(path[k], r), k + 1
        elif i < last:
            r, k = node(r, path[k]), k + 1
        i, last = i >> 1, last >> 1
    return r


# ---------------------------------------------------------------- Ed25519 (RFC 8032, section 5.1.7)

_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_Q = 2**252 + 27742317777372353535851937790883648493
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _add(a, b):
    A = (a[1] - a[0]) * (b[1] - b[0]) % _P
    B = (a[1] + a[0]) * (b[1] + b[0]) % _P
    C = 2 * a[3] * b[3] * _D % _P
    D = 2 * a[2] * b[2] % _P
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F % _P, G * H % _P, F * G % _P, E * H % _P)


def _mul(s: int, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _equal(a, b) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y: int, sign: int) -> Optional[int]:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _decompress(s: bytes):
    y = int.from_bytes(s, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public), _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _Q
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


# ---------------------------------------------------------------- ledger receipts (section 9)

def parse_verifier_key(text: str) -> tuple[str, bytes, bytes]:
    """`name+hex(key id)+base64(0x01 || public key)` -> (name, key id, public key)."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise Invalid("verifier key is not name+keyid+key")
    name, key_id_hex, key_b64 = parts
    raw = base64.b64decode(key_b64, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise Invalid("verifier key is not an Ed25519 key")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_id_hex.lower():
        raise Invalid("verifier key id does not match its name and key")
    return name, key_id, raw[1:]


def open_note(note: str, key: tuple[str, bytes, bytes]) -> str:
    """The text of a signed note whose signature by `key` verifies (C2SP signed-note)."""
    name, key_id, public = key
    split = note.find("\n\n")
    if split < 0:
        raise Invalid("the checkpoint is not a signed note")
    text, sigs = note[: split + 1], note[split + 2:]
    if not sigs.endswith("\n"):
        raise Invalid("the checkpoint's signature block does not end with a newline")
    # Section 9.2: every signature line has the form, those of other keys too (a line that
    # does not makes the note malformed, wherever it is).
    lines = []
    for line in sigs[:-1].split("\n"):
        signer, space, b64 = line[2:].partition(" ")
        if not line.startswith("\u2014 ") or not space or not signer:
            raise Invalid("malformed signature line")
        try:
            raw = base64.b64decode(b64, validate=True)
        except ValueError:
            raise Invalid("a signature is not base64") from None
        # The one form that encoding the bytes gives (the bits after the last byte zero).
        if base64.b64encode(raw).decode("ascii") != b64:
            raise Invalid("a signature is not base64 in its standard form")
        if len(raw) < 4:
            raise Invalid("a signature line has no key id")
        lines.append((signer, raw))
    for signer, raw in lines:
        if signer == name and raw[:4] == key_id:
            if ed25519_verify(public, text.encode("utf-8"), raw[4:]):
                return text
            raise Invalid(f"the signature by {name} does not verify")
    raise Invalid(f"the checkpoint has no signature by {name}")


def parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """A checkpoint's text (section 9.2): (origin, size, root); extension lines are ignored."""
    if not text.endswith("\n"):
        raise Invalid("malformed checkpoint: no final newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        raise Invalid("malformed checkpoint: no origin, size and root lines")
    if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]) or int(lines[1]) >= 1 << 64:
        raise Invalid("malformed checkpoint: the size is not a decimal number")
    if any(not line for line in lines[3:]):
        raise Invalid("malformed checkpoint: an empty extension line")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise Invalid("malformed checkpoint: the root is not base64") from None
    # Exactly 32 bytes, in the one form that encoding them gives (the bits after them zero).
    if len(root) != 32 or base64.b64encode(root).decode("ascii") != lines[2]:
        raise Invalid("malformed checkpoint: the root is not 32 bytes of standard base64")
    return lines[0], int(lines[1]), root


def check_ledger(receipt: dict, key) -> tuple[str, str]:
    """Checks a ledger receipt's inclusion (and signature with `key`).
    Returns (inclusion status, signature status); raises Invalid on a failure."""
    wrong = [f"{name} is missing" if name not in receipt else f"{name} is not {kind}"
             for name, (test, kind) in LEDGER_RECEIPT_FIELDS.items()
             if name not in receipt or not test(receipt[name])]
    if wrong:
        raise Invalid(f"malformed ledger receipt: {'; '.join(wrong)}")
    note = receipt["checkpoint"]
    split = note.find("\n\n")
    if split < 0:
        raise Invalid("the checkpoint is not a signed note")
    origin, size, root = parse_checkpoint(note[: split + 1])
    if size != receipt["log_size"]:
        raise Invalid("the receipt's log_size differs from its checkpoint's size")
    entry = "proofmark-batch-log-entry v1\n{}\n{}\n{}\n{}\n{}\n".format(
        receipt["batch_id"], receipt["suite"], receipt["root"], receipt["leaf_count"],
        receipt["manifest_digest"]).encode("utf-8")
    sha_leaf, sha_node = SUITES["sha256-rfc6962"]
    path = [_hash(h, "inclusion_proof") for h in receipt["inclusion_proof"]]
    got = root_from_inclusion(sha_node, sha_leaf(entry), _u64(receipt["log_index"], "log_index"),
                              size, path)
    if got != root:
        raise Invalid("the entry is not included in the checkpoint's tree")
    inclusion = f"entry {receipt['log_index']} of {size} included in the checkpoint"
    if key is None:
        return inclusion, "signature not checked (no --ledger-key)"
    # The trusted key is the one named as the origin, or as the receipt's own key (section
    # 9.3); the origin must be the name of the key that signed the checkpoint (9.2).
    if key[0] not in (origin, str(receipt["verifier_key"]).split("+")[0]):
        return inclusion, f"signature not checked (no trusted key named {origin!r})"
    if key[0] != origin:
        raise Invalid(f"the checkpoint's origin {origin!r} is not the trusted key's name {key[0]!r}")
    if open_note(note, key) != note[: split + 1]:
        raise Invalid("signed text differs")
    return inclusion, f"checkpoint signed by {origin}"


# ---------------------------------------------------------------- the report

class DuplicateMember(ValueError):
    """An object of the document names a member twice."""


def _no_duplicates(pairs: list) -> dict:
    seen: dict = {}
    for k, v in pairs:
        if k in seen:
            raise DuplicateMember(f"the member {k!r} appears twice in one object")
        seen[k] = v
    return seen


def _integer(text: str) -> Any:
    # JSON's -0 is not an unsigned integer: keep it a float, as other readers do, so that a
    # field that needs an integer refuses it.
    return -0.0 if text == "-0" else int(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(text: str) -> Any:
    """Strict JSON (RFC 8259): no member named twice in an object, no NaN or Infinity."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_int=_integer,
                      parse_constant=_no_constant)


def _is_u64(v: Any) -> bool:
    """An unsigned 64-bit JSON integer (not a bool, not a float such as 1.0)."""
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 64


# The fields of each object of a code report (section 11.1), exactly these, each with the
# test of its JSON type.
TEXT = (lambda v: isinstance(v, str), "a string")
U64 = (_is_u64, "an unsigned 64-bit integer")
ARRAY = (lambda v: isinstance(v, list), "an array")
OBJECT = (lambda v: isinstance(v, dict), "an object")
REPORT_FIELDS = {"format": TEXT, "code": TEXT, "subjects": ARRAY, "records": ARRAY,
                 "batches": OBJECT}
SUBJECT_FIELDS = {"type": TEXT, "id": TEXT, "key": TEXT}
RECORD_FIELDS = {"kind": TEXT, "subject": TEXT, "record": OBJECT, "canonical": TEXT,
                 "leaf_hash": TEXT, "batch_id": TEXT, "leaf_index": U64, "source": OBJECT,
                 "proof": OBJECT}
SOURCE_FIELDS = {"file": TEXT, "row": U64, "provided_by": TEXT}
BATCH_OBJECT_FIELDS = {"suite": TEXT, "root": TEXT, "leaf_count": U64, "manifest_digest": TEXT,
                       "batch_date": TEXT, "anchors": OBJECT}
# The fields of a ledger receipt (section 9.3), each with the test of its JSON type; other
# fields are ignored (section 11.1).
LEDGER_RECEIPT_FIELDS = {"chain": TEXT, "batch_id": TEXT, "root": TEXT, "leaf_count": U64,
                         "manifest_digest": TEXT, "suite": TEXT, "log_index": U64,
                         "log_size": U64, "checkpoint": TEXT, "inclusion_proof": ARRAY,
                         "verifier_key": TEXT, "anchored_at": TEXT}


def field_problems(obj: Any, expected: dict, what: str) -> Optional[str]:
    """Why obj is not an object with exactly the fields expected, each of its type, or None."""
    if not isinstance(obj, dict):
        return f"{what} is not an object"
    missing, unknown = sorted(expected.keys() - obj.keys()), sorted(obj.keys() - expected.keys())
    if missing or unknown:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                ([f"unknown {', '.join(unknown)}"] if unknown else [])
        return f"{what}: {'; '.join(parts)}"
    wrong = [f"{name} is not {kind}" for name, (test, kind) in expected.items()
             if not test(obj[name])]
    return f"{what}: {'; '.join(wrong)}" if wrong else None


def _shape(report: Any) -> list[str]:
    """The report's objects that do not have exactly their fields, of their types (11.1)."""
    wrong = field_problems(report, REPORT_FIELDS, "the report")
    if wrong:
        return [wrong]
    out = [field_problems(s, SUBJECT_FIELDS, f"subject {i}") for i, s in enumerate(report["subjects"])]
    for i, r in enumerate(report["records"]):
        wrong = field_problems(r, RECORD_FIELDS, f"record {i}")
        out.append(wrong or field_problems(r["source"], SOURCE_FIELDS, f"record {i} source"))
    for batch_id, b in report["batches"].items():
        out.append(field_problems(b, BATCH_OBJECT_FIELDS, f"batch {batch_id}"))
    return [w for w in out if w]


def verify_report(report: dict, key, require_anchor: bool = True) -> tuple[bool, list[str], list[str]]:
    """Returns (verified, failures, notes)."""
    failures: list[str] = []
    notes: list[str] = []
    shape = _shape(report)
    if shape:
        return False, [f"malformed report: {w}" for w in shape], notes
    if report.get("format") != "proofmark-code/1":
        failures.append(f"format {report.get('format')!r} is not proofmark-code/1")
    records = report.get("records") or []
    if not records:
        failures.append("the report has no records")
    code = report.get("code")
    lots = set()
    subjects = report.get("subjects") or []
    if not subjects or subjects[0].get("type") != "item" or subjects[0].get("id") != code:
        failures.append("the first subject is not the item of the report's code")
    for i, s in enumerate(subjects):
        tb = {"item": 1, "lot": 2}.get(s.get("type"))
        if tb is None or subject_key(tb, s.get("id", "")).hex() != s.get("key"):
            failures.append(f"subject {s.get('id')!r}: wrong type or key")
        if i > 0 and s.get("type") != "lot":
            failures.append(f"subject {s.get('id')!r}: only lots may follow the item")
        if s.get("type") == "lot":
            lots.add(s.get("id"))
    # Listing (section 11.2, step 1): each subject once; each record once, ordered by
    # event_time, then batch_id (byte order), then leaf_index, strictly ascending.
    pairs = [(s.get("type"), s.get("id")) for s in subjects]
    if len(set(pairs)) != len(pairs):
        failures.append("a subject is listed twice")

    def order_key(rec: dict):
        t = (rec.get("record") or {}).get("event_time")
        t = t if isinstance(t, int) and not isinstance(t, bool) else -(2 ** 63)
        return (t, str(rec.get("batch_id", "")).encode("utf-8"), rec.get("leaf_index", 0))

    for i in range(1, len(records)):
        a, b = order_key(records[i - 1]), order_key(records[i])
        if a[1:] == b[1:]:
            failures.append(f"records {i - 1} and {i} are the same leaf: a record is listed once")
        elif a >= b:
            failures.append(f"record {i - 1} is listed before record {i}, against the order of section 11.1")

    def binds(rec: dict, lot) -> bool:
        """Whether rec is a record of the item that binds it to lot (section 11.1)."""
        values = rec.get("record") or {}
        return (rec.get("subject") == "item" and values.get("code") == code
                and values.get("lot_id") == lot
                and (rec.get("kind") == "production"
                     or (rec.get("kind") == "logistics" and values.get("event_type") == "labelled")))

    for lot in sorted(lots):
        if not any(binds(rec, lot) for rec in records):
            failures.append(f"lot {lot!r} is a subject but no production or labelled logistics "
                            "record of the item binds it")
    # ... and every lot an item record binds is a subject (else the report hides a bound lot
    # and its records while showing the binding).
    for i, rec in enumerate(records):
        values = rec.get("record") or {}
        lot = values.get("lot_id")
        if (rec.get("subject") == "item" and isinstance(lot, str) and lot not in lots
                and (rec.get("kind") == "production"
                     or (rec.get("kind") == "logistics" and values.get("event_type") == "labelled"))):
            failures.append(f"record {i} binds the item to lot {lot!r}, which is not a subject")
    batches = report.get("batches", {})
    # `batches` holds exactly the records' batches (section 11.1).
    for batch_id in batches:
        if not any(rec.get("batch_id") == batch_id for rec in records):
            failures.append(f"batch {batch_id!r} holds no record of the report")
    # Where each verified proof puts its leaf, for the placement rule (section 11.2, step 4):
    # (batch_id, segment u, segment count m, index s, segment size n, first leaf f, position).
    placed: list[tuple[str, int, int, int, int, int, int]] = []
    for i, rec in enumerate(records):
        where = f"record {i} ({rec.get('record', {}).get('record_id')})"
        try:
            values = rec["record"]
            if rec["subject"] == "item" and values.get("code") != code:
                raise Invalid("found as the item but its code differs")
            if rec["subject"] == "lot" and ("code" not in values or values["code"] is not None):
                raise Invalid("found as a record of its lot but it has a code")
            if rec["subject"] == "lot" and values.get("lot_id") not in lots:
                raise Invalid("found by lot but its lot is not a subject")
            if rec["subject"] not in ("item", "lot"):
                raise Invalid("unknown subject")
            if rec["source"]["provided_by"] != values.get("org_id"):
                raise Invalid("provided_by is not the record's org_id")
            batch = batches.get(rec["batch_id"])
            if batch is None:
                raise Invalid(f"batch {rec['batch_id']!r} is not in the report")
            leaf_fn, node_fn = SUITES[batch["suite"]]
            data = canonical(rec["kind"], values)
            if data.hex() != rec["canonical"]:
                raise Invalid("the record's values do not encode to the canonical bytes given")
            leaf = leaf_fn(data)
            if leaf.hex() != rec["leaf_hash"]:
                raise Invalid("the canonical bytes do not hash to the leaf hash given")
            proof = decode_batch_proof(rec["proof"])
            if proof["suite"] != batch["suite"]:
                raise Invalid("the proof is for another suite than the batch")
            seg_root = root_from_inclusion(node_fn, leaf, proof["index"], proof["tree_size"],
                                           proof["hashes"])
            root = root_from_inclusion(node_fn, seg_root, proof["segment_index"],
                                       proof["segment_count"], proof["upper_hashes"])
            if root != _hash(batch["root"], "batch root"):
                raise Invalid("RootMismatch: the proof leads to another root")
            first = rec["leaf_index"] - proof["index"]
            end = first + proof["tree_size"]
            if (rec["leaf_index"] >= batch["leaf_count"] or first < 0 or end > batch["leaf_count"]
                    or (proof["segment_index"] == 0 and first != 0)
                    or (proof["segment_index"] + 1 == proof["segment_count"]
                        and end != batch["leaf_count"])):
                raise Invalid("leaf_index is inconsistent with the proof and the leaf count")
            placed.append((rec["batch_id"], proof["segment_index"], proof["segment_count"],
                           proof["index"], proof["tree_size"], first, i))
        except Invalid as e:
            failures.append(f"{where}: {e}")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            failures.append(f"{where}: malformed ({type(e).__name__}: {e})")
    failures.extend(check_placement(placed))
    for batch_id, batch in batches.items():
        # Section 11.2, step 3: the batch object's own fields are well formed.
        wrong = [what for what, ok in (
            ("suite is not a suite name of section 5", batch["suite"] in SUITES),
            ("root is not 64 lowercase hex digits", HEX64.fullmatch(batch["root"])),
            ("manifest_digest is not blake3: and 64 lowercase hex digits",
             batch["manifest_digest"].startswith("blake3:")
             and HEX64.fullmatch(batch["manifest_digest"][7:])),
            ("leaf_count is 0: an empty batch has no proofs", batch["leaf_count"] > 0),
        ) if not ok]
        if wrong:
            failures.append(f"batch {batch_id}: {'; '.join(wrong)}")
        trusted, receipt_failed = False, False
        for chain, receipt in (batch.get("anchors") or {}).items():
            where = f"batch {batch_id} anchor {chain}"
            try:
                if not isinstance(receipt, dict):
                    raise Invalid("the receipt is not an object")
                # Section 11.2, step 3: every receipt names the batch and commits to its root,
                # leaf count, manifest digest and suite; one that lacks a field commits to less.
                for f in ("batch_id", "root", "suite", "manifest_digest", "leaf_count"):
                    expected = batch_id if f == "batch_id" else batch[f]
                    if f not in receipt:
                        raise Invalid(f"the receipt names no {f}")
                    value = receipt[f]
                    if (f == "leaf_count" and not _is_u64(value)) or value != expected:
                        raise Invalid(f"the receipt anchors {f} {value!r}, the batch says {expected!r}")
                if "type" not in receipt:  # a ledger receipt (section 9.3)
                    if receipt.get("chain") != chain:
                        raise Invalid("the receipt is for another chain")
                    inclusion, signature = check_ledger(receipt, key)
                    notes.append(f"{where}: {inclusion}; {signature}")
                    trusted = trusted or signature.startswith("checkpoint signed")
                else:
                    notes.append(f"{where}: a {receipt['type']!r} receipt, not checked "
                                 "against the chain")
            except Invalid as e:
                failures.append(f"{where}: {e}")
                receipt_failed = True
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                failures.append(f"{where}: malformed receipt ({type(e).__name__}: {e})")
                receipt_failed = True
        if require_anchor and not trusted:
            if receipt_failed:
                failures.append(f"batch {batch_id}: no anchor verified: a receipt was checked "
                                "and found wrong (above)")
            else:
                failures.append(f"batch {batch_id}: no anchor checked against a trusted key")
    return not failures, failures, notes


def check_placement(placed: list[tuple[str, int, int, int, int, int, int]]) -> list[str]:
    """The placement rule (section 11.2, step 4) over the records whose proofs verified: in
    each batch, records of one segment u have the same f = leaf_index - s and segment size n;
    no two have the same (u, s); segments follow in the order of u (f1 + n1 <= f2); one
    segment count m."""
    out = []
    placed = sorted(placed, key=lambda p: (p[0].encode("utf-8"), p[1], p[3], p[6]))
    for a, b in zip(placed, placed[1:]):
        (batch, u1, m1, s1, n1, f1, i), (other, u2, m2, s2, n2, f2, j) = a, b
        if batch != other:
            continue
        if m1 != m2:
            out.append(f"records {i} and {j} give batch {batch} {m1} and {m2} segments")
        elif u1 == u2 and s1 == s2:
            out.append(f"records {i} and {j} are both leaf {s1} of segment {u1} of batch "
                       f"{batch}: a leaf is listed once")
        elif u1 == u2 and (f1, n1) != (f2, n2):
            out.append(f"records {i} and {j} put segment {u1} of batch {batch} at leaves "
                       f"{f1}..{f1 + n1} and {f2}..{f2 + n2}")
        elif u1 != u2 and f1 + n1 > f2:
            out.append(f"records {i} and {j} put segment {u1} of batch {batch} at leaves "
                       f"{f1}..{f1 + n1}, past the start of segment {u2} at {f2}")
    return out


def main(argv: list[str]) -> int:
    args = argv[1:]
    key_text = None
    require_anchor, quiet = True, False
    paths = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--ledger-key" and i + 1 < len(args):
            key_text, i = args[i + 1], i + 2
            continue
        if a == "--no-anchor-required":
            require_anchor = False
        elif a == "--quiet":
            quiet = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            paths.append(a)
        i += 1
    if len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    if blake3 is None:
        print("error: this verifier needs the blake3 package (pip install blake3)", file=sys.stderr)
        return 2
    twice = None
    try:
        text = sys.stdin.read() if paths[0] == "-" else open(paths[0], encoding="utf-8").read()
        # A byte order mark that an editor wrote at the start is skipped (RFC 8259 allows it).
        text = text[1:] if text.startswith("\ufeff") else text
        try:
            report = load_json(text)
        except DuplicateMember as e:
            # JSON, but with a member named twice: a report that fails its checks (11.1).
            twice, report = str(e), json.loads(text)
        if key_text and os.path.isfile(key_text):
            with open(key_text, encoding="utf-8") as f:
                key_text = f.read().strip()
        key = parse_verifier_key(key_text) if key_text else None
    except (OSError, ValueError, RecursionError, Invalid) as e:
        print(f"error: {e}" if not isinstance(e, RecursionError) else "error: the JSON is nested too deeply",
              file=sys.stderr)
        return 2
    if twice is not None:
        verified, failures, notes = False, [f"malformed report (section 11.1): {twice}"], []
    else:
        verified, failures, notes = verify_report(report, key, require_anchor)
    code = report.get("code") if isinstance(report, dict) else None
    if not isinstance(code, str):
        code = "(no code)"
    if not quiet:
        for n in notes:
            print(f"  {n}")
    if verified:
        print(f"VERIFIED {code}: {len(report['records'])} record(s)")
        return 0
    print(f"NOT VERIFIED {code}")
    for f in failures:
        print(f"  - {f}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
