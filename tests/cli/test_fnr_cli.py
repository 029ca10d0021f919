"""jsr fnr check / generate through the real binary: verdicts, JSON, exit codes."""
import os
import pty
import select
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrtest import JSR, env, generate, jsr, jsr_json  # noqa: E402


class FnrCheck(unittest.TestCase):
    def test_domain_vectors(self):
        want = {
            # DOMAIN.md §7's vectors as synthetic twins (month + 80): no real person's number
            "31929956780": ("synthetic", "old", "mann", "1899-12-31"),
            "30908299996": ("synthetic", "old", "mann", "1982-10-30"),
            "30908299902": ("synthetic", "2032", None, None),
            "41814061033": ("synthetic", "old", "kvinne", None),
            "03839199405": ("synthetic", "old", "kvinne", "1991-03-03"),
        }
        for number, (kind, rule, gender, born) in want.items():
            j = jsr_json("fnr", "check", number, check=0)
            self.assertTrue(j["valid"], number)
            self.assertEqual((j["kind"], j["rule"], j["gender"], j["birthdate"]),
                             (kind, rule, gender, born), number)
            self.assertIsNone(j["reason"])
        j = jsr_json("fnr", "check", "02813299952", check=0)
        self.assertTrue(j["valid"])

    def test_reasons(self):
        cases = {"1234": "length", "3192995678a": "not_digits",
                 "31939956780": "date", "31929956770": "check_digit_1",
                 "31929956781": "check_digit_2"}
        for number, reason in cases.items():
            j = jsr_json("fnr", "check", number, check=1)
            self.assertFalse(j["valid"])
            self.assertEqual(j["reason"], reason, number)
            self.assertIsNone(j["kind"])

    def test_norwegian_text(self):
        p = jsr("fnr", "check", "31929956781", check=1)
        self.assertIn("Andre kontrollsiffer i fødselsnummeret stemmer ikke", p.stdout)
        p = jsr("fnr", "check", "31929956780", check=0)
        self.assertIn("Gyldig syntetisk fødselsnummer", p.stdout)
        self.assertIn("Jobbsjansen er for kvinner", p.stdout)

    def test_synthetic_only_in_test_mode(self):
        p = jsr("fnr", "check", "--json", "03839199405", check=1,
                environ=env(JSR_TEST_MODE="0"))
        self.assertIn('"reason":"synthetic"', p.stdout)
        jsr("fnr", "check", "03839199405", check=0)

    def test_batch(self):
        numbers = generate(200, seed=9) + ["12", "abc", ""]
        p = jsr("fnr", "check", "--json", "-", input="\n".join(numbers) + "\n", check=1)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 202)   # empty line skipped
        import json
        verdicts = [json.loads(line) for line in lines]
        self.assertTrue(all(v["valid"] for v in verdicts[:200]))
        self.assertEqual([v["number"] for v in verdicts[:200]], numbers[:200])
        self.assertFalse(verdicts[200]["valid"])
        # all valid: exit 0
        jsr("fnr", "check", "-", input="\n".join(numbers[:5]), check=0)

    def test_usage(self):
        p = jsr("fnr", "check", "--bogus", check=2)
        self.assertIn("Bruk: jsr fnr check", p.stderr)
        jsr("fnr", "frobnicate", check=2)
        p = jsr("fnr", "check", "--help", check=0)
        self.assertIn("Bruk:", p.stdout)

    def test_interactive(self):
        """At a terminal it asks for numbers until an empty line."""
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(JSR, [JSR, "fnr", "check"], env())
        out = b""

        def read_until(token):
            nonlocal out
            while token not in out:
                r, _, _ = select.select([fd], [], [], 10)
                if not r:
                    raise AssertionError(f"timeout waiting for {token!r}: {out!r}")
                out += os.read(fd, 4096)

        read_until("Fødselsnummer (tom linje avslutter):".encode())
        os.write(fd, b"31129956716\n")
        read_until("Andre kontrollsiffer".encode())
        os.write(fd, b"\n")
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)


class FnrGenerate(unittest.TestCase):
    def test_kinds_and_rules(self):
        for opts, kind, rule in [
            ({}, "synthetic", "old"),
            ({"kind": "dnr"}, "synthetic", "old"),
            ({"rule": "2032"}, "synthetic", "2032"),
            ({"plain": True, "kind": "hnr"}, "hnr", "old"),
            ({"plain": True, "kind": "dnr", "rule": "2032"}, "dnr", "2032"),
        ]:
            numbers = generate(50, seed=3, **opts)
            self.assertEqual(len(set(numbers)), 50)
            for n in numbers:
                j = jsr_json("fnr", "check", n, check=0)
                self.assertEqual((j["kind"], j["rule"]), (kind, rule), (opts, n))

    def test_gender_and_seed(self):
        women = generate(30, seed=4, gender="kvinne")
        self.assertEqual(women, generate(30, seed=4, gender="kvinne"))
        p = jsr("fnr", "check", "--json", "-", input="\n".join(women), check=0)
        self.assertNotIn('"mann"', p.stdout)

    def test_refusals(self):
        p = jsr("fnr", "generate", check=1, environ=env(JSR_TEST_MODE="0"))
        self.assertIn("testmodus", p.stderr)
        jsr("fnr", "generate", "--kind", "hnr", check=1)
        jsr("fnr", "generate", "--count", "0", check=2)
        jsr("fnr", "generate", "--kind", "xnr", check=2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
