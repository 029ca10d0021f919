#!/bin/sh
# make run: the demo on embedded defaults. A caseworker's replica in
# build/demo (synthetic numbers, so test mode is on), a registration from
# draft to discharge, then the overview. Re-running starts afresh.
set -eu
build=${1:-build}
export JSR_DATA="$PWD/$build/demo" JSR_TEST_MODE=1
jsr="$PWD/$build/bin/jsr"
rm -rf "$JSR_DATA"

say() { printf '\n\033[1m$ jsr %s\033[0m\n' "$*"; "$jsr" "$@" || true; }

echo "== jobbsjanse demo: en saksbehandlers replika i $JSR_DATA =="
fnr=$("$jsr" fnr generate --seed 7 --gender kvinne)
say fnr check "$fnr"
id=$("$jsr" new --fnr "$fnr" --kommune 0301 --json | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
echo "(utkast $id laget med fødselsnummer og kommune)"
say drafts
say set "$id" startdato=2026-02-30
say set "$id" startdato=2026-01-15 finansiering=1
say set "$id" malgruppe=1 fodeland=SYR statsborgerskap=SYR ankomstar=2016 innvandringsgrunn=3 \
	sivilstand=2 antall_barn=2 alder_yngste_barn=4 hovedinntekt=4 skolear=6 utdanning=1 \
	arbeidserfaring=0 leser_morsmal=j norskniva_start=A1
say tiltak add "$id" --type 1 --fra 2026-02-01 --til 2026-09-30 --beskrivelse "Norskkurs"
say discharge "$id"
say set "$id" sluttdato=2026-10-01 hovedarsak=10 underarsak=12 norskniva_slutt=B1 norskprove=A2
say discharge "$id"
say list --status alle
say show "$id"
say outbox
cat <<EOT

Fortsett selv:  export JSR_DATA=$JSR_DATA JSR_TEST_MODE=1
                $jsr --help
EOT
