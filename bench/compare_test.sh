#!/usr/bin/env bash
# bench/report.py --compare against BENCHMARKS.md: a row measured as it was compares at a
# ratio of ratios of 1.00, a row whose ratio to its baseline fell by half is marked SLOWER,
# a row BENCHMARKS.md lacks is marked new.
#   bench/compare_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/BENCHMARKS.md" <<'MD'
| # | what | measured | baseline (same run) | ratio | target | met |
|---|---|---|---|---|---|---|
| 1 | ingest | 10,000 POST/s | 20,000 POST/s (bare) | 0.50 | t | yes |
| 2 | batch | 50,000 items/s | 50,000 items/s (raw) | 1.00 | t | yes |
MD
cat >"$work/results" <<'JSON'
{"row": 1, "what": "ingest", "value": 11000, "unit": "POST/s", "baseline": 22000, "baseline_what": "bare", "target": "t", "met": true}
{"row": 2, "what": "batch", "value": 25000, "unit": "items/s", "baseline": 50000, "baseline_what": "raw", "target": "t", "met": false}
{"row": 9, "what": "new row", "value": 3, "unit": "requests", "target": "t", "met": true}
JSON
out=$(python3 "$source_dir/bench/report.py" "$work/results" --compare "$work/BENCHMARKS.md")
echo "$out"
fail() { echo "compare_test: FAILED: $*" >&2; exit 1; }
echo "$out" | grep -Eq '^\| 1 \| 10,000 \| 11,000 POST/s \| 0\.50 \| 0\.50 \| 1\.00 \|  \|$' || fail "row 1"
echo "$out" | grep -Eq '^\| 2 \| 50,000 \| 25,000 items/s \| 1\.00 \| 0\.50 \| 0\.50 \| SLOWER \|$' || fail "row 2"
echo "$out" | grep -Eq '^\| 9 \| \(not in BENCHMARKS\.md\) .*\| new \|$' || fail "row 9"
# The real BENCHMARKS.md parses: every row of its table is found.
python3 - "$source_dir" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("report", sys.argv[1] + "/bench/report.py")
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)
rows = report.previous_rows(sys.argv[1] + "/BENCHMARKS.md")
assert len(rows) >= 10 and all(v[0] is not None for v in rows.values()), rows
print(f"BENCHMARKS.md: {len(rows)} rows parsed")
PY
echo "compare_test: ok"
