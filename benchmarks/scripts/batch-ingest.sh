#!/usr/bin/env bash
# Ingestion with one key per envelope against one batch key per folder (FORMAT.md §5.1), in
# the same run, beside the bound a key per envelope sets: libgcrypt's own RSA-3072 OAEP unwrap
# rate on both cores, measured here too. COUNT small images (default 1000) are sealed twice,
# once each way, dropped, and each set is timed through one durable `server ingest --once`
# (signature, unwrap and every MAC checked, blobs fsynced, group commits of BATCH); each
# folder is also opened with the server's key by `sealdrop open`, timed the same way. A
# third set is posted by a registered profile with `sealdrop post --no-wait`, which sends
# each signed group of 256 as one bundle drop (FORMAT.md §13), and is ingested the same way.
# Usage: batch-ingest.sh [count] [batch]
source "$(dirname "$0")/common.sh"
count="${1:-1000}"
batch="${2:-1024}"
mkdir -p "$work/photos"
for i in $(seq 1 "$count"); do cp fixtures/images/horse.png "$work/photos/img-$i.png"; done
cores=$(nproc)
unwrap_ms=$("$bin" bench --primitives-only --sizes 64k --rsa-bits 3072 --seconds 2 --json \
    | sed -n 's/.*"libgcrypt":\([0-9.e-]*\),"name":"rsa-3072 oaep unwrap".*/\1/p')
bound=$(echo "1000 / $unwrap_ms * $cores" | bc -l)
# Start-up (three scrypt key derivations, the catalogue opened) measured alone, on an empty inbox.
read -r startup _ _ < <(measure "$bin" server ingest "$work/root" --once)
ingest() {  # mode, seal flags...
    local mode="$1"; shift
    rm -rf "$work/sealed"
    "$bin" seal "$work/photos" --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$work/sealed" "$@" >/dev/null
    rm -rf "$work/opened"
    read -r os orss ocpu < <(measure "$bin" open "$work/sealed" --key "$work/root/encryption.key" --ca "$work/root/ca.crt" -o "$work/opened")
    local opened; opened=$(echo "$count / $os" | bc -l)
    printf '%-22s open  %5d files in %6.2f s = %6.0f files/s (%.2f x the RSA bound), CPU %s%%, peak RSS %d MiB\n' \
        "$mode" "$count" "$os" "$opened" "$(echo "$opened / $bound" | bc -l)" "$ocpu" "$((orss / 1024))"
    for f in "$work"/sealed/*.seal; do mv "$f" "$work/root/inbox/tmp/$mode-$(basename "$f")"; done
    for f in "$work"/root/inbox/tmp/*.seal; do mv "$f" "$work/root/inbox/new/"; done
    report_ingest "$mode"
}
report_ingest() {  # mode
    read -r s rss cpu < <(measure "$bin" server ingest "$work/root" --once --batch-size "$batch" 2>/dev/null)
    local rate; rate=$(echo "$count / $s" | bc -l)
    printf '%-22s ingest %5d envelopes in %6.2f s = %6.0f envelopes/s (%.2f x the RSA bound), %6.0f/s after start-up, CPU %s%%, peak RSS %d MiB\n' \
        "$1" "$count" "$s" "$rate" "$(echo "$rate / $bound" | bc -l)" "$(echo "$count / ($s - $startup)" | bc -l)" "$cpu" "$((rss / 1024))"
}
printf 'libgcrypt RSA-3072 OAEP unwrap: %.2f ms, so at most %.0f envelopes/s on %d cores with a key per envelope\n' \
    "$unwrap_ms" "$bound" "$cores"
printf 'ingest start-up (empty inbox): %.2f s\n' "$startup"
ingest "key per envelope"
# The same images again under other names, so that none is a replay or a new version.
for f in "$work"/photos/*.png; do mv "$f" "${f%.png}-b.png"; done
ingest "one batch key" --batch-wrap --batch-sign
# A third time, as `post` sends a folder: one bundle per signed group.
for f in "$work"/photos/*.png; do mv "$f" "${f%.png}-c.png"; done
SEALDROP_HOME="$work/profile" "$bin" register --server "$work/root" --user bundler >/dev/null 2>&1 &
registering=$!
until [ -e "$work/profile/bundler.crt" ]; do "$bin" server ingest "$work/root" --once >/dev/null 2>&1; sleep 0.2; done
wait "$registering"
read -r ps _ _ < <(measure env SEALDROP_HOME="$work/profile" "$bin" post "$work/photos" --no-wait)
printf '%-22s post  %5d files in %6.2f s = %6.0f files/s, as %d drops\n' "bundles" "$count" "$ps" "$(echo "$count / $ps" | bc -l)" \
    "$(find "$work/root/inbox/new" -type f | wc -l)"
report_ingest "bundles"
"$bin" server fsck "$work/root" >/dev/null && echo "fsck clean; $("$bin" server status "$work/root" --json)"
