"""The audit log (issue 5, must-show 4): every login (success and failure),
read, write, wipe and admin action is recorded with who, which device, when
and what; `jsr-server audit show --participant` answers "who has seen or
changed this person"; no fødselsnummer or name is ever in it; and any
tampering (update, delete, insert, a removed tail, a forged hash) is found
by `jsr-server audit verify`, which names the first broken entry; a tail cut
off together with the store's own record of it is found against the head the
server wrote to its log (`--head`)."""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrserver import SERVER, Client, Server, server_env  # noqa: E402
from jsrtest import TempDirCase, generate  # noqa: E402


class AuditCase(TempDirCase):
    def setUp(self):
        super().setUp()
        self.server = Server(self.tmp, users=(("kari", "kommune_user", ["0301"]),
                                              ("ola", "kommune_user", ["0301"]),
                                              ("per", "kommune_user", ["1103"]),
                                              ("anne", "kommune_admin", ["0301"])))
        self.server.start()
        self.fnr = generate(1, seed=41, gender="kvinne")[0]
        kari, ola, per, anne = (Client(self.tmp, n, self.server, user=n) for n in ("kari", "ola", "per", "anne"))
        for c in (kari, ola, per, anne):
            c.login()
        # failures: a wrong password, and a fødselsnummer typed as the username
        Client(self.tmp, "x", self.server, user="kari", password="feil-passord-123").login(check=1)
        Client(self.tmp, "y", self.server, user=self.fnr).login(check=1)
        self.pid = kari.json("new", "--fnr", self.fnr, "--start", "2026-03-01", "--kommune", "0301",
                             "--finansiering", "1")["id"]
        kari.sync()
        ola.sync()  # reads kari's participant
        per.sync()  # another municipality: never sees it
        anne.jsr("admin", "invite", "--name", "Sigrid Testesen", "--email", "sigrid@example.no",
                 "--phone", "+47 922 22 222", check=0)
        self.server.kill()
        self.db = os.path.join(self.server.dir, "store.db")

    def tearDown(self):
        self.server.kill()
        super().tearDown()

    def rows(self, db=None):
        con = sqlite3.connect(db or self.db)
        try:
            return con.execute("SELECT id, actor, device, action, detail, participants FROM audit "
                               "ORDER BY id").fetchall()
        finally:
            con.close()

    def verify(self, data):
        return subprocess.run([SERVER, "audit", "verify", "--data", data], capture_output=True,
                              text=True, env=server_env(), timeout=60)

    def tamper(self, *sql):
        """A copy of the store with the triggers dropped and sql run: whoever got write access."""
        data = os.path.join(self.tmp, "tampered-%d" % len(os.listdir(self.tmp)))
        shutil.copytree(self.server.dir, data)
        con = sqlite3.connect(os.path.join(data, "store.db"))
        con.execute("DROP TRIGGER audit_no_update")
        con.execute("DROP TRIGGER audit_no_delete")
        for s in sql:
            con.execute(s)
        con.commit()
        con.close()
        return data


class Contents(AuditCase):
    def test_entries(self):
        rows = self.rows()
        actions = [(r[1], r[3]) for r in rows]
        for who in ("kari", "ola", "per", "anne"):
            self.assertIn((who, "login"), actions)
        self.assertIn(("kari", "login_failed"), actions)
        self.assertIn(("(ugyldig brukernavn)", "login_failed"), actions)
        self.assertIn(("kari", "write"), actions)
        self.assertIn(("anne", "admin"), actions)
        write = [r for r in rows if r[3] == "write" and r[1] == "kari"][0]
        self.assertIn(self.pid, write[5].split())
        self.assertRegex(write[2], r"^[0-9a-f]{32}$")  # the device
        reads = [r for r in rows if r[3] == "read" and self.pid in r[5].split()]
        self.assertEqual({r[1] for r in reads}, {"ola"})  # kari's own writes are not sent back
        for r in reads:  # "1 verdi", "23 verdier"
            self.assertRegex(r[4], r"^side etter \d+: (1 verdi|(0|[2-9]|\d\d+) verdier)$")
        self.assertFalse([r for r in rows if r[1] == "per" and self.pid in r[5]])
        # login entries name the address
        self.assertTrue(all(r[4] == "127.0.0.1" for r in rows if r[3] in ("login", "login_failed")))
        # an administrator's action names the device it came from
        admin = [r for r in rows if r[3] == "admin"][0]
        self.assertEqual(admin[2], [r[2] for r in rows if r[1] == "anne" and r[3] == "login"][0])
        self.assertNotIn("Sigrid", admin[4])

    def test_no_personal_data(self):
        # ids are random hex made by the program (a device id may well hold
        # "922"); everything else in the log is searched
        text = re.sub(r"\b[0-9a-f]{32}\b", "<id>", repr(self.rows()))
        for secret in (self.fnr, "Sigrid", "Testesen", "sigrid@example.no", "922"):
            self.assertNotIn(secret, text)

    def test_show_participant(self):
        p = self.server.cli("audit", "show", "--participant", self.pid, check=0)
        lines = [line for line in p.stdout.splitlines()[1:] if line.strip()]
        self.assertIn(f"Hvem har sett eller endret deltaker {self.pid}", p.stdout)
        who = {(line.split()[3], line.split()[4]) for line in lines}
        # kari wrote it and asked the Folkeregister about it; ola read it; the register's
        # answer ("ikke funnet": a synthetic number it does not know) may have come already
        self.assertLessEqual({("kari", "endret"), ("ola", "lest"), ("kari", "oppslag")}, who)
        self.assertLessEqual(who, {("kari", "endret"), ("ola", "lest"), ("kari", "oppslag"),
                                   ("folkeregisteret", "oppslag")})
        self.assertNotIn(self.fnr, p.stdout)
        p = self.server.cli("audit", "show", "--participant", "nope")
        self.assertEqual(p.returncode, 2)
        self.assertIn("oppgi deltakerens id", p.stderr)

    def test_intact_chain(self):
        p = self.server.cli("audit", "verify", check=0)
        n = len(self.rows())
        self.assertIn(f"Revisjonsloggen er hel: {n} innslag", p.stdout)

    def test_triggers_refuse_changes(self):
        con = sqlite3.connect(self.db)
        try:
            for sql in ("UPDATE audit SET detail = 'x' WHERE id = 2", "DELETE FROM audit WHERE id = 2"):
                with self.assertRaises(sqlite3.DatabaseError) as e:
                    con.execute(sql)
                self.assertIn("append-only", str(e.exception))
        finally:
            con.close()


class Tampering(AuditCase):
    def assert_broken(self, data, first_bad):
        p = self.verify(data)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        m = re.search(r"BRUTT ved innslag nr\. (\d+)", p.stdout)
        self.assertTrue(m, p.stdout)
        self.assertEqual(int(m.group(1)), first_bad, p.stdout)

    def test_update_each_column(self):
        mid = [r[0] for r in self.rows() if r[3] == "write"][0]  # an entry with participants
        for col, val in (("actor", "'ola'"), ("device", "'-'"), ("action", "'read'"),
                         ("detail", "'x'"), ("participants", "''"), ("at", "at + 1"),
                         ("hash", "randomblob(32)")):
            with self.subTest(column=col):
                self.assert_broken(self.tamper(f"UPDATE audit SET {col} = {val} WHERE id = {mid}"), mid)

    def test_delete_middle(self):
        self.assert_broken(self.tamper("DELETE FROM audit WHERE id = 3"), 3)

    def test_delete_first(self):
        self.assert_broken(self.tamper("DELETE FROM audit WHERE id = 1"), 1)

    def test_delete_last(self):
        n = len(self.rows())
        self.assert_broken(self.tamper(f"DELETE FROM audit WHERE id = {n}"), n)

    def test_insert_forged(self):
        n = len(self.rows())
        self.assert_broken(self.tamper(
            f"INSERT INTO audit(id, at, actor, device, action, detail, participants, hash) "
            f"SELECT {n + 1}, at + 1, 'kari', device, 'read', 'x', participants, hash FROM audit "
            f"WHERE id = {n}"), n + 1)

    def test_renumbered_to_hide_a_deletion(self):
        n = len(self.rows())
        # delete entry 2 and move the rest down, as a careful intruder would
        self.assert_broken(self.tamper("DELETE FROM audit WHERE id = 2",
                                       "UPDATE audit SET id = id - 1 WHERE id > 2"), 2)
        self.assertGreater(n, 3)

    def test_swapped_rows(self):
        self.assert_broken(self.tamper(
            "UPDATE audit SET id = -1 WHERE id = 4", "UPDATE audit SET id = 4 WHERE id = 5",
            "UPDATE audit SET id = 5 WHERE id = -1"), 4)

    def test_index_by_participant(self):
        # hiding who saw a participant from «audit show» by editing its index is found too
        data = self.tamper("DELETE FROM audit_subject WHERE participant IN "
                           "(SELECT participant FROM audit_subject LIMIT 1)")
        p = self.verify(data)
        self.assertEqual(p.returncode, 1, p.stdout)


class Anchor(AuditCase):
    """A tail cut off together with meta's record of it passes the chain's own
    check; the head the server wrote to its log (an outside copy) finds it."""

    def logged_head(self):
        self.server.start(JSR_LOG_LEVEL="info")  # the worker writes the head it starts with
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(self.server.log) as f:
                heads = re.findall(r"audit: head (\d+:[0-9a-f]{64})", f.read())
            if heads:
                break
            time.sleep(0.05)
        self.server.kill()
        self.assertTrue(heads, "no audit head in the server log")
        return heads[-1]

    def verify_head(self, data, head):
        return subprocess.run([SERVER, "audit", "verify", "--data", data, "--head", head],
                              capture_output=True, text=True, env=server_env(), timeout=60)

    def test_cut_tail(self):
        head = self.logged_head()
        n = int(head.split(":")[0])
        self.assertEqual(n, len(self.rows()))
        p = self.verify_head(self.server.dir, head)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("har hodet fra serverloggen", p.stdout)
        # a careful intruder: the last two entries, their index rows and meta's record, consistently
        data = self.tamper(f"DELETE FROM audit WHERE id >= {n - 1}",
                           f"DELETE FROM audit_subject WHERE audit_id >= {n - 1}",
                           "UPDATE meta SET value = (SELECT id || ':' || lower(hex(hash)) FROM audit "
                           "ORDER BY id DESC LIMIT 1) WHERE key = 'audit_head'")
        self.assertEqual(self.verify(data).returncode, 0)  # the chain alone cannot tell
        p = self.verify_head(data, head)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(f"BRUTT ved innslag nr. {n}", p.stdout)
        self.assertIn("kortet ned", p.stdout)

    def test_bad_head(self):
        for head in ("", "12", "0:" + "0" * 64, "3:" + "g" * 64, "3:" + "0" * 63, "x:" + "0" * 64):
            with self.subTest(head=head):
                p = self.verify_head(self.server.dir, head)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn("NR:SJEKKSUM", p.stderr)
        p = self.verify_head(self.server.dir, "3:" + "0" * 64)  # well formed, not this log's
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("skrevet om", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
