"""jsr-server's command line before anything is set up: every command that
needs a data folder says how to make one (exit 1) instead of failing on a
missing file; a missing --data or an unknown command is a usage error (2)."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrserver import SERVER, server_env  # noqa: E402
from jsrtest import TempDirCase  # noqa: E402

NEEDS_DATA = (["run"], ["fingerprint"], ["hash", "--kommune", "0301"], ["status"], ["audit", "verify"],
              ["audit", "show", "--participant", "0" * 32], ["mail", "flush"], ["admin", "users"],
              ["user", "add", "--username", "kari", "--role", "kommune_user", "--kommune", "0301"])


class NotSetUp(TempDirCase):
    def run_server(self, *args):
        return subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=60,
                              env=server_env(JSR_PASSWORD="et-langt-passord-for-test"), stdin=subprocess.DEVNULL)

    def test_folder_not_set_up(self):
        missing = os.path.join(self.tmp, "ingen")
        for args in NEEDS_DATA:
            with self.subTest(args=args):
                p = self.run_server(*args, "--data", missing)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn("ikke satt opp", p.stderr)
                self.assertIn("jsr-server init --data", p.stderr)
                self.assertFalse(os.path.exists(missing), "a command other than init made the folder")

    def test_usage_errors(self):
        for args in (["status"], ["audit", "verify"], ["fingerprint"], ["finnes-ikke"], []):
            with self.subTest(args=args):
                p = self.run_server(*args)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn("Bruk: jsr-server", p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
