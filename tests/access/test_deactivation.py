"""Deactivation while a device holds pending changes (issue 5, must-show 3):
the changes saved before the deactivation arrive on the server, then the
server tells the device to wipe its replica and the client does. Once from
`jsr sync` after working offline, once from a running daemon that was cut
off by the network while the administrator acted."""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from chaosproxy import ChaosProxy  # noqa: E402
from jsrserver import Client, Server  # noqa: E402
from jsrtest import BIN, TempDirCase, generate  # noqa: E402


class DeactivationCase(TempDirCase):
    def setUp(self):
        super().setUp()
        self.server = Server(self.tmp, users=(("kari", "kommune_user", ["0301"]),
                                              ("anne", "kommune_admin", ["0301"]),
                                              ("ola", "kommune_user", ["0301"])))
        self.server.start()
        self.anne = Client(self.tmp, "anne", self.server, user="anne")
        self.anne.login()
        self.numbers = iter(generate(10, seed=31, gender="kvinne"))

    def tearDown(self):
        self.server.kill()
        super().tearDown()

    def register(self, c):
        out = c.json("new", "--fnr", next(self.numbers), "--start", "2026-02-01", "--kommune", "0301",
                     "--finansiering", "1")
        return out["id"]

    def server_value(self, pid, field):
        rows = self.server.sql(f"SELECT value FROM field_value WHERE participant = '{pid}' "
                               f"AND field = '{field}'")
        return rows[0][0] if rows else None

    def assert_wiped(self, c):
        self.assertFalse(os.path.exists(os.path.join(c.dir, "replica.db")))
        self.assertFalse(os.path.exists(os.path.join(c.dir, "device.key")))
        audit = self.server.sql("SELECT actor, action FROM audit WHERE action = 'wipe'")
        self.assertEqual(audit, [("kari", "wipe")])


class Offline(DeactivationCase):
    def test_pending_changes_arrive_then_wipe(self):
        kari = Client(self.tmp, "kari", self.server)
        kari.login()
        pid = self.register(kari)
        kari.sync()
        # on the train: saved locally, not yet sent
        kari.jsr("set", pid, "malgruppe=2", "sivilstand=3", check=0)
        self.assertEqual(len(kari.json("outbox")["changes"]), 2)
        time.sleep(0.05)
        self.anne.jsr("admin", "deactivate", "kari", check=0)
        time.sleep(0.05)
        # saved after the deactivation: the server does not take it
        kari.jsr("set", pid, "fodeland=SOM", check=0)
        p = kari.sync(check=4)
        self.assertIn("Brukeren din er deaktivert", p.stderr)
        self.assertIn("levert til serveren", p.stderr)
        self.assertEqual(self.server_value(pid, "malgruppe"), "2")
        self.assertEqual(self.server_value(pid, "sivilstand"), "3")
        self.assertIsNone(self.server_value(pid, "fodeland"))
        self.assert_wiped(kari)
        # the device cannot come back, and the user cannot log in again
        p = kari.login(check=1)
        self.assertIn("Innloggingen mislyktes", p.stderr)
        # the rest of the municipality is untouched and sees kari's last changes
        ola = Client(self.tmp, "ola", self.server, user="ola")
        ola.login()
        ola.sync()
        self.assertEqual(ola.json("show", pid)["fields"]["sivilstand"], "3")
        self.assertEqual(self.server.cli("audit", "verify").returncode, 0)

    def test_other_users_devices_unaffected(self):
        ola = Client(self.tmp, "ola", self.server, user="ola")
        ola.login()
        self.register(ola)
        self.anne.jsr("admin", "deactivate", "kari", check=0)
        ola.sync()
        self.assertTrue(os.path.exists(os.path.join(ola.dir, "replica.db")))
        self.assertEqual(self.server.sql("SELECT count(*) FROM audit WHERE action = 'wipe'"), [(0,)])


class Daemon(DeactivationCase):
    def daemon_then(self, kari, pid, act):
        """Runs `jsr daemon` for kari until it stops by itself; act() in between,
        once the daemon has delivered the participant. (exit code, stderr)"""
        d = subprocess.Popen([os.path.join(BIN, "jsr"), "daemon"], env=kari.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            end = time.time() + 30
            while time.time() < end and self.server_value(pid, "kommune") is None:
                time.sleep(0.1)
            self.assertEqual(self.server_value(pid, "kommune"), "0301")
            act()
            _, err = d.communicate(timeout=90)
        finally:
            if d.poll() is None:
                d.kill()
                d.wait()
        return d.returncode, err

    def test_daemon_cut_off_then_deactivated(self):
        proxy = ChaosProxy(self.server.port)
        proxy.chaos = False
        self.addCleanup(proxy.close)
        kari = Client(self.tmp, "kari", self.server, url=proxy.url())
        kari.login()
        pid = self.register(kari)

        def act():
            # the network goes; the caseworker keeps typing; the administrator acts
            proxy.offline = True
            time.sleep(1)
            kari.jsr("set", pid, "malgruppe=3", "antall_barn=2", check=0)
            self.assertEqual(len(kari.json("outbox")["changes"]), 2)
            self.anne.jsr("admin", "deactivate", "kari", check=0)
            # the network comes back: the daemon delivers, is told to wipe, wipes and stops
            proxy.offline = False

        rc, err = self.daemon_then(kari, pid, act)
        self.assertEqual(rc, 4, err)
        self.assertIn("Brukeren din er deaktivert", err)
        self.assertEqual(self.server_value(pid, "malgruppe"), "3")
        self.assertEqual(self.server_value(pid, "antall_barn"), "2")
        self.assert_wiped(kari)

    def test_connected_daemon_is_disconnected_and_wiped(self):
        kari = Client(self.tmp, "kari", self.server)
        kari.login()
        pid = self.register(kari)
        rc, err = self.daemon_then(kari, pid,
                                   lambda: self.anne.jsr("admin", "deactivate", "kari", check=0))
        self.assertEqual(rc, 4, err)
        self.assert_wiped(kari)


if __name__ == "__main__":
    unittest.main(verbosity=2)
