#!/bin/sh
# checksrc: banned C functions (curl's idea) and personal-data hygiene.
# Fails listing every hit.
set -u
top=${1:-.}
cd "$top" || exit 2
status=0
hits=$(grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atof|strtok|tmpnam|rand)\s*\(' \
	$(find client server shared tests -name '*.[ch]' 2>/dev/null) /dev/null | grep -v 'checksrc-ok')
if [ -n "$hits" ]; then
	echo "banned functions (use snprintf, memcpy, strtol, strtok_r, randombytes):"
	echo "$hits"
	status=1
fi
# logging calls must not pass a fødselsnummer or a name
hits=$(grep -nE 'sh_log_(error|warn|info|debug)\(.*\b(fnr|navn|name)\b' \
	$(find client server shared -name '*.c' 2>/dev/null) /dev/null | grep -v 'checksrc-ok')
if [ -n "$hits" ]; then
	echo "a log call mentions fnr/navn/name; never log personal data:"
	echo "$hits"
	status=1
fi
[ $status -eq 0 ] && echo "checksrc: ok"
exit $status
