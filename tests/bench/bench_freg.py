#!/usr/bin/env python3
"""bench_freg.py: how fast a backlog of 10,000 Folkeregister lookups drains
against the simulator at zero latency, and how close the scheduler stays to
a configured limit of 1,000 requests/s (by the simulator's own clock).
Prints "name | value | unit" lines for tests/bench/run.sh."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "freg"))
from fregsim import FregSim  # noqa: E402
from jsrserver import Server  # noqa: E402
from test_lookups import register_rows  # noqa: E402
from jsrpeer import Peer  # noqa: E402
from jsrserver import PASSWORD  # noqa: E402

N = int(os.environ.get("BENCH_FREG_N", "10000"))


def run(rate, concurrency, label):
    with tempfile.TemporaryDirectory(prefix="jsr-bench-freg-") as tmp:
        server = Server(tmp, config={})
        reg = os.path.join(server.dir, "freg.csv")
        server.cli("freg", "generate", "--count", str(N * 2), "--out", reg, check=0)
        women = [r["fnr"] for r in register_rows(reg) if r["kjoenn"] == "kvinne"][:N]
        sim = FregSim(reg)
        with open(os.path.join(server.dir, "freg.token"), "w") as f:
            f.write("test-token\n")
        with open(os.path.join(server.dir, "jsr-server.conf"), "a") as f:
            f.write(f"freg_backend = http\nfreg_url = {sim.url}\nfreg_rate = {rate}\n"
                    f"freg_concurrency = {concurrency}\n")
        try:
            server.start()
            peer = Peer(server.url)
            peer.login("kari", PASSWORD)
            ids = peer.register(women, per_changeset=2000)
            t0 = time.time()
            for i in range(0, len(ids), 5000):
                peer.lookup([[p, n] for p, n in zip(ids[i:i + 5000], women[i:i + 5000])])
            while True:
                left = server.sql("SELECT count(*) FROM lookup_job WHERE state = 'pending'")[0][0]
                if not left:
                    break
                time.sleep(0.05)
            secs = time.time() - t0
            log = sim.stats()["log"]
            times = sorted(t for t, _, _ in log)
            span = times[-1] - times[0] if len(times) > 1 else 1
            print(f"freg: drain {N} lookups, {label} | {N / secs:.0f} | lookups/s")
            print(f"  ... requests/s at the simulator (steady part) | {len(times) / span:.0f} | req/s")
            print(f"  ... most requests in any 1 s window | {sim.max_in_window(1.0)} | req")
            peer.close()
        finally:
            server.kill()
            sim.stop()


if __name__ == "__main__":
    os.environ.setdefault("JSR_TEST_MODE", "1")
    run(100000, 32, "zero latency, no rate limit")
    run(1000, 32, "freg_rate = 1000/s")
