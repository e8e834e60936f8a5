#!/usr/bin/env bash
# RSA private-key operations on a PKCS#11 token (Debian's SoftHSM 2, a throwaway token made by
# scripts/softhsm) beside libgcrypt with the same key, in the same run:
# `sealdrop bench --pkcs11-module ... --pkcs11-token ...`, release build.
#
#   benchmarks/scripts/token.sh [SECONDS_PER_LINE] [BITS,...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-2}
bits=${2:-2048,3072}
bin="$(scripts/release-build --quiet)/sealdrop"
work=$(mktemp -d /tmp/sealdrop-token-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
conf=$(scripts/softhsm init "$work" bench)
SOFTHSM2_CONF=$conf SEALDROP_PIN=${TOKEN_PIN:-123456} "$bin" bench \
    --pkcs11-module "$(scripts/softhsm module)" --pkcs11-token bench --rsa-bits "$bits" --seconds "$seconds"
echo "token: SoftHSM $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null || echo '?'), $(nproc) cores"
