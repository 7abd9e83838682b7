#!/usr/bin/env bash
# Server CPU per request (see benches/README.md, "Proof API load").
#
#   benches/server_cpu.sh PID REQUESTS URL|URL_FILE [CONNECTIONS]
#
# Sends REQUESTS requests with oha (to URL, or to the URLs of URL_FILE, one per
# line, taken at random) over CONNECTIONS connections (default 16) and prints
# the requests/s and p99 oha saw and the CPU time (user + system) the process
# PID spent per request in that time, in microseconds. Needs oha and python3.
set -euo pipefail
pid=$1 n=$2 src=$3 conns=${4:-16}
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
if [ -f "$src" ]; then target=(--urls-from-file "$src"); else target=("$src"); fi
before=$(cpu)
oha --no-tui -n "$n" -c "$conns" "${target[@]}" --output-format json > "${TMPDIR:-/tmp}/server_cpu.$$.json"
after=$(cpu)
python3 - "${TMPDIR:-/tmp}/server_cpu.$$.json" "$before" "$after" "$ticks" "$n" <<'PY'
import json, sys
path, before, after, ticks, n = sys.argv[1:]
r = json.load(open(path))
us = (float(after) - float(before)) / float(ticks) * 1e6 / int(n)
print(f"{r['summary']['requestsPerSec']:.0f} req/s, p99 {r['latencyPercentiles']['p99'] * 1000:.2f} ms, "
      f"server CPU {us:.1f} us a request")
PY
rm -f "${TMPDIR:-/tmp}/server_cpu.$$.json"
