# Shared by the mounter test scripts: private dir, fixtures, nbdkit, cleanup, bounded waits.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${RTFTP_BIN_DIR:?set by ctest}" "${HARNESS:?set by ctest}"
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
MOUNTER=$RTFTP_BIN_DIR/rtftp-mounter
T=$(mktemp -d /tmp/rtftp-mt.XXXXXX)
chmod 0755 "$T"
# One appliance cache for every test run (building it costs seconds, not per test).
export RTFTP_TEST_CACHE=${RTFTP_TEST_CACHE:-/var/tmp/rtftp-test-cache}
mkdir -p "$RTFTP_TEST_CACHE" "$T/tmp"
export RTFTP_TEST_TMP=$T/tmp
cleanup() {
	"$here/nbdkit.sh" stop "$T/u" 2>/dev/null || true
	"$here/nbdkit.sh" stop "$T/t" 2>/dev/null || true
	[ -n "${EXTRA_PID:-}" ] && kill "$EXTRA_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$T/u" "$T/t"
fixture() { timeout 60 "$here/mkdisk.sh" "$T/fx" "${1:-6}" >/dev/null 2>&1; }
nbd_unix() { timeout 20 "$here/nbdkit.sh" unix "$T/u" "$T/fx/disk.img" "$@"; }
nbd_tcp() { timeout 20 "$here/nbdkit.sh" tcp "$T/t" "$T/fx/disk.img" "$1" client1; }
# conf FILE URL MOUNTS_JSON [TFTP_ROOT]
conf() {
	local root=${4:+,\"tftp_root\": \"$4\"}
	printf '{ "url": "%s", "mounts": %s%s }\n' "$2" "$3" "$root" > "$1"
}
MOUNTS_STD='[{"partition":2,"mountpoint":"/"},{"partition":1,"mountpoint":"/boot"},{"partition":3,"mountpoint":"/boot/ext"}]'
harness() { timeout 300 "$HARNESS" "$MOUNTER" "$@"; }
