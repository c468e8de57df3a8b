# lib.sh — the server lifecycle shared by the interop scripts. Source it
# after setting `name` (for log lines), `work` (a temporary directory the
# script owns) and `KEEP`; it sets `server_pid`, defines log, stop_server
# and cleanup, and installs cleanup on EXIT.

server_pid=""

log() { printf '%s: %s\n' "$name" "$*" >&2; }

# stop_server ends the server this script started, and nothing else:
# SIGTERM, then SIGKILL if it has not exited within 15 s.
stop_server() {
	if [[ -z $server_pid ]] || ! kill -0 "$server_pid" 2>/dev/null; then
		return 0
	fi
	kill -TERM "$server_pid" 2>/dev/null || true
	for _ in $(seq 1 150); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$server_pid" 2>/dev/null; then
		log "server $server_pid did not stop after SIGTERM; killing it"
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

# cleanup stops the server, shows the end of its log when the script
# failed, and removes the work directory unless KEEP=1.
cleanup() {
	local status=$?
	stop_server
	if [[ $status -ne 0 && -f $work/server.log ]]; then
		log "failed (status $status); last lines of the server log:"
		tail -n 40 "$work/server.log" >&2 || true
	fi
	if [[ $KEEP == 1 ]]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
