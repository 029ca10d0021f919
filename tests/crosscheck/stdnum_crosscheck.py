"""Cross-check of jsr's fødselsnummer rules against python-stdnum.

python3-stdnum (Debian) is an independent implementation of the old rules.
We feed both at least 100,000 numbers: valid ones of every kind and rule set
from our generator, numbers built by hand from random dates and individual
numbers with the old check digits (so stdnum's own idea of validity is well
covered), single-digit corruptions and random strings. Every disagreement
must fall into one of the categories below, each a documented difference;
any other disagreement fails the test.

Categories (ours valid, stdnum invalid):
  synthetic      Tenor numbers (month + 80) are test numbers stdnum does not know.
  rule_2032      the first check digit only fits the 2032 rules (sum mod 11 in 1..3).
  no_old_reading K1 fits the old rule too, but the old reading cannot exist
                 (no century for that individual number, a future birth date,
                 29 February of a non-leap year): we read it as a 2032-rule
                 number, stdnum rejects it.
  dnr_century    a D-number: since 2021 its century is not derivable, so we do
                 not require a date in the individual-number century (or in
                 the past); stdnum derives one and rejects.
Category (ours invalid, stdnum valid):
  d_and_h        day + 40 and month + 40 at once: no such number exists;
                 stdnum subtracts both offsets and accepts.
"""
import datetime
import json
import os
import random
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrtest import JSR, env, generate  # noqa: E402

from stdnum.no import fodselsnummer as stdnum  # noqa: E402

W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def r1(n):
    return sum(w * int(d) for w, d in zip(W1, n[:9])) + int(n[9])


def with_old_check_digits(first9):
    k1 = (11 - sum(w * int(d) for w, d in zip(W1, first9))) % 11
    if k1 == 10:
        return None
    ten = first9 + str(k1)
    k2 = (11 - sum(w * int(d) for w, d in zip(W2, ten))) % 11
    return None if k2 == 10 else ten + str(k2)


def hand_made(rng, count):
    """Random dates and individual numbers with old-rule check digits."""
    out = []
    while len(out) < count:
        y = rng.randint(1854, 2039)
        m = rng.randint(1, 12)
        d = rng.randint(1, 31)
        day = d + (40 if rng.random() < 0.2 else 0)
        month = m + (40 if rng.random() < 0.1 else 0)
        n = with_old_check_digits(f"{day:02d}{month:02d}{y % 100:02d}{rng.randint(0, 999):03d}")
        if n:
            out.append(n)
    return out


def explain(n, ours):
    """The category of a disagreement, or None if it is unexplained."""
    dd, mm = int(n[0:2]), int(n[2:4])
    if ours["valid"]:
        if ours["kind"] == "synthetic":
            return "synthetic"
        if ours["rule"] == "2032":
            return "rule_2032" if r1(n) % 11 != 0 else "no_old_reading"
        if ours["kind"] == "dnr":
            return "dnr_century"
        return None
    if 41 <= dd <= 71 and 41 <= mm <= 52:
        return "d_and_h"
    return None


class CrossCheck(unittest.TestCase):
    def test_against_stdnum(self):
        rng = random.Random(20261126)
        numbers = []
        for opts in [{}, {"kind": "dnr"}, {"rule": "2032"}, {"rule": "2032", "kind": "dnr"},
                     {"plain": True}, {"plain": True, "kind": "dnr"},
                     {"plain": True, "kind": "hnr"}, {"plain": True, "rule": "2032"},
                     {"plain": True, "gender": "kvinne", "from": 1854, "to": 2025}]:
            numbers += generate(6000, seed=len(numbers) + 1, **opts)
        numbers += hand_made(rng, 30000)
        for n in rng.sample(numbers, 15000):
            pos = rng.randrange(11)
            numbers.append(n[:pos] + str((int(n[pos]) + rng.randint(1, 9)) % 10) + n[pos + 1:])
        numbers += ["".join(rng.choice("0123456789") for _ in range(11)) for _ in range(10000)]
        self.assertGreaterEqual(len(numbers), 100000)

        p = subprocess.run([JSR, "fnr", "check", "--json", "-"], input="\n".join(numbers),
                           capture_output=True, text=True, timeout=300,
                           env=env(JSR_TODAY=None))  # stdnum uses the real date too
        verdicts = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(len(verdicts), len(numbers))

        categories = {}
        unexplained = []
        agree_valid = 0
        for n, ours in zip(numbers, verdicts):
            self.assertEqual(ours["number"], n)
            theirs = stdnum.is_valid(n)
            if ours["valid"] == theirs:
                if theirs:
                    agree_valid += 1
                    self.check_details(n, ours)
                continue
            why = explain(n, ours)
            if why is None:
                unexplained.append((n, ours))
            categories[why] = categories.get(why, 0) + 1
        print(f"{len(numbers)} numbers; agree on {len(numbers) - sum(categories.values())}"
              f" ({agree_valid} valid in both); explained disagreements: {categories}")
        self.assertEqual(unexplained[:20], [])
        # the comparison is meaningful: many valid in both, every category seen
        self.assertGreater(agree_valid, 30000)
        for c in ("synthetic", "rule_2032", "no_old_reading", "dnr_century", "d_and_h"):
            self.assertIn(c, categories)

    def check_details(self, n, ours):
        """Where both accept, gender and birth date must agree too."""
        if ours["gender"] is not None:
            self.assertEqual({"kvinne": "F", "mann": "M"}[ours["gender"]],
                             stdnum.get_gender(n), n)
        if ours["birthdate"] is not None:
            self.assertEqual(ours["birthdate"], stdnum.get_birth_date(n).isoformat(), n)
        self.assertIn(ours["kind"], ("fnr", "dnr", "hnr"))
        self.assertEqual(ours["rule"], "old", n)


if __name__ == "__main__":
    unittest.main(verbosity=2)
