#!/usr/bin/env bash
# Seals and opens one large image (default 1 GiB) and reports throughput and peak RSS,
# which must stay under 64 MiB whatever the size. Usage: large-file.sh [MiB] [suite]
source "$(dirname "$0")/common.sh"
mib="${1:-1024}"
suite="${2:-cbc-hmac}"
# A PNG signature and header, then random bytes: sealdrop recognises it as an image.
{ printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x10\x00\x00\x00\x10\x00\x08\x02\x00\x00\x00'; head -c "$((mib * 1048576))" /dev/urandom; } > "$work/big.png"
read -r seal_s seal_rss seal_cpu < <(measure "$bin" seal "$work/big.png" --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$work/sealed" --suite "$suite")
read -r open_s open_rss open_cpu < <(measure "$bin" open "$work/sealed/big.png.seal" --key "$work/root/encryption.key" --ca "$work/root/ca.crt" -o "$work/opened")
cmp "$work/big.png" "$work/opened/big.png"
size=$(stat -c %s "$work/big.png")
printf 'file %d MiB, suite %s, release build, %s cores\n' "$mib" "$suite" "$(nproc)"
printf 'seal  %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n' "$seal_s" "$(echo "$size / $seal_s / 1000000" | bc -l)" "$(echo "$seal_rss / 1024" | bc -l)"
printf 'open  %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n' "$open_s" "$(echo "$size / $open_s / 1000000" | bc -l)" "$(echo "$open_rss / 1024" | bc -l)"
echo "round trip identical (cmp)"
