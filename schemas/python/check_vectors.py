"""Check the record vectors of proofmark SPEC.md section 10 against proofmark_spec.py.

Usage: check_vectors.py [VECTORS_DIR]   (default: ../vectors relative to this script)

For every `records/*.json`: re-computes from `kind` and `record` the canonical bytes, the
unpadded length, the subject keys and both leaf hashes, compares each with the file, decodes the
canonical bytes back and compares with the record, and checks that the decoder rejects a few
corruptions of those bytes.

For every `trees/*.json` (section 10, tree vector files): re-computes the leaf hashes and the
root (section 6), the audit path of every `inclusion` case (section 7.1), and verifies every
valid inclusion, consistency (7.2) and multi-leaf (7.3) proof; every `invalid` case must be
rejected with the error the file names (the first failing check, in the order the spec lists
them). Prints one line per failure, then `N passed, M failed` per family.
Exit code 0 only if nothing failed, at least 24 record vectors and at least 32 tree files passed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import proofmark_spec as pm

MIN_VECTORS = 24
MIN_TREE_VECTORS = 32


def without_null_items(record: dict) -> dict:
    """The record as its canonical bytes decode: null list items become empty texts (section 3)."""
    out = dict(record)
    for key, value in record.items():
        if isinstance(value, list):
            items = []
            for item in value:
                if item is None:
                    item = "" if all(isinstance(i, (str, type(None))) for i in value) else {"uri": "", "digest": ""}
                elif isinstance(item, dict):
                    item = {k: ("" if v is None else v) for k, v in item.items()}
                items.append(item)
            out[key] = items
    return out


def corruptions(canonical: bytes, length: int) -> dict[str, bytes]:
    """Byte strings derived from a valid encoding that section 3 says decoders must refuse."""
    def patch(offset: int, value: int) -> bytes:
        b = bytearray(canonical)
        b[offset] = value
        return bytes(b)

    def with_length(new_length: int) -> bytes:
        return canonical[:2] + new_length.to_bytes(4, "little") + canonical[6:]

    cases = {
        "version 2": patch(0, 2),
        "kind byte 0": patch(1, 0),
        "kind byte 5": patch(1, 5),
        "presence byte 2": patch(6, 2),
        "L - 1": with_length(length - 1),
        "L + 1": with_length(length + 1),
        "extra zero block": canonical + bytes(64),
        "truncated": canonical[:-1],
    }
    if length < len(canonical):
        cases["non-zero padding"] = patch(len(canonical) - 1, 1)
    return cases


def check(case: dict) -> list[str]:
    """Return the list of mismatches for one record vector (empty when it passes)."""
    errors: list[str] = []
    kind, record = case["kind"], case["record"]
    if case.get("spec_version") != 1:
        errors.append(f"spec_version {case.get('spec_version')!r} != 1")
    canonical = pm.encode(kind, record)
    length = len(pm.encode_unpadded(kind, record))
    if canonical.hex() != case["canonical_hex"]:
        errors.append(f"canonical_hex differs:\n  got  {canonical.hex()}\n  want {case['canonical_hex']}")
    if length != case["unpadded_length"]:
        errors.append(f"unpadded_length {length} != {case['unpadded_length']}")
    keys = {k: (v.hex() if v is not None else None) for k, v in pm.subject_keys(record).items()}
    if keys != case["subject_keys"]:
        errors.append(f"subject_keys {keys} != {case['subject_keys']}")
    for suite in pm.SUITES:
        got = pm.leaf_hash(suite, canonical).hex()
        if got != case["leaf_hashes"].get(suite):
            errors.append(f"leaf hash {suite} {got} != {case['leaf_hashes'].get(suite)}")
    try:
        expected = bytes.fromhex(case["canonical_hex"])
        if pm.decode(expected) != (kind, without_null_items(record)):
            errors.append("decode(canonical_hex) != (kind, record)")
    except pm.EncodingError as e:
        errors.append(f"decode(canonical_hex) refused valid bytes: {e}")
    for what, bad in corruptions(canonical, length).items():
        try:
            pm.decode(bad)
            errors.append(f"decoder accepted corrupted bytes ({what})")
        except pm.EncodingError:
            pass
    return errors


# ---------------------------------------------------------------- trees and proofs (sections 6, 7)

class ProofError(Exception):
    """A rejected proof; the message is the spec's error name."""


def split_point(n: int) -> int:
    """The largest power of two strictly less than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(node, entries: list[bytes]) -> bytes:
    """Section 6.1: the Merkle Tree Hash of n >= 1 entries (leaf hashes already applied)."""
    if len(entries) == 1:
        return entries[0]
    k = split_point(len(entries))
    return node(mth(node, entries[:k]), mth(node, entries[k:]))


def audit_path(node, m: int, entries: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[0:n]), by recursion on the definition."""
    n = len(entries)
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return audit_path(node, m, entries[:k]) + [mth(node, entries[k:])]
    return audit_path(node, m - k, entries[k:]) + [mth(node, entries[:k])]


def _path_len(index: int, last: int) -> int:
    count = 0
    while last > 0:
        if index & 1 or index < last:
            count += 1
        index, last = index >> 1, last >> 1
    return count


def _length(got: int, need: int) -> None:
    if got < need:
        raise ProofError("TooFewHashes")
    if got > need:
        raise ProofError("TooManyHashes")


def verify_inclusion(node, leaf: bytes, index: int, size: int, hashes: list[bytes], root: bytes) -> None:
    """Section 7.1."""
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


def verify_consistency(node, old_size: int, size: int, hashes: list[bytes], old_root: bytes, root: bytes) -> None:
    """Section 7.2."""
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


def _multi_walk(node, known: list[tuple[int, bytes | None]], size: int, hashes: list[bytes] | None) -> tuple[int, bytes | None]:
    """Section 7.3's walk. Without `hashes`, counts the hashes needed; with them, combines."""
    needed, k, last = 0, 0, size - 1

    def take():
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


def verify_multi(node, leaves: list[bytes], indices: list[int], size: int, hashes: list[bytes], root: bytes) -> None:
    """Section 7.3."""
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


def _hexes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def check_tree(case: dict) -> list[str]:
    """Return the list of mismatches for one tree vector file (empty when it passes)."""
    errors: list[str] = []
    _, leaf, node = pm.SUITES[case["suite"]]
    n = case["tree_size"]
    data = _hexes(case["leaves"])
    leaf_hashes = [leaf(d) for d in data]
    if len(data) != n:
        errors.append(f"{len(data)} leaves for tree_size {n}")
    if [h.hex() for h in leaf_hashes] != case["leaf_hashes"]:
        errors.append("leaf_hashes differ")
    if n == 0:
        if case.get("build_error") != "EmptyTree" or "root" in case:
            errors.append("an empty tree must have build_error EmptyTree and no root")
        root = bytes(32)
    else:
        root = mth(node, leaf_hashes)
        if root.hex() != case.get("root"):
            errors.append(f"root {root.hex()} != {case.get('root')}")

    def attempt(what: str, fn, *args) -> str | None:
        try:
            fn(node, *args)
            return None
        except ProofError as e:
            return str(e)
        except (IndexError, ValueError, KeyError) as e:
            return f"crash {type(e).__name__}: {e} ({what})"

    for c in case.get("inclusion", []):
        m, hashes = c["index"], _hexes(c["hashes"])
        if hashes != audit_path(node, m, leaf_hashes):
            errors.append(f"inclusion {m}: the proof is not PATH({m}, D[0:{n}])")
        err = attempt("inclusion", verify_inclusion, leaf_hashes[m], m, n, hashes, root)
        if err:
            errors.append(f"valid inclusion proof of {m} rejected: {err}")
    for c in case.get("consistency", []):
        m = c["old_size"]
        old_root = mth(node, leaf_hashes[:m])
        if old_root.hex() != c["old_root"]:
            errors.append(f"consistency from {m}: old_root differs")
        err = attempt("consistency", verify_consistency, m, n, _hexes(c["hashes"]), old_root, root)
        if err:
            errors.append(f"valid consistency proof from {m} rejected: {err}")
    for c in case.get("multi", []):
        idx = c["indices"]
        err = attempt("multi", verify_multi, [leaf_hashes[i] for i in idx], idx, n, _hexes(c["hashes"]), root)
        if err:
            errors.append(f"valid multi proof of {idx} rejected: {err}")
    for c in case.get("invalid", []):
        kind, want = c["kind"], c["error"]
        hashes = _hexes(c["hashes"])
        r = bytes.fromhex(c["root"]) if c.get("root") else bytes(32)
        if kind == "inclusion":
            got = attempt(kind, verify_inclusion, bytes.fromhex(c["leaf_hash"]), c["index"], c["tree_size"], hashes, r)
        elif kind == "consistency":
            old = bytes.fromhex(c["old_root"]) if c.get("old_root") else bytes(32)
            got = attempt(kind, verify_consistency, c["old_size"], c["tree_size"], hashes, old, r)
        elif kind == "multi":
            got = attempt(kind, verify_multi, _hexes(c["leaf_hashes"]), c["indices"], c["tree_size"], hashes, r)
        else:
            errors.append(f"unknown invalid kind {kind!r}")
            continue
        if got != want:
            errors.append(f"invalid {kind} ({c.get('description')}): got {got or 'accepted'}, want {want}")
    return errors


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "vectors"
    passed = failed = 0
    for path in sorted((root / "records").glob("*.json")):
        try:
            errors = check(json.loads(path.read_text(encoding="utf-8")))
        except Exception as e:  # a crash on one vector is a failure of that vector
            errors = [f"{type(e).__name__}: {e}"]
        for error in errors:
            print(f"FAIL {path.name}: {error}")
        passed, failed = (passed, failed + 1) if errors else (passed + 1, failed)
    print(f"records: {passed} passed, {failed} failed")
    tree_passed = tree_failed = 0
    for path in sorted((root / "trees").glob("*.json")):
        try:
            errors = check_tree(json.loads(path.read_text(encoding="utf-8")))
        except Exception as e:  # a crash on one vector is a failure of that vector
            errors = [f"{type(e).__name__}: {e}"]
        for error in errors:
            print(f"FAIL trees/{path.name}: {error}")
        tree_passed, tree_failed = (tree_passed, tree_failed + 1) if errors else (tree_passed + 1, tree_failed)
    print(f"trees: {tree_passed} passed, {tree_failed} failed")
    ok = failed == 0 and passed >= MIN_VECTORS and tree_failed == 0 and tree_passed >= MIN_TREE_VECTORS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
