#!/usr/bin/env bash
# Server CPU per request (see benches/README.md, "Where a code lookup's time goes").
#
#   benches/server_cpu.sh PID REQUESTS URL|URL_FILE [CONNECTIONS]
#
# PID is a running `proofmark serve`: serve_bench.sh's server stops with that
# script, so start one by hand on a kept work folder (PROOFMARK_BENCH_DIR); the
# commands are in benches/README.md, "Proof API load".
#
# Sends REQUESTS requests with oha (to URL, or to the URLs of URL_FILE, one per
# line, taken at random) over CONNECTIONS connections (default 16) and prints
# the 2xx answers a second and p99 oha saw and the CPU time (user + system) the
# process PID spent per request in that time, in microseconds.
#
# Checked first: PID is a live process, it listens on the port of URL (or of
# URL_FILE's first line: a urls.txt of an earlier serve_bench.sh run names the
# port of that run's server), and that URL answers 2xx. A request that failed
# or got a status other than 2xx makes the run fail (exit 1) after the figures.
#
# Needs oha, python3 and curl; writes its oha output under TMPDIR (default /tmp)
# and removes it. SIGINT or SIGTERM stops oha and the run (exit 130 or 143); the
# server is not this script's and keeps running.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$here/lib.sh"

usage="usage: server_cpu.sh PID REQUESTS URL|URL_FILE [CONNECTIONS]"
if [ $# -lt 3 ] || [ $# -gt 4 ]; then echo "$usage" >&2; exit 2; fi
pid=$1 n=$2 src=$3 conns=${4:-16}
for arg in "PID=$pid" "REQUESTS=$n" "CONNECTIONS=$conns"; do
    is_count "${arg#*=}" || { echo "${arg%%=*} must be a whole number above 0, not '${arg#*=}'" >&2; echo "$usage" >&2; exit 2; }
done
need oha "cargo install oha --locked"
need python3 "apt-get install python3"
need curl "apt-get install curl"
[ -r "/proc/$pid/stat" ] || { echo "no process $pid: give the pid of a running \`proofmark serve\` (serve_bench.sh's server stops with it: start one by hand on a kept work folder, see benches/README.md, \"Proof API load\")" >&2; exit 2; }
if [ -f "$src" ]; then
    target=(--urls-from-file "$src")
    first=$(head -n 1 "$src")
    [ -n "$first" ] || { echo "$src is empty" >&2; exit 2; }
else
    case "$src" in
        http://*) target=("$src"); first=$src ;;
        *) echo "$src is neither a file nor an http:// URL" >&2; echo "$usage" >&2; exit 2 ;;
    esac
fi
port=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).port or 80)' "$first")
if ! pid_listens "$pid" "$port"; then
    echo "process $pid does not listen on port $port (of $first)" >&2
    [ -f "$src" ] && echo "$src may be the urls file of an earlier run (serve_bench.sh picks a new port each run)" >&2
    exit 2
fi
status=$(http_status "$first")
case "$status" in
    2??) ;;
    *) echo "GET $first answered $status, not 2xx" >&2; exit 2 ;;
esac

out=$(mktemp "${TMPDIR:-/tmp}/server_cpu.XXXXXX")
remove_out() { rm -f "$out" "$out.oha.json" "$out.json"; }
trap_signals remove_out
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu)
child_run oha --no-tui -n "$n" -c "$conns" "${target[@]}" --output-format json > "$out.oha.json"
after=$(cpu) || fail "process $pid exited during the run"
oha_figures "$out"
python3 - "$out.json" "$before" "$after" "$ticks" "$n" <<'PY'
import json, sys
path, before, after, ticks, n = sys.argv[1:]
r = json.load(open(path))
us = (float(after) - float(before)) / float(ticks) * 1e6 / int(n)
print(f"{r['ok_rps']:.0f} 2xx answers/s, p99 {r['p99'] * 1000:.2f} ms, server CPU {us:.1f} us a request")
if r["failed"]:
    print(f"FAILED: {r['failed']} of {r['requests']} requests failed or got a status other than 2xx: "
          f"{r['statuses']} {r['errors']}", file=sys.stderr)
    sys.exit(1)
PY
