"""Folkeregister lookups that never get stuck (issue 6): durable jobs worked
against the simulator (tests/freg/freg_sim.py) over real HTTP, through
faults, restarts and a refused token; the names reach the clients by the
normal pull, with no user action."""
import csv
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from fregsim import FregSim  # noqa: E402
from jsrpeer import Peer, hlc_now  # noqa: E402
from jsrserver import BIN, PASSWORD, Client, Server  # noqa: E402
from jsrtest import TempDirCase, generate  # noqa: E402


def register_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter=";"))


def full_name(row):
    return " ".join(x for x in (row["fornavn"], row["mellomnavn"], row["etternavn"]) if x)


class FregCase(TempDirCase):
    faults = {}
    server_config = {}
    count = 3000  # persons in the synthetic register
    token = "test-token"  # what the server's token file says at start
    tls = False           # the simulator over HTTPS, with a CA of the test's own

    def setUp(self):
        super().setUp()
        self.server = Server(self.tmp, config=self.server_config)
        self.reg = os.path.join(self.server.dir, "freg.csv")
        self.server.cli("freg", "generate", "--count", str(self.count), "--seed", "7", "--out", self.reg, check=0)
        self.people = register_rows(self.reg)
        # the woman rule: numbers that say "man" are refused before any lookup
        self.women = [r for r in self.people if r["kjoenn"] == "kvinne"]
        extra = {}
        if self.tls:
            cert, key = os.path.join(self.tmp, "sim.pem"), os.path.join(self.tmp, "sim.key")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           check=True, capture_output=True)
            self.sim = FregSim(self.reg, tls=(cert, key), **self.faults)
            extra = {"freg_url": f"https://localhost:{self.sim.port}/", "freg_ca_file": cert}
        else:
            self.sim = FregSim(self.reg, **self.faults)
        self.token_file = os.path.join(self.server.dir, "freg.token")
        self.set_token(self.token)
        with open(os.path.join(self.server.dir, "jsr-server.conf"), "a") as f:
            for k, v in {"freg_backend": "http", "freg_url": self.sim.url + "/", **extra, "freg_rate": 200,
                         "freg_timeout_ms": 1000, "freg_max_backoff_s": 2, "freg_breaker_open_s": 1,
                         "freg_probe_s": 1, **self.server_config}.items():
                f.write(f"{k} = {v}\n")
        self.server.start()

    def tearDown(self):
        self.server.kill()
        self.sim.stop()
        super().tearDown()

    def set_token(self, token):
        tmp = self.token_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(token + "\n")
        os.replace(tmp, self.token_file)

    def jobs(self):
        return dict(self.server.sql("SELECT state, count(*) FROM lookup_job GROUP BY state"))

    def wait_jobs(self, done, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            j = self.jobs()
            if sum(v for k, v in j.items() if k != "pending") >= done and not j.get("pending"):
                return j
            time.sleep(0.3)
        self.fail(f"lookups not finished: {self.jobs()}")

    def push_participants(self, numbers, peer=None):
        """Participants registered through the protocol (fast), and their lookups asked for."""
        if peer is None:
            peer = self.peer()
            self.addCleanup(peer.close)
        ids = peer.register(numbers)
        for i in range(0, len(ids), 5000):
            m, states = peer.lookup([[p, n] for p, n in zip(ids[i:i + 5000], numbers[i:i + 5000])])
            self.assertEqual(m["t"], "lookup_state", m)
            self.assertEqual(len(states), len(ids[i:i + 5000]))
        return ids

    def peer(self):
        p = Peer(self.server.url)
        self.assertIn("session", p.login("kari", PASSWORD))
        return p

    def names_on_server(self):
        return dict(self.server.sql("SELECT participant, value FROM field_value WHERE field = 'navn'"))


class Basics(FregCase):
    def test_found_not_found_and_bad_number(self):
        found = self.women[:5]
        unknown = [n for n in generate(40, seed=99, gender="kvinne")
                   if n not in {r["fnr"] for r in self.people}][:2]
        ids = self.push_participants([r["fnr"] for r in found] + unknown)
        self.wait_jobs(7)
        names = self.names_on_server()
        for pid, row in zip(ids, found):
            self.assertEqual(names[pid], full_name(row))  # the current name, not the old one
        self.assertEqual(self.jobs(), {"found": 5, "not_found": 2})
        # a caseworker's client sees the names by the normal sync, and its own lookups' states
        c = Client(self.tmp, "kari", self.server)
        c.login()
        mine = c.json("new", "--fnr", unknown[0], "--start", "2026-02-01", "--kommune", "0301",
                      "--finansiering", "2")["id"]
        c.sync()
        c.sync()
        lst = {r["id"]: r for r in c.json("list")}
        self.assertEqual(lst[ids[0]]["navn"], full_name(found[0]))
        show = c.json("show", mine)
        self.assertEqual(show["lookup"]["state"], "ikke_funnet")
        self.assertIn("ikke funnet i Folkeregisteret", show["lookup"]["text"])
        self.assertNotIn(unknown[-1], open(self.server.log).read())  # no number in the log
        audit = self.server.sql("SELECT count(*) FROM audit WHERE action = 'lookup' AND actor = 'folkeregisteret'")
        self.assertEqual(audit, [(7,)])
        # asking again (as a client does on a new connection) is answered from the jobs,
        # and no request is left waiting for a job that is done
        p = self.peer()
        self.addCleanup(p.close)
        m, states = p.lookup([[ids[0], found[0]["fnr"]], [ids[-1], unknown[-1]]])
        self.assertEqual(m["t"], "lookup_state", m)
        self.assertEqual([s[2] for s in states], ["hentet", "ikke_funnet"])
        self.assertEqual(self.server.sql("SELECT count(*) FROM lookup_request"), [(0,)])
        self.assertEqual(self.jobs(), {"found": 5, "not_found": 2})

    def test_gender_from_register_for_2032_numbers(self):
        rows = [r for r in self.women if json.loads(subprocess.run(
            [os.path.join(BIN, "jsr"), "fnr", "check", "--json", r["fnr"]], capture_output=True, text=True,
            env={**os.environ, "JSR_TEST_MODE": "1"}).stdout).get("rule") == "2032"][:2]
        self.assertTrue(rows, "the register has 2032-rule numbers")
        ids = self.push_participants([r["fnr"] for r in rows])
        self.wait_jobs(len(rows))
        kjonn = dict(self.server.sql("SELECT participant, value FROM field_value WHERE field = 'kjonn'"))
        self.assertEqual({kjonn[p] for p in ids}, {"kvinne"})

    def test_renumbering_cancels_the_old_lookup(self):
        self.sim.config(latency_ms=1500)  # the first answer is slow: the number changes meanwhile
        peer = self.peer()
        old, new = self.women[0]["fnr"], self.women[1]["fnr"]
        [pid] = self.push_participants([old], peer)
        m, ack = peer.push([[pid, "fnr", "", new, hlc_now(5), ack_version(self.server, pid)]])
        self.assertEqual(ack["results"][0][0], "applied", ack)
        self.sim.config(latency_ms=0)
        m, states = peer.lookup([[pid, new]])
        self.wait_jobs(1, timeout=30)
        time.sleep(2)
        self.assertEqual(self.names_on_server()[pid], full_name(self.women[1]))
        self.assertEqual(self.server.sql(f"SELECT state FROM lookup_job WHERE fnr = '{old}'"), [("cancelled",)])


def ack_version(server, pid):
    return server.sql(f"SELECT version FROM field_value WHERE participant = '{pid}' AND field = 'fnr'")[0][0]


class Faults(FregCase):
    server_config = {"freg_malformed_max": 3}

    def test_malformed_answers(self):
        # each kind of bad answer for every request: retried, then failed with a reason
        for kind, words in (("p_bad_json", "ikke gyldig JSON"), ("p_missing", "mangler navn"),
                            ("p_two_current", "flere gjeldende"), ("p_huge", "for stort"),
                            ("p_wrong_type", "ikke JSON")):
            with self.subTest(kind=kind):
                faults = {k: 0.0 for k in ("p_bad_json", "p_missing", "p_two_current", "p_huge", "p_wrong_type")}
                self.sim.config(**{**faults, kind: 1.0})
                row = self.women.pop()
                [pid] = self.push_participants([row["fnr"]])
                end = time.time() + 30
                while time.time() < end and self.server.sql(
                        f"SELECT state FROM lookup_job WHERE fnr = '{row['fnr']}'") != [("failed",)]:
                    time.sleep(0.2)
                state, reason, attempts = self.server.sql(
                    f"SELECT state, last_error, attempts FROM lookup_job WHERE fnr = '{row['fnr']}'")[0]
                self.assertEqual(state, "failed")
                self.assertIn(words, reason)
                self.assertEqual(attempts, 3)
                self.assertNotIn(pid, self.names_on_server())
        # 400: refused as bad input: final at once, with the register's code
        self.sim.config(**{k: 0.0 for k in ("p_bad_json", "p_missing", "p_two_current", "p_huge",
                                            "p_wrong_type")}, p400=1.0)
        row = self.women.pop()
        self.push_participants([row["fnr"]])
        end = time.time() + 30
        while time.time() < end and self.server.sql(
                f"SELECT state FROM lookup_job WHERE fnr = '{row['fnr']}'") != [("failed",)]:
            time.sleep(0.2)
        self.assertEqual(self.server.sql(f"SELECT state, attempts, last_error FROM lookup_job WHERE fnr = "
                                         f"'{row['fnr']}'"),
                         [("failed", 1, "Folkeregisteret avviste oppslaget (FREG-001).")])
        self.assertIsNone(self.server.proc.poll())  # still serving
        with urllib.request.urlopen(self.server.url.replace("ws://", "http://").replace("/sync", "/healthz")) as r:
            self.assertEqual(r.status, 200)

    def test_timeouts_resets_and_errors_then_recovery(self):
        self.sim.config(p_timeout=0.3, p_reset=0.3, p500=0.3)
        numbers = [r["fnr"] for r in self.women[:40]]
        ids = self.push_participants(numbers)
        time.sleep(4)
        self.sim.config(p_timeout=0.0, p_reset=0.0, p500=0.0)
        self.wait_jobs(40, timeout=60)
        self.assertEqual(self.jobs(), {"found": 40})
        names = self.names_on_server()
        self.assertEqual(sorted(names[p] for p in ids), sorted(full_name(r) for r in self.women[:40]))
        counts = self.sim.stats()["counts"]
        self.assertGreater(counts.get("timeout", 0) + counts.get("reset", 0) + counts.get("500", 0), 0)


class Https(FregCase):
    tls = True

    def test_lookups_over_tls_with_a_private_ca(self):
        rows = self.women[:5]
        ids = self.push_participants([r["fnr"] for r in rows])
        self.wait_jobs(5, timeout=60)
        names = self.names_on_server()
        self.assertEqual([names.get(p) for p in ids], [full_name(r) for r in rows])


class Breaker(FregCase):
    server_config = {"freg_breaker_failures": 3, "freg_breaker_open_s": 1, "freg_max_backoff_s": 1,
                     "freg_concurrency": 2}
    faults = {"p500": 1.0}

    def test_register_down_then_back(self):
        ids = self.push_participants([r["fnr"] for r in self.women[:50]])
        time.sleep(6)
        # down: after three failures in a row the breaker opens; then one probe at a time
        # (1 s, 2 s, 4 s apart), not fifty jobs retried every second
        tried = self.sim.stats()["counts"].get("500", 0)
        self.assertGreaterEqual(tried, 3)
        self.assertLessEqual(tried, 10)
        base = self.server.url.replace("ws://", "http://").replace("/sync", "")
        with urllib.request.urlopen(base + "/metrics") as r:
            self.assertIn("jsr_freg_circuit_open 1", r.read().decode())
        self.assertIn("svarer ikke", self.server.cli("status", check=1).stdout)
        # back: the next probe succeeds, the breaker closes, everything resolves
        self.sim.config(p500=0.0)
        self.wait_jobs(50, timeout=60)
        self.assertEqual(len([p for p in ids if p in self.names_on_server()]), 50)
        with urllib.request.urlopen(base + "/metrics") as r:
            self.assertIn("jsr_freg_circuit_open 0", r.read().decode())
        self.server.cli("status", check=0)


class Unauthorised(FregCase):
    token = "utgått-token"

    def test_401_keeps_jobs_alerts_and_resumes(self):
        numbers = [r["fnr"] for r in self.women[:30]]
        ids = self.push_participants(numbers)
        time.sleep(3)
        self.assertEqual(self.jobs(), {"pending": 30})
        # the operator sees it: status (exit 1), /metrics, the log
        p = self.server.cli("status", check=1)
        self.assertIn("VARSEL", p.stdout)
        self.assertIn("401/403", p.stdout)
        self.assertIn("venter       30", p.stdout)
        base = self.server.url.replace("ws://", "http://").replace("/sync", "")
        with urllib.request.urlopen(base + "/metrics") as r:
            metrics = r.read().decode()
        self.assertIn("jsr_freg_config_error 1", metrics)
        self.assertIn("refuses our access", open(self.server.log).read())
        # not hammered: a probe now and then, not a retry per job
        self.assertLess(self.sim.stats()["counts"].get("401", 0), 10)
        # the token is fixed: everything resolves, the alert goes
        self.set_token("test-token")
        self.wait_jobs(30, timeout=60)
        self.assertEqual(self.jobs(), {"found": 30})
        self.assertEqual(len([p for p in ids if p in self.names_on_server()]), 30)
        self.server.cli("status", check=0)


class OfflineClient(FregCase):
    def test_names_arrive_after_reconnect_without_user_action(self):
        c = Client(self.tmp, "kari", self.server)
        c.login()
        d = subprocess.Popen([os.path.join(BIN, "jsr"), "daemon"], env=c.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.server.kill()  # the train enters a tunnel
            rows = self.women[:3]
            ids = [c.json("new", "--fnr", r["fnr"], "--start", "2026-01-15", "--kommune", "0301",
                          "--finansiering", "1")["id"] for r in rows]
            for pid in ids:
                self.assertEqual(c.json("show", pid)["lookup"]["state"], "venter")
            self.server.restart()
            end = time.time() + 60
            while time.time() < end:
                got = [c.json("show", pid)["fields"].get("navn") for pid in ids]
                if all(got):
                    break
                time.sleep(0.5)
            self.assertEqual(got, [full_name(r) for r in rows])
            self.assertEqual({c.json("show", pid)["lookup"]["state"] for pid in ids}, {"hentet"})
        finally:
            d.terminate()
            d.wait(10)


class Backlog(FregCase):
    """10,000 pending lookups through 20% errors, 429s, timeouts and two kill -9s."""
    count = 20000
    server_config = {"freg_rate": 400, "freg_concurrency": 32, "freg_timeout_ms": 1000}
    faults = {"p500": 0.2, "p429": 0.001, "retry_after_s": 1, "p_timeout": 0.003}

    def test_ten_thousand(self):
        numbers = [r["fnr"] for r in self.women[:10000]]
        self.assertEqual(len(numbers), 10000)
        ids = self.push_participants(numbers)
        for _ in range(2):
            end = time.time() + 120
            while time.time() < end and self.jobs().get("pending", 0) > 10000 - 3500 * (_ + 1):
                time.sleep(0.2)
            self.server.kill()
            time.sleep(0.5)
            self.server.restart()
        self.wait_jobs(10000, timeout=300)
        self.assertEqual(self.jobs(), {"found": 10000})
        # every number resolved exactly once: one name, one audit entry per participant
        names = self.names_on_server()
        want = {r["fnr"]: full_name(r) for r in self.women[:10000]}
        self.assertEqual([names.get(p) for p in ids], [want[n] for n in numbers])
        once = self.server.sql("SELECT participants, count(*) FROM audit WHERE action = 'lookup' AND "
                               "actor = 'folkeregisteret' GROUP BY participants HAVING count(*) > 1")
        self.assertEqual(once, [])
        stats = self.sim.stats()
        # the rate limit held, by the simulator's own clock
        self.assertLessEqual(self.sim.max_in_window(1.0), 400)
        self.assertGreaterEqual(stats["counts"].get("500", 0), 1000)
        self.assertGreater(stats["counts"].get("429", 0), 0)
        print(f"\nbacklog: {len(stats['log'])} requests, {stats['counts']}, "
              f"max in any second {self.sim.max_in_window(1.0)}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
