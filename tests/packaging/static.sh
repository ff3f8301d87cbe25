#!/bin/sh
# packaging.static: the pieces that need no package build.
#   man --warnings on rtftp.8 and rtftp.nbd.5 (no warning at all), and the
#   defaults in rtftp.8 against rtftp --help (man_defaults.py),
#   apparmor_parser -Q -K and -p on the profile as configured by CMake, and
#   apparmor_check.py (helpers stacked, not entered: no_new_privs; the stacked
#   profiles' rules in the parent's; signal peers on both sides),
#   systemd-analyze verify on the units as configured by CMake, with ExecStart
#   pointed at the freshly built binary (verify checks that it exists);
#   KillMode=mixed in both services;
#   scripts/deps.sh installs no TFTP server (tftpd-hpa & co start on port 69).
# Usage: static.sh SOURCE_DIR BUILD_DIR RTFTP_BIN_DIR
set -eu
TEST_NAME=packaging.static
. "$(dirname "$0")/lib.sh"
src=$1 build=$2 bindir=$3

need_pkgs man-db groff-base bsdextrautils apparmor systemd python3

for page in "$src/packaging/man/rtftp.8" "$src/packaging/man/rtftp.nbd.5"; do
	err=$(LC_ALL=C.UTF-8 MANWIDTH=80 timeout 60 man --warnings -l "$page" 2>&1 >/dev/null) ||
		die "man failed on $page: $err"
	[ -z "$err" ] || die "man --warnings on $page: $err"
	log "man --warnings -l $(basename "$page"): clean"
done

# rtftp(8) states the defaults --help states (man_defaults.py)
[ -x "$bindir/rtftp" ] || die "$bindir/rtftp not built"
"$bindir/rtftp" --help > "$build/rtftp-help.txt" 2>&1 || die "rtftp --help failed"
LC_ALL=C.UTF-8 MANWIDTH=200 timeout 60 man -l "$src/packaging/man/rtftp.8" 2>/dev/null |
	col -bx > "$build/rtftp.8.txt"
python3 "$(dirname "$0")/man_defaults.py" "$build/rtftp.8.txt" "$build/rtftp-help.txt" >&2 ||
	die "rtftp(8) and rtftp --help disagree on defaults (above)"

# scripts/deps.sh (run by the demo and the tests) installs no TFTP server: their packages
# start a service on port 69 and enable it at boot, which would block rtftp.socket later
# (bench/run.sh installs its peers itself, with the service disabled).
deps_pkgs=$(awk '/^pkgs=\(/ { on = 1; next } on && /^\)/ { on = 0 } on { sub(/#.*/, ""); print }' \
	"$src/scripts/deps.sh" | tr -s ' \t' '\n\n' | grep -v '^$')
[ "$(printf '%s\n' "$deps_pkgs" | wc -l)" -ge 10 ] || die "cannot read the package list of scripts/deps.sh"
for p in tftpd-hpa atftpd tftpd dnsmasq; do
	! printf '%s\n' "$deps_pkgs" | grep -qx -- "$p" ||
		die "scripts/deps.sh installs $p, a TFTP server that starts on port 69 at install and boot"
done
log "scripts/deps.sh: $(printf '%s\n' "$deps_pkgs" | wc -l) packages, no TFTP server"

profile="$build/packaging/apparmor/usr.sbin.rtftp"
[ -f "$profile" ] || die "$profile missing (is add_subdirectory(packaging) in CMakeLists.txt?)"
out=$(timeout 60 apparmor_parser -Q -K -q "$profile" 2>&1) ||
	die "apparmor_parser -Q rejected $profile: $out"
log "apparmor_parser -Q -K $(basename "$profile"): accepted"
out=$(timeout 60 apparmor_parser -p "$profile" 2>&1 >/dev/null) ||
	die "apparmor_parser -p (preprocess, includes) failed on $profile: $out"
# stacks, not transitions (no_new_privs); helpers' rules in the parent's; signals
python3 "$(dirname "$0")/apparmor_check.py" "$profile" >&2 ||
	die "the AppArmor profiles would not work together when enforced (above)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for u in rtftp.socket rtftp.service rtftp-standalone.service; do
	[ -f "$build/packaging/systemd/$u" ] || die "$build/packaging/systemd/$u missing"
	sed "s|^ExecStart=[^ ]*/rtftp |ExecStart=$bindir/rtftp |" "$build/packaging/systemd/$u" > "$tmp/$u"
done
[ -x "$bindir/rtftp" ] || die "$bindir/rtftp not built"
out=$(cd "$tmp" && timeout 120 systemd-analyze verify --man=no \
	"$tmp/rtftp.socket" "$tmp/rtftp.service" "$tmp/rtftp-standalone.service" 2>&1) ||
	die "systemd-analyze verify: $out"
[ -z "$out" ] || die "systemd-analyze verify printed: $out"
log "systemd-analyze verify: clean"

# SIGTERM to the parent alone (it stops its children itself); the final
# SIGKILL still reaches the whole control group.
for u in rtftp.service rtftp-standalone.service; do
	grep -qx 'KillMode=mixed' "$build/packaging/systemd/$u" ||
		die "$u: no KillMode=mixed (systemd's SIGTERM would reach qemu: false 'appliance crashed')"
done
log "KillMode=mixed in both services"
