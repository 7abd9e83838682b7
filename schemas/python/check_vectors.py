"""Check the record vectors of proofmark SPEC.md section 10 against proofmark_spec.py.

Usage: check_vectors.py [VECTORS_DIR]   (default: ../vectors relative to this script)

For every `records/*.json`: re-computes from `kind` and `record` the canonical bytes, the
unpadded length, the subject keys and both leaf hashes, compares each with the file, decodes the
canonical bytes back and compares with the record, and checks that the decoder rejects a few
corruptions of those bytes. Prints one line per failure, then `N passed, M failed`.
Exit code 0 only if M == 0 and N >= 24. Files in `trees/` are counted and skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import proofmark_spec as pm

MIN_VECTORS = 24


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
    trees = root / "trees"
    skipped = sum(1 for p in trees.rglob("*") if p.is_file()) if trees.is_dir() else 0
    if skipped:
        print(f"skipped {skipped} tree vector file(s) in {trees} (not covered yet)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed >= MIN_VECTORS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
