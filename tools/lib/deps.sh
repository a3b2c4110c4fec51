# Sourced by tools/test, tools/demo and bench/run: installs the Debian packages the
# project needs, only those missing, so a fresh Debian 12 machine needs nothing else.

GRAPHMIRROR_PACKAGES=(
  cmake g++ ninja-build pkg-config ccache
  libsqlitecpp-dev libsqlite3-dev sqlite3
  libcpp-httplib-dev libssl-dev libsimdjson-dev libspdlog-dev libfmt-dev
  catch2 libtomlplusplus-dev libcli11-dev nlohmann-json3-dev prometheus-cpp-dev
  curl python3 wrk openssl libicu-dev
  # libxml2: its HTML parser makes text of message bodies.
  libxml2-dev
  # Kafka (Azure Event Hubs' Kafka endpoint): librdkafka's C API for the Kafka source, the
  # partitioned mode and graphsim's Event Hubs delivery; its mock cluster for the tests.
  librdkafka-dev
  # The Python module (GRAPHMIRROR_PYTHON), on by default wherever the tests are built.
  pybind11-dev python3-dev
)

ensure_deps() {
  local missing=()
  local pkg
  for pkg in "${GRAPHMIRROR_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# configure_and_build BUILD_DIR [cmake args...] [-- targets...]
# tools/test and tools/demo share the default build dir and its options, so running one
# after the other rebuilds nothing.
configure_and_build() {
  local dir=$1
  shift
  local args=() targets=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift && targets=("$@")
  # Paths under the checkout hash as relative ones, and the build directory is left out of
  # the hash (debug info then names the first build's directory), so that clones in other
  # directories (CI's clean clone) hit the same cache entries.
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
  export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "${args[@]}" >/dev/null
  if [ ${#targets[@]} -gt 0 ]; then
    cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"
  else
    cmake --build "$dir" -j"$(nproc)"
  fi
}

GRAPHMIRROR_DEFAULT_CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRAPHMIRROR_WERROR=ON)
