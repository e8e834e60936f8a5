#!/usr/bin/env bash
# Several server nodes on one PostgreSQL (docs/SERVER.md, "The catalogue's stores"), against
# the SQLite single node, in the same run on this machine. COUNT small images (default 2000)
# are sealed as `post` seals a folder (one batch key, one signature per 256) and dropped one
# envelope per file, spread evenly over the nodes' inboxes; every node then runs one durable
# `server ingest --once` at the same time, and the wall time until the last one ends gives the
# rate. Each configuration starts on a fresh database, from a throwaway cluster of Debian's
# postgresql (scripts/postgres). Beside them, libgcrypt's own RSA-3072 OAEP unwrap, measured
# here too, gives the bound a key per envelope would set.
# Then the latency across nodes: with `server watch` on node1 and node2, POSTS images are
# dropped into node1's inbox one at a time and each is timed from its rename to its line at a
# `sealdrop tail --follow` whose server is node2 (p50, p99), next to the same on one node.
# Usage: cluster.sh [count] [posts]
source "$(dirname "$0")/common.sh"
count="${1:-2000}"
posts="${2:-300}"
daemons=()
# The clusters started, one per line (they are started in subshells).
touch "$work/clusters"
cleanup() {
    for pid in "${daemons[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    while read -r cluster; do scripts/postgres stop "$cluster" >/dev/null 2>&1; done < "$work/clusters"
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/photos"
for i in $(seq 1 "$count"); do cp fixtures/images/horse.png "$work/photos/img-$i.png"; done
cores=$(nproc)
bench=$("$bin" bench --primitives-only --sizes 64k --rsa-bits 3072 --seconds 2 --json)
ms() { echo "$bench" | sed -n "s/.*\"libgcrypt\":\([0-9.e-]*\),\"name\":\"$1\".*/\1/p"; }
unwrap=$(ms "rsa-3072 oaep unwrap")
sign=$(ms "rsa-3072 pss sign")

# A server of NODES nodes in $work/NAME-1..NODES (on a fresh database unless NODES is 0: one
# SQLite root), alice issued by it; prints the nodes' roots.
server() {  # name nodes
    local name="$1" nodes="$2"
    if [ "$nodes" -eq 0 ]; then
        "$bin" server init "$work/$name-1" >/dev/null
        nodes=1
    else
        # Outside $work (0700): the cluster runs as the postgres user when this runs as root.
        local url cluster="${TMPDIR:-/tmp}/sealdrop-bench-pg-$name-$$"
        echo "$cluster" >> "$work/clusters"
        url=$(scripts/postgres start "$cluster" | tail -1)
        "$bin" server init "$work/$name-1" --database "$url" >/dev/null
        for n in $(seq 2 "$nodes"); do "$bin" server init "$work/$name-$n" --join "$work/$name-1" >/dev/null; done
    fi
    "$bin" server issue "$work/$name-1" "$work/alice.csr" -o "$work/alice-$name.crt" >/dev/null
    for n in $(seq 1 "$nodes"); do echo "$work/$name-$n"; done
}

ingest() {  # name nodes (0: SQLite)
    local name="$1" nodes
    mapfile -t nodes < <(server "$1" "$2")
    [ -e "${nodes[0]}/ca.crt" ] || { echo "cluster.sh: could not make the $name server" >&2; exit 1; }
    rm -rf "$work/sealed"
    "$bin" seal "$work/photos" --to "${nodes[0]}/encryption.crt" --key "$work/alice.key" --cert "$work/alice-$name.crt" \
        --batch-wrap --batch-sign -o "$work/sealed" >/dev/null
    local i=0
    for f in "$work"/sealed/*.seal; do
        local node="${nodes[$((i % ${#nodes[@]}))]}"
        mv "$f" "$node/inbox/tmp/" && mv "$node/inbox/tmp/$(basename "$f")" "$node/inbox/new/"
        i=$((i + 1))
    done
    local start end pids=()
    start=$(date +%s.%N)
    for node in "${nodes[@]}"; do "$bin" server ingest "$node" --once --batch-size 1024 >/dev/null 2>&1 & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid"; done
    end=$(date +%s.%N)
    local seconds images
    seconds=$(echo "$end - $start" | bc -l)
    images=$("$bin" server status "${nodes[0]}" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['images'])")
    [ "$images" -eq "$count" ] || { echo "cluster.sh: $name: $images of $count images ingested" >&2; exit 1; }
    for node in "${nodes[@]}"; do "$bin" server fsck "$node" >/dev/null || { echo "cluster.sh: fsck of $node failed" >&2; exit 1; }; done
    echo "$seconds"
}

printf 'libgcrypt RSA-3072 OAEP unwrap: %.2f ms, so at most %.0f envelopes/s on %d cores with a key per envelope\n' \
    "$unwrap" "$(echo "1000 / $unwrap * $cores" | bc -l)" "$cores"
sqlite=$(ingest sqlite 0)
sqlite_rate=$(echo "$count / $sqlite" | bc -l)
printf '%-28s %5d envelopes in %6.2f s = %6.0f envelopes/s\n' "SQLite, one node" "$count" "$sqlite" "$sqlite_rate"
for nodes in 1 2 3; do
    seconds=$(ingest "pg$nodes" "$nodes")
    rate=$(echo "$count / $seconds" | bc -l)
    printf '%-28s %5d envelopes in %6.2f s = %6.0f envelopes/s, %.2f x SQLite on one node\n' \
        "PostgreSQL, $nodes node(s)" "$count" "$seconds" "$rate" "$(echo "$rate / $sqlite_rate" | bc -l)"
done

# Latency: one image at a time into node1, followed on node2 (and, for comparison, on node1).
mkdir -p "$work/latency"
for i in $(seq 1 "$posts"); do cp fixtures/images/horse.png "$work/latency/post-$i.png"; done
mapfile -t nodes < <(server lat 2)
[ -e "${nodes[1]}/ca.crt" ] || { echo "cluster.sh: could not make the latency server" >&2; exit 1; }
"$bin" seal "$work/latency" --to "${nodes[0]}/encryption.crt" --key "$work/alice.key" --cert "$work/alice-lat.crt" -o "$work/lat-sealed" >/dev/null
mkdir -p "$work/lat-sealed-1" "$work/lat-sealed-2"
i=0
for f in "$work"/lat-sealed/*.seal; do mv "$f" "$work/lat-sealed-$((i % 2 + 1))/"; i=$((i + 1)); done
for node in "${nodes[@]}"; do "$bin" server watch "$node" >/dev/null 2>&1 & daemons+=($!); done
sleep 2
floor=$(echo "$unwrap + $sign" | bc -l)
for follower in 1 2; do
    "$bin" profile import --key "$work/alice.key" --cert "$work/alice-lat.crt" --server "${nodes[$((follower - 1))]}" \
        --home "$work/follower-$follower" >/dev/null 2>&1
    result=$(python3 benchmarks/scripts/gateway.py tailfollow "${nodes[0]}" "$work/lat-sealed-$follower" --posts "$posts" \
        --interval 0.05 --bin "$bin" --home "$work/follower-$follower")
    field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$result" "$1"; }
    where=$([ "$follower" -eq 1 ] && echo "node1 (the same node)" || echo "node2 (across nodes)")
    printf 'drop into node1, followed on %-22s p50 %5.1f ms, p99 %5.1f ms, max %5.1f ms, %d missed; p50 / (unwrap + sign) = %.2f\n' \
        "$where:" "$(field p50_ms)" "$(field p99_ms)" "$(field max_ms)" "$(field missed)" "$(echo "$(field p50_ms) / $floor" | bc -l)"
done
printf 'libgcrypt in this run: RSA-3072 unwrap %.1f ms + sign %.1f ms = %.1f ms a post\n' "$unwrap" "$sign" "$floor"
