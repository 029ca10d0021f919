#!/usr/bin/python3
"""Writes land.csv: ISO 3166-1 alpha-3 codes with Norwegian bokmål names.

The codes and English names come from Debian's iso-codes package
(/usr/share/iso-codes/json/iso_3166-1.json); the bokmål names from its
translation catalogue (gettext domain iso_3166-1, language nb). Codes the
register needs that ISO 3166-1 does not have (stateless, unknown) are in
land_tillegg.csv and appended. Run: schema/codes/gen_land.py > land.csv
(a CTest case checks that the committed file matches this output).
"""
import csv
import gettext
import json
import os
import sys

ISO = "/usr/share/iso-codes/json/iso_3166-1.json"
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    nb = gettext.translation("iso_3166-1", languages=["nb"])
    with open(ISO, encoding="utf-8") as f:
        countries = json.load(f)["3166-1"]
    rows = []
    for c in countries:
        # the common name, as Norwegian forms and registers use it
        name = nb.gettext(c.get("common_name", c["name"]))
        if name == c.get("common_name"):
            name = nb.gettext(c["name"])
        rows.append((c["alpha_3"], name))
    with open(os.path.join(HERE, "land_tillegg.csv"), encoding="utf-8") as f:
        extra = [(r["kode"], r["navn"]) for r in csv.DictReader(f, delimiter=";")]
    out = sys.stdout
    out.write("# generert av schema/codes/gen_land.py fra Debians iso-codes; ikke rediger\n")
    out.write("kode;navn\n")
    for code, name in sorted(rows) + extra:
        if ";" in name or "\n" in name:
            sys.exit(f"unexpected separator in the name of {code}")
        out.write(f"{code};{name}\n")


if __name__ == "__main__":
    main()
