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
[ -f "$unit" ] || die "$unit missing"
[ -x "$bindir/seccomp_fence" ] || die "$bindir/seccomp_fence not built"
rm -rf "$work"
mkdir -p "$work"
# What runs as nobody lives in a folder of its own that nobody can reach: the build tree may
# sit in a private home (mode 0700), which nobody cannot enter.
run=$(mktemp -d /var/tmp/rtftp-syscallfilter.XXXXXX)
trap 'rm -rf "$run"' EXIT
mkdir -p "$run/cache" "$run/tmp"
fence=$run/seccomp_fence
cp "$bindir/seccomp_fence" "$fence"
python3 "$(dirname "$0")/fence_list.py" "$unit" > "$run/allowed"
log "$(wc -l < "$run/allowed") system calls allowed by $(grep -c '^SystemCallFilter=' "$unit") SystemCallFilter= lines"
chown -R nobody:nogroup "$run"
chmod 0755 "$run" "$fence"

as_service() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
		--no-new-privs env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ "$@"
}

# Both ways: a harmless program runs inside the fence, and a call outside it is refused.
out=$(as_service "$fence" "$run/allowed" -- python3 -c 'print("inside")' 2> "$work/control.log") ||
	die "python3 does not run inside the fence: $(tail -1 "$work/control.log")"
[ "$out" = inside ] || die "python3 inside the fence printed '$out'"
if as_service "$fence" "$run/allowed" -- python3 -c 'import os; os.nice(1)' 2> "$work/nice.log"; then
	die "setpriority (@resources) is allowed inside the fence: the fence is not loaded"
fi
grep -q 'PermissionError.*Operation not permitted' "$work/nice.log" ||
	die "os.nice failed for another reason than the fence: $(tail -1 "$work/nice.log")"
log "sanity: python3 runs inside the fence, os.nice(1) is refused ($(tail -1 "$work/nice.log"))"

log "libguestfs-test-tool inside the fence (TCG; log: $work/test-tool.log)"
as_service LIBGUESTFS_BACKEND_SETTINGS=force_tcg LIBGUESTFS_CACHEDIR="$run/cache" \
	LIBGUESTFS_TMPDIR="$run/tmp" \
	timeout 600 "$fence" "$run/allowed" -- libguestfs-test-tool > "$work/test-tool.log" 2>&1 || {
	tail -40 "$work/test-tool.log" >&2
	die "the libguestfs appliance does not launch inside rtftp.service's SystemCallFilter"
}
grep -q 'TEST FINISHED OK' "$work/test-tool.log" || die "libguestfs-test-tool did not finish OK"
log "the appliance launched and ran inside the fence: TEST FINISHED OK"
log "PASS"
