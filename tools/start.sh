#!/usr/bin/env bash
# Set-up command 1: install what is missing, build, and start the server on
# 127.0.0.1:8080 with its data in ./data and a ready demo merchant.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target caisse >/dev/null
DATA=${CAISSE_DATA:-./data}
mkdir -p "$DATA"
# Keys are shown once and stored hashed; the demo merchant's are kept beside the
# data (mode 600) so that a restart can print the test key again.
if [ ! -s "$DATA/demo-merchant.json" ]; then
  umask 077
  build/caisse merchant create --name "Demo shop" --country FR --data "$DATA" > "$DATA/demo-merchant.json"
fi
key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["test_secret_key"])' "$DATA/demo-merchant.json")
echo "demo merchant test key: $key"
listen=${CAISSE_LISTEN:-127.0.0.1:8080}
echo "try: curl -s -H 'Authorization: Bearer $key' http://$listen/v1/orders?status=all"
exec build/caisse serve --data "$DATA" --listen "$listen" "$@"
