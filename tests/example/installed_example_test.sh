#!/usr/bin/env bash
# The embedding story end to end: install graphmirror into a fresh prefix, build
# examples/ against that prefix alone (find_package(graphmirror)), and run the example
# against a graphsim binary on loopback.
#   installed_example_test.sh BUILD_DIR SOURCE_DIR GRAPHSIM_BINARY [CXX_FLAGS]
# CXX_FLAGS: what the library was built with that its users need too (sanitizers).
set -euo pipefail
build=$1 src=$2 graphsim=$3 flags=${4:-}
work=$(mktemp -d)
sim=
cleanup() {
  [ -n "$sim" ] && kill "$sim" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
test -f "$work/prefix/include/graphmirror/engine.h"
test -f "$work/prefix/lib/cmake/graphmirror/graphmirrorConfig.cmake"
cmake -S "$src/examples" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >"$work/configure.log"
cmake --build "$work/build" >"$work/build.log" || { cat "$work/build.log"; exit 1; }

"$graphsim" --listen 127.0.0.1:0 --users 2 --messages 15 --events 4 --contacts 3 --seed 7 \
  >"$work/sim.out" 2>"$work/sim.err" &
sim=$!
for _ in $(seq 1 200); do
  [ "$(grep -c '^user ' "$work/sim.out" || true)" -eq 2 ] && break
  sleep 0.05
done
base=$(head -1 "$work/sim.out")
{
  echo 'database = "mirror.db"'
  echo '[graph]'
  echo "base_url = \"$base/v1.0\""
  echo "token_url = \"$base/common/oauth2/v2.0/token\""
  echo 'client_id = "graphsim"'
  echo 'client_secret = "graphsim-secret"'
  grep '^user ' "$work/sim.out" | while read -r _ id _; do
    echo '[[mailbox]]'
    echo "user = \"$id\""
  done
} >"$work/g.toml"

out=$("$work/build/mirror_report" "$work/g.toml" meeting)
echo "$out"
grep -q '^synced: 44 rows written$' <<<"$out"   # 2 x (15 + 4 + 3)
grep -q 'messages: 15 items$' <<<"$out"
grep -q '^search "meeting": [1-9][0-9]* hits$' <<<"$out"
echo "example built against the installed package and ran"
