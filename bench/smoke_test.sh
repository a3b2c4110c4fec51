#!/usr/bin/env bash
# Runs one benchmark program in smoke mode; passes if it exits 0 and every line it prints
# on stdout is a well-formed row (at least one).
#   bench/smoke_test.sh PROGRAM BUILD_DIR
set -euo pipefail
program=$1 build=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$program" --smoke --bin-dir "$build" >"$out"
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert rows, "no rows printed"
for r in rows:
    for key in ("row", "what", "value", "unit", "target", "reproduce"):
        assert key in r, f"row without {key}: {r}"
    assert isinstance(r["value"], (int, float)) and r["value"] >= 0, f"no value: {r}"
print(f"{len(rows)} rows: " + ", ".join(f"#{r['row']} {r['value']:g} {r['unit']}" for r in rows))
PY
