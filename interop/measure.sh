#!/usr/bin/env bash
# measure.sh — measure a real "herald serve" process on loopback with
# heraldload: server memory per idle session, server CPU per login and
# server CPU per routed message.
#
# It builds herald and heraldload, starts the server with a temporary data
# directory on 127.0.0.1 ephemeral ports (federation and direct TLS off),
# creates the load accounts directly in the server's database, runs the
# three measurements, prints their results and stops the server it started
# (only that process) on exit.
#
# Sizes can be changed through the environment:
#   SESSIONS  idle sessions held at once          (default 5000)
#   USERS     accounts created, load0..USERS-1    (default SESSIONS)
#   LOGINS    measured logins                     (default 2000)
#   MESSAGES  measured routed messages            (default 100000)
#   LOGIN_CONCURRENCY  logins in flight           (default 1: sequential)
#   KEEP=1    keep the temporary directory (server log, database)
set -euo pipefail

SESSIONS=${SESSIONS:-5000}
USERS=${USERS:-$SESSIONS}
LOGINS=${LOGINS:-2000}
MESSAGES=${MESSAGES:-100000}
LOGIN_CONCURRENCY=${LOGIN_CONCURRENCY:-1}
KEEP=${KEEP:-0}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/herald-measure.XXXXXX")
name=measure.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log "building herald and heraldload"
(cd "$root" && go build -o "$work/herald" ./cmd/herald && go build -o "$work/heraldload" ./cmd/heraldload)

# The routing measurement sends as fast as the server takes messages; the
# per-connection input shaper (c2s.inbound_rate) would measure the shaper's
# rate instead of the router's cost, so it is off here.
cat >"$work/herald.toml" <<'TOML'
[c2s]
inbound_rate = 0
TOML

log "starting herald serve (data in $work/data)"
"$work/herald" serve \
	-config "$work/herald.toml" \
	-data-dir "$work/data" \
	-domain localhost \
	-c2s-listen 127.0.0.1:0 \
	-c2s-tls-listen "" \
	-http-listen 127.0.0.1:0 \
	-s2s-listen "" \
	>"$work/server.out" 2>"$work/server.log" &
server_pid=$!

# The server prints its listening addresses once it is up; wait (at most
# 30 s) for them.
c2s_addr="" http_addr=""
for _ in $(seq 1 300); do
	c2s_addr=$(sed -n 's/^ *clients (STARTTLS): *\([0-9.:]*\).*/\1/p' "$work/server.out")
	http_addr=$(sed -n 's|^ *metrics and health: *http://\([0-9.:]*\)/metrics.*|\1|p' "$work/server.out")
	[[ -n $c2s_addr && -n $http_addr ]] && break
	if ! kill -0 "$server_pid" 2>/dev/null; then
		log "herald serve exited early"
		exit 1
	fi
	sleep 0.1
done
if [[ -z $c2s_addr || -z $http_addr ]]; then
	log "herald serve did not report its addresses within 30 s"
	exit 1
fi
ca="$work/data/devcert/devcert.pem"
if [[ ! -s $ca ]]; then
	log "no development certificate at $ca"
	exit 1
fi
log "server pid $server_pid, clients on $c2s_addr, metrics on $http_addr"

load=("$work/heraldload")
common=(-addr "$c2s_addr" -domain localhost -ca "$ca" -pid "$server_pid" -metrics "http://$http_addr/metrics")

"${load[@]}" users -db "$work/data/herald.db" -domain localhost -n "$USERS"
echo
"${load[@]}" idle "${common[@]}" -users "$USERS" -sessions "$SESSIONS" -timeout 10m
echo
"${load[@]}" login "${common[@]}" -users "$(( USERS < 100 ? USERS : 100 ))" -n "$LOGINS" -concurrency "$LOGIN_CONCURRENCY" -timeout 10m
echo
"${load[@]}" route "${common[@]}" -n "$MESSAGES" -window 100 -timeout 10m
echo
echo "CLK_TCK: $(getconf CLK_TCK 2>/dev/null || echo unknown); CPUs: $(nproc); $(go version)"
