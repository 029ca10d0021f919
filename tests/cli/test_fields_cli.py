"""jsr fields / jsr codes: the catalogue as users and scripts see it."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrtest import env, jsr, jsr_json  # noqa: E402


class Fields(unittest.TestCase):
    def test_catalogue(self):
        fields = jsr_json("fields", check=0)
        names = [f["name"] for f in fields]
        self.assertEqual(len(names), len(set(names)))
        mandatory = {f["name"] for f in fields if f["required"] == "mandatory"}
        self.assertEqual(mandatory, {"fnr", "startdato", "kommune", "finansiering"})
        pages = {f["page"] for f in fields}
        self.assertEqual(pages, {"person", "bakgrunn", "tiltak", "avslutning"})
        self.assertTrue(all(f["repeat"] for f in fields if f["page"] == "tiltak"))
        by = {f["name"]: f for f in fields}
        self.assertEqual(by["navn"]["writer"], "server")
        self.assertEqual(by["underarsak"]["parent"], "hovedarsak")
        self.assertEqual(by["alder_yngste_barn"]["only_when_positive"], "antall_barn")
        # every code list a field names can be shown
        for f in fields:
            if f["codes"]:
                codes = jsr_json("codes", f["codes"], check=0)
                self.assertGreater(len(codes), 1, f["codes"])

    def test_page_filter_and_text(self):
        p = jsr("fields", "avslutning", check=0)
        self.assertIn("«Avslutning»", p.stdout)
        self.assertIn("Hovedårsak til avslutning", p.stdout)
        self.assertNotIn("Fødeland", p.stdout)
        jsr("fields", "nope", check=2)

    def test_codes(self):
        kommuner = jsr_json("codes", "kommune", check=0)
        self.assertEqual(len(kommuner), 357)
        self.assertIn({"code": "0301", "label": "Oslo"}, kommuner)
        land = {c["code"]: c["label"] for c in jsr_json("codes", "land", check=0)}
        self.assertEqual(land["NOR"], "Norge")
        self.assertEqual(land["XXA"], "Statsløs")
        sub = jsr_json("codes", "underarsak", check=0)
        self.assertIn({"code": "51", "label": "Graviditet eller fødsel", "parent": "50"}, sub)
        p = jsr("codes", "nope", check=1)
        self.assertIn("ukjent kodeliste", p.stderr)

    def test_bad_codes_dir(self):
        p = jsr("codes", "kommune", check=3, environ=env(JSR_CODES_DIR="/nonexistent"))
        self.assertIn("kan ikke laste kodelistene", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
