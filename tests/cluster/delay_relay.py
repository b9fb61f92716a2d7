#!/usr/bin/env python3
"""A delaying TCP relay for cluster_netns on kernels without sch_netem (docs/fault-tests.md).

  delay_relay.py --listen HOST --route I:J:TARGET_HOST:TARGET_PORT ... --ports FILE --stats FILE
                 [--delay-ms 20] [--jitter-ms 5] [--parent PID] [--max-seconds S]

For every --route it listens on HOST at a port of the kernel's choice and forwards each accepted
connection to TARGET_HOST:TARGET_PORT (node I's link to node J). Once every listener is bound it
writes "I J PORT" lines to FILE (renamed into place, so a reader sees all or nothing).

Each chunk read from either side is written to the other side no earlier than its release time,
max(previous release in that direction, read time + delay), delay uniform in
[delay - jitter, delay + jitter]: bytes are never reordered within a connection. Only the byte
stream is delayed: TCP's own segments, ACKs and handshakes between a node and the relay are not.

Bounded: only private or loopback IPv4 addresses are accepted; at most 64 connections are relayed
at once (more are reset); at most 64 chunks (64 KiB each) wait per direction before reading from
that side stops (backpressure); an upstream connect gives up after 5 s; the relay exits when
--parent is gone or after --max-seconds, and the test kills it on exit. Every 0.25 s it writes
--stats (JSON, renamed into place): connections accepted and refused, upstream connect failures,
chunks and bytes relayed, and the applied delay (write time - read time) min / avg / max in ms.
"""
import argparse
import asyncio
import ipaddress
import json
import os
import random
import sys

CHUNK = 64 * 1024
QUEUE_CHUNKS = 64
CONNECT_TIMEOUT_S = 5.0
MAX_CONNS = 64  # relayed connections at once; more are reset on accept


class Stats:
    def __init__(self):
        self.accepted = 0
        self.active = 0
        self.refused = 0
        self.connect_failures = 0
        self.chunks = 0
        self.bytes = 0
        self.delay_sum = 0.0
        self.delay_min = None
        self.delay_max = 0.0
        self.pairs = {}

    def chunk(self, pair, n, delay):
        self.chunks += 1
        self.bytes += n
        self.delay_sum += delay
        self.delay_max = max(self.delay_max, delay)
        self.delay_min = delay if self.delay_min is None else min(self.delay_min, delay)
        self.pairs[pair] = self.pairs.get(pair, 0) + 1

    def as_dict(self):
        ms = lambda s: round(s * 1000.0, 3)
        return {
            "accepted": self.accepted,
            "refused": self.refused,
            "connect_failures": self.connect_failures,
            "chunks": self.chunks,
            "bytes": self.bytes,
            "delay_min_ms": ms(self.delay_min or 0.0),
            "delay_avg_ms": ms(self.delay_sum / self.chunks) if self.chunks else 0.0,
            "delay_max_ms": ms(self.delay_max),
            "chunks_per_pair": {"%d-%d" % p: c for p, c in sorted(self.pairs.items())},
        }


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def test_address(a):
    ip = ipaddress.IPv4Address(a)
    if not (ip.is_private or ip.is_loopback):
        sys.exit("delay_relay: %s is neither a private nor a loopback address" % a)
    return a


async def pipe(pair, reader, writer, args, stats):
    """Copies reader to writer, each chunk released at its release time; EOF is passed on."""
    loop = asyncio.get_running_loop()
    q = asyncio.Queue(QUEUE_CHUNKS)

    async def read_side():
        last = 0.0
        while True:
            try:
                data = await reader.read(CHUNK)
            except Exception as e:  # a reset: the write side raises it after what was queued
                await q.put(e)
                return
            if not data:
                await q.put(None)
                return
            now = loop.time()
            d = random.uniform(args.delay_ms - args.jitter_ms, args.delay_ms + args.jitter_ms)
            last = max(last, now + max(d, 0.0) / 1000.0)
            await q.put((last, now, data))

    async def write_side():
        while True:
            item = await q.get()
            if item is None:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            if isinstance(item, Exception):
                raise item
            release, t_read, data = item
            while (wait := release - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            stats.chunk(pair, len(data), loop.time() - t_read)
            await writer.drain()

    rt = asyncio.ensure_future(read_side())
    try:
        await write_side()
    finally:
        rt.cancel()


async def relay(pair, target, args, stats, down_r, down_w):
    if stats.active >= MAX_CONNS:
        stats.refused += 1
        down_w.transport.abort()
        return
    stats.accepted += 1
    stats.active += 1
    try:
        await relay_conn(pair, target, args, stats, down_r, down_w)
    finally:
        stats.active -= 1


async def relay_conn(pair, target, args, stats, down_r, down_w):
    try:
        up_r, up_w = await asyncio.wait_for(asyncio.open_connection(*target), CONNECT_TIMEOUT_S)
    except (OSError, asyncio.TimeoutError):
        stats.connect_failures += 1
        down_w.transport.abort()
        return
    tasks = [asyncio.ensure_future(pipe(pair, down_r, up_w, args, stats)),
             asyncio.ensure_future(pipe(pair, up_r, down_w, args, stats))]
    clean = False
    try:
        # Both directions end (EOF each way), or one fails (a reset): then both sides are reset.
        for fut in asyncio.as_completed(tasks):
            await fut
        clean = True
    except Exception:
        pass
    finally:
        for t in tasks:
            t.cancel()
        for w in (up_w, down_w):
            if clean:
                w.close()
            else:
                w.transport.abort()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--route", action="append", required=True, help="I:J:HOST:PORT")
    ap.add_argument("--ports", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--jitter-ms", type=float, default=5.0)
    ap.add_argument("--parent", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=600.0)
    args = ap.parse_args()
    test_address(args.listen)
    stats = Stats()
    servers, lines = [], []
    for r in args.route:
        i, j, host, port = r.split(":")
        pair, target = (int(i), int(j)), (test_address(host), int(port))
        srv = await asyncio.start_server(
            lambda rd, wr, pair=pair, target=target: relay(pair, target, args, stats, rd, wr),
            args.listen, 0, reuse_address=True)
        servers.append(srv)
        lines.append("%d %d %d\n" % (pair[0], pair[1], srv.sockets[0].getsockname()[1]))
    write_atomic(args.ports, "".join(lines))
    loop = asyncio.get_running_loop()
    end = loop.time() + args.max_seconds
    while loop.time() < end:
        write_atomic(args.stats, json.dumps(stats.as_dict()) + "\n")
        if args.parent:
            try:
                os.kill(args.parent, 0)
            except ProcessLookupError:
                break
        await asyncio.sleep(0.25)
    write_atomic(args.stats, json.dumps(stats.as_dict()) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
