#!/bin/bash
# Start a real nbdkit, daemonized, in a private dir; print nothing; fail loudly.
#   nbdkit.sh unix DIR IMG           -> DIR/nbd.sock, DIR/nbd.pid
#   nbdkit.sh tcp  DIR IMG PORT NAME -> 127.0.0.1:PORT with the strict export NAME
#   nbdkit.sh stop DIR
# The pidfile is written by the daemon after nbdkit returns: delete it first, then poll.
set -euo pipefail
mode=$1; dir=$2
gone() {   # PID: true once it has exited (or is a zombie), within 2 s
	for _ in $(seq 100); do
		[ -d /proc/$1 ] || return 0
		grep -q '^State:.*Z' /proc/$1/status 2>/dev/null && return 0
		sleep 0.02
	done
	return 1
}
stop() {
	[ -s "$dir/nbd.pid" ] || return 0
	local pid; pid=$(cat "$dir/nbd.pid")
	kill "$pid" 2>/dev/null || true
	gone "$pid" && { rm -f "$dir/nbd.pid" "$dir/nbd.sock"; return 0; }
	# A server with requests held by the pause filter does not exit on SIGTERM.
	kill -KILL "$pid" 2>/dev/null || true
	gone "$pid" || { echo "nbdkit $pid does not exit" >&2; exit 1; }
	rm -f "$dir/nbd.pid" "$dir/nbd.sock"
}
wait_pid() {
	for _ in $(seq 250); do
		[ -s "$dir/nbd.pid" ] && return 0
		sleep 0.02
	done
	echo "nbdkit did not start" >&2; exit 1
}
case $mode in
unix)
	stop; rm -f "$dir/nbd.sock" "$dir/nbd.pid"
	timeout 10 nbdkit -r -U "$dir/nbd.sock" --pidfile "$dir/nbd.pid" file "$3"
	wait_pid; chmod 0777 "$dir/nbd.sock" ;;
tcp)
	stop; rm -f "$dir/nbd.pid"
	# NBDKIT_FILTERS: extra filters, e.g. "--filter=delay rdelay=20ms" (order: before file).
	# shellcheck disable=SC2086
	timeout 10 nbdkit -r -i 127.0.0.1 -p "$4" --pidfile "$dir/nbd.pid" --filter=exportname \
		${NBDKIT_FILTERS:-} file "$3" ${NBDKIT_PARAMS:-} \
		exportname="$5" exportname-strict=true exportname-list=explicit
	wait_pid ;;
stop) stop ;;
*) echo "usage" >&2; exit 2 ;;
esac
