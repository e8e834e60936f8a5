#!/usr/bin/env bash
# Fetch latency with a running `server watch`: from `sealdrop fetch` dropping its request to
# the verified file being written, for a small image and a 50 MB one. Usage: fetch-latency.sh [runs]
source "$(dirname "$0")/common.sh"
runs="${1:-5}"
fp=$("$bin" cert show "$work/root/ca.crt" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
"$bin" server watch "$work/root" 2>/dev/null &
watch_pid=$!
trap 'kill $watch_pid 2>/dev/null; rm -rf "$work"' EXIT
for user in poster reader; do
    SEALDROP_HOME="$work/home-$user" "$bin" register --server "$work/root" --user "$user" --expect-fingerprint "$fp" >/dev/null
done
{ printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x10\x00\x00\x00\x10\x00\x08\x02\x00\x00\x00'; head -c 50000000 /dev/urandom; } > "$work/large.png"
SEALDROP_HOME="$work/home-poster" "$bin" post fixtures/images/horse.png "$work/large.png" >/dev/null
sleep 2
for image in horse.png large.png; do
    total=0
    for run in $(seq 1 "$runs"); do
        rm -f "$work/out-$image"
        start=$(date +%s.%N)
        SEALDROP_HOME="$work/home-reader" "$bin" fetch "$image" -o "$work/out-$image" >/dev/null
        end=$(date +%s.%N)
        total=$(echo "$total + $end - $start" | bc -l)
    done
    size=$(stat -c %s "$work/out-$image")
    printf '%-10s %9d bytes: mean %.3f s over %d fetches (request, answer, verify, decrypt, write)\n' "$image" "$size" "$(echo "$total / $runs" | bc -l)" "$runs"
done
