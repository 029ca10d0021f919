#!/bin/sh
# make run: the demo on embedded defaults, everything under build/demo
# (synthetic numbers, so test mode is on). A caseworker registers a
# participant offline; a server starts on 127.0.0.1; she logs in with a
# password and a one-time code and synchronises; a colleague sees the
# participant and changes it; the name comes from the (synthetic)
# Folkeregister; the municipal administrator invites a new
# caseworker by e-mail (to a spool folder); the audit log says who saw what.
# The server keeps running so the activation link can be opened in a
# browser; Ctrl-C stops it. Re-running starts afresh.
set -eu
build=${1:-build}
demo="$PWD/$build/demo"
bin="$PWD/$build/bin"
here=$(dirname "$0")
export JSR_TEST_MODE=1 JSR_CODES_DIR="$PWD/schema/codes"
password="blå-fjord-syv-ugler-danser"
rm -rf "$demo"
mkdir -p "$demo"

say() { printf '\n\033[1m%s$ jsr %s\033[0m\n' "${who:+[$who] }" "$*"; JSR_DATA="$demo/$who" "$bin/jsr" "$@" || true; }
srv() { printf '\n\033[1m$ jsr-server %s\033[0m\n' "$*"; "$bin/jsr-server" "$@" --data "$demo/server"; }
code() { python3 "$here/totp.py" "$1"; }

# the server's data (keys, store, a synthetic Folkeregister) is made now; it starts in step 2
JSR_ADMIN_PASSWORD="$password" "$bin/jsr-server" init --data "$demo/server" >"$demo/init.out"
# a woman from the synthetic register, with a number under today's rules
fnr=$(awk -F';' 'NR > 1 && $5 == "kvinne" { print $1 }' "$demo/server/freg.csv" | while read -r n; do
	"$bin/jsr" fnr check --json "$n" | grep -q '"rule":"old"' && { echo "$n"; break; }
done)

echo "== 1. Kari registrerer en deltaker uten nett (replika i $demo/kari) =="
who=kari
say fnr check "$fnr"
id=$(JSR_DATA="$demo/kari" "$bin/jsr" new --fnr "$fnr" --kommune 0301 --json |
	sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
echo "(utkast $id laget med fødselsnummer og kommune)"
say set "$id" startdato=2026-02-30
say set "$id" startdato=2026-01-15 finansiering=1
say set "$id" malgruppe=1 fodeland=SYR statsborgerskap=SYR ankomstar=2016 innvandringsgrunn=3 \
	sivilstand=2 antall_barn=2 alder_yngste_barn=4 hovedinntekt=4 skolear=6 utdanning=1 \
	arbeidserfaring=0 leser_morsmal=j norskniva_start=A1
say tiltak add "$id" --type 1 --fra 2026-02-01 --til 2026-09-30 --beskrivelse "Norskkurs"
say discharge "$id"
say outbox

echo
echo "== 2. Serveren settes opp og starter =="
sed -n '/Fingeravtrykk\|folkeregister/p' "$demo/init.out"
key=$("$bin/jsr-server" fingerprint --data "$demo/server")
for u in kari:kommune_user ola:kommune_user anne:kommune_admin; do
	JSR_PASSWORD="$password" "$bin/jsr-server" user add --data "$demo/server" --username "${u%%:*}" \
		--role "${u#*:}" --kommune 0301 >"$demo/${u%%:*}.user"
	sed -n 's/.*nøkkelen \([A-Z2-7]*\).*/\1/p' "$demo/${u%%:*}.user" >"$demo/${u%%:*}.totp"
	echo "Bruker ${u%%:*} (${u#*:}, Oslo) lagt til; nøkkelen til kodeappen er i $demo/${u%%:*}.totp"
done
"$bin/jsr-server" run --data "$demo/server" --listen 127.0.0.1:0 >"$demo/server.out" 2>"$demo/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 50); do
	url=$(sed -n 's/.*\(ws:\/\/[0-9.:]*\/sync\).*/\1/p' "$demo/server.out")
	[ -n "$url" ] && break
	sleep 0.1
done
echo "jsr-server lytter på $url (logg: $demo/server.log)"

login() {
	printf '\n\033[1m[%s]$ jsr login --server %s --server-key %s --user %s\033[0m\n' "$1" "$url" "$key" "$1"
	JSR_DATA="$demo/$1" JSR_PASSWORD="$password" JSR_TOTP=$(code "$(cat "$demo/$1.totp")") \
		"$bin/jsr" login --server "$url" --server-key "$key" --user "$1"
}

echo
echo "== 3. Kari logger inn (passord og engangskode) og synkroniserer; navnet kommer fra Folkeregisteret =="
login kari
say sync
sleep 1
say sync
say list
say status

echo
echo "== 4. Ola i samme kommune får deltakeren og retter et felt =="
who=ola
login ola
say sync
say list
say set "$id" norskniva_start=A2
say sync
who=kari
say sync
say show "$id"

echo
echo "== 5. Anne (kommuneadministrator) inviterer en ny saksbehandler =="
who=anne
login anne
say admin invite --name "Sara Hansen" --email sara@example.no --phone "+47 912 34 567"
say admin users
for _ in $(seq 50); do
	mail=$(ls "$demo/server/mail-spool/"*.eml 2>/dev/null | head -n 1)
	[ -n "$mail" ] && break
	sleep 0.1
done
printf '\n\033[1m$ cat %s\033[0m\n' "$mail"
cat "$mail"

echo
echo "== 6. Revisjonsloggen: hvem har sett eller endret deltakeren =="
srv audit show --participant "$id"
srv audit verify
srv status

link=$(grep -o 'http://[^[:space:]]*aktiver?token=[0-9a-f]*' "$mail")
cat <<EOT

Serveren kjører. Åpne invitasjonslenken i en nettleser for å aktivere Sara:
  $link
Prøv selv (passord: $password, engangskode: python3 $here/totp.py \$(cat $demo/kari.totp)):
  export JSR_DATA=$demo/kari JSR_TEST_MODE=1
  $bin/jsr --help
Ctrl-C stopper serveren.
EOT
wait $server
