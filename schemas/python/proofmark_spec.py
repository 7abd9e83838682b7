"""Independent re-implementation of proofmark specification version 1 (schemas/SPEC.md).

Covers, from SPEC.md alone:

* section 2.2 - the four record kinds, their columns in schema order and column types;
* section 2.1 / 3 - the canonical record encoding v1 (header, presence bytes, value bytes,
  zero padding to whole 64-byte blocks) and a decoder that performs every check section 3
  requires of decoders;
* section 4 - subject keys;
* section 5 - leaf and node functions of the two hash suites (`blake3`, `sha256-rfc6962`);
* sections 6 and 7 - tree levels and roots (MTH), audit paths, and the verification of
  inclusion, consistency and multi-leaf proofs;
* section 9.1 - the leaf bytes of a batch log entry.

Validation (sections 2.3 and 2.4: rules and reason codes) is in `proofmark_spec_validate.py`:
the encoding is defined for every record, valid or not.

Records are JSON-style dicts as in section 10: text as `str`, timestamps / dates / int32 as
`int`, lists as `list`, attachments as `{"uri": str, "digest": str}`, nulls as `None`.

Dependencies: Python 3.11 standard library and the PyPI package `blake3`.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any, Callable

from blake3 import blake3

Record = dict[str, Any]

VERSION = 1
BLOCK = 64  # padding granularity of section 3

# Column types of section 2.1.
TEXT, TIMESTAMP, DATE, INT32, TEXT_LIST, ATTACHMENT_LIST = (
    "text", "timestamp", "date", "int32", "text list", "attachment list")

# Section 2.2: common columns (positions 1 to 5 of every kind), then each kind's own.
COMMON: tuple[tuple[str, str], ...] = (
    ("record_id", TEXT), ("code", TEXT), ("lot_id", TEXT), ("org_id", TEXT),
    ("event_time", TIMESTAMP),
)

#: kind name -> (kind byte, columns in schema order as (name, type)).
KINDS: dict[str, tuple[int, tuple[tuple[str, str], ...]]] = {
    "production": (1, COMMON + (
        ("gtin", TEXT), ("product_name", TEXT), ("brand", TEXT), ("sku", TEXT),
        ("lot_number", TEXT), ("production_date", DATE), ("expiry_date", DATE),
        ("origin_country", TEXT), ("factory_id", TEXT), ("factory_name", TEXT),
        ("factory_address", TEXT), ("certifications", TEXT_LIST), ("ingredients", TEXT),
        ("attachments", ATTACHMENT_LIST))),
    "customs": (2, COMMON + (
        ("declaration_id", TEXT), ("filing_id", TEXT), ("hs_code", TEXT),
        ("origin_country", TEXT), ("trade_country", TEXT), ("port_of_entry", TEXT),
        ("declared_at", TIMESTAMP), ("cleared_at", TIMESTAMP), ("status", TEXT))),
    "logistics": (3, COMMON + (
        ("event_type", TEXT), ("location", TEXT), ("carrier", TEXT), ("waybill", TEXT))),
    "inspection": (4, COMMON + (
        ("agency_id", TEXT), ("agency_name", TEXT), ("inspection_type", TEXT),
        ("result", TEXT), ("report_id", TEXT), ("report_digest", TEXT),
        ("sample_size", INT32))),
}
KIND_BY_BYTE: dict[int, str] = {byte: name for name, (byte, _) in KINDS.items()}


class EncodingError(ValueError):
    """A record cannot be encoded, or bytes are not a valid canonical record."""


# ---------------------------------------------------------------- encoding (sections 2.1, 3)

def _int(fmt: str, value: Any) -> bytes:
    """Pack an integer little-endian with struct format `fmt` ('I' u32, 'i' i32, 'q' i64)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise EncodingError(f"expected an integer, got {value!r}")
    try:
        return struct.pack("<" + fmt, value)
    except struct.error as e:
        raise EncodingError(f"integer {value} out of range for '{fmt}'") from e


def _text(value: Any) -> bytes:
    """Text: u32 byte length, then the UTF-8 bytes (no normalisation)."""
    if not isinstance(value, str):
        raise EncodingError(f"expected text, got {value!r}")
    raw = value.encode("utf-8")  # raises on lone surrogates, which are not UTF-8
    return _int("I", len(raw)) + raw


def _items(value: Any) -> list[Any]:
    """A list value (section 3: a null item is a defect, but still encodes as empty text)."""
    if not isinstance(value, list):
        raise EncodingError(f"expected a list, got {value!r}")
    return value


def _item_text(value: Any) -> bytes:
    """A list item or attachment field: text, or empty text for a null (section 3)."""
    return _text("" if value is None else value)


def _attachment(item: Any) -> bytes:
    """One attachment: `uri` as text, then `digest` as text (a null item: two empty texts)."""
    if item is None:
        item = {"uri": None, "digest": None}
    if not isinstance(item, dict) or not set(item) <= {"uri", "digest"}:
        raise EncodingError(f"attachment must be {{uri, digest}}, got {item!r}")
    return _item_text(item.get("uri")) + _item_text(item.get("digest"))


_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    TEXT: _text,
    TIMESTAMP: lambda v: _int("q", v),
    DATE: lambda v: _int("i", v),
    INT32: lambda v: _int("i", v),
    TEXT_LIST: lambda v: _int("I", len(_items(v))) + b"".join(_item_text(i) for i in _items(v)),
    ATTACHMENT_LIST: lambda v: _int("I", len(_items(v))) + b"".join(
        _attachment(i) for i in _items(v)),
}


def encode_unpadded(kind: str, record: Record) -> bytes:
    """Canonical bytes of `record` before padding (header included); length is `L`.

    The record must have exactly the kind's columns as keys (any order). Every column is
    written in schema order: 0x00 if null, else 0x01 then the value bytes.
    """
    if kind not in KINDS:
        raise EncodingError(f"unknown kind {kind!r}")
    kind_byte, columns = KINDS[kind]
    names = [name for name, _ in columns]
    if set(record) != set(names):
        missing, extra = set(names) - set(record), set(record) - set(names)
        raise EncodingError(f"columns differ: missing {sorted(missing)}, unexpected {sorted(extra)}")
    body = bytearray()
    for name, ctype in columns:
        value = record[name]
        body += b"\x00" if value is None else b"\x01" + _ENCODERS[ctype](value)
    length = 6 + len(body)
    return bytes([VERSION, kind_byte]) + _int("I", length) + bytes(body)


def encode(kind: str, record: Record) -> bytes:
    """Canonical record encoding v1: unpadded bytes, then zeros to a multiple of 64 bytes."""
    raw = encode_unpadded(kind, record)
    return raw + bytes(-len(raw) % BLOCK)


# ---------------------------------------------------------------- decoding (section 3)

class _Reader:
    """Cursor over the field bytes `data[6:L]`; reading past `L` is an error."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise EncodingError(f"field runs past L={self.end} at offset {self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))[0]

    def text(self) -> str:
        raw = self.take(self.int("I"))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise EncodingError(f"text at offset {self.pos - len(raw)} is not UTF-8") from e

    def value(self, ctype: str) -> Any:
        if ctype == TEXT:
            return self.text()
        if ctype == TIMESTAMP:
            return self.int("q")
        if ctype in (DATE, INT32):
            return self.int("i")
        count = self.int("I")
        if ctype == TEXT_LIST:
            return [self.text() for _ in range(count)]
        return [{"uri": self.text(), "digest": self.text()} for _ in range(count)]


def decode(data: bytes) -> tuple[str, Record]:
    """Decode canonical bytes (with padding) into `(kind, record)`.

    Checks, as section 3 requires: the version byte, the kind byte, every presence byte
    (0 or 1), that the fields end exactly at `L`, and that the padding is zeros up to a whole
    64-byte block (total length exactly `ceil(L / 64) * 64`). Also checks (assumption, see
    README) that text is valid UTF-8. Raises `EncodingError` on any failure.
    """
    if len(data) < 6:
        raise EncodingError("shorter than the 6-byte header")
    if data[0] != VERSION:
        raise EncodingError(f"unsupported version {data[0]}")
    if data[1] not in KIND_BY_BYTE:
        raise EncodingError(f"unknown kind byte {data[1]}")
    kind = KIND_BY_BYTE[data[1]]
    length = struct.unpack_from("<I", data, 2)[0]
    if length < 6 or len(data) != -(-length // BLOCK) * BLOCK:
        raise EncodingError(f"total length {len(data)} does not match L={length} padded to 64")
    reader = _Reader(data, 6, length)
    record: Record = {}
    for name, ctype in KINDS[kind][1]:
        presence = reader.take(1)[0]
        if presence not in (0, 1):
            raise EncodingError(f"presence byte {presence} for column {name!r}")
        record[name] = reader.value(ctype) if presence else None
    if reader.pos != length:
        raise EncodingError(f"fields end at {reader.pos}, header says L={length}")
    if any(data[length:]):
        raise EncodingError("non-zero padding")
    return kind, record


# ---------------------------------------------------------------- subject keys (section 4)

def derive_key(context: str) -> bytes:
    """BLAKE3.derive_key(context, key_material = "") with 32-byte output."""
    return blake3(b"", derive_key_context=context).digest()


SUBJECT_HASH_KEY = derive_key("proofmark 2026-11-25 v1 subject key")
ITEM, LOT = 0x01, 0x02  # type bytes: item code (`code`), lot id (`lot_id`)


def subject_key(type_byte: int, subject_id: str) -> bytes:
    """First 16 bytes of BLAKE3.keyed_hash(subject_hash_key, type_byte || UTF-8(id))."""
    data = bytes([type_byte]) + subject_id.encode("utf-8")
    return blake3(data, key=SUBJECT_HASH_KEY).digest()[:16]


def subject_keys(record: Record) -> dict[str, bytes | None]:
    """Subject keys of a record: `item` from `code`, `lot` from `lot_id` (None when null)."""
    code, lot_id = record.get("code"), record.get("lot_id")
    return {"item": None if code is None else subject_key(ITEM, code),
            "lot": None if lot_id is None else subject_key(LOT, lot_id)}


# ---------------------------------------------------------------- hash suites (section 5)

LEAF_KEY = derive_key("proofmark 2026-11-25 v1 merkle leaf")
NODE_KEY = derive_key("proofmark 2026-11-25 v1 merkle node")


def blake3_leaf(data: bytes) -> bytes:
    """`blake3` suite leaf: BLAKE3.keyed_hash(LEAF_KEY, data)."""
    return blake3(data, key=LEAF_KEY).digest()


def blake3_node(left: bytes, right: bytes) -> bytes:
    """`blake3` suite node: BLAKE3.keyed_hash(NODE_KEY, left || right)."""
    return blake3(_pair(left, right), key=NODE_KEY).digest()


def sha256_leaf(data: bytes) -> bytes:
    """`sha256-rfc6962` suite leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def sha256_node(left: bytes, right: bytes) -> bytes:
    """`sha256-rfc6962` suite node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + _pair(left, right)).digest()


def _pair(left: bytes, right: bytes) -> bytes:
    if len(left) != 32 or len(right) != 32:
        raise ValueError("node inputs must be two 32-byte hashes")
    return left + right


#: suite name on the wire -> (binary id, leaf function, node function).
SUITES: dict[str, tuple[int, Callable[[bytes], bytes], Callable[[bytes, bytes], bytes]]] = {
    "blake3": (1, blake3_leaf, blake3_node),
    "sha256-rfc6962": (2, sha256_leaf, sha256_node),
}


def leaf_hash(suite: str, canonical: bytes) -> bytes:
    """Leaf hash of a record's canonical bytes (including the padding) in `suite`."""
    return SUITES[suite][1](canonical)


# ---------------------------------------------------------------- trees and proofs (sections 6, 7)

Node = Callable[[bytes, bytes], bytes]


class ProofError(Exception):
    """A rejected proof or tree; the message is the spec's error name (section 10)."""


def tree_levels(node: Node, entries: list[bytes]) -> list[list[bytes]]:
    """Section 6.1, bottom-up: level 0 is the entries; each level pairs the nodes of the one
    below left to right and carries an odd last node up unchanged; the last level is the root.

    Raises `ProofError("EmptyTree")` for no entries.
    """
    if not entries:
        raise ProofError("EmptyTree")
    levels = [list(entries)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def mth(node: Node, entries: list[bytes]) -> bytes:
    """Section 6.1: the Merkle Tree Hash (root) of n >= 1 entries (leaf hashes already applied)."""
    return tree_levels(node, entries)[-1][0]


def _split_point(n: int) -> int:
    """The largest power of two strictly less than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def audit_path(node: Node, m: int, entries: list[bytes]) -> list[bytes]:
    """Section 7.1: RFC 9162 2.1.3.1 PATH(m, D[0:n]), by recursion on the definition."""
    n = len(entries)
    if n == 1:
        return []
    k = _split_point(n)
    if m < k:
        return audit_path(node, m, entries[:k]) + [mth(node, entries[k:])]
    return audit_path(node, m - k, entries[k:]) + [mth(node, entries[:k])]


def _path_len(index: int, last: int) -> int:
    """Number of hashes of an inclusion path of `index` in a tree whose last index is `last`."""
    count = 0
    while last > 0:
        if index & 1 or index < last:
            count += 1
        index, last = index >> 1, last >> 1
    return count


def _length(got: int, need: int) -> None:
    """The proof length check of sections 7.1 to 7.3."""
    if got < need:
        raise ProofError("TooFewHashes")
    if got > need:
        raise ProofError("TooManyHashes")


def verify_inclusion(node: Node, leaf: bytes, index: int, size: int, hashes: list[bytes],
                     root: bytes) -> None:
    """Section 7.1: raises `ProofError` unless `hashes` lead from `leaf` at `index` to `root`."""
    if size == 0:
        raise ProofError("EmptyTree")
    if index >= size:
        raise ProofError("IndexOutOfRange")
    _length(len(hashes), _path_len(index, size - 1))
    r, i, last, k = leaf, index, size - 1, 0
    while last > 0:
        if i & 1:
            r, k = node(hashes[k], r), k + 1
        elif i < last:
            r, k = node(r, hashes[k]), k + 1
        i, last = i >> 1, last >> 1
    if r != root:
        raise ProofError("RootMismatch")


def verify_consistency(node: Node, old_size: int, size: int, hashes: list[bytes],
                       old_root: bytes, root: bytes) -> None:
    """Section 7.2: raises `ProofError` unless `hashes` prove (old_size, old_root) a prefix of
    (size, root)."""
    if old_size == 0 or old_size > size:
        raise ProofError("InvalidSizes")
    if old_size == size:
        _length(len(hashes), 0)
        if old_root != root:
            raise ProofError("RootMismatch")
        return
    h = (old_size & -old_size).bit_length() - 1
    i = (old_size - 1) >> h
    last = (size - 1) >> h
    _length(len(hashes), (1 if i else 0) + _path_len(i, last))
    k = 0
    if i == 0:
        s = old_root
    else:
        s, k = hashes[0], 1
    old = new = s
    while last > 0:
        if i & 1:
            p, k = hashes[k], k + 1
            old, new = node(p, old), node(p, new)
        elif i < last:
            p, k = hashes[k], k + 1
            new = node(new, p)
        i, last = i >> 1, last >> 1
    if old != old_root:
        raise ProofError("OldRootMismatch")
    if new != root:
        raise ProofError("RootMismatch")


def _multi_walk(node: Node, known: list[tuple[int, bytes | None]], size: int,
                hashes: list[bytes] | None) -> tuple[int, bytes | None]:
    """Section 7.3's walk. Without `hashes`, counts the hashes needed; with them, combines."""
    needed, k, last = 0, 0, size - 1

    def take() -> bytes | None:
        nonlocal needed, k
        needed += 1
        if hashes is None:
            return None
        p, k = hashes[k], k + 1
        return p

    while last > 0:
        parents: list[tuple[int, bytes | None]] = []
        j = 0
        while j < len(known):
            i, h = known[j]
            if i & 1:
                p = take()
                parents.append((i >> 1, None if hashes is None else node(p, h)))
            elif j + 1 < len(known) and known[j + 1][0] == i + 1:
                parents.append((i >> 1, None if hashes is None else node(h, known[j + 1][1])))
                j += 1
            elif i < last:
                p = take()
                parents.append((i >> 1, None if hashes is None else node(h, p)))
            else:
                parents.append((i >> 1, h))
            j += 1
        known, last = parents, last >> 1
    return needed, known[0][1]


def verify_multi(node: Node, leaves: list[bytes], indices: list[int], size: int,
                 hashes: list[bytes], root: bytes) -> None:
    """Section 7.3: raises `ProofError` unless the multi-leaf proof leads to `root`."""
    if size == 0:
        raise ProofError("EmptyTree")
    if not indices:
        raise ProofError("NoIndices")
    if len(leaves) != len(indices):
        raise ProofError("LeafCountMismatch")
    for pos, index in enumerate(indices):
        if index >= size:
            raise ProofError("IndexOutOfRange")
        if pos and index == indices[pos - 1]:
            raise ProofError("DuplicateIndex")
        if pos and index < indices[pos - 1]:
            raise ProofError("UnsortedIndices")
    need, _ = _multi_walk(node, [(i, None) for i in indices], size, None)
    _length(len(hashes), need)
    _, r = _multi_walk(node, list(zip(indices, leaves)), size, hashes)
    if r != root:
        raise ProofError("RootMismatch")


# ---------------------------------------------------------------- the batch log (section 9.1)

def log_entry_bytes(batch_id: str, suite: str, root: str, leaf_count: int,
                    manifest_digest: str) -> bytes:
    """The leaf bytes of a batch log entry: a fixed first line, then five lines of its fields."""
    return (f"proofmark-batch-log-entry v1\n{batch_id}\n{suite}\n{root}\n{leaf_count}\n"
            f"{manifest_digest}\n").encode("utf-8")
