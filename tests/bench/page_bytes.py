#!/usr/bin/env python3
"""page_bytes.py DATA_DIR: what the initial pull of a store puts on the wire,
and what compressing each page's body before sealing would save: a figure
for the team's call on compression (docs/PERFORMANCE.md), not a feature.

DATA_DIR is a jsr-server store with kari's participants, e.g. the one
bench_sync pushes, kept with BENCH_KEEP=1:
  BENCH_KEEP=1 BENCH_P=2000 build/tests/bench_sync build/bin
  tests/bench/page_bytes.py /tmp/jsr-bench-srv-XXXXXX/srv
Starts jsr-server on it (127.0.0.1, an ephemeral port), pulls every page as
a fresh device of kari's, and prints the pages' bodies, the text on the
wire (base64 of the sealed body inside the message) and each body
compressed with zlib at levels 1 and 6, with the CPU time it takes."""
import base64
import json
import os
import re
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrpeer import Peer  # noqa: E402
from jsrtest import BIN, env  # noqa: E402

BENCH_PASSWORD = "blå-fjord-syv-ugler-benk"  # tests/bench/bench_util.h


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit(__doc__)
    server = subprocess.Popen([os.path.join(BIN, "jsr-server"), "run", "--data", sys.argv[1],
                               "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True,
                              env=env(JSR_REQUIRE_TOTP="0", JSR_LOG_LEVEL="warn"))
    try:
        url = re.search(r"(wss?://\S+/sync)", server.stdout.readline()).group(1)
        peer = Peer(url)
        if "session" not in peer.login("kari", BENCH_PASSWORD):
            sys.exit("page_bytes: kari could not log in (a store bench_sync made?)")
        bodies, wire, since, base = [], 0, 0, 0
        while True:
            peer.send({"t": "pull", "since": since, "limit": 5000, "base": base})
            m = peer.recv()
            if m["t"] != "changes":
                sys.exit(f"page_bytes: {m}")
            wire += len(json.dumps(m, separators=(",", ":")))
            page = peer.open(m)
            # the body as the server writes it: compact JSON, UTF-8
            bodies.append(json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode())
            since, base = page["next"], page["base"]
            if not page["more"]:
                break
        plain = sum(map(len, bodies))
        print(f"{len(bodies)} pages: bodies {plain} bytes, on the wire {wire} characters")
        for level in (1, 6):
            t = time.process_time()
            packed = [zlib.compress(b, level) for b in bodies]
            tc = time.process_time() - t
            t = time.process_time()
            for p in packed:
                zlib.decompress(p)
            td = time.process_time() - t
            n = sum(map(len, packed))
            print(f"zlib level {level}: bodies {n} bytes ({plain / n:.1f}x smaller), as base64 "
                  f"{sum(len(base64.b64encode(p)) for p in packed)} characters; "
                  f"compressing {tc * 1000:.0f} ms, decompressing {td * 1000:.0f} ms CPU")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
