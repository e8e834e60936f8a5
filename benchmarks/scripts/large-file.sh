#!/usr/bin/env bash
# Seals and opens one large image (default 1 GiB) and reports throughput, peak RSS (which
# must stay under 64 MiB whatever the size), and the ratio against the same pipeline done
# by a C program on libgcrypt in the same run (benchmarks/reference/seal-reference.c, built
# here with cc: the chunk work and transcript, and per file an RSA-3072 PSS signature and
# OAEP key wrap, as issue 12 defines its reference; on as many threads as there are cores, scheduled as sealdrop schedules its
# chunks: workers take them in order and read them at their positions while one thread
# reads the framing and writes out the ones done). The reference opens as FORMAT.md requires
# of a reader, in two passes (the signature's transcript before the key, then each chunk
# checked against the first pass and decrypted); it is also timed decrypting in one pass, as
# no conforming reader may, to show what verifying first costs. sealdrop's fixed cost (start-up, scrypt for the key file, RSA) is measured on a
# small image in the same runs, and the rate is also given without it (sealing one file
# runs the scrypt beside the chunk work, so for seal that figure subtracts more than the
# large file pays). Each figure is the median of RUNS
# (default 3) runs alternating with the reference's. The input
# and every output are on tmpfs (/dev/shm), so no disk is measured. Where `age` is installed
# (Debian's package), it encrypts and decrypts the same file in the same runs too (X25519 and
# ChaCha20-Poly1305, and no signature: a lower bar than sealdrop's).
# With FILES above 1, a folder of FILES images of MiB each is sealed and opened as a folder
# (one command, one key to unlock), the reference and age taking the files one by one.
# Usage: large-file.sh [MiB] [suite] [runs] [files]
source "$(dirname "$0")/common.sh"
mib="${1:-1024}"
suite="${2:-cbc-hmac}"
runs="${3:-3}"
files="${4:-1}"
command -v cc >/dev/null || { echo "large-file: error: no C compiler (cc) for the reference" >&2; echo "hint: apt-get install gcc" >&2; exit 1; }
cc -O2 -o "$work/seal-reference" benchmarks/reference/seal-reference.c -lgcrypt -lpthread
"$work/seal-reference" keygen "$work/reference.key"
shm="$(mktemp -d /dev/shm/sealdrop-bench.XXXXXX)"
trap 'rm -rf "$work" "$shm"' EXIT
# PNG signatures and headers, then random bytes: sealdrop recognises them as images.
# On tmpfs, as every output: input in the page cache can be reclaimed between runs (this
# machine's kernel reclaims cold pages), and a tool that then reads the disk is not timed fairly.
mkdir "$shm/in"
for i in $(seq 1 "$files"); do
    { printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x10\x00\x00\x00\x10\x00\x08\x02\x00\x00\x00'; head -c "$((mib * 1048576))" /dev/urandom; } > "$shm/in/big$i.png"
done
size=$(cat "$shm"/in/*.png | wc -c)
if [ "$files" -eq 1 ]; then input="$shm/in/big1.png"; sealed="$shm/sealed/big1.png.seal"; else input="$shm/in"; sealed="$shm/sealed"; fi
if command -v age >/dev/null && command -v age-keygen >/dev/null; then
    age-keygen -o "$work/age.key" 2>/dev/null
    age_recipient=$(age-keygen -y "$work/age.key")
fi
# The reference and age take the files one after the other, as one timed command.
cat > "$work/each.sh" <<'SCRIPT'
#!/usr/bin/env bash
# each.sh seal|open|age-seal|age-open WORK SHM SUITE THREADS [AGE_RECIPIENT]
set -euo pipefail
step=$1 work=$2 shm=$3 suite=$4 threads=$5
for input in "$shm"/in/*.png; do
    name=$(basename "$input")
    case "$step" in
        seal) "$work/seal-reference" seal "$suite" "$input" "$shm/ref.sealed.$name" "$threads" "$work/reference.key" ;;
        open) "$work/seal-reference" open "$suite" "$shm/ref.sealed.$name" "$shm/ref.out.$name" "$threads" "$work/reference.key" ;;
        open-one-pass) "$work/seal-reference" open-one-pass "$suite" "$shm/ref.sealed.$name" "$shm/ref.out.$name" "$threads" "$work/reference.key" ;;
        age-seal) age -r "$6" -o "$shm/age.out.$name" "$input" ;;
        age-open) age -d -i "$work/age.key" -o "$shm/age.plain.$name" "$shm/age.out.$name" ;;
    esac
done
SCRIPT
chmod +x "$work/each.sh"
compare() { local file; for file in "$shm"/in/*.png; do cmp "$file" "$1$(basename "$file")"; done; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: > "$work/runs.txt"
for run in $(seq 1 "$runs"); do
    rm -rf "$shm/sealed" "$shm/opened" "$shm"/ref.* "$shm"/age.*
    read -r seal_s seal_rss _ < <(measure "$bin" seal "$input" --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$shm/sealed" --suite "$suite")
    read -r ref_seal_s _ _ < <(measure "$work/each.sh" seal "$work" "$shm" "$suite" "$(nproc)")
    read -r open_s open_rss _ < <(measure "$bin" open "$sealed" --key "$work/root/encryption.key" --ca "$work/root/ca.crt" -o "$shm/opened")
    read -r ref_open_s _ _ < <(measure "$work/each.sh" open "$work" "$shm" "$suite" "$(nproc)")
    compare "$shm/opened/"
    compare "$shm/ref.out."
    rm -f "$shm"/ref.out.*
    read -r ref_open1_s _ _ < <(measure "$work/each.sh" open-one-pass "$work" "$shm" "$suite" "$(nproc)")
    compare "$shm/ref.out."
    age_seal_s=0 age_open_s=0
    if [ -n "${age_recipient:-}" ]; then
        read -r age_seal_s _ _ < <(measure "$work/each.sh" age-seal "$work" "$shm" "$suite" 1 "$age_recipient")
        read -r age_open_s _ _ < <(measure "$work/each.sh" age-open "$work" "$shm" "$suite" 1)
        compare "$shm/age.plain."
    fi
    # sealdrop's fixed cost, beside the file's: a small image sealed and opened the same way
    # (start-up, the key file's scrypt, one RSA signature or unwrap).
    rm -rf "$shm/small" "$shm/small-opened"
    read -r small_seal_s _ _ < <(measure "$bin" seal fixtures/images/horse.png --to "$work/root/encryption.crt" --key "$work/alice.key" -o "$shm/small" --suite "$suite")
    read -r small_open_s _ _ < <(measure "$bin" open "$shm/small/horse.png.seal" --key "$work/root/encryption.key" --ca "$work/root/ca.crt" -o "$shm/small-opened")
    echo "$seal_s $seal_rss $ref_seal_s $open_s $open_rss $ref_open_s $age_seal_s $age_open_s $small_seal_s $small_open_s $ref_open1_s" >> "$work/runs.txt"
done
pick() { awk "{ print \$$1 }" "$work/runs.txt" | median; }
# Each run's ratio (column $1 over column $2, measured one after the other), as "median
# (lowest-highest)": a set on this machine drifts by more than the runs of a pair do.
paired() { awk "{ print \$$1 / \$$2 }" "$work/runs.txt" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f (%.2f-%.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
mbps() { echo "$size / $1 / 1000000" | bc -l; }
printf '%d x %d MiB, suite %s, release build, %s cores, median of %d runs alternating with the C reference on libgcrypt\n' \
    "$files" "$mib" "$suite" "$(nproc)" "$runs"
for step in seal open; do
    if [ "$step" = seal ]; then s=$(pick 1); rss=$(pick 2); ref=$(pick 3); a=$(pick 7); fixed=$(pick 9); runs_ratio=$(paired 3 1)
    else s=$(pick 4); rss=$(pick 5); ref=$(pick 6); a=$(pick 8); fixed=$(pick 10); runs_ratio=$(paired 6 4); fi
    printf '%-5s sealdrop %6.2f s %7.1f MB/s, peak RSS %5.1f MiB; C reference %6.2f s %7.1f MB/s; ratio %.2f\n' \
        "$step" "$s" "$(mbps "$s")" "$(echo "$rss / 1024" | bc -l)" "$ref" "$(mbps "$ref")" "$(echo "$ref / $s" | bc -l)"
    printf '%-5s ratio run by run: %s\n' "" "$runs_ratio"
    printf '%-5s sealdrop less its fixed %.2f s (a small image the same way): %7.1f MB/s; ratio %.2f\n' \
        "" "$fixed" "$(mbps "$(echo "$s - $fixed" | bc -l)")" "$(echo "$ref / ($s - $fixed)" | bc -l)"
    if [ "$step" = open ]; then
        one=$(pick 11)
        printf '%-5s C in one pass, decrypting before verifying %6.2f s %7.1f MB/s; ratio %.2f\n' \
            "" "$one" "$(mbps "$one")" "$(echo "$one / $s" | bc -l)"
        printf '%-5s that ratio run by run: %s\n' "" "$(paired 11 4)"
    fi
    if [ -n "${age_recipient:-}" ]; then
        printf '%-5s age      %6.2f s %7.1f MB/s; sealdrop / age %.2f, run by run %s\n' "" "$a" "$(mbps "$a")" "$(echo "$a / $s" | bc -l)" \
            "$(if [ "$step" = seal ]; then paired 7 1; else paired 8 4; fi)"
    fi
done
echo "round trips identical (cmp)"
