"""Synchronisation with real processes: jsr-server on 127.0.0.1 (ephemeral
port) and several jsr replicas (issue 4, must-show 1, 2, 3, 7, plus
rejections and the daemon)."""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from chaosproxy import ChaosProxy  # noqa: E402
from jsrpeer import PROTO_VERSION  # noqa: E402
from jsrserver import Client, Server  # noqa: E402
from jsrtest import TempDirCase, generate  # noqa: E402

BAKGRUNN = ["malgruppe=1", "fodeland=SYR", "statsborgerskap=SYR", "ankomstar=2016",
            "innvandringsgrunn=3", "sivilstand=2", "antall_barn=2", "alder_yngste_barn=4",
            "hovedinntekt=4", "skolear=6", "utdanning=1", "arbeidserfaring=0",
            "leser_morsmal=j", "norskniva_start=A1"]


class SyncCase(TempDirCase):
    users = (("kari", "kommune_user", ["0301"]), ("ola", "kommune_user", ["0301"]),
             ("per", "kommune_user", ["1103"]))
    config = None

    def setUp(self):
        super().setUp()
        self.server = Server(self.tmp, users=self.users, config=self.config)
        self.server.start()
        self.numbers = iter(generate(40, seed=7, gender="kvinne"))

    def tearDown(self):
        self.server.kill()
        super().tearDown()

    def client(self, name, user="kari"):
        c = Client(self.tmp, name, self.server, user=user)
        c.login()
        return c

    def register(self, c, kommune="0301", start="2026-01-15", fnr=None):
        j = c.json("new", "--fnr", fnr or next(self.numbers), "--start", start, "--kommune",
                   kommune, "--finansiering", "1")
        self.assertEqual(j["status"], "mangler", j)
        return j["id"]

    def assert_converged(self, clients, kommune="0301"):
        want = self.server.hash(kommune)
        for c in clients:
            self.assertEqual(c.hash(kommune), want, f"{c.dir} differs from the server")
            self.assertEqual(c.pending_miscounted(), [], c.dir)


class Convergence(SyncCase):
    def test_three_clients_different_fields(self):
        a, b, c = self.client("a"), self.client("b"), self.client("c", user="ola")
        pid = self.register(a)
        a.sync()
        b.sync()
        c.sync()
        self.assertEqual([p["id"] for p in b.json("list")], [pid])
        # offline: each edits other fields of the same participant
        a.jsr("set", pid, "malgruppe=1", "fodeland=SYR", check=0)
        b.jsr("set", pid, "statsborgerskap=ERI", "ankomstar=2015", check=0)
        c.jsr("set", pid, "sivilstand=2", "antall_barn=3", "alder_yngste_barn=1", check=0)
        c.jsr("tiltak", "add", pid, "--type", "1", "--fra", "2026-02-01", check=0)
        for x in (a, b, c, a, b):
            x.sync()
        self.assert_converged([a, b, c])
        shown = a.json("show", pid)
        self.assertEqual((shown["fields"]["fodeland"], shown["fields"]["statsborgerskap"],
                          shown["fields"]["antall_barn"]), ("SYR", "ERI", "3"))
        self.assertEqual(len(shown["tiltak"]), 1)
        self.assertEqual(a.json("conflicts"), [])
        self.assertEqual(shown["sync"], "synkronisert")
        self.assertEqual(a.json("outbox")["changes"], [])

    def test_fresh_device_pulls_everything(self):
        a = self.client("a")
        ids = [self.register(a) for _ in range(12)]
        for pid in ids[:6]:
            a.jsr("set", pid, *BAKGRUNN, check=0)
        a.sync()
        fresh = self.client("fresh")
        fresh.jsr("sync", check=0)
        self.assertEqual(sorted(p["id"] for p in fresh.json("list")), sorted(ids))
        self.assertEqual(fresh.json("show", ids[0])["status"], "aktiv")
        self.assert_converged([a, fresh])
        # a second round pulls nothing new
        j = fresh.json("sync")
        self.assertEqual((j["status"], j["pulled"]), ("ok", 0))

    def test_idempotent_resend_after_lost_ack(self):
        """A change-set whose ack was lost is sent again and not applied twice."""
        a = self.client("a")
        pid = self.register(a)
        a.sync()
        a.jsr("set", pid, "malgruppe=2", check=0)
        # freeze and send, then forget the ack: put the change back as unacknowledged
        a.sync()
        import sqlite3
        db = sqlite3.connect(os.path.join(a.dir, "replica.db"))
        seq = int(db.execute("SELECT value FROM meta WHERE key = 'changeset_seq'").fetchone()[0])
        db.execute("INSERT INTO outbox(participant, field, row, value, hlc, author, base, changeset) "
                   "SELECT participant, field, row, value, hlc, author, 0, ?1 FROM field_value "
                   "WHERE participant = ?2 AND field = 'malgruppe'", (seq, pid))
        db.commit()
        db.close()
        before = self.server.sql("SELECT count(*) FROM changeset")[0][0]
        versions = self.server.sql("SELECT version FROM field_value WHERE field = 'malgruppe'")
        j = a.json("sync")
        self.assertEqual(j["status"], "ok")
        self.assertEqual(self.server.sql("SELECT count(*) FROM changeset")[0][0], before)
        self.assertEqual(self.server.sql("SELECT version FROM field_value WHERE field = 'malgruppe'"),
                         versions)
        self.assertEqual(a.json("outbox")["changes"], [])


class SmallPages(SyncCase):
    """Pages of one participant: a pull is cut by whole participants, in
    the order of each one's newest change, and still sends a value older
    than a page's cut that belongs to a participant on a later page."""
    config = {"pull_page_limit": 1}

    def test_fresh_device_pages(self):
        a = self.client("a")
        ids = [self.register(a) for _ in range(4)]
        a.jsr("set", ids[0], *BAKGRUNN, check=0)
        a.sync()
        fresh = self.client("fresh")
        j = fresh.json("sync")
        self.assertEqual((j["status"], j["pages"]), ("ok", 4), j)
        self.assert_converged([a, fresh])

    def test_value_older_than_the_cut(self):
        a, b = self.client("a"), self.client("b")
        p1, p2 = self.register(a), self.register(a)
        a.sync()
        b.sync()
        # p1 changes, then p2, then p1 again: p2's newest change is older than p1's
        for pid, change in ((p1, "malgruppe=2"), (p2, "malgruppe=3"), (p1, "fodeland=IRQ")):
            a.jsr("set", pid, change, check=0)
            a.sync()
        j = b.json("sync")
        self.assertEqual((j["status"], j["pages"], j["pulled"]), ("ok", 2, 3), j)
        self.assertEqual(b.json("show", p1)["fields"]["malgruppe"], "2")
        self.assert_converged([a, b])


class AlteredPage(SyncCase):
    """A page altered on the way does not open: the device stores nothing
    of it (pages are opened on a thread of their own, and the page before
    it is stored meanwhile), keeps its cursor, and the next sync pulls the
    rest whole. The same when the server answers with an error instead."""
    config = {"pull_page_limit": 4}  # a page a participant

    def setUp(self):
        super().setUp()
        self.a = self.client("a")
        self.ids = [self.register(self.a) for _ in range(3)]
        self.a.sync()
        self.proxy = ChaosProxy(self.server.port, max_delay=0)
        self.proxy.chaos = False
        self.addCleanup(self.proxy.close)
        self.fresh = Client(self.tmp, "fresh", self.server, url=self.proxy.url())
        self.fresh.login()

    def refused(self, stored, why="En side fra serveren kunne ikke åpnes eller bekreftes"):
        """The sync fails at once on the page, with what came before it stored;
        the next one pulls the rest."""
        t0 = time.monotonic()
        p = self.fresh.sync(check=3, timeout_s=20)
        self.assertLess(time.monotonic() - t0, 10)  # refused, not left waiting
        self.assertIn(why, p.stderr)
        self.assertEqual(len(self.fresh.json("list")), stored)
        j = self.fresh.json("sync")
        self.assertEqual((j["status"], j["pages"]), ("ok", 3 - stored), j)
        self.assertEqual(sorted(x["id"] for x in self.fresh.json("list")), sorted(self.ids))
        self.assert_converged([self.a, self.fresh])

    def test_altered_page(self):
        self.proxy.tamper_pages = 1
        self.refused(0)

    def test_altered_later_page(self):
        # the first page is stored (while the second is opened), the second not
        self.proxy.skip_pages, self.proxy.tamper_pages = 1, 1
        self.refused(1)

    def test_page_without_box(self):
        self.proxy.skip_pages, self.proxy.tamper_pages, self.proxy.unbox = 1, 1, True
        self.refused(1)

    def test_page_not_json(self):
        # a page is parsed as a message on the opener's thread: refused as any message would be
        self.proxy.skip_pages, self.proxy.tamper_pages, self.proxy.garble = 1, 1, True
        self.refused(1, "Ugyldig melding fra serveren: Meldingen er ikke gyldig JSON.")

    def test_error_after_a_page(self):
        """The server answers the request for the second page with an error:
        the first page, received and opened, is kept."""
        self.proxy.skip_pulls, self.proxy.break_pulls = 1, 1
        p = self.fresh.sync(check=3)
        self.assertIn("«since»", p.stderr)
        self.assertEqual(len(self.fresh.json("list")), 1)
        j = self.fresh.json("sync")
        self.assertEqual((j["status"], j["pages"]), ("ok", 2), j)
        self.assert_converged([self.a, self.fresh])


class SmallChangesets(SyncCase):
    """Change-sets of at most 5 changes: a push of many keeps a window of
    them in flight, and acknowledgements that arrive together are stored
    in the order received, after the next change-sets are on the wire."""

    def test_many_changesets(self):
        a = self.client("a")
        a.settings["JSR_CHANGESET_SIZE"] = "5"
        ids = [self.register(a) for _ in range(6)]
        for pid in ids[:3]:
            a.jsr("set", pid, *BAKGRUNN, check=0)
        j = a.json("sync")
        self.assertEqual(j["status"], "ok", j)
        self.assertGreaterEqual(j["changesets"], 12, j)  # three windows and more
        device = self.server.sql("SELECT DISTINCT device FROM changeset")
        self.assertEqual(len(device), 1)
        seqs = [s for (s,) in self.server.sql("SELECT seq FROM changeset ORDER BY seq")]
        self.assertEqual(seqs, list(range(1, j["changesets"] + 1)))
        self.assertEqual(max(n for (n,) in self.server.sql("SELECT changes FROM changeset")), 5)
        self.assertEqual(a.json("outbox")["changes"], [])
        fresh = self.client("fresh")
        fresh.sync()
        self.assert_converged([a, fresh])

    def test_out_of_range(self):
        a = self.client("a")
        for bad in ("0", "10001"):
            a.settings["JSR_CHANGESET_SIZE"] = bad
            r = a.jsr("status", check=2)
            self.assertIn("changeset_size må være fra 1 til 10000", r.stderr)


class Conflicts(SyncCase):
    def test_same_field_two_clients(self):
        a, b = self.client("a"), self.client("b", user="ola")
        pid = self.register(a)
        a.sync()
        b.sync()
        a.jsr("set", pid, "malgruppe=1", check=0)
        time.sleep(0.01)
        b.jsr("set", pid, "malgruppe=3", check=0)  # later hlc: this one wins
        a.sync()
        j = b.json("sync")
        self.assertEqual(j["conflicts"], 1)
        a.sync()
        for c in (a, b):
            self.assertEqual(c.json("show", pid)["fields"]["malgruppe"], "3")
            conflicts = c.json("conflicts")
            self.assertEqual(len(conflicts), 1)
            k = conflicts[0]
            self.assertEqual((k["kind"], k["field"], k["winner"], k["loser"]),
                             ("field", "malgruppe", "3", "1"))
            self.assertEqual((k["winner_author"], k["loser_author"]), ("ola", "kari"))
        self.assert_converged([a, b])
        # resolving is a change that syncs
        p = a.jsr("resolve", pid, "malgruppe", "--value", "2", check=0)
        self.assertIn("Konflikten er løst", p.stdout)
        a.sync()
        b.sync()
        for c in (a, b):
            self.assertEqual(c.json("conflicts"), [])
            self.assertEqual(c.json("show", pid)["fields"]["malgruppe"], "2")
        self.assert_converged([a, b])
        self.assertEqual(self.server.sql("SELECT resolved, resolved_by FROM conflict"), [(1, "kari")])

    def test_keep_resolution(self):
        a, b = self.client("a"), self.client("b")
        pid = self.register(a)
        a.sync()
        b.sync()
        a.jsr("set", pid, "sivilstand=1", check=0)
        b.jsr("set", pid, "sivilstand=4", check=0)
        a.sync()
        b.sync()
        winner = b.json("show", pid)["fields"]["sivilstand"]
        b.jsr("resolve", pid[:8], "sivilstand", "--keep", check=0)
        b.jsr("resolve", pid[:8], "sivilstand", "--keep", check=1)  # nothing open any more
        b.sync()
        a.sync()
        self.assertEqual(a.json("conflicts"), [])
        self.assertEqual(a.json("show", pid)["fields"]["sivilstand"], winner)

    def test_duplicate_registration_offline(self):
        """The same person registered offline on two laptops: a conflict, not a merge."""
        a, b = self.client("a"), self.client("b", user="per")
        fnr = next(self.numbers)
        pa = self.register(a, kommune="0301", start="2026-01-10", fnr=fnr)
        pb = self.register(b, kommune="1103", start="2026-03-01", fnr=fnr)
        a.sync()
        b.sync()
        a.sync()
        for c, mine, other in ((a, pa, pb), (b, pb, pa)):
            conflicts = c.json("conflicts")
            self.assertEqual(len(conflicts), 1, c.dir)
            k = conflicts[0]
            self.assertEqual(k["kind"], "duplicate")
            self.assertEqual({k["participant"], k["other"]}, {pa, pb})
            # both registrations exist, nothing merged
            self.assertEqual([p["id"] for p in c.json("list")], [mine])
        self.assertEqual(len(self.server.sql("SELECT id FROM participant")), 2)
        # ending the first participation before the second starts closes it by itself
        a.jsr("set", pa, "sluttdato=2026-02-28", "hovedarsak=50", "underarsak=51", check=0)
        a.sync()
        b.sync()
        self.assertEqual(b.json("conflicts"), [])
        self.assertEqual(a.json("conflicts"), [])


class Rejections(SyncCase):
    def test_out_of_scope_is_kept_and_marked(self):
        a = self.client("a")  # kari: 0301 only
        pid = self.register(a, kommune="1103")
        j = a.json("sync", check=1)
        self.assertEqual(j["status"], "rejected")
        self.assertEqual(j["rejected"], 4)
        shown = a.json("show", pid)
        self.assertEqual(shown["fields"]["kommune"], "1103")  # the value is kept
        self.assertIn("kommune", shown["rejected"])
        self.assertIn("kommune du ikke har tilgang til", shown["rejected"]["kommune"])
        self.assertTrue(a.json("list")[0]["sync"].startswith("feil: "))
        self.assertEqual(self.server.sql("SELECT count(*) FROM participant"), [(0,)])
        # fixing it: the new kommune goes through, and the participant's other
        # rejected changes get another chance in the same round
        a.jsr("set", pid, "kommune=0301", check=0)
        a.jsr("sync", check=0)
        shown = a.json("show", pid)
        self.assertEqual((shown["fields"]["kommune"], shown["rejected"], shown["sync"]),
                         ("0301", {}, "synkronisert"))
        self.assertEqual(self.server.sql("SELECT count(*) FROM field_value"), [(4,)])
        self.assert_converged([a])

    def test_server_rules(self):
        """A rule broken only by the combination of two devices' edits is rejected."""
        a, b = self.client("a"), self.client("b")
        pid = self.register(a, start="2026-01-15")
        a.sync()
        b.sync()
        a.jsr("set", pid, "startdato=2026-06-01", check=0)
        b.jsr("set", pid, "sluttdato=2026-03-01", "hovedarsak=60", check=0)
        a.sync()
        j = b.json("sync", check=1)
        self.assertEqual(j["rejected"], 1)
        self.assertIn("sluttdato", b.json("show", pid)["rejected"])
        self.assertEqual(b.pending_miscounted(), [])


class Sessions(SyncCase):
    config = {"session_ttl_s": 3}

    def test_expiry_keeps_outbox_and_resumes(self):
        a = self.client("a")
        pid = self.register(a)
        a.sync()
        a.jsr("set", pid, "malgruppe=5", "fodeland=AFG", check=0)
        time.sleep(3.5)
        p = a.sync(check=4)
        self.assertIn("jsr login", p.stderr)
        self.assertEqual(len(a.json("outbox")["changes"]), 2)  # kept
        st = a.json("status", "--offline")
        self.assertFalse(st["logged_in"])
        self.assertEqual(st["pending"], 2)
        a.login()
        a.sync()
        self.assertEqual(a.json("outbox")["changes"], [])
        self.assertEqual(self.server.sql("SELECT value FROM field_value WHERE field = 'malgruppe'"),
                         [("5",)])


class Daemon(SyncCase):
    def wait_for(self, fn, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if fn():
                return True
            time.sleep(0.2)
        return False

    def test_daemon_pushes_and_pulls(self):
        a, b = self.client("a"), self.client("b")
        pid = self.register(a)
        a.sync()
        b.sync()
        d = subprocess.Popen([os.path.join(os.environ.get("JSR_BIN", ""), "jsr"), "daemon"],
                             env=b.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # a change elsewhere arrives by notify, without any command on b
            a.jsr("set", pid, "malgruppe=4", check=0)
            a.sync()
            self.assertTrue(self.wait_for(lambda: b.json("show", pid)["fields"]["malgruppe"] == "4"))
            # a change saved on b goes out by itself
            b.jsr("set", pid, "fodeland=IRQ", check=0)
            self.assertTrue(self.wait_for(lambda: self.server.sql(
                "SELECT value FROM field_value WHERE field = 'fodeland'") == [("IRQ",)]))
            # the server goes away and comes back: the daemon reconnects
            self.server.restart()
            b.jsr("set", pid, "sivilstand=3", check=0)
            self.assertTrue(self.wait_for(lambda: self.server.sql(
                "SELECT value FROM field_value WHERE field = 'sivilstand'") == [("3",)], 30))
        finally:
            d.terminate()
            d.wait(10)
        self.assertEqual(d.returncode, 0)


class Offline(SyncCase):
    def test_no_server(self):
        a = self.client("a")
        self.register(a)
        self.server.kill()
        p = a.sync(check=3)
        self.assertIn("Får ikke kontakt", p.stderr)
        self.assertEqual(len(a.json("outbox")["changes"]), 4)
        st = a.json("status")
        self.assertFalse(st["online"])

    def test_wrong_server_key(self):
        c = Client(self.tmp, "x", self.server)
        p = c.jsr("login", "--server", self.server.url, "--server-key", "0" * 40, "--user",
                  "kari", check=1)
        self.assertIn("stemmer ikke med fingeravtrykket", p.stderr)
        p = c.jsr("login", "--server", self.server.url, "--server-key", "xyz", "--user", "kari",
                  check=1)
        self.assertIn("Fingeravtrykket", p.stderr)

    def test_wrong_password(self):
        c = Client(self.tmp, "x", self.server, password="feil-passord-123")
        p = c.login(check=1)
        self.assertIn("Innloggingen mislyktes", p.stderr)
        c = Client(self.tmp, "y", self.server, user="finnes_ikke")
        p = c.login(check=1)
        self.assertIn("Innloggingen mislyktes", p.stderr)

    def test_server_of_another_protocol_version(self):
        """A server that says another protocol version in its hello: jsr stops there and says so."""
        import base64
        import hashlib
        import socket
        import threading
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve():
            conn, _ = listener.accept()
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                key = [line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:")][0]
                accept = base64.b64encode(hashlib.sha1(
                    key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()).decode()
                conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n"
                              "Sec-WebSocket-Protocol: jsr.v1\r\n\r\n").encode())
                zero = base64.b64encode(bytes(32)).decode()
                hello = ('{"t":"hello","v":1,"protocol":"jsr.v1","server_time":0,"fingerprint":"",'
                         '"kx":"%s","sig":"%s","challenge":"%s"}' % (zero, zero, "0" * 32)).encode()
                conn.sendall(bytes([0x81, 126]) + len(hello).to_bytes(2, "big") + hello)
                conn.recv(4096)  # until jsr hangs up

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        c = Client(self.tmp, "x", self.server, url=f"ws://127.0.0.1:{port}/sync")
        p = c.login(check=1)
        self.assertIn(f"Serveren bruker protokollversjon 1, denne jsr versjon {PROTO_VERSION}", p.stderr)
        self.assertIn("oppdatere den", p.stderr)
        t.join(10)
        listener.close()



if __name__ == "__main__":
    unittest.main(verbosity=2)
