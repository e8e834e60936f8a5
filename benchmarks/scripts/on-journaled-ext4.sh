#!/usr/bin/env bash
# Runs a benchmark script with its scratch folder (its server root, inbox and blobs) on a
# fresh ext4 file system with a journal, mkfs.ext4's default, in a loop-mounted image under
# ${TMPDIR:-/tmp}. A server would run on one. This machine's own root file system is ext4
# *without* a journal, where the kernel's inode allocator skips, one buffer lookup each, every
# inode freed in the last seconds to minutes (fs/ext4/ialloc.c, recently_deleted): a
# benchmark that creates thousands of files right after another removed thousands measures
# mostly that. Mounting needs root; the image and the mount are removed on exit.
# Usage: on-journaled-ext4.sh SCRIPT [ARGS...]   (size: EXT4_SIZE, default 4G)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: on-journaled-ext4.sh SCRIPT [ARGS...]" >&2; exit 2; }
if [ "$(id -u)" != 0 ]; then
    echo "on-journaled-ext4: error: mounting a loop device needs root" >&2
    echo "hint: run it as root, or set SEALDROP_BENCH_DIR to a folder on the file system to measure and run $1 directly" >&2
    exit 1
fi
dir="$(mktemp -d "${TMPDIR:-/tmp}/sealdrop-ext4.XXXXXX")"
cleanup() {
    if mountpoint -q "$dir/mnt"; then
        # A process the script just stopped may hold it a moment longer.
        for _ in 1 2 3 4 5; do umount "$dir/mnt" 2>/dev/null && break; sleep 1; done
        if mountpoint -q "$dir/mnt"; then umount --lazy "$dir/mnt"; fi
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
truncate -s "${EXT4_SIZE:-4G}" "$dir/fs.img"
mkfs.ext4 -q -F "$dir/fs.img"
mkdir "$dir/mnt"
mount -o loop "$dir/fs.img" "$dir/mnt"
echo "scratch on a fresh journaled ext4 ($(findmnt -no SOURCE,OPTIONS "$dir/mnt"))"
script="$1"; shift
SEALDROP_BENCH_DIR="$dir/mnt" "$script" "$@"
