#!/usr/bin/env bash
# bench/flamegraph.py on a small `perf script` text: each frame is drawn as wide as the
# samples that passed through it (3 of 4 samples in main, 1 in the library without
# symbols), names lose their argument lists but not "(anonymous namespace)", and an input
# without samples is refused.
#   bench/flamegraph_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sample() {  # comm, then frames innermost first as "symbol|dso"
  local comm=$1
  shift
  echo "$comm 100/101 1.000000: 1 cycles:"
  for frame in "$@"; do printf '\t%x %s (%s)\n' 4096 "${frame%%|*}" "${frame##*|}"; done
  echo
}
{
  sample app "ns::(anonymous namespace)::Parse(int, char const*)+0x1f|/usr/bin/app" "main+0x10|/usr/bin/app"
  sample app "ns::(anonymous namespace)::Parse(int, char const*)+0x2a|/usr/bin/app" "main+0x10|/usr/bin/app"
  sample app "ns::Write() const+0x3|/usr/bin/app" "main+0x10|/usr/bin/app"
  sample app "[unknown]|/usr/lib/libsqlite3.so.0" "[unknown]|/usr/lib/libsqlite3.so.0"
} >"$work/script"
python3 "$source_dir/bench/flamegraph.py" --title "test graph" <"$work/script" >"$work/out.svg"
expect() {
  grep -qF -- "$1" "$work/out.svg" || { echo "flamegraph_test: missing: $1" >&2; exit 1; }
}
expect '<svg'
expect 'test graph'
expect '<title>all (4 samples, 100.00%)</title>'
expect '<title>main (3 samples, 75.00%)</title>'
expect '<title>ns::(anonymous namespace)::Parse (2 samples, 50.00%)</title>'
expect '<title>ns::Write (1 samples, 25.00%)</title>'
expect '<title>[libsqlite3.so.0] (1 samples, 25.00%)</title>'
python3 -c 'import xml.dom.minidom, sys; xml.dom.minidom.parse(sys.argv[1])' "$work/out.svg"
if echo "not perf output" | python3 "$source_dir/bench/flamegraph.py" >/dev/null 2>&1; then
  echo "flamegraph_test: an input without samples was accepted" >&2
  exit 1
fi
echo "flamegraph_test: ok"
