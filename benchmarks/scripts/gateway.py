#!/usr/bin/env python3
"""Load and abuse for `sealdrop server serve` (docs/HTTP.md), from a second process on loopback.

Subcommands (each prints one JSON object):
  upload   DIR            upload every envelope in DIR, CONCURRENCY at a time; lists what got 202
  follow   DIR            FOLLOWERS live streams; upload the envelopes one by one and time, at each
                          follower, from the upload's 202 to its notification line
  drop     ROOT DIR       the same work as upload through the file drop: CONCURRENCY writers into
                          ROOT/inbox/tmp, fsync, rename into inbox/new
  dropfollow ROOT DIR     as follow through the file drop: write into ROOT/inbox, inotify on the log
  tailfollow ROOT DIR     as dropfollow, the follower a real `sealdrop tail --follow --json` (--bin,
                          --home): from each drop's rename into inbox/new to its line on tail's stdout
  idle                    hold CONNECTIONS live streams open, report serve's memory (--pid)
  abuse                   slowloris, a 10 GB Content-Length and a request flood from one user,
                          while another user's requests are timed
Connections use the profile's certificate and key (--cert, --key, SEALDROP_PASSPHRASE) and trust
only --ca, as the sealdrop client does.
"""
import argparse
import asyncio
import ctypes
import json
import os
import ssl
import statistics
import threading
import sys
import time


def tls(args, cert=None, key=None):
    context = ssl.create_default_context(cafile=args.ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    if cert:
        context.load_cert_chain(cert, key, password=os.environ["SEALDROP_PASSPHRASE"])
    return context


async def request(args, context, method, path, body=b"", headers=""):
    """One request on its own connection; returns (status, body bytes)."""
    reader, writer = await asyncio.open_connection(args.host, args.port, ssl=context, server_hostname="localhost")
    try:
        head = (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                f"Content-Length: {len(body)}\r\n{headers}\r\n")
        writer.write(head.encode() + body)
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def envelopes(directory):
    return sorted(os.path.join(directory, name) for name in os.listdir(directory) if name.endswith(".seal"))


async def upload(args):
    context = tls(args, args.cert, args.key)
    files = envelopes(args.dir)
    queue = asyncio.Queue()
    for path in files:
        queue.put_nowait(path)
    accepted, failed = [], []

    async def worker():
        # One kept-alive connection per poster, as the sealdrop client keeps its pool; a
        # connection the server closes (or kills) is replaced for the next upload.
        connection = None
        while not queue.empty():
            path = queue.get_nowait()
            with open(path, "rb") as f:
                body = f.read()
            try:
                if connection is None:
                    connection = await asyncio.open_connection(args.host, args.port, ssl=context, server_hostname="localhost")
                reader, writer = connection
                writer.write(f"POST /v1/drops HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
            except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError, ValueError) as error:
                failed.append({"file": os.path.basename(path), "error": str(error)})
                if connection:
                    connection[1].close()
                connection = None
                continue
            (accepted if status == 202 else failed).append(
                os.path.basename(path) if status == 202 else {"file": os.path.basename(path), "status": status})
        if connection:
            connection[1].close()

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    seconds = time.monotonic() - start
    return {"uploads": len(accepted), "failed": len(failed), "seconds": round(seconds, 3),
            "per_second": round(len(accepted) / seconds, 1), "concurrency": args.concurrency,
            "accepted": accepted, "failures": failed[:10]}


class LiveStream:
    """One `GET /v1/log/live`: records when each line's name arrives."""

    def __init__(self):
        self.arrivals = {}
        self.connected = asyncio.Event()

    async def run(self, args, context, after):
        reader, writer = await asyncio.open_connection(args.host, args.port, ssl=context, server_hostname="localhost")
        writer.write(f"GET /v1/log/live?after={after} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        self.connected.set()
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                # Chunked transfer: data lines are found whatever the chunk boundaries.
                index = line.find(b"data: {")
                if index >= 0 and b'"name"' in line:
                    record = json.loads(line[index + 6:])
                    self.arrivals.setdefault(record["name"], time.monotonic())
        finally:
            writer.close()


def latency_summary(samples):
    samples = sorted(samples)
    if not samples:
        return {}
    return {"samples": len(samples), "p50_ms": round(1000 * samples[len(samples) // 2], 1),
            "p99_ms": round(1000 * samples[min(len(samples) - 1, int(len(samples) * 0.99))], 1),
            "max_ms": round(1000 * samples[-1], 1), "mean_ms": round(1000 * statistics.mean(samples), 1)}


async def current_seq(args, context):
    status, body = await request(args, context, "GET", "/v1/log/head")
    return json.loads(body)["seq"] if status == 200 else 0


async def open_streams(args, context, count):
    """COUNT live streams from the current end of the log, each connected before the next."""
    after = await current_seq(args, context)
    streams = [LiveStream() for _ in range(count)]
    tasks = []
    for stream in streams:
        tasks.append(asyncio.create_task(stream.run(args, context, after)))
        await stream.connected.wait()
    return streams, tasks


async def follow(args):
    context = tls(args, args.cert, args.key)
    streams, tasks = await open_streams(args, context, args.followers)
    sent = {}
    for path in envelopes(args.dir)[: args.posts]:
        with open(path, "rb") as f:
            body = f.read()
        status, _ = await request(args, context, "POST", "/v1/drops", body)
        assert status == 202, status
        sent[os.path.basename(path)[: -len(".seal")]] = time.monotonic()
        await asyncio.sleep(args.interval)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(len(s.arrivals) < len(sent) for s in streams):
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    samples = [s.arrivals[name] - at for s in streams for name, at in sent.items() if name in s.arrivals]
    missing = sum(len(sent) - len(s.arrivals) for s in streams)
    return {"followers": args.followers, "posts": len(sent), "missed": missing, **latency_summary(samples)}


def drop_file(root, path):
    """A local drop, as `sealdrop post` makes it: tmp/NAME written and fsynced, renamed into new/.
    Returns the moment of the rename, when the drop became visible."""
    name = os.path.basename(path)
    temporary = os.path.join(root, "inbox/tmp", name)
    with open(path, "rb") as source, open(temporary, "wb") as target:
        target.write(source.read())
        target.flush()
        os.fsync(target.fileno())
    os.rename(temporary, os.path.join(root, "inbox/new", name))
    visible = time.monotonic()
    directory = os.open(os.path.join(root, "inbox/new"), os.O_RDONLY)
    os.fsync(directory)
    os.close(directory)
    return visible


def drop(args):
    files = envelopes(args.dir)
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not files:
                    return
                path = files.pop()
            drop_file(args.root, path)

    count = len(files)
    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - start
    return {"drops": count, "seconds": round(seconds, 3), "per_second": round(count / seconds, 1), "concurrency": args.concurrency}


def drop_follow(args):
    """The same posts through the file drop: written in inbox/tmp, renamed into inbox/new, and the
    log watched with inotify, as `sealdrop tail --follow` does on a directory."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(0)
    log = os.path.join(args.root, "notifications.jsonl")
    libc.inotify_add_watch(fd, log.encode(), 0x2 | 0x8)  # IN_MODIFY | IN_CLOSE_WRITE
    with open(log, "rb") as f:
        offset = len(f.read())
    arrivals, sent = {}, {}
    for path in envelopes(args.dir)[: args.posts]:
        name = os.path.basename(path)
        drop_file(args.root, path)
        sent[name[: -len(".seal")]] = time.monotonic()
        deadline = time.monotonic() + 30
        while name[: -len(".seal")] not in arrivals and time.monotonic() < deadline:
            os.read(fd, 4096)
            with open(log, "rb") as f:
                f.seek(offset)
                data = f.read()
            now = time.monotonic()
            for line in data.split(b"\n")[:-1]:
                arrivals.setdefault(json.loads(line)["name"], now)
            offset += data.rfind(b"\n") + 1 if b"\n" in data else 0
        time.sleep(args.interval)
    samples = [arrivals[name] - at for name, at in sent.items() if name in arrivals]
    return {"followers": 1, "posts": len(sent), "missed": len(sent) - len(samples), **latency_summary(samples)}


def tail_follow(args):
    """Drops the envelopes one by one, --interval apart, with `sealdrop tail --follow --json`
    running: each latency is from a drop's rename to its line on tail's standard output."""
    import subprocess
    tail = subprocess.Popen([args.bin, "tail", "--follow", "--json", "--home", args.home],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    arrivals = {}
    done = threading.Event()

    def reader():
        for line in tail.stdout:
            arrivals.setdefault(json.loads(line)["name"], time.monotonic())
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    time.sleep(1)  # tail has read what was there and is waiting
    sent = {}
    try:
        for path in envelopes(args.dir)[: args.posts]:
            name = os.path.basename(path)[: -len(".seal")]
            sent[name] = drop_file(args.root, path)
            deadline = time.monotonic() + 30
            while name not in arrivals and time.monotonic() < deadline and not done.is_set():
                time.sleep(0.001)
            time.sleep(args.interval)
    finally:
        tail.terminate()
        tail.wait()
    samples = [arrivals[name] - at for name, at in sent.items() if name in arrivals]
    return {"posts": len(sent), "missed": len(sent) - len(samples), **latency_summary(samples)}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def idle(args):
    context = tls(args, args.cert, args.key)
    before, _ = rss_kib(args.pid)
    _, tasks = await open_streams(args, context, args.connections)
    await asyncio.sleep(2)
    now, peak = rss_kib(args.pid)
    for task in tasks:
        task.cancel()
    return {"connections": args.connections, "rss_before_mib": round(before / 1024, 1),
            "rss_mib": round(now / 1024, 1), "peak_rss_mib": round(peak / 1024, 1)}


async def abuse(args):
    attacker = tls(args, args.cert, args.key)
    victim = tls(args, args.other_cert, args.other_key)
    result = {}

    async def victim_latencies(seconds):
        samples, failures = [], 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.monotonic()
            try:
                status, _ = await request(args, victim, "GET", "/v1/outbox")
                if status != 200:
                    failures += 1
                else:
                    samples.append(time.monotonic() - start)
            except (OSError, ssl.SSLError):
                failures += 1
            await asyncio.sleep(0.1)
        return {"requests": len(samples), "failures": failures, **latency_summary(samples)}

    # Slowloris: a request head one byte a second; the server must cut it off.
    async def slowloris():
        reader, writer = await asyncio.open_connection(args.host, args.port, ssl=attacker, server_hostname="localhost")
        start = time.monotonic()
        try:
            for byte in b"GET /v1/outbox HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 60:
                writer.write(bytes([byte]))
                await writer.drain()
                if reader.at_eof():
                    break
                try:
                    if await asyncio.wait_for(reader.read(1), timeout=1.0) == b"":
                        break
                except asyncio.TimeoutError:
                    pass
            return {"cut_off_after_s": round(time.monotonic() - start, 1)}
        except (ConnectionError, ssl.SSLError):
            return {"cut_off_after_s": round(time.monotonic() - start, 1)}
        finally:
            writer.close()

    loris, victim_during_loris = await asyncio.gather(slowloris(), victim_latencies(8))
    result["slowloris"] = {**loris, "other_user": victim_during_loris}

    start = time.monotonic()
    status, body = await huge_length(args, attacker)
    result["ten_gb_content_length"] = {"status": status, "answered_in_ms": round(1000 * (time.monotonic() - start), 1),
                                       "error": json.loads(body).get("error") if body.startswith(b"{") else None}

    async def flood(seconds):
        """Keep-alive requests back to back on one connection, as fast as answers come."""
        statuses = {}
        end = time.monotonic() + seconds
        reader, writer = await asyncio.open_connection(args.host, args.port, ssl=attacker, server_hostname="localhost")
        sent = 0
        try:
            while time.monotonic() < end:
                writer.write(b"GET /v1/log/head HTTP/1.1\r\nHost: localhost\r\n\r\n")
                await writer.drain()
                sent += 1
                head = await reader.readuntil(b"\r\n\r\n")
                code = int(head.split(b" ", 2)[1])
                statuses[code] = statuses.get(code, 0) + 1
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
        return sent, statuses

    floods = [flood(8) for _ in range(16)]
    *flooded, victim_during_flood = await asyncio.gather(*floods, victim_latencies(8))
    sent = sum(f[0] for f in flooded)
    statuses = {}
    for _, counts in flooded:
        for code, count in counts.items():
            statuses[code] = statuses.get(code, 0) + count
    result["flood"] = {"requests_sent": sent, "per_second": round(sent / 8), "answers": statuses,
                       "other_user": victim_during_flood}
    return result


async def huge_length(args, context):
    reader, writer = await asyncio.open_connection(args.host, args.port, ssl=context, server_hostname="localhost")
    writer.write(b"POST /v1/drops HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000000\r\n\r\nSEALDROP")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), timeout=10)
    writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["upload", "drop", "follow", "dropfollow", "tailfollow", "idle", "abuse"])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--url", help="https://127.0.0.1:PORT")
    parser.add_argument("--ca", default="root/ca.crt")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--other-cert")
    parser.add_argument("--other-key")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--followers", type=int, default=200)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--bin", help="the sealdrop binary (tailfollow)")
    parser.add_argument("--home", help="the follower's profile (tailfollow)")
    args = parser.parse_args()
    if args.url:
        host_port = args.url.removeprefix("https://")
        args.host, _, port = host_port.rpartition(":")
        args.port = int(port)
    if args.command == "upload":
        args.dir = args.paths[0]
        result = asyncio.run(upload(args))
    elif args.command == "follow":
        args.dir = args.paths[0]
        result = asyncio.run(follow(args))
    elif args.command == "drop":
        args.root, args.dir = args.paths
        result = drop(args)
    elif args.command == "dropfollow":
        args.root, args.dir = args.paths
        result = drop_follow(args)
    elif args.command == "tailfollow":
        args.root, args.dir = args.paths
        result = tail_follow(args)
    elif args.command == "idle":
        result = asyncio.run(idle(args))
    else:
        result = asyncio.run(abuse(args))
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
