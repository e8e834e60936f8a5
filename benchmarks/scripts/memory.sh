#!/usr/bin/env bash
# Peak resident memory (/usr/bin/time's maximum RSS): the process alone (`--help`), sealing and
# opening one small image, and `server watch` ingesting COUNT small envelopes (default 10,000)
# dropped at once, from start until the inbox is empty. Usage: memory.sh [count]
source "$(dirname "$0")/common.sh"
count="${1:-10000}"
mib() { echo "$(( $1 / 1024 ))"; }
read -r _ help_rss _ < <(measure "$bin" --help)
read -r _ seal_rss _ < <(measure "$bin" seal fixtures/images/horse.png --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$work/one")
read -r _ open_rss _ < <(measure "$bin" open "$work/one/horse.png.seal" --key "$work/root/encryption.key" --ca "$work/root/ca.crt" -o "$work/opened")
mkdir -p "$work/photos"
for i in $(seq 1 "$count"); do cp fixtures/images/horse.png "$work/photos/img-$i.png"; done
"$bin" seal "$work/photos" --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$work/sealed" --batch-sign --batch-wrap >/dev/null
find "$work/sealed" -name '*.seal' -exec mv -t "$work/root/inbox/tmp/" {} +
find "$work/root/inbox/tmp" -name '*.seal' -exec mv -t "$work/root/inbox/new/" {} +
/usr/bin/time -f "%e %M %P" -o "$work/watch.txt" "$bin" server watch "$work/root" >/dev/null 2>&1 &
watch=$!
until [ -z "$(ls -A "$work/root/inbox/new")" ] && [ -z "$(ls -A "$work/root/work")" ]; do sleep 0.5; done
kill -TERM "$(pgrep -P "$watch")" 2>/dev/null || kill -TERM "$watch"
wait "$watch" || true
read -r watch_s watch_rss _ < <(tr -d '%' < "$work/watch.txt")
images=$("$bin" server status "$work/root" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["images"])')
printf 'peak RSS, release build: --help %d MiB; seal one small image %d MiB; open it %d MiB\n' \
    "$(mib "$help_rss")" "$(mib "$seal_rss")" "$(mib "$open_rss")"
printf 'server watch ingesting %d envelopes (%d ingested, %.1f s): %d MiB\n' "$count" "$images" "$watch_s" "$(mib "$watch_rss")"
