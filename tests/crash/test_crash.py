"""Crash test: kill -9 an autosaving process at random moments, 220 times.

Three kills in four come a random moment after the child's first report,
so that the test checks saves whatever the machine's speed; the fourth
comes a random moment after the start (opening the replica, migrating).

The child (tests/tools/autosave_loop) prints a line after each commit.
Afterwards every value it reported saved must be in the replica, with
exactly one outbox change for a participant (none for a draft: drafts never
leave the device), and the file must pass PRAGMA integrity_check.
"""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrtest import TempDirCase, env  # noqa: E402

LOOP = os.path.join(os.environ.get("JSR_TESTS_BIN", ""), "autosave_loop")
KILLS = int(os.environ.get("CRASH_KILLS", "220"))


class Crash(TempDirCase):
    def test_kill_minus_nine(self):
        rng = random.Random(int(os.environ.get("CRASH_SEED", "26")))
        saved = {}      # (id, field, row) -> value
        created = set()
        lines = 0
        for i in range(KILLS):
            child = subprocess.Popen([LOOP, self.tmp, str(1000 + i)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env(), text=True)
            first = ""
            if i % 4:
                # most kills land among the saves, however long the start takes
                # on a slow or busy machine (an ASan build starts slowly)
                first = child.stdout.readline()
            # the others anywhere from the start: opening, migrating, the first saves
            time.sleep(rng.uniform(0.0, 0.06 if not first else 0.04))
            child.send_signal(signal.SIGKILL)
            out, err = child.communicate(timeout=30)
            self.assertEqual(child.returncode, -signal.SIGKILL, err)
            for line in (first + out).split("\n")[:-1]:   # a torn last line is not a report
                parts = line.split("\t")
                lines += 1
                if parts[0] == "NEW":
                    created.add(parts[1])
                else:
                    _, pid, field, row, value = parts
                    key = (pid, field, row)
                    self.assertNotIn(key, saved, "the child writes each field once")
                    saved[key] = value
        self.assertGreater(len(saved), 500, "the kills came too early to test anything")

        db = sqlite3.connect(os.path.join(self.tmp, "replica.db"))
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        drafts = {pid for (pid,) in db.execute("SELECT id FROM participant WHERE draft = 1")}
        ids = {pid for (pid,) in db.execute("SELECT id FROM participant")}
        self.assertTrue(created <= ids, "a draft reported created is missing")
        values = {(p, f, r): v for p, f, r, v in
                  db.execute("SELECT participant, field, row, value FROM field_value")}
        outbox = {}
        for p, f, r, v in db.execute("SELECT participant, field, row, value FROM outbox"):
            outbox.setdefault((p, f, r), []).append(v)
        for key, value in saved.items():
            self.assertEqual(values.get(key), value, f"lost: {key}")
            if key[0] in drafts:
                self.assertNotIn(key, outbox, f"a draft's value in the outbox: {key}")
            else:
                self.assertEqual(outbox.get(key), [value], f"outbox for {key}")
        print(f"{KILLS} kills, {lines} reported lines, {len(saved)} saved values checked, "
              f"{len(ids)} registrations ({len(drafts)} drafts)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
