#!/usr/bin/env bash
# One command to run every test: install what is needed (Debian packages and the nacos npm
# SDK), build once (Release, with tests), then run unit and integration tests in parallel
# through ctest and print a summary. Set DNSD_WERROR=ON to treat warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh --test
(cd tests/integration/js && npm ci --no-audit --no-fund --loglevel=error)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDNSD_BUILD_TESTS=ON \
  -DDNSD_WERROR="${DNSD_WERROR:-OFF}" >/dev/null
cmake --build build
jobs=$(( $(nproc) * 2 ))
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 600
