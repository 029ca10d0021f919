"""Chaos (issue 4, must-show 4): three replicas behind a proxy that cuts
connections at random byte offsets and delays traffic; ≥ 2,000 random
edits with random offline periods; the server killed with SIGKILL and
restarted at least 5 times. After healing: every replica equals the
server, nothing acknowledged is missing, no change-set was applied twice
(each device's change-set numbers on the server are 1..N without gaps or
repeats), and every field only one client wrote ends with its last value."""
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from chaosproxy import ChaosProxy  # noqa: E402
from jsrserver import Client, Server  # noqa: E402
from jsrtest import TempDirCase, generate  # noqa: E402

EDITS = int(os.environ.get("CHAOS_EDITS", "2100"))
KILLS = int(os.environ.get("CHAOS_KILLS", "6"))
FIELDS = {
    "malgruppe": ["1", "2", "3", "4", "5", "9"],
    "sivilstand": ["1", "2", "3", "4", "5", "9"],
    "skolear": [str(i) for i in range(0, 31)],
    "utdanning": ["0", "1", "2", "3", "4", "9"],
    "arbeidserfaring": ["0", "1", "2", "3", "9"],
    "hovedinntekt": ["1", "2", "3", "4", "5", "6", "7", "9"],
    "innvandringsgrunn": ["1", "2", "3", "4", "9"],
    "fodeland": ["SYR", "ERI", "AFG", "SOM", "UKR", "IRQ", "IRN", "PAK"],
    "leser_morsmal": ["j", "n"],
    "norskniva_start": ["0", "A1", "A2", "B1", "B2", "C1"],
}


class Chaos(TempDirCase):
    def test_chaos(self):
        rng = random.Random(int(os.environ.get("CHAOS_SEED", "4")))
        server = Server(self.tmp, users=(("kari", "kommune_user", ["0301"]),
                                         ("ola", "kommune_user", ["0301"])))
        server.start()
        proxy = ChaosProxy(server.port, seed=rng.randint(0, 1 << 30), max_cut=6000)
        numbers = iter(generate(200, seed=41, gender="kvinne"))
        clients = [Client(self.tmp, n, server, user=u, url=proxy.url())
                   for n, u in (("a", "kari"), ("b", "kari"), ("c", "ola"))]
        try:
            self.run_chaos(rng, server, proxy, clients, numbers)
        finally:
            proxy.close()
            server.kill()

    def sync(self, c, check=None):
        return c.jsr("sync", "--timeout", "15", check=check).returncode

    def run_chaos(self, rng, server, proxy, clients, numbers):
        proxy.chaos = False
        for c in clients:
            c.login()
        proxy.chaos = True
        writes = {}      # (pid, field) -> [(client index, value), ...] in order made
        participants = []
        edits = kills = syncs = failed = 0
        rounds = 0
        kill_every = max(1, EDITS // (KILLS * 30))
        while edits < EDITS or kills < KILLS:
            rounds += 1
            for i, c in enumerate(clients):
                if rng.random() < 0.15 or not participants:
                    j = c.json("new", "--fnr", next(numbers), "--start", "2026-01-15",
                               "--kommune", "0301", "--finansiering", "1")
                    participants.append(j["id"])
                known = [p["id"] for p in c.json("list")]
                for _ in range(rng.randint(1, 4)):
                    if not known:
                        break
                    pid = rng.choice(known)
                    assigns = []
                    for field in rng.sample(sorted(FIELDS), rng.randint(1, 3)):
                        value = rng.choice(FIELDS[field])
                        assigns.append(f"{field}={value}")
                        writes.setdefault((pid, field), []).append((i, value))
                    c.jsr("set", pid, *assigns, check=0)
                    edits += len(assigns)
                # random offline periods: this client does not sync this round
                if rng.random() < 0.6:
                    proxy.offline = rng.random() < 0.1
                    syncs += 1
                    failed += self.sync(c) not in (0,)
                    proxy.offline = False
            if rounds % kill_every == 0 and kills < KILLS:
                server.restart()
                kills += 1
        # healing: no more chaos; sync until everything is acknowledged
        self.assertIsNone(server.proc.poll(), "the server died on its own:\n"
                          + open(server.log).read()[-3000:])
        proxy.chaos = False
        for _ in range(4):
            for c in clients:
                self.sync(c)
        for c in clients:
            p = c.jsr("sync", "--timeout", "30")
            self.assertEqual(p.returncode, 0, f"{c.dir}: {p.stdout} {p.stderr}\n"
                             + open(server.log).read()[-3000:])
        want = server.hash("0301")
        for c in clients:
            self.assertEqual(c.hash("0301"), want, f"{c.dir} differs from the server")
            self.assertEqual(c.json("outbox")["changes"], [], f"{c.dir}: unacknowledged changes")
            self.assertEqual(c.pending_miscounted(), [], c.dir)
        # no change-set applied twice, none missing: 1..N per device
        for dev, seqs in self.per_device(server).items():
            self.assertEqual(seqs, list(range(1, len(seqs) + 1)), f"device {dev}")
        # every field that only one client wrote holds that client's last value
        values = {(p, f): v for p, f, v in server.sql(
            "SELECT participant, field, value FROM field_value WHERE row = ''")}
        single = 0
        for (pid, field), ws in writes.items():
            if len({i for i, _ in ws}) == 1:
                single += 1
                self.assertEqual(values.get((pid, field)), ws[-1][1], (pid, field))
            else:
                self.assertIn(values.get((pid, field)), {v for _, v in ws}, (pid, field))
        conflicts = server.sql("SELECT count(*) FROM conflict")[0][0]
        print(f"{edits} edits, {len(participants)} participants, {rounds} rounds, {syncs} syncs "
              f"({failed} cut short), {kills} server kills, {proxy.connections} connections, "
              f"{proxy.cuts} cut by the proxy, {conflicts} conflicts recorded, "
              f"{single} single-writer fields checked")
        self.assertGreaterEqual(edits, EDITS)
        self.assertGreaterEqual(kills, KILLS)
        self.assertGreater(proxy.cuts, 10)

    def per_device(self, server):
        out = {}
        for dev, seq in server.sql("SELECT device, seq FROM changeset ORDER BY device, seq"):
            out.setdefault(dev, []).append(seq)
        return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
