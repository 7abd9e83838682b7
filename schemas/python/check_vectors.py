"""Check the vectors of proofmark SPEC.md section 10 against proofmark_spec.py.

Usage: check_vectors.py [VECTORS_DIR]   (default: ../vectors relative to this script)

For every `records/*.json`: re-computes from `kind` and `record` the canonical bytes, the
unpadded length, the reasons validation reports for `batch_date` (sections 2.3, 2.4, with
proofmark_spec_validate.py), the subject keys and both leaf hashes, compares each with the
file, decodes the canonical bytes back and compares with the record, and checks that the
decoder rejects a few corruptions of those bytes.

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
import proofmark_spec_validate as pv

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
    reasons = [reason for _, reason in pv.validate(kind, record, pv.batch_day(case["batch_date"]))]
    if reasons != case["reasons"]:
        errors.append(f"reasons {reasons} != {case['reasons']}")
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
        root = pm.mth(node, leaf_hashes)
        if root.hex() != case.get("root"):
            errors.append(f"root {root.hex()} != {case.get('root')}")

    def attempt(what: str, fn, *args) -> str | None:
        try:
            fn(node, *args)
            return None
        except pm.ProofError as e:
            return str(e)
        except (IndexError, ValueError, KeyError) as e:
            return f"crash {type(e).__name__}: {e} ({what})"

    for c in case.get("inclusion", []):
        m, hashes = c["index"], _hexes(c["hashes"])
        if hashes != pm.audit_path(node, m, leaf_hashes):
            errors.append(f"inclusion {m}: the proof is not PATH({m}, D[0:{n}])")
        err = attempt("inclusion", pm.verify_inclusion, leaf_hashes[m], m, n, hashes, root)
        if err:
            errors.append(f"valid inclusion proof of {m} rejected: {err}")
    for c in case.get("consistency", []):
        m = c["old_size"]
        old_root = pm.mth(node, leaf_hashes[:m])
        if old_root.hex() != c["old_root"]:
            errors.append(f"consistency from {m}: old_root differs")
        err = attempt("consistency", pm.verify_consistency, m, n, _hexes(c["hashes"]), old_root, root)
        if err:
            errors.append(f"valid consistency proof from {m} rejected: {err}")
    for c in case.get("multi", []):
        idx = c["indices"]
        err = attempt("multi", pm.verify_multi, [leaf_hashes[i] for i in idx], idx, n, _hexes(c["hashes"]), root)
        if err:
            errors.append(f"valid multi proof of {idx} rejected: {err}")
    for c in case.get("invalid", []):
        kind, want = c["kind"], c["error"]
        hashes = _hexes(c["hashes"])
        r = bytes.fromhex(c["root"]) if c.get("root") else bytes(32)
        if kind == "inclusion":
            got = attempt(kind, pm.verify_inclusion, bytes.fromhex(c["leaf_hash"]), c["index"], c["tree_size"], hashes, r)
        elif kind == "consistency":
            old = bytes.fromhex(c["old_root"]) if c.get("old_root") else bytes(32)
            got = attempt(kind, pm.verify_consistency, c["old_size"], c["tree_size"], hashes, old, r)
        elif kind == "multi":
            got = attempt(kind, pm.verify_multi, _hexes(c["leaf_hashes"]), c["indices"], c["tree_size"], hashes, r)
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
