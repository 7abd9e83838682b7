#!/usr/bin/env bash
# The independent Python verifier (verifier/python/verify_proof.py) against live
# answers of `proofmark serve`, the independent batch checker
# (schemas/python/check_batch.py) against the stored batch, and the offline tools
# (`proofmark verify`, `proofmark audit`) on the same data:
#
#  1. builds the sample batch (jobs/nightly.toml) in a temporary store, with a
#     temporary ledger key, and publishes it into a temporary code index;
#     check_batch.py must verify the whole store from its inputs with the
#     ledger's verifier key, and fail copies of it with one file tampered with
#     (a leaf, a reject's reason, a byte of an input's row group, a checkpoint's
#     signature), naming that file;
#  2. serves it on a free local port and fetches the reports of a few codes;
#     its /openapi.json must be a valid OpenAPI 3.1 document that the live
#     answers (reports, batches, audits, errors, a 405, a 404) fit;
#  3. checks that verify_proof.py and `proofmark verify` accept every report
#     with the ledger's verifier key, refuse it without a trusted key, and
#     refuse tampered copies (a record value, a leaf hash, a proof hash, the
#     checkpoint's signature, a leaf listed twice or moved, a hidden lot, an
#     extra batch, a wrong receipt, no record at all, a receipt of an
#     untrusted key that is wrong on its own terms, a key of the log's name
#     with another id) and accept a changed `source.file`, which nothing
#     commits to;
#  4. runs `proofmark audit codes --server` and `proofmark audit batch`;
#  5. checks what `proofmark log prove` and `proofmark log consistency` print
#     on a log of two entries, as SPEC 9.5 says.
#
# Needs the Rust toolchain, Python 3.11+ with the `blake3`, `pyarrow`,
# `jsonschema` and `openapi-spec-validator` packages (the virtual environment
# that scripts/test.sh makes, or $PYTHON) and curl.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${PROOFMARK_CACHE:-$HOME/.cache/proofmark}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
py="${PYTHON:-$cache/venv/bin/python}"
# The default environment is (re)filled when it lacks a package (one made before pyarrow
# was needed); a $PYTHON given is used as it is.
if [ ! -x "$py" ] || { [ -z "${PYTHON:-}" ] \
    && ! "$py" -c 'import blake3, pyarrow, jsonschema, openapi_spec_validator' 2>/dev/null; }; then
    [ -x "$cache/venv/bin/python" ] || python3 -m venv "$cache/venv"
    "$cache/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
    py="$cache/venv/bin/python"
fi

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n--> %s\n' "$*" >&2; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
# expect CODE CMD...: runs CMD and fails unless it exits with CODE.
expect() {
    local want="$1"
    shift
    local got=0
    "$@" >"$tmp/last.out" 2>&1 || got=$?
    if [ "$got" != "$want" ]; then
        cat "$tmp/last.out" >&2
        fail "expected exit $want, got $got: $*"
    fi
}

step "build the sample batch in a temporary store"
# The dev-profile binary the Rust tests already built (dependencies are
# optimised): no second, release build just for this script.
cargo build --locked -p proofmark
bin="$CARGO_TARGET_DIR/debug/proofmark"
export PROOFMARK_STORE="$tmp/store" PROOFMARK_INDEX="$tmp/index" PROOFMARK_LEDGER_KEY="$tmp/ledger.key"
batch="sample-nightly-2026-11-24"
"$bin" --quiet run jobs/nightly.toml >/dev/null
"$bin" --quiet publish --batch-id "$batch" --store "$tmp/store" --index "$tmp/index" >/dev/null
# The test made the key, so it may trust it; a real verifier gets it out of band.
key="$(tr -d '\n' <"$tmp/store/log/verifier-key.txt")"

step "check_batch.py: the whole store from its inputs, and tampered copies of it"
expect 0 "$py" schemas/python/check_batch.py "$tmp/store" --verifier-key "$key"
grep -q '^VERIFIED: 1 batch (1 with a ledger receipt checked with the key), [1-9][0-9]* records re-hashed' "$tmp/last.out" \
    || { cat "$tmp/last.out" >&2; fail "check_batch.py: the batch is not verified"; }
# Without a trusted key the store's signed log cannot be checked: a usage error.
expect 2 "$py" schemas/python/check_batch.py "$tmp/store"
# tamper_store NAME PYTHON-STATEMENTS PATTERN: a copy of the store with one change (the
# statements see `store` and `batch`, pathlib paths, and `flip(path, offset)`, which flips
# one bit), which check_batch.py must fail with a failure line matching PATTERN (grep -E).
tamper_store() {
    rm -rf "$tmp/tampered-store"
    cp -R "$tmp/store" "$tmp/tampered-store"
    "$py" - "$tmp/tampered-store" "$batch" "$2" <<'EOF'
import json, pathlib, sys
store = pathlib.Path(sys.argv[1])
batch = store / "batches" / sys.argv[2]
def flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))
exec(sys.argv[3])
EOF
    expect 1 "$py" schemas/python/check_batch.py "$tmp/tampered-store" --verifier-key "$key"
    grep -qE -- "^      - $3" "$tmp/last.out" \
        || { cat "$tmp/last.out" >&2; fail "check_batch.py: the tampered $1 is not reported as /$3/"; }
}
tamper_store leaf 'flip(sorted(batch.glob("segments/*.leaves"))[0], 32 + 5)' \
    "batches/$batch/segments/[0-9]{6}\.leaves: 1 of [0-9]+ leaves differ from the re-hashed records; first leaf 1 "
tamper_store reject-reason '
path = next(p for p in sorted(batch.glob("segments/*.rejects.jsonl")) if p.stat().st_size)
first, rest = path.read_text(encoding="utf-8").split("\n", 1)
line = json.loads(first)
line["reasons"][0] = "too_many_items" if line["reasons"][0] != "too_many_items" else "too_long"
path.write_text(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" + rest, encoding="utf-8")' \
    "batches/$batch/segments/[0-9]{6}\.rejects\.jsonl: line for row [0-9]+: reasons \["
tamper_store input-row-group '
f = json.loads((batch / "plan.json").read_text())["files"][0]
group = f["row_groups"][0]
flip(store / f["path"], group["offset"] + group["length"] // 2)' \
    "batches/$batch/inputs/[a-z]+/[^ ]+\.parquet: row group 0 \(bytes [0-9]+\+[0-9]+\): digest is not the plan's"
tamper_store checkpoint-signature '
path = sorted(store.glob("log/checkpoints/*.txt"))[0]
note = path.read_text(encoding="utf-8")
i = note.rindex(" ") + 8  # a character of the signature, past the key id
path.write_text(note[:i] + ("A" if note[i] != "A" else "B") + note[i + 1:], encoding="utf-8")' \
    "log/checkpoints/[0-9]{20}\.txt: the signature by [^ ]+ does not verify"

step "serve it"
port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
"$bin" --quiet serve --store "$tmp/store" --index "$tmp/index" --listen "127.0.0.1:$port" \
    --state-dir "$tmp/state" >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if curl -fsS "$url/healthz" >/dev/null 2>&1; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; fail "the server exited"; }
    sleep 0.2
done
curl -fsS "$url/healthz" >/dev/null || fail "the server did not come up"

step "fetch reports"
mkdir -p "$tmp/reports"
: >"$tmp/codes.txt"
n=0
for code in $(tail -n +2 datasets/sample/secrets/pins.csv | cut -d, -f1 | head -40); do
    if curl -fsS "$url/v1/codes/$code" -o "$tmp/reports/$code.json" 2>/dev/null; then
        echo "$code" >>"$tmp/codes.txt"
        n=$((n + 1))
        [ "$n" -ge 5 ] && break
    else
        rm -f "$tmp/reports/$code.json"
    fi
done
[ "$n" -ge 3 ] || fail "only $n of the sample's codes have a report"

step "the live /openapi.json: a valid OpenAPI 3.1 document that the live answers fit"
"$py" - "$url" "$batch" "$tmp"/reports/*.json <<'EOF' || fail "a live answer does not fit /openapi.json"
import json, sys, urllib.error, urllib.request
import jsonschema
from openapi_spec_validator import validate
url, batch, reports = sys.argv[1], sys.argv[2], sys.argv[3:]
doc = json.load(urllib.request.urlopen(url + "/openapi.json"))
validate(doc)

def fits(value, schema, what):
    """Validates value against a schema of the document (its $refs resolved in it)."""
    try:
        jsonschema.Draft202012Validator(dict(schema, components=doc["components"])).validate(value)
    except jsonschema.ValidationError as e:
        raise jsonschema.ValidationError(f"{what}: {e.message}") from e

def ask(method, path, body=None):
    req = urllib.request.Request(url + path, data=body, method=method)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()

def answer_fits(method, template, path, body=None):
    status, headers, data = ask(method, path, body)
    response = doc["paths"][template][method.lower()]["responses"][str(status)]
    media = response["content"]
    ctype = headers["Content-Type"].split(";")[0]
    schema = media[ctype]["schema"]
    lines = data.decode().splitlines() if ctype == "application/x-ndjson" else [data.decode()]
    for line in lines:
        fits(json.loads(line), schema, f"{method} {path} {status}")
    return status

for path in reports:
    fits(json.load(open(path)), {"$ref": "#/components/schemas/CodeReport"}, path)
assert answer_fits("GET", "/v1/batches", "/v1/batches") == 200
assert answer_fits("GET", "/v1/batches/{batch_id}", f"/v1/batches/{batch}") == 200
assert answer_fits("GET", "/v1/batches/{batch_id}", "/v1/batches/no-such-batch") == 404
assert answer_fits("GET", "/v1/codes/{code}", "/v1/codes/00000000000000000000") == 404
assert answer_fits("GET", "/v1/codes/{code}", "/v1/codes/abc") == 400
assert answer_fits("POST", "/v1/audit", "/v1/audit", b"00000000000000000000\nabc\n") == 200
assert answer_fits("POST", "/v1/audit", "/v1/audit", b"  \n") == 400
for template in ("/healthz", "/readyz", "/openapi.json"):
    assert answer_fits("GET", template, template) == 200
# A method a route does not take, a path of no route: the shared responses.
status, headers, data = ask("PUT", "/healthz")
assert status == 405 and headers["Allow"] == "GET,HEAD", (status, dict(headers))
fits(json.loads(data), doc["components"]["responses"]["MethodNotAllowed"]["content"]
     ["application/json"]["schema"], "PUT /healthz")
status, _, data = ask("GET", "/v2/nothing")
assert status == 404
fits(json.loads(data), doc["components"]["responses"]["NotFound"]["content"]
     ["application/json"]["schema"], "GET /v2/nothing")
# What the schemas refuse: an error code the answer does not name, a negative integer.
for value, schema in (
        ({"error": {"code": "unknown_batch", "message": ""}},
         doc["paths"]["/v1/codes/{code}"]["get"]["responses"]["404"]["content"]
         ["application/json"]["schema"]),
        ({"file": "f", "row": -1, "provided_by": "o"}, {"$ref": "#/components/schemas/RecordSource"})):
    try:
        fits(value, schema, "a wrong value")
    except jsonschema.ValidationError:
        continue
    raise AssertionError(f"{value} fits {schema}")
EOF

step "verify $n live reports with verify_proof.py and proofmark verify"
for f in "$tmp"/reports/*.json; do
    expect 0 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$f"
    expect 0 "$bin" --quiet verify "$f" --ledger-key "$key"
    # Without a trusted key nothing anchors the root.
    expect 1 "$py" verifier/python/verify_proof.py "$f"
    expect 1 "$bin" --quiet verify "$f"
    expect 0 "$py" verifier/python/verify_proof.py --no-anchor-required "$f"
done

first="$(ls "$tmp"/reports/*.json | head -1)"
step "a report saved with a byte order mark (as some editors write it) verifies"
{ printf '\357\273\277'; cat "$first"; } > "$tmp/marked.json"
expect 0 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$tmp/marked.json"
expect 0 "$bin" --quiet verify "$tmp/marked.json" --ledger-key "$key"

step "tampered copies must fail"
tamper() { # tamper NAME PYTHON-STATEMENT (on `r`, the report)
    "$py" - "$first" "$tmp/tampered-$1.json" "$2" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(r, open(sys.argv[2], "w"))
EOF
    expect 1 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$tmp/tampered-$1.json"
    expect 1 "$bin" --quiet verify "$tmp/tampered-$1.json" --ledger-key "$key"
}
tamper record 'r["records"][0]["record"]["record_id"] += "x"'
tamper leaf 'h = r["records"][0]["leaf_hash"]; r["records"][0]["leaf_hash"] = ("1" if h[0] == "0" else "0") + h[1:]'
tamper proof 'p = r["records"][0]["proof"]; hs = p["hashes"] or p["upper_hashes"]; hs[0] = ("1" if hs[0][0] == "0" else "0") + hs[0][1:]'
tamper root 'b = next(iter(r["batches"].values())); b["root"] = ("1" if b["root"][0] == "0" else "0") + b["root"][1:]'
# A lot no record of the item binds it to, with its correct key (its records must not join).
tamper unbound-lot 'sys.path.insert(0, "verifier/python"); from verify_proof import subject_key; r["subjects"].append({"type": "lot", "id": "LOT-NOT-BOUND", "key": subject_key(2, "LOT-NOT-BOUND").hex()})'
# The first subject must be the item of the code.
tamper first-subject 'r["subjects"][0]["id"] = r["code"][:-1] + ("1" if r["code"][-1] == "0" else "0")'
# Each record and subject once, the records in the order of SPEC 11.1.
tamper duplicate-record 'r["records"].insert(1, dict(r["records"][0]))'
tamper record-order 'r["records"].reverse()'
tamper duplicate-subject 'r["subjects"].append(dict(r["subjects"][-1]))'
tamper signature 'a = next(iter(r["batches"].values()))["anchors"]["ledger"]; c = a["checkpoint"]; i = c.rindex(" ") + 8; a["checkpoint"] = c[:i] + ("A" if c[i] != "A" else "B") + c[i + 1:]'
# The signature in another base64 form of the same bytes (a spare bit set, SPEC 9.2).
tamper signature-form 'import base64; a = next(iter(r["batches"].values()))["anchors"]["ledger"]; c = a["checkpoint"]; j = c.rindex("="); abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"; a["checkpoint"] = c[:j - 1] + abc[abc.index(c[j - 1]) | 1] + c[j:]; assert base64.b64decode(c[c.rindex(" ") + 1:-1]) == base64.b64decode(a["checkpoint"][c.rindex(" ") + 1:-1])'
# Report objects have exactly their fields (SPEC 11.1).
tamper unknown-field 'r["records"][0]["verified"] = True'
# A report of no record proves nothing (SPEC 11.2 step 1), even with no anchor required.
tamper empty 'r["records"] = []; r["batches"] = {}; r["subjects"] = r["subjects"][:1]'
expect 1 "$py" verifier/python/verify_proof.py --no-anchor-required "$tmp/tampered-empty.json"
grep -q "no records" "$tmp/last.out" || { cat "$tmp/last.out" >&2; fail "verify_proof.py: an empty report is not said to have no records"; }
expect 1 "$bin" --quiet verify "$tmp/tampered-empty.json" --no-anchor-required
grep -q "no records" "$tmp/last.out" || { cat "$tmp/last.out" >&2; fail "proofmark verify: an empty report is not said to have no records"; }
tamper missing-field 'del r["records"][0]["source"]["row"]'
# ... each of its type (a row as text or negative, an index as 1.0, a date as a number).
tamper row-text 'r["records"][0]["source"]["row"] = "x"'
tamper row-negative 'r["records"][0]["source"]["row"] = -1'
tamper index-float 'r["records"][0]["leaf_index"] = float(r["records"][0]["leaf_index"])'
tamper date-number 'next(iter(r["batches"].values()))["batch_date"] = 7'
# A receipt with a `type` is not a ledger receipt: nothing here can check it against its chain.
tamper receipt-type 'next(iter(r["batches"].values()))["anchors"]["ledger"]["type"] = "evm"'

# The placement rule (SPEC 11.2 step 4), on a record of a middle segment (the sample batch has
# five): listed again at leaf_index + 1 (same proof), and moved over the segment of a record of
# a lower segment. Each passes the leaf index rule of step 2.3 alone.
tamper_any() { # tamper_any NAME PYTHON-STATEMENTS (on `r`, each report in turn, until `done`)
    "$py" - "$tmp/tampered-$1.json" "$2" "$tmp"/reports/*.json <<'EOF' || fail "no fetched report suits the tampered case $1"
import json, sys
done = False
for path in sys.argv[3:]:
    r = json.load(open(path))
    exec(sys.argv[2])
    if done:
        json.dump(r, open(sys.argv[1], "w"))
        break
sys.exit(0 if done else 1)
EOF
}
middle='ms = [i for i, x in enumerate(r["records"]) if 0 < x["proof"]["segment_index"] < x["proof"]["segment_count"] - 1]'
tamper_any duplicate-leaf "$middle"'
if ms:
    i = ms[0]; again = dict(r["records"][i], leaf_index=r["records"][i]["leaf_index"] + 1)
    r["records"].insert(i + 1, again); done = True'
tamper_any overlapping-segment "$middle"'
for i in ms:
    x = r["records"][i]["proof"]
    lower = [y for y in r["records"] if y["batch_id"] == r["records"][i]["batch_id"] and y["proof"]["segment_index"] < x["segment_index"]]
    if lower and not done:
        y = lower[-1]; end = y["leaf_index"] - y["proof"]["index"] + y["proof"]["tree_size"]
        r["records"][i]["leaf_index"] = end - 1 + x["index"]; done = True'
for name in duplicate-leaf overlapping-segment; do
    expect 1 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$tmp/tampered-$name.json"
    expect 1 "$bin" --quiet verify "$tmp/tampered-$name.json" --ledger-key "$key"
done
# A receipt of any kind commits to the whole batch (SPEC 11.2 step 3): one with a root alone fails.
tamper bare-receipt 'b = next(iter(r["batches"].values())); b["anchors"]["zz"] = {"type": "evm", "chain": "zz", "root": b["root"]}'
# A signed note's lines after the trusted signature must have the form too (SPEC 9.2).
tamper note-line 'next(iter(r["batches"].values()))["anchors"]["ledger"]["checkpoint"] += "\u2014 garbage\n"'
# Lists as a committed record has them (SPEC 11.2 step 2.1): an attachment with a key that
# nothing commits to, a null list item.
tamper_any attachment-note 'for x in r["records"]:
    a = x["record"].get("attachments")
    if a and not done:
        a[0]["note"] = "certified organic"; done = True'
tamper_any null-item 'for x in r["records"]:
    c = x["record"].get("certifications")
    if c is not None and not done:
        c.append(None); done = True'
# A member named twice (SPEC 11.1), and -0 for an integer: edits of the report's text.
"$py" - "$first" "$tmp" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
i = text.index('"record_id":')
open(sys.argv[2] + "/tampered-twice.json", "w").write(text[:i] + '"record_id":"x",' + text[i:])
zero, n = re.subn(r'"row":\d+', '"row":-0', text, count=1)
assert n == 1
open(sys.argv[2] + "/tampered-neg-zero.json", "w").write(zero)
EOF
for name in attachment-note null-item twice neg-zero; do
    expect 1 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$tmp/tampered-$name.json"
    expect 1 "$bin" --quiet verify "$tmp/tampered-$name.json" --ledger-key "$key"
done

# A bound lot left out, with its subject and its own records (the binding record stays).
tamper_any hidden-lot 'done = len(r["subjects"]) > 1
r["subjects"] = r["subjects"][:1]; r["records"] = [x for x in r["records"] if x["subject"] != "lot"]'
expect 1 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$tmp/tampered-hidden-lot.json"
expect 1 "$bin" --quiet verify "$tmp/tampered-hidden-lot.json" --ledger-key "$key"
# A batch that holds no record (here without anchors, with --no-anchor-required, so that only
# the listing rule can fail it).
tamper_any extra-batch 'b = dict(next(iter(r["batches"].values())), anchors={}); r["batches"]["another-batch"] = b; done = True'
expect 1 "$py" verifier/python/verify_proof.py --no-anchor-required "$tmp/tampered-extra-batch.json"
expect 1 "$bin" --quiet verify "$tmp/tampered-extra-batch.json" --no-anchor-required
# `source.file` and `source.row` are the service's metadata, committed by nothing (SPEC 11.2).
tamper_any source-file 'r["records"][0]["source"]["file"] = "file:///elsewhere.parquet"; done = True'
expect 0 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$tmp/tampered-source-file.json"
expect 0 "$bin" --quiet verify "$tmp/tampered-source-file.json" --ledger-key "$key"
# Hex is exactly its digits, in lower case (SPEC 7.5, 11.1, 11.2 step 3): a proof hash with a
# newline after it; a batch whose manifest digest is in upper case (its anchors removed, so that
# with no anchor required only the batch's own fields can fail it).
tamper hash-newline 'p = r["records"][0]["proof"]; hs = p["hashes"] or p["upper_hashes"]; hs[0] += "\n"'
tamper_any manifest-upper 'b = next(iter(r["batches"].values())); b["anchors"] = {}
b["manifest_digest"] = "blake3:" + b["manifest_digest"][7:].upper(); done = True'
expect 1 "$py" verifier/python/verify_proof.py --no-anchor-required "$tmp/tampered-manifest-upper.json"
expect 1 "$bin" --quiet verify "$tmp/tampered-manifest-upper.json" --no-anchor-required
# A receipt checked with the key and found wrong says so (not "no anchor was checked").
tamper_any receipt-suite 'next(iter(r["batches"].values()))["anchors"]["ledger"]["suite"] = "sha256-rfc6962"; done = True'
expect 1 "$bin" verify "$tmp/tampered-receipt-suite.json" --ledger-key "$key"
grep -q "checked and found wrong" "$tmp/last.out" || { cat "$tmp/last.out" >&2; fail "a wrong receipt is not reported as wrong"; }
if grep -q "give a ledger verifier key" "$tmp/last.out"; then cat "$tmp/last.out" >&2; fail "a checked receipt is reported as unchecked"; fi
expect 1 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$tmp/tampered-receipt-suite.json"
grep -q "found wrong" "$tmp/last.out" || { cat "$tmp/last.out" >&2; fail "verify_proof.py: a wrong receipt is not reported as wrong"; }

# A second ledger receipt, of a log whose key nobody here trusts (SPEC 9.3): its signature is
# not checked (its signature line is not even read), but the checks that need no key are. Right
# on its own terms it changes nothing; wrong on them (an inclusion proof that does not lead to
# its checkpoint's root, a log_size that is not its checkpoint's, a checkpoint with no origin, a
# size with a leading zero or a root not in canonical base64, a checkpoint root the entry does
# not lead to) it fails the report.
ledger2='import base64, hashlib
batch_id, b = next(iter(r["batches"].items()))
entry = "proofmark-batch-log-entry v1\n%s\n%s\n%s\n%d\n%s\n" % (
    batch_id, b["suite"], b["root"], b["leaf_count"], b["manifest_digest"])
log_root = base64.b64encode(hashlib.sha256(b"\x00" + entry.encode()).digest()).decode()
def note(origin, size, root):
    return f"{origin}\n{size}\n{root}\n\n\u2014 other.example/log {base64.b64encode(bytes(68)).decode()}\n"
receipt = {"chain": "ledger2", "batch_id": batch_id, "root": b["root"],
           "leaf_count": b["leaf_count"], "manifest_digest": b["manifest_digest"],
           "suite": b["suite"], "log_index": 0, "log_size": 1,
           "checkpoint": note("other.example/log", 1, log_root), "inclusion_proof": [],
           "verifier_key": "other.example/log+00000000+AQ==", "anchored_at": "2026-11-25T02:00:00Z"}
b["anchors"]["ledger2"] = receipt
done = True
'
tamper_any untrusted-ledger "$ledger2"
expect 0 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$tmp/tampered-untrusted-ledger.json"
expect 0 "$bin" --quiet verify "$tmp/tampered-untrusted-ledger.json" --ledger-key "$key"
alphabet='"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"'
for change in \
    'receipt["inclusion_proof"] = ["00" * 32]' \
    'receipt["log_size"] = 2' \
    'receipt["checkpoint"] = note("", 1, log_root)' \
    'receipt["checkpoint"] = note("other.example/log", 1, base64.b64encode(bytes(32)).decode())' \
    'receipt["checkpoint"] = note("other.example/log", "01", log_root)' \
    'a = '"$alphabet"'; receipt["checkpoint"] = note("other.example/log", 1, log_root[:42] + a[a.index(log_root[42]) | 1] + "=")'; do
    tamper_any untrusted-ledger-wrong "$ledger2$change"
    for verifier in "$py verifier/python/verify_proof.py" "$bin --quiet verify"; do
        # shellcheck disable=SC2086 # the verifier's command and its first argument
        expect 1 $verifier --ledger-key "$key" "$tmp/tampered-untrusted-ledger-wrong.json"
        grep -q "anchor ledger2" "$tmp/last.out" \
            || { cat "$tmp/last.out" >&2; fail "$verifier: the untrusted receipt's failure ($change) is not named"; }
    done
done
# A trusted key of the log's name but another key id (another key of the same name): the
# signature fails (SPEC 9.2), it is not "not checked".
other_key="$("$py" - "$key" <<'EOF'
import base64, hashlib, sys
name = sys.argv[1].split("+")[0]
# RFC 8032's first test key: a valid Ed25519 public key that did not sign the log.
raw = b"\x01" + bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex()
print(f"{name}+{key_id}+{base64.b64encode(raw).decode()}")
EOF
)"
expect 1 "$py" verifier/python/verify_proof.py --ledger-key "$other_key" "$first"
grep -q "no signature by" "$tmp/last.out" || { cat "$tmp/last.out" >&2; fail "verify_proof.py: another key of the log's name is not a failed signature"; }
expect 1 "$bin" --quiet verify "$first" --ledger-key "$other_key"
grep -q "the signature check failed" "$tmp/last.out" || { cat "$tmp/last.out" >&2; fail "proofmark verify: another key of the log's name is not a failed signature"; }
# A checkpoint of another origin, signed by the trusted key itself: the origin must be the key's
# name (SPEC 9.2), so the signature does not make it the log's.
tamper_any foreign-origin 'import base64, os
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
_, name, seed = open(os.environ["PROOFMARK_LEDGER_KEY"]).read().split()
a = next(iter(r["batches"].values()))["anchors"]["ledger"]
c = a["checkpoint"]
text = "other.example/log" + c[c.index("\n"):c.index("\n\n") + 1]
key_id = base64.b64decode(c[c.index("\n\n") + 2:].split("\n")[0].rsplit(" ", 1)[1])[:4]
signature = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed)).sign(text.encode())
a["checkpoint"] = text + "\n\u2014 " + name + " " + base64.b64encode(key_id + signature).decode() + "\n"
done = True'
expect 1 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$tmp/tampered-foreign-origin.json"
grep -q "origin" "$tmp/last.out" || { cat "$tmp/last.out" >&2; fail "verify_proof.py: a checkpoint of another origin is not refused for it"; }
expect 1 "$bin" --quiet verify "$tmp/tampered-foreign-origin.json" --ledger-key "$key"
# A receipt whose type is null is of no kind this version defines (SPEC 9.3): compared with its
# batch, otherwise not checked; beside the ledger receipt it changes nothing.
tamper_any type-null 'b = next(iter(r["batches"].values()))
b["anchors"]["zz"] = {"type": None, "chain": "zz", "batch_id": next(iter(r["batches"])),
                      "root": b["root"], "leaf_count": b["leaf_count"], "suite": b["suite"],
                      "manifest_digest": b["manifest_digest"]}
done = True'
expect 0 "$py" verifier/python/verify_proof.py --ledger-key "$key" "$tmp/tampered-type-null.json"
expect 0 "$bin" --quiet verify "$tmp/tampered-type-null.json" --ledger-key "$key"

step "proofmark audit codes --server and proofmark audit batch"
expect 0 "$bin" --quiet audit codes "$tmp/codes.txt" --server "$url" --ledger-key "$key" \
    --format csv --output "$tmp/audit.csv"
[ "$(grep -c ',verified,' "$tmp/audit.csv")" = "$n" ] || { cat "$tmp/audit.csv" >&2; fail "not every code verified"; }
echo "00000000000000000000" >>"$tmp/codes.txt"
expect 1 "$bin" --quiet audit codes "$tmp/codes.txt" --server "$url" --ledger-key "$key" --format json
expect 0 "$bin" --quiet audit batch --batch-id "$batch" --store "$tmp/store" --ledger-key "$key"
# Exit codes: no trust source for the anchors, a store folder that does not exist and a
# key that is no key are input errors (3); a batch the store does not hold is "not found" (1).
expect 3 "$bin" --quiet audit batch --batch-id "$batch" --store "$tmp/store"
expect 3 "$bin" --quiet audit batch --batch-id "$batch" --store "$tmp/no-store" --ledger-key "$key"
expect 3 "$bin" --quiet audit batch --batch-id "$batch" --store "$tmp/store" --ledger-key bogus
expect 3 "$bin" --quiet verify "$first" --ledger-key bogus
expect 1 "$bin" --quiet audit batch --batch-id no-such-batch --store "$tmp/store" --ledger-key "$key"
grep -q "not found" "$tmp/last.out" || fail "audit batch of an unknown batch does not say it is not found"

step "proofmark audit codes --store, and --reports over more than one window of 4,096"
expect 1 "$bin" --quiet audit codes "$tmp/codes.txt" --store "$tmp/store" --index "$tmp/index" \
    --ledger-key "$key" --format csv --output "$tmp/audit-store.csv"
[ "$(grep -c ',verified,' "$tmp/audit-store.csv")" = "$n" ] || { cat "$tmp/audit-store.csv" >&2; fail "--store: not every code verified"; }
grep -q '^00000000000000000000,unknown,' "$tmp/audit-store.csv" || fail "--store: the unknown code is not reported unknown"
# A line that is no code is "malformed", with the same reason from a store as from a server,
# wherever it falls (one that starts a request's body, or looks like JSON, included).
printf '[oops\n%s\nnot a code\n' "$(head -1 "$tmp/codes.txt")" >"$tmp/typo.txt"
expect 1 "$bin" --quiet audit codes "$tmp/typo.txt" --store "$tmp/store" --index "$tmp/index" \
    --ledger-key "$key" --format csv --output "$tmp/typo-store.csv"
expect 1 "$bin" --quiet audit codes "$tmp/typo.txt" --server "$url" --ledger-key "$key" \
    --request-codes 1 --format csv --output "$tmp/typo-server.csv"
grep -q '^not a code,malformed,' "$tmp/typo-store.csv" || { cat "$tmp/typo-store.csv" >&2; fail "--store: a typo is not malformed"; }
grep -q '^\[oops,malformed,' "$tmp/typo-store.csv" || { cat "$tmp/typo-store.csv" >&2; fail "--store: [oops is not malformed"; }
cmp "$tmp/typo-store.csv" "$tmp/typo-server.csv" || fail "a malformed code's row differs between --store and --server"
# Lookups run as parallel tasks; the rows still follow the input's order.
tail -n +2 "$tmp/audit-store.csv" | cut -d, -f1 | cmp - "$tmp/codes.txt" || fail "--store: rows not in the order of the codes"
# Three windows of codes (the next fetched while one is verified), from a store and a server:
# every row, in the order of the codes.
grep -v '^00000000000000000000$' "$tmp/codes.txt" >"$tmp/known.txt"
: >"$tmp/many-codes.txt"
while [ "$(wc -l <"$tmp/many-codes.txt")" -lt 9192 ]; do cat "$tmp/known.txt" >>"$tmp/many-codes.txt"; done
head -n 9192 "$tmp/many-codes.txt" >"$tmp/many-codes.cut" && mv "$tmp/many-codes.cut" "$tmp/many-codes.txt"
expect 0 "$bin" --quiet audit codes "$tmp/many-codes.txt" --store "$tmp/store" --index "$tmp/index" \
    --ledger-key "$key" --format csv --output "$tmp/many-store.csv"
expect 0 "$bin" --quiet audit codes "$tmp/many-codes.txt" --server "$url" --ledger-key "$key" \
    --format csv --output "$tmp/many-server.csv"
for out in many-store many-server; do
    [ "$(grep -c ',verified,' "$tmp/$out.csv")" = 9192 ] || fail "$out: not every code of three windows verified"
    tail -n +2 "$tmp/$out.csv" | cut -d, -f1 | cmp - "$tmp/many-codes.txt" || fail "$out: rows not in the order of the codes"
done
"$py" - "$first" "$tmp/many.ndjson" <<'EOF'
import json, sys
line = json.dumps(json.load(open(sys.argv[1])), separators=(",", ":"))
with open(sys.argv[2], "w") as out:
    for _ in range(2 * 4096 + 1000):
        out.write(line + "\n")
EOF
expect 0 "$bin" --quiet audit codes "$tmp/many.ndjson" --reports --ledger-key "$key" \
    --format csv --output "$tmp/audit-many.csv"
[ "$(grep -c ',verified,' "$tmp/audit-many.csv")" = 9192 ] || fail "--reports: not every report of three windows verified"
# A report with an unknown field, one without its code, and one of no record: not verified,
# each under its code or its line.
"$py" - "$first" "$tmp/bad.ndjson" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
extra = dict(r, verified=True)
nocode = {k: v for k, v in r.items() if k != "code"}
empty = dict(r, records=[], batches={}, subjects=r["subjects"][:1])
with open(sys.argv[2], "w") as out:
    for report in (r, extra, nocode, empty):
        out.write(json.dumps(report, separators=(",", ":")) + "\n")
EOF
expect 1 "$bin" --quiet audit codes "$tmp/bad.ndjson" --reports --ledger-key "$key" \
    --format csv --output "$tmp/audit-bad.csv"
code="$(basename "$first" .json)"
grep -q "^$code,verified," "$tmp/audit-bad.csv" || fail "--reports: the good report is not verified"
grep -q "^$code,not_verified,.*malformed code report" "$tmp/audit-bad.csv" || fail "--reports: the report with an unknown field"
grep -q "^line 3,not_verified,.*malformed code report" "$tmp/audit-bad.csv" || fail "--reports: the report without its code"
grep -q "^$code,not_verified,.*no records" "$tmp/audit-bad.csv" || fail "--reports: the report of no record"

step "proofmark log prove and log consistency, checked as SPEC 9.5 says"
# In a copy of the store, with a second day's batch: a log of two entries.
cp -R "$tmp/store" "$tmp/store2"
cp -R "$tmp/index" "$tmp/index2"
PROOFMARK_STORE="$tmp/store2" PROOFMARK_INDEX="$tmp/index2" \
    "$bin" --quiet run jobs/nightly.toml --date 2026-11-25 >/dev/null
# Each prints its document on stdout (and says what it checked on stderr).
"$bin" --quiet log prove --batch-id "$batch" --store "$tmp/store2" --verifier-key "$key" \
    >"$tmp/prove.json" || fail "log prove failed"
"$bin" --quiet log consistency --from 1 --store "$tmp/store2" --verifier-key "$key" \
    >"$tmp/consistency.json" || fail "log consistency failed"
"$py" - "$tmp/prove.json" "$tmp/consistency.json" "$key" "$tmp/store2" "$batch" <<'EOF' \
    || fail "a log prove or log consistency document does not check as SPEC 9.5 says"
import json, sys
from pathlib import Path
sys.path[:0] = ["verifier/python", "schemas/python"]
import proofmark_spec as pm
import verify_proof as vp
prove_text, consistency_text = (Path(p).read_text(encoding="utf-8") for p in sys.argv[1:3])
key, store, batch = vp.parse_verifier_key(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
# The documents: exactly their fields, keys in byte order at every level, two-space indents.
prove, consistency = vp.load_json(prove_text), vp.load_json(consistency_text)
for doc, text in ((prove, prove_text), (consistency, consistency_text)):
    assert text == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n", text
assert set(prove) == {"checkpoint", "entry", "inclusion_proof", "log_size", "verifier_key"}
assert set(prove["entry"]) == {"batch_id", "index", "leaf_count", "manifest_digest", "root",
                               "suite"}
assert prove["entry"]["batch_id"] == batch and prove["log_size"] == 2
assert set(consistency) == {"new_checkpoint", "new_size", "old_checkpoint", "old_size", "proof"}
# log prove: a ledger receipt's checks, with the entry's index as log_index.
entry = prove["entry"]
receipt = {"chain": "ledger", "batch_id": entry["batch_id"], "root": entry["root"],
           "leaf_count": entry["leaf_count"], "manifest_digest": entry["manifest_digest"],
           "suite": entry["suite"], "log_index": entry["index"], "log_size": prove["log_size"],
           "checkpoint": prove["checkpoint"], "inclusion_proof": prove["inclusion_proof"],
           "verifier_key": prove["verifier_key"], "anchored_at": ""}
_, signature = vp.check_ledger(receipt, key)
assert signature.startswith("checkpoint signed"), signature
# log consistency: both notes signed by the key, of their sizes, and the proof from one root
# to the other.
(old_origin, old_size, old_root), (new_origin, new_size, new_root) = (
    vp.parse_checkpoint(vp.open_note(consistency[f], key))
    for f in ("old_checkpoint", "new_checkpoint"))
assert old_origin == new_origin == key[0]
assert (old_size, new_size) == (consistency["old_size"], consistency["new_size"]) == (1, 2)
pm.verify_consistency(pm.sha256_node, old_size, new_size,
                      [vp._hash(h, "proof") for h in consistency["proof"]], old_root, new_root)
# Between two receipts: the two batches' ledger receipts carry the same roots.
receipts = [json.loads(p.read_text()) for p in sorted(store.glob("batches/*/anchors/ledger.json"))]
roots = {r["log_size"]: vp.parse_checkpoint(r["checkpoint"][:r["checkpoint"].index("\n\n") + 1])[2]
         for r in receipts}
assert roots == {1: old_root, 2: new_root}, roots
# A proof that does not lead to the new root fails.
try:
    pm.verify_consistency(pm.sha256_node, old_size, new_size, [bytes(32)], old_root, new_root)
except pm.ProofError:
    pass
else:
    raise AssertionError("a wrong consistency proof verified")
EOF

printf '\nverifier checks passed (%s live reports)\n' "$n" >&2
