#!/usr/bin/env bash
# Installs the Debian 12 packages dnsd needs to build, run and test. Safe to re-run.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libevent-dev libldns-dev libleveldb-dev libsnappy-dev libjsoncpp-dev libspdlog-dev libfmt-dev
  libabsl-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc zlib1g-dev
  libcli11-dev libtomlplusplus-dev libssl-dev libcrypt-dev libgtest-dev libgmock-dev libbenchmark-dev
  curl dnsutils knot-dnsutils python3 python3-dnspython python3-grpcio python3-h2 python3-protobuf wrk clang-format
  nsd iproute2 util-linux nftables openssl
)
if [[ "${1:-}" == "--test" ]]; then
  # clang and its runtime build the libFuzzer target; dnsperf, gdnsd and etcd are for bench/.
  packages+=(clang libclang-rt-14-dev dnsperf gdnsd etcd-server etcd-client)
  # The packaging test builds the .deb (dpkg-shlibdeps) and checks the unit (systemd-analyze).
  packages+=(dpkg-dev systemd)
  # The console's browser tests drive a headless Chromium.
  packages+=(chromium chromium-driver python3-selenium)
  # Node.js runs the nacos npm SDK tests; only install it when the machine has none.
  command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  echo "installing: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
