#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, then runs every test.
# System packages (Chromium for the browser tests, tshark/tcpdump, iproute2 for network
# namespaces, docker-compose to validate docker-compose.yml, libcap2-bin for the image's file
# capability) are installed with apt when missing;
# Python packages go into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v tshark >/dev/null || need+=(tshark)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v setcap >/dev/null || need+=(libcap2-bin)
# libpcap compiles live capture filters (through ctypes; no tcpdump binary involved).
ldconfig -p 2>/dev/null | grep -q 'libpcap\.so\.0\.8' || need+=(libpcap0.8)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "Missing system packages: ${need[*]} (install them with: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]'
exec .venv/bin/python -m pytest "$@"
