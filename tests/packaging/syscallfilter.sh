#!/bin/sh
# packaging.syscallfilter: the SystemCallFilter= of rtftp.service must still let
# libguestfs launch its appliance (supermin, qemu-img, qemu) in the mounters.
# fence_list.py resolves the unit's filter lines to the allowed system calls
# (as systemd does, with PrivateDevices=yes removing @raw-io); seccomp_fence
# loads exactly that allow-list (everything else: EPERM, as
# SystemCallErrorNumber=EPERM) and runs libguestfs-test-tool inside it, as an
# unprivileged user with no capabilities and LIBGUESTFS_BACKEND_SETTINGS=force_tcg.
# A sanity check first: a call outside the fence (setpriority, @resources) fails.
# Usage: syscallfilter.sh BUILD_DIR RTFTP_BIN_DIR WORK_DIR
set -eu
TEST_NAME=packaging.syscallfilter
. "$(dirname "$0")/lib.sh"
build=$1 bindir=$2 work=$3

need_root
need_pkgs systemd python3 util-linux coreutils libguestfs-tools qemu-system-x86 supermin

unit=$build/packaging/systemd/rtftp.service
fence=$bindir/seccomp_fence
[ -f "$unit" ] || die "$unit missing"
[ -x "$fence" ] || die "$fence not built"
rm -rf "$work"
mkdir -p "$work/cache" "$work/tmp"
python3 "$(dirname "$0")/fence_list.py" "$unit" > "$work/allowed"
log "$(wc -l < "$work/allowed") system calls allowed by $(grep -c '^SystemCallFilter=' "$unit") SystemCallFilter= lines"
chown -R nobody:nogroup "$work"
chmod 0755 "$work"

as_service() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
		--no-new-privs env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ "$@"
}

if as_service "$fence" "$work/allowed" -- python3 -c 'import os; os.nice(1)' 2> "$work/nice.log"; then
	die "setpriority (@resources) is allowed inside the fence: the fence is not loaded"
fi
log "sanity: os.nice(1) fails inside the fence ($(tail -1 "$work/nice.log"))"

log "libguestfs-test-tool inside the fence (TCG; log: $work/test-tool.log)"
as_service LIBGUESTFS_BACKEND_SETTINGS=force_tcg LIBGUESTFS_CACHEDIR="$work/cache" \
	LIBGUESTFS_TMPDIR="$work/tmp" \
	timeout 600 "$fence" "$work/allowed" -- libguestfs-test-tool > "$work/test-tool.log" 2>&1 || {
	tail -40 "$work/test-tool.log" >&2
	die "the libguestfs appliance does not launch inside rtftp.service's SystemCallFilter"
}
grep -q 'TEST FINISHED OK' "$work/test-tool.log" || die "libguestfs-test-tool did not finish OK"
log "the appliance launched and ran inside the fence: TEST FINISHED OK"
rm -rf "$work/cache" "$work/tmp"
log "PASS"
