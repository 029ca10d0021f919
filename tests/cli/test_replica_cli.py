"""The caseworker's replica through the jsr CLI: drafts, autosave, statuses,
discharge, re-registration, Tiltak, outbox, lookups and bad input.
Every jsr call is a new process, so every step is also a restart."""
import json
import os
import stat
import subprocess
import sys
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrtest import JSR, TempDirCase, env, generate, jsr  # noqa: E402

BAKGRUNN = ["malgruppe=1", "fodeland=SYR", "statsborgerskap=SYR", "ankomstar=2016",
            "innvandringsgrunn=3", "sivilstand=2", "antall_barn=2", "alder_yngste_barn=4",
            "hovedinntekt=4", "skolear=6", "utdanning=1", "arbeidserfaring=0",
            "leser_morsmal=j", "norskniva_start=A1"]


class ReplicaCase(TempDirCase):
    def setUp(self):
        super().setUp()
        self.env = env(JSR_DATA=self.tmp)
        self.numbers = iter(generate(50, seed=zlib.crc32(self.id().encode()), gender="kvinne"))

    def run_jsr(self, *args, check=None, input=None):
        return jsr(*args, check=check, environ=self.env, input=input)

    def json(self, *args, check=0):
        return json.loads(self.run_jsr(*args, "--json", check=check).stdout)

    def participant(self, start="2026-01-15"):
        j = self.json("new", "--fnr", next(self.numbers), "--start", start, "--kommune", "0301",
                      "--finansiering", "1")
        self.assertEqual(j["status"], "mangler")
        return j["id"]

    def snapshot(self):
        return (self.run_jsr("list", "--status", "alle", "--json", check=0).stdout,
                self.run_jsr("drafts", "--json", check=0).stdout,
                self.run_jsr("outbox", "--json", check=0).stdout)


class Drafts(ReplicaCase):
    def test_draft_survives_and_becomes_participant(self):
        fnr = next(self.numbers)
        j = self.json("new", "--fnr", fnr, "--kommune", "0301")
        pid = j["id"]
        self.assertEqual(j["status"], "utkast")
        self.assertEqual(len(pid), 32)
        # a new process: the draft is still there, listed separately
        drafts = self.json("drafts")
        self.assertEqual([d["id"] for d in drafts], [pid])
        self.assertEqual(drafts[0]["sync"], "lokalt utkast")
        self.assertEqual(self.json("list"), [])
        self.assertEqual(self.json("outbox")["changes"], [])
        # the third field: still a draft; the fourth: a participant, same id
        j = self.json("set", pid[:8], "startdato=2026-01-15")
        self.assertFalse(j["promoted"])
        self.assertEqual(j["status"], "utkast")
        j = self.json("set", pid[:8], "finansiering=1")
        self.assertTrue(j["promoted"])
        self.assertEqual(j["status"], "mangler")
        self.assertEqual(self.json("drafts"), [])
        listed = self.json("list")
        self.assertEqual([p["id"] for p in listed], [pid])
        self.assertEqual(listed[0]["sync"], "ikke synkronisert")
        changes = self.json("outbox")["changes"]
        self.assertEqual(sorted(c["field"] for c in changes),
                         ["finansiering", "fnr", "kommune", "startdato"])
        p = self.run_jsr("set", pid, "malgruppe=1", check=0)
        self.assertIn("Lagret: Målgruppe = Hjemmeværende kvinne (1)", p.stdout)

    def test_delete_draft_only(self):
        draft = self.json("new")["id"]
        pid = self.participant()
        self.run_jsr("delete", pid, check=1)
        self.run_jsr("delete", draft, check=0)
        self.assertEqual(self.json("drafts"), [])

    def test_data_dir_default_and_mode(self):
        home = os.path.join(self.tmp, "home")
        os.mkdir(home)
        e = env(HOME=home, JSR_DATA=None, XDG_DATA_HOME=None)
        jsr("new", check=0, environ=e)
        path = os.path.join(home, ".local/share/jobbsjanse/lokal/replica.db")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        xdg = os.path.join(self.tmp, "xdg")
        jsr("new", check=0, environ=env(XDG_DATA_HOME=xdg, JSR_DATA=None))
        self.assertTrue(os.path.exists(os.path.join(xdg, "jobbsjanse/lokal/replica.db")))
        other = os.path.join(self.tmp, "flag")
        jsr("--data", other, "new", check=0, environ=self.env)
        self.assertTrue(os.path.exists(os.path.join(other, "replica.db")))


class Autosave(ReplicaCase):
    def test_invalid_changes_nothing(self):
        pid = self.participant()
        self.run_jsr("tiltak", "add", pid, "--type", "1", "--fra", "2026-02-01", check=0)
        row = self.json("show", pid)["tiltak"][0]["id"]
        before = self.snapshot()
        bad = [
            (["set", pid, "startdato=2026-02-30"], "ikke en gyldig dato"),
            (["set", pid, "kommune=9999"], "ikke en kode i listen kommune"),
            (["set", pid, "finnes_ikke=1"], "Ukjent felt"),
            (["set", pid, "kommune=0301' OR '1'='1"], "ikke en kode"),
            (["set", pid, "antall_barn=1; DROP TABLE outbox"], "helt tall"),
            (["set", pid, "startdato=2099-01-01"], "fram i tid"),
            (["set", pid, "navn=Kari"], "Folkeregisteret"),
            (["set", pid, "fnr="], "obligatorisk"),
            (["tiltak", "set", pid, row, "beskrivelse=" + "x" * 201], "høyst 200 tegn"),
            (["tiltak", "set", pid, row, "til=2026-01-01"], "kan ikke være før"),
        ]
        for args, words in bad:
            p = self.run_jsr(*args, check=1)
            self.assertIn(words, p.stdout, args)
        # non-UTF-8 bytes straight from the command line
        p = subprocess.run([JSR.encode(), b"tiltak", b"set", pid.encode(), row.encode(),
                            b"beskrivelse=Norsk\xff\xfekurs"], capture_output=True, env=self.env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("UTF-8", p.stdout.decode())
        self.assertEqual(before, self.snapshot())

    def test_each_assignment_reported(self):
        pid = self.participant()
        p = self.run_jsr("set", pid, "malgruppe=2", "kommune=1", "fodeland=NOR", check=1)
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].startswith("Lagret: Målgruppe"))
        self.assertTrue(lines[1].startswith("Avvist: Kommune"))
        self.assertTrue(lines[2].startswith("Lagret: Fødeland = Norge (NOR)"))
        shown = self.json("show", pid)
        self.assertEqual(shown["fields"]["malgruppe"], "2")
        self.assertEqual(shown["fields"]["fodeland"], "NOR")
        self.assertEqual(shown["fields"]["kommune"], "0301")
        self.assertIn("malgruppe", shown["pending"])

    def test_dependents(self):
        pid = self.participant()
        self.run_jsr("set", pid, "sluttdato=2026-06-01", "hovedarsak=50", "underarsak=51", check=0)
        p = self.run_jsr("set", pid, "hovedarsak=10", check=0)
        self.assertIn("Tømt også: Underårsak til avslutning", p.stdout)
        self.assertIsNone(self.json("show", pid)["fields"]["underarsak"])
        p = self.run_jsr("set", pid, "underarsak=51", check=1)
        self.assertIn("hører ikke til", p.stdout)


class Lifecycle(ReplicaCase):
    def test_discharge_utskrevet_reopen(self):
        pid = self.participant()
        self.assertEqual(self.json("show", pid)["status"], "mangler")
        p = self.run_jsr("discharge", pid, check=1)
        self.assertIn("Kan ikke skrive ut", p.stdout)
        self.assertIn("  - Målgruppe («Person og prosjekt»)", p.stdout)
        j = self.json("discharge", pid, check=1)
        self.assertIn({"field": "norskprove"}, j["missing"])
        self.run_jsr("set", pid, *BAKGRUNN, check=0)
        self.assertEqual(self.json("show", pid)["status"], "aktiv")
        self.run_jsr("tiltak", "add", pid, "--type", "1", "--fra", "2026-02-01",
                     "--til", "2026-05-31", check=0)
        self.run_jsr("set", pid, "sluttdato=2026-06-30", check=0)
        self.assertEqual(self.json("show", pid)["status"], "avsluttet")
        j = self.json("discharge", pid, check=1)
        self.assertEqual([m["field"] for m in j["missing"]],
                         ["hovedarsak", "norskniva_slutt", "norskprove"])
        self.run_jsr("set", pid, "hovedarsak=20", "underarsak=22", "norskniva_slutt=B1",
                     "norskprove=B1", check=0)
        p = self.run_jsr("discharge", pid, check=0)
        self.assertIn("Status: Utskrevet", p.stdout)
        self.run_jsr("discharge", pid, check=1)
        # hidden by default, found by the filter, still editable
        self.assertEqual(self.json("list"), [])
        self.assertEqual([p["id"] for p in self.json("list", "--status", "utskrevet")], [pid])
        self.assertEqual(len(self.json("list", "--status", "alle")), 1)
        self.run_jsr("set", pid, "malgruppe=2", check=0)
        self.assertEqual(self.json("show", pid)["status"], "utskrevet")
        p = self.run_jsr("set", pid, "malgruppe=", check=1)
        self.assertIn("Gjenåpne", p.stdout)
        self.run_jsr("reopen", pid, check=0)
        self.assertEqual(self.json("show", pid)["status"], "avsluttet")
        self.assertEqual(len(self.json("list")), 1)

    def test_reregistration(self):
        fnr = next(self.numbers)
        first = self.json("new", "--fnr", fnr, "--start", "2025-01-10", "--kommune", "0301",
                          "--finansiering", "1")["id"]
        j = self.json("new", "--fnr", fnr, "--start", "2026-03-01", "--kommune", "0301",
                      "--finansiering", "1", check=1)
        self.assertEqual(j["status"], "utkast")
        refused = [r for r in j["results"] if not r["saved"]]
        self.assertEqual(refused[0]["field"], "startdato")
        self.assertIn("overlapper i tid", refused[0]["reason"])
        # the first participation ends (pregnancy); a later one is accepted
        self.run_jsr("set", first, "sluttdato=2026-02-01", "hovedarsak=50", "underarsak=51",
                     check=0)
        self.run_jsr("set", j["id"], "startdato=2026-01-31", check=1)
        p = self.run_jsr("set", j["id"], "startdato=2026-03-01", check=0)
        self.assertIn("Utkastet er nå en deltaker", p.stdout)
        self.assertEqual(len(self.json("list", "--status", "alle")), 2)
        self.assertEqual(len(self.json("list", "--search", fnr)), 2)

    def test_search_and_filter(self):
        a = self.participant()
        self.participant()
        self.assertEqual([p["id"] for p in self.json("list", "--search", a[:6])], [a])
        self.assertEqual(self.json("list", "--search", "%"), [])
        self.assertEqual(len(self.json("list", "--status", "mangler")), 2)
        self.assertEqual(self.json("list", "--status", "aktiv"), [])
        self.run_jsr("list", "--status", "utkast", check=2)
        self.run_jsr("list", "--status", "tull", check=2)


class Tiltak(ReplicaCase):
    def test_rows(self):
        pid = self.participant()
        j = self.json("tiltak", "add", pid, "--type", "1", "--fra", "2026-02-01",
                      "--beskrivelse", "Norskkurs")
        row = j["row"]
        j2 = self.json("tiltak", "add", pid, "--type", "7", "--fra", "2026-03-01")
        self.assertNotEqual(row, j2["row"])
        rows = {r["id"]: r for r in self.json("show", pid)["tiltak"]}
        self.assertEqual(rows[row]["beskrivelse"], "Norskkurs")
        self.assertEqual(rows[j2["row"]]["type"], "7")
        self.run_jsr("tiltak", "set", pid, row[:6], "til=2026-04-30", "type=2", check=0)
        self.assertEqual({r["id"]: r for r in self.json("show", pid)["tiltak"]}[row]["til"],
                         "2026-04-30")
        self.run_jsr("tiltak", "remove", pid, row, check=0)
        self.assertEqual([r["id"] for r in self.json("show", pid)["tiltak"]], [j2["row"]])
        self.run_jsr("tiltak", "remove", pid, row, check=1)
        self.run_jsr("tiltak", "add", pid, "--type", "1", check=2)
        self.run_jsr("tiltak", "add", pid, "--type", "77", "--fra", "2026-02-01", check=1)
        self.run_jsr("tiltak", "set", pid, j2["row"], "farge=blå", check=2)


class Lookups(ReplicaCase):
    def test_pending_lookup_replaced(self):
        pid = self.participant()
        lookups = self.json("outbox")["lookups"]
        self.assertEqual([(x["participant"], x["state"]) for x in lookups], [(pid, "venter")])
        shown = self.json("show", pid)
        self.assertEqual(shown["lookup"]["state"], "venter")
        self.assertIn("Folkeregisteret: venter på Folkeregisteret",
                      self.run_jsr("show", pid, check=0).stdout)
        other = next(self.numbers)
        self.run_jsr("set", pid, "fnr=" + other, check=0)
        self.assertEqual(len(self.json("outbox")["lookups"]), 1)
        man = generate(1, seed=5, gender="mann")[0]
        p = self.run_jsr("set", pid, "fnr=" + man, check=1)
        self.assertIn("Jobbsjansen er for kvinner", p.stdout)
        self.assertEqual(self.json("show", pid)["fields"]["fnr"], other)


class Usage(ReplicaCase):
    def test_help_everywhere(self):
        top = self.run_jsr("--help", check=0).stdout
        commands = [line.split()[0:2] for line in top.splitlines() if line.startswith("  ")]
        self.assertGreater(len(commands), 10)
        for words in commands:
            name = words if words[0] in ("fnr", "tiltak", "admin") else words[:1]
            p = self.run_jsr(*name, "--help", check=0)
            self.assertIn("Bruk: jsr " + " ".join(name), p.stdout)

    def test_usage_errors(self):
        for args in (["set"], ["set", "abcd"], ["show"], ["show", "a", "b"], ["new", "x"],
                     ["list", "--bogus"], ["frobnicate"], ["discharge"], ["tiltak", "add"]):
            self.run_jsr(*args, check=2)
        for args in (["show", "abcd"], ["show", "xyz!"], ["discharge", "0000"]):
            p = self.run_jsr(*args, check=1)
            self.assertTrue(p.stderr.startswith("jsr: "), p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
