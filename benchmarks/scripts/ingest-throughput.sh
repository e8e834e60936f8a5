#!/usr/bin/env bash
# Durable ingestion throughput: seals COUNT small images (default 1000) to the server, drops
# them all, and times one `server ingest --once` (signature, unwrap and every MAC checked,
# blobs fsynced, one synchronous=FULL transaction per --batch-size). Usage: ingest-throughput.sh [count] [batch]
source "$(dirname "$0")/common.sh"
count="${1:-1000}"
batch="${2:-64}"
mkdir -p "$work/photos"
for i in $(seq 1 "$count"); do cp fixtures/images/horse.png "$work/photos/img-$i.png"; done
"$bin" seal "$work/photos" --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$work/sealed" >/dev/null
for f in "$work"/sealed/*.seal; do mv "$f" "$work/root/inbox/tmp/"; done
for f in "$work"/root/inbox/tmp/*.seal; do mv "$f" "$work/root/inbox/new/"; done
read -r s rss cpu < <(measure "$bin" server ingest "$work/root" --once --batch-size "$batch" 2>/dev/null)
printf 'ingested %d envelopes (16.6 kB images, RSA-3072 server key) in %.2f s = %.0f envelopes/s, CPU %s%%, batch %d\n' \
    "$count" "$s" "$(echo "$count / $s" | bc -l)" "$cpu" "$batch"
"$bin" server fsck "$work/root" >/dev/null && echo "fsck clean; $("$bin" server status "$work/root" --json)"
