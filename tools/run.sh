#!/usr/bin/env bash
# One command for a new user: install what is needed, build dnsd (Release) and start it with
# the embedded defaults: a single node, data under ./data, HTTP on 8848. Extra arguments go to
# dnsd, e.g. tools/run.sh --http-port 18848 or tools/run.sh --config dnsd.example.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDNSD_BUILD_TESTS=OFF -DDNSD_BUILD_BENCH=OFF >/dev/null
cmake --build build --target dnsd
exec build/bin/dnsd "$@"
