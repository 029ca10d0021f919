"""Offline unlock and sessions (issue 5, Login): a replica bound to a user is
locked when its unlock period runs out or with `jsr lock`; `jsr unlock`
opens it without a network, checked against the Argon2id hash from the last
online login; an expired session stops sync (exit 4) but never the work,
and after a new login everything saved in the meantime goes out."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrserver import Client, Server  # noqa: E402
from jsrtest import TempDirCase, generate, jsr  # noqa: E402


class UnlockCase(TempDirCase):
    config = {}

    def setUp(self):
        super().setUp()
        self.server = Server(self.tmp, config=self.config)
        self.server.start()
        self.numbers = iter(generate(10, seed=43, gender="kvinne"))
        self.kari = Client(self.tmp, "kari", self.server)

    def tearDown(self):
        self.server.kill()
        super().tearDown()

    def register(self, c):
        return c.json("new", "--fnr", next(self.numbers), "--start", "2026-02-01", "--kommune", "0301",
                      "--finansiering", "1")["id"]


class Lock(UnlockCase):
    def test_lock_and_unlock_offline(self):
        self.kari.login()
        pid = self.register(self.kari)
        p = self.kari.jsr("lock", check=0)
        self.assertIn("Replikaen er låst", p.stdout)
        # nothing that shows or changes participant data works while locked
        for args in (["list"], ["show", pid], ["set", pid, "malgruppe=2"], ["outbox"], ["drafts"]):
            p = self.kari.jsr(*args, check=4)
            self.assertIn("replikaen er låst", p.stderr)
        # the network is gone: unlocking needs none
        self.server.kill()
        wrong = Client(self.tmp, "kari", self.server, password="ikke-riktig-passord")
        p = wrong.jsr("unlock", check=1)
        self.assertIn("feil passord", p.stderr)
        self.kari.jsr("list", check=4)
        p = self.kari.jsr("unlock", check=0)
        self.assertIn("Replikaen er låst opp i 12 timer", p.stdout)
        self.kari.jsr("set", pid, "malgruppe=2", check=0)
        self.assertEqual(self.kari.json("show", pid)["fields"]["malgruppe"], "2")

    def test_never_logged_in_is_not_locked(self):
        c = Client(self.tmp, "fresh", self.server)
        self.register(c)
        p = c.jsr("unlock", check=1)
        self.assertIn("ikke låst", p.stderr)
        # nor can it be locked: there is no password to open it with
        p = c.jsr("lock", check=1)
        self.assertIn("kan ikke låse", p.stderr)
        self.assertNotIn("Replikaen er låst", p.stdout)
        c.jsr("list", check=0)
        c.jsr("list", check=0)


class Expiry(UnlockCase):
    def test_unlock_period_runs_out(self):
        self.kari.login()
        self.register(self.kari)
        self.kari.jsr("list", check=0)
        # with an unlock period of zero hours the replica locks by the clock alone
        zero = dict(JSR_UNLOCK_HOURS="0")
        jsr("unlock", check=0, environ=self.kari.env(**zero))
        p = jsr("list", check=4, environ=self.kari.env(**zero))
        self.assertIn("jsr unlock", p.stderr)
        # a normal period again: unlock, and work goes on
        self.kari.jsr("unlock", check=0)
        self.kari.jsr("list", check=0)


class Session(UnlockCase):
    config = {"session_idle_s": 2}

    def test_expired_session_keeps_the_work(self):
        self.kari.login()
        pid = self.register(self.kari)
        self.kari.sync()
        time.sleep(3)
        self.kari.jsr("set", pid, "malgruppe=3", check=0)
        p = self.kari.sync(check=4)
        self.assertIn("Logg inn på nytt", p.stderr)
        self.assertIn("tatt vare på", p.stderr)
        # still working on the replica, still queued
        self.kari.jsr("set", pid, "sivilstand=2", check=0)
        self.assertEqual(len(self.kari.json("outbox")["changes"]), 2)
        self.kari.login()
        self.kari.sync()
        rows = self.server.sql(f"SELECT field, value FROM field_value WHERE participant = '{pid}' "
                               "AND field IN ('malgruppe', 'sivilstand') ORDER BY field")
        self.assertEqual(rows, [("malgruppe", "3"), ("sivilstand", "2")])
        self.assertEqual(self.kari.json("outbox")["changes"], [])

    def test_revoked_by_deactivation_is_not_expiry(self):
        # a revoked session on a deactivated user leads to the wipe, covered in
        # test_deactivation; a plain expired session never wipes anything
        self.kari.login()
        self.register(self.kari)
        time.sleep(3)
        self.kari.sync(check=4)
        self.assertTrue(os.path.exists(os.path.join(self.kari.dir, "replica.db")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
