#!/usr/bin/env bash
# Seals a folder of small images (default 1000) with --jobs 1 and --jobs 2 and reports
# files/s, the speed-up and the CPU use (200% = both cores busy). Usage: batch-scaling.sh [count]
source "$(dirname "$0")/common.sh"
count="${1:-1000}"
mkdir -p "$work/photos"
images=(fixtures/images/*.png fixtures/images/*.jpg fixtures/images/*.gif fixtures/images/*.webp)
for i in $(seq 1 "$count"); do
    cp "${images[$((i % ${#images[@]}))]}" "$work/photos/img-$i.${images[$((i % ${#images[@]}))]##*.}"
done
bytes=$(du -sb "$work/photos" | cut -f1)
for jobs in 1 2; do
    read -r s rss cpu < <(measure "$bin" seal "$work/photos" --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$work/out-$jobs" --jobs "$jobs")
    printf -- '--jobs %d: %d files (%.1f MB) in %6.2f s = %6.1f files/s, CPU %s%%, peak RSS %.1f MiB\n' \
        "$jobs" "$count" "$(echo "$bytes / 1000000" | bc -l)" "$s" "$(echo "$count / $s" | bc -l)" "$cpu" "$(echo "$rss / 1024" | bc -l)"
    eval "t$jobs=$s"
done
printf 'speed-up --jobs 2 / --jobs 1: %.2fx\n' "$(echo "$t1 / $t2" | bc -l)"
read -r s rss cpu < <(measure "$bin" seal "$work/photos" --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$work/out-batch" --batch-sign)
printf -- '--batch-sign: %d files in %6.2f s = %6.1f files/s, CPU %s%%, peak RSS %.1f MiB (one signature per 256 files)\n' \
    "$count" "$s" "$(echo "$count / $s" | bc -l)" "$cpu" "$(echo "$rss / 1024" | bc -l)"
