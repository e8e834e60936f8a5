#!/usr/bin/env bash
# Costs that must not grow with the server (issue: performance, item 3): durable ingestion,
# `tail` of what is new, `list --last 20` and fetch latency, on a server holding SMALL images
# (default 1,000) and then LARGE (default 1,000,000), each the median of RUNS (default 5).
# The large catalogue is grown by benchmarks' grow-catalogue through Catalogue.record, the
# code ingestion records with (rows, replay ids, chained notification lines), every image a
# copy of one real one, so a million images need no million envelopes; `server ingest`
# then writes and signs the log as after a crash. (`server fsck` knows these rows for what they
# are: each names an envelope that is not its blob's.) The one-off costs that do grow (writing the
# log, a new reader's first verified read of every line, a full `list`) are shown apart.
# Usage: scale.sh [small] [large] [runs]
source "$(dirname "$0")/common.sh"
small="${1:-1000}"
large="${2:-1000000}"
runs="${3:-5}"
(cd benchmarks && swift build -c release --product grow-catalogue > "$work/build.log" 2>&1) || { cat "$work/build.log" >&2; exit 1; }
grow="$root_dir/benchmarks/.build/release/grow-catalogue"
mkdir -p "$work/photos"
for i in $(seq 1 256); do cp fixtures/images/horse.png "$work/photos/img-$i.png"; done

seconds() {  # the wall-clock seconds of a command, its output dropped
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Prints "ingest_per_s tail_s list_s fetch_s" for a server of $1 images, and the one-off costs on stderr.
measure_scale() {
    local n="$1" root="$work/root-$1" home="$work/home-$1"
    "$bin" server init "$root" >/dev/null
    "$bin" server issue "$root" "$work/alice.csr" -o "$work/alice-$n.crt" >/dev/null
    "$bin" profile import --key "$work/alice.key" --cert "$work/alice-$n.crt" --server "$root" --home "$home" >/dev/null 2>&1
    "$bin" post fixtures/images/horse.png --home "$home" --no-wait >/dev/null
    "$bin" server ingest "$root" --once >/dev/null 2>&1
    [ "$n" -gt 1 ] && "$grow" "$root" "$((n - 1))" >/dev/null
    local log_s first_s full_list_s
    log_s=$(seconds "$bin" server ingest "$root" --once)
    first_s=$(seconds "$bin" tail --home "$home")
    full_list_s=$(seconds "$bin" list --home "$home")
    printf '  %d images: log written in %.1f s; a new reader verifies every line in %.1f s; a full list (index built) %.1f s\n' \
        "$n" "$log_s" "$first_s" "$full_list_s" >&2
    local ingest=() tail=() list=() fetch=()
    for run in $(seq 1 "$runs"); do
        # 256 envelopes of a batch (one signature, one batch key), dropped, ingested durably.
        rm -rf "$work/sealed"
        for f in "$work"/photos/*.png; do mv "$f" "${f%.png}-$n-$run.png"; done
        "$bin" seal "$work/photos" --to "$root/encryption.crt" --key "$work/alice.key" -o "$work/sealed" --batch-sign --batch-wrap >/dev/null
        for f in "$work"/sealed/*.seal; do mv "$f" "$root/inbox/tmp/$(basename "$f")"; done
        for f in "$root"/inbox/tmp/*.seal; do mv "$f" "$root/inbox/new/"; done
        ingest+=("$(echo "256 / $(seconds "$bin" server ingest "$root" --once)" | bc -l)")
        # What is new since the last read: 256 lines.
        tail+=("$(seconds "$bin" tail --home "$home")")
        list+=("$(seconds "$bin" list --last 20 --home "$home")")
    done
    "$bin" server watch "$root" >/dev/null 2>&1 &
    local watch=$!
    for run in $(seq 1 "$runs"); do
        fetch+=("$(seconds "$bin" fetch horse.png -o "$work/fetched-$n-$run.png" --home "$home")")
        cmp -s fixtures/images/horse.png "$work/fetched-$n-$run.png" || { echo "scale.sh: fetch $run at $n differs" >&2; exit 1; }
    done
    kill "$watch"; wait "$watch" 2>/dev/null || true
    echo "$(printf '%s\n' "${ingest[@]}" | median) $(printf '%s\n' "${tail[@]}" | median)" \
         "$(printf '%s\n' "${list[@]}" | median) $(printf '%s\n' "${fetch[@]}" | median)"
    rm -rf "$root" "$home"
}

echo "one-off costs, which grow with the server:"
read -r si st sl sf < <(measure_scale "$small")
read -r li lt ll lf < <(measure_scale "$large")
printf 'medians of %d runs, release build, %d cores:\n' "$runs" "$(nproc)"
printf '%-44s %12s %12s %8s\n' "" "$small images" "$large images" "ratio"
row() { printf '%-44s %12.3f %12.3f %8.2f\n' "$1" "$2" "$3" "$(echo "$3 / $2" | bc -l)"; }
row "ingest, 256-envelope batch (envelopes/s)" "$si" "$li"
row "tail, 256 new lines (s)" "$st" "$lt"
row "list --last 20 (s)" "$sl" "$ll"
row "fetch with watch running (s)" "$sf" "$lf"
