#!/bin/sh
# make run: the demo on embedded defaults. At this stage: the field
# catalogue, then an interactive check of fødselsnumre.
set -eu
build=${1:-build}
jsr="$build/bin/jsr"
examples="31129956715 30108299939 03839199405 31129956716 3112995671a"

echo "== jobbsjanse: feltkatalogen (jsr fields) =="
"$jsr" fields
echo
echo "== Kontroll av fødselsnumre (jsr fnr check) =="
if [ -t 0 ]; then
	echo "Eksempler: $examples"
	echo "(03839199405 er et syntetisk testnummer; det godtas bare med JSR_TEST_MODE=1.)"
	"$jsr" fnr check
else
	for n in $examples; do
		echo "\$ jsr fnr check $n"
		"$jsr" fnr check "$n" || true
	done
fi
