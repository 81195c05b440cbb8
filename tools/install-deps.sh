#!/usr/bin/env bash
# Installs the Debian 12 packages caisse builds, runs and tests with — only the
# missing ones, so it is quick when everything is there. Needs root (or sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libuv1-dev node-llhttp liblmdb-dev lmdb-utils liblua5.4-dev libmbedtls-dev libjansson-dev libjemalloc-dev libcurl4-openssl-dev libmagic-dev
      libxml2-dev libxml2-utils
      libhpdf-dev libxlsxwriter-dev poppler-utils
      python3 nodejs npm curl wrk nginx-light)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A node/npm that came with the machine (not from Debian) is fine too.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
if command -v python3 >/dev/null; then missing=("${missing[@]/python3}"); fi
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
