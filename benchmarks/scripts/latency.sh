#!/usr/bin/env bash
# Drop to notification (issue: performance, item 4): with `server watch` running, POSTS small
# images (default 1000) are dropped one at a time, INTERVAL seconds apart (default 0.05), and
# each is timed from its rename into inbox/new to its line at a running
# `sealdrop tail --follow --json`; p50, p99 and the maximum. Beside them, measured in the same
# run, what libgcrypt costs one post: one RSA-3072 OAEP unwrap (the envelope's key) and one
# RSA-3072 PSS signature (the log's signed head), which the server makes on two cores at once
# (docs/SERVER.md, "The signed head"): the floor is the slower of the two.
# Usage: latency.sh [posts] [interval]
source "$(dirname "$0")/common.sh"
posts="${1:-1000}"
interval="${2:-0.05}"
"$bin" profile import --key "$work/alice.key" --cert "$work/alice.crt" --server "$work/root" --home "$work/home" >/dev/null 2>&1
mkdir -p "$work/images"
for i in $(seq 1 "$posts"); do cp fixtures/images/horse.png "$work/images/post-$i.png"; done
"$bin" seal "$work/images" --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$work/sealed" >/dev/null
bench=$("$bin" bench --primitives-only --sizes 64k --rsa-bits 3072 --seconds 2 --json)
ms() { echo "$bench" | sed -n "s/.*\"libgcrypt\":\([0-9.e-]*\),\"name\":\"$1\".*/\1/p"; }
unwrap=$(ms "rsa-3072 oaep unwrap")
sign=$(ms "rsa-3072 pss sign")
"$bin" server watch "$work/root" >/dev/null 2>&1 &
watch=$!
trap 'kill $watch 2>/dev/null; wait $watch 2>/dev/null; rm -rf "$work"' EXIT
sleep 1
result=$(python3 benchmarks/scripts/gateway.py tailfollow "$work/root" "$work/sealed" --posts "$posts" --interval "$interval" \
    --bin "$bin" --home "$work/home")
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$result" "$1"; }
floor=$(echo "if ($unwrap > $sign) $unwrap else $sign" | bc -l)
printf 'drop to `tail --follow`, %d posts %s s apart, watch running, release build, %d cores:\n' "$(field posts)" "$interval" "$(nproc)"
printf '  p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d missed\n' "$(field p50_ms)" "$(field p99_ms)" "$(field max_ms)" "$(field missed)"
printf '  libgcrypt in this run: RSA-3072 unwrap %.1f ms, sign %.1f ms (%.1f ms one after the other); p50 / the slower = %.2f, p99 / the slower = %.2f\n' \
    "$unwrap" "$sign" "$(echo "$unwrap + $sign" | bc -l)" "$(echo "$(field p50_ms) / $floor" | bc -l)" "$(echo "$(field p99_ms) / $floor" | bc -l)"
