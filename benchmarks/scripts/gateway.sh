#!/usr/bin/env bash
# The HTTPS gateway under load, each figure beside the same work through the file drop, in one run:
#   1. small envelopes (16.6 kB image) uploaded by 8 concurrent posters: gateway vs file drop;
#   2. drop-to-notification latency at each of FOLLOWERS live streams (p50, p99) vs a file follower;
#   3. serve's memory with CONNECTIONS live streams open;
#   4. slowloris, a 10 GB Content-Length and a request flood from one user, another user timed meanwhile.
# All followers and streams are one user here, so serve runs with --rate 100000 for those (its
# default per-user limit, 100 requests a second, is for real users); abuse meets the defaults. Usage: gateway.sh [uploads] [followers] [connections]
source "$(dirname "$0")/common.sh"
count="${1:-400}"
followers="${2:-200}"
connections="${3:-1000}"
ulimit -n 8192
"$bin" keygen --out "$work/bob" >/dev/null
"$bin" request --key "$work/bob.key" --user bob -o "$work/bob.csr" >/dev/null
"$bin" server issue "$work/root" "$work/bob.csr" -o "$work/bob.crt" >/dev/null
for set in gateway drop follow dropfollow; do
    mkdir -p "$work/images-$set"
    n=$([ "${set%follow}" = "$set" ] && echo "$count" || echo 50)
    for i in $(seq 1 "$n"); do cp fixtures/images/horse.png "$work/images-$set/$set-$i.png"; done
    "$bin" seal "$work/images-$set" --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$work/sealed-$set" >/dev/null
done
"$bin" server serve "$work/root" --listen 127.0.0.1:0 --rate 100000 --max-connections 8192 --max-uploads-per-user 64 \
    > "$work/serve.out" 2>"$work/serve.log" &
serve_pid=$!
trap 'kill -9 $serve_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
tool() { python3 benchmarks/scripts/gateway.py "$@" --url "$url" --ca "$work/root/ca.crt" --cert "$work/alice.crt" --key "$work/alice.key"; }
settle() { for _ in $(seq 1 1200); do [ "$(ls "$work/root/inbox/new" | wc -l)" -eq 0 ] && break; sleep 0.1; done; sleep 1; }
field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d$2)" "$1"; }

gateway=$(tool upload "$work/sealed-gateway" --concurrency 8); settle
drop=$(tool drop "$work/root" "$work/sealed-drop" --concurrency 8); settle
printf 'uploads, 8 posters, %d small envelopes: gateway %s/s, file drop %s/s (ratio %.2f)\n' "$count" \
    "$(field "$gateway" '["per_second"]')" "$(field "$drop" '["per_second"]')" \
    "$(echo "$(field "$gateway" '["per_second"]') / $(field "$drop" '["per_second"]')" | bc -l)"

follow=$(tool follow "$work/sealed-follow" --followers "$followers" --posts 50 --interval 0.2); settle
dropfollow=$(tool dropfollow "$work/root" "$work/sealed-dropfollow" --posts 50 --interval 0.2); settle
echo "drop-to-notification, 50 posts: $followers gateway followers $(field "$follow" '')"
echo "                                 1 file-drop follower $(field "$dropfollow" '')"

idle=$(tool idle --connections "$connections" --pid "$serve_pid")
echo "serve with $connections live streams: $(field "$idle" '')"

# Abuse against serve with its default limits (100 requests a second per user, 8 uploads in flight).
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
"$bin" server serve "$work/root" --listen 127.0.0.1:0 > "$work/serve.out" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 1 100); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
abuse=$(tool abuse --other-cert "$work/bob.crt" --other-key "$work/bob.key")
echo "abuse (default limits): $abuse"
kill -0 "$serve_pid" && echo "serve still up; $("$bin" server status "$work/root" --json)"
