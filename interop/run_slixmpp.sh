#!/usr/bin/env bash
# run_slixmpp.sh — interoperability check of Herald with slixmpp, an
# independent XMPP client library (Debian's python3-slixmpp).
#
# It builds herald, starts "herald serve" on a 127.0.0.1 ephemeral port with
# a temporary data directory, creates alice@localhost and bob@localhost with
# "herald adduser -password-stdin", runs slixmpp_chat.py with the system
# python (/usr/bin/python3, which has slixmpp; not a pyenv python on PATH),
# stops the server it started (only that process) and exits with the
# script's status.
#
# Requires: go, /usr/bin/python3 with python3-slixmpp
#   (apt-get install -y python3-slixmpp).
# KEEP=1 keeps the temporary directory (server log, database).
# SLIXMPP_CHANNEL_BINDING=off makes slixmpp act as a client without channel
# binding; the default keeps slixmpp's own settings: see slixmpp_chat.py.
set -euo pipefail

PYTHON=${PYTHON:-/usr/bin/python3}
KEEP=${KEEP:-0}
CHANNEL_BINDING=${SLIXMPP_CHANNEL_BINDING:-on}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/herald-slixmpp.XXXXXX")
name=run_slixmpp.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! "$PYTHON" -c 'import slixmpp' 2>/dev/null; then
	log "$PYTHON cannot import slixmpp; install it with: apt-get install -y python3-slixmpp"
	exit 1
fi

log "building herald"
(cd "$root" && go build -o "$work/herald" ./cmd/herald)

flags=(-data-dir "$work/data" -domain localhost)

# Accounts first: adduser creates the database the server then opens.
for user in alice bob; do
	printf '%s\n' "$user-secret-pw" | "$work/herald" adduser "${flags[@]}" -password-stdin "$user@localhost"
done

log "starting herald serve"
"$work/herald" serve "${flags[@]}" \
	-c2s-listen 127.0.0.1:0 \
	-c2s-tls-listen "" \
	-http-listen "" \
	-s2s-listen "" \
	-log-level debug \
	>"$work/server.out" 2>"$work/server.log" &
server_pid=$!

c2s_addr=""
for _ in $(seq 1 300); do
	c2s_addr=$(sed -n 's/^ *clients (STARTTLS): *\([0-9.:]*\).*/\1/p' "$work/server.out")
	[[ -n $c2s_addr ]] && break
	if ! kill -0 "$server_pid" 2>/dev/null; then
		log "herald serve exited early"
		exit 1
	fi
	sleep 0.1
done
if [[ -z $c2s_addr ]]; then
	log "herald serve did not report its client address within 30 s"
	exit 1
fi
log "server pid $server_pid listening on $c2s_addr"

status=0
"$PYTHON" "$here/slixmpp_chat.py" \
	--host "${c2s_addr%:*}" --port "${c2s_addr##*:}" \
	--ca "$work/data/devcert/devcert.pem" \
	--alice alice@localhost --alice-password alice-secret-pw \
	--bob bob@localhost --bob-password bob-secret-pw \
	--channel-binding "$CHANNEL_BINDING" \
	--timeout 20 || status=$?
stop_server
exit "$status"
