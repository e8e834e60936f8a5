# Shared set-up for the benchmark scripts: a release build, a server root and a user in a
# scratch folder ($work), removed on exit.
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root_dir"
command -v /usr/bin/time >/dev/null || { echo "benchmarks: error: /usr/bin/time is missing" >&2; echo "hint: apt-get install time" >&2; exit 1; }
bin="$(scripts/release-build --quiet)/sealdrop"
# The scratch folder's file system is the one measured: SEALDROP_BENCH_DIR chooses it
# (on-journaled-ext4.sh sets it), leaving TMPDIR, which the build's caches depend on, alone.
work="$(mktemp -d "${SEALDROP_BENCH_DIR:-${TMPDIR:-/tmp}}/sealdrop-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export SEALDROP_PASSPHRASE="benchmark passphrase"
"$bin" server init "$work/root" >/dev/null
"$bin" keygen --out "$work/alice" >/dev/null
"$bin" request --key "$work/alice.key" --user alice -o "$work/alice.csr" >/dev/null
"$bin" server issue "$work/root" "$work/alice.csr" -o "$work/alice.crt" >/dev/null

# Runs a command under /usr/bin/time; prints "wall_seconds max_rss_kib cpu_percent".
measure() {
    /usr/bin/time -f "%e %M %P" -o "$work/time.txt" "$@" >/dev/null
    tr -d '%' < "$work/time.txt"
}
