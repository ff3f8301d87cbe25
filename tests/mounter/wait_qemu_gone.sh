#!/bin/bash
# wait_qemu_gone.sh TMPDIR SEC: libguestfs's recovery process must kill the qemu of a
# SIGKILLed mounter; wait for it (zombies count as gone), print what is left otherwise.
for _ in $(seq $(( $2 * 10 ))); do
	left=$(pgrep -f "qemu-system.*$1" || true)
	alive=""
	for p in $left; do grep -q '^State:.*Z' /proc/$p/status 2>/dev/null || alive="$alive $p"; done
	[ -z "$alive" ] && exit 0
	sleep 0.1
done
echo "qemu still running after $2 s:"; ps -o pid,ppid,stat,etime,args -p ${alive// /,} | cut -c1-150
exit 1
