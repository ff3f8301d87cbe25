#!/bin/sh
# What the .deb's maintainer scripts do to the systemd units, run for real
# against a fake systemctl (this machine's PID 1 need not be systemd).
#
# The dh_installsystemd sections of preinst, postinst and prerm are taken out
# of the .deb (dpkg-deb -e) and run with:
#   - a fake systemctl that keeps each unit's enabled/active state in files
#     and logs every call;
#   - Debian's real deb-systemd-invoke (init-system-helpers), whose decisions
#     (skip a disabled unit on start, restart a running one) are the point,
#     with policy-rc.d pointed at a file that does not exist (containers
#     often have one that refuses everything);
#   - a no-op deb-systemd-helper (it only tracks enable symlinks);
#   - "/run/systemd/system" rewritten to a folder of the test's own.
# Nothing on this machine changes. Used by deb.sh; also runs alone:
# Usage: deb_maintscripts.sh PATH/TO/rtftp_*.deb
set -eu
TEST_NAME=${TEST_NAME:-packaging.deb}
. "$(dirname "$0")/lib.sh"
deb=$1
[ -f "$deb" ] || die "no such .deb: $deb"
[ -f /usr/bin/deb-systemd-invoke ] || die "/usr/bin/deb-systemd-invoke missing (init-system-helpers)"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/ctl" "$t/bin" "$t/run-systemd-system" "$t/scripts"
dpkg-deb -e "$deb" "$t/ctl"

for s in preinst postinst prerm; do
	{
		echo '#!/bin/sh'
		echo 'set -e'
		if [ -f "$t/ctl/$s" ]; then
			awk '/^# Automatically added by dh_installsystemd\// { on = 1 }
			     on { print }
			     /^# End automatically added section/ { on = 0 }' "$t/ctl/$s" |
				sed "s|/run/systemd/system|$t/run-systemd-system|g"
		fi
	} > "$t/scripts/$s"
done

cat > "$t/bin/systemctl" <<'EOF'
#!/bin/sh
# fake systemctl: $FAKE_STATE/enabled/UNIT, $FAKE_STATE/active/UNIT; calls in $FAKE_STATE/log
st=$FAKE_STATE
echo "systemctl $*" >> "$st/log"
args=
for a; do case $a in -*) ;; *) args="$args $a" ;; esac; done
# shellcheck disable=SC2086
set -- $args
cmd=$1; shift
case $cmd in
is-enabled)
	for u; do
		if [ -e "$st/enabled/$u" ]; then echo enabled; else echo disabled; exit 1; fi
	done ;;
is-active) for u; do [ -e "$st/active/$u" ] || exit 3; done ;;
start|restart) for u; do touch "$st/active/$u"; done ;;
try-restart) ;;
stop) for u; do rm -f "$st/active/$u"; done ;;
esac
exit 0
EOF
printf '#!/bin/sh\nexit 0\n' > "$t/bin/deb-systemd-helper"
sed "s|'/usr/sbin/policy-rc.d'|'$t/no-policy-rc.d'|" /usr/bin/deb-systemd-invoke > "$t/bin/deb-systemd-invoke"
grep -q "$t/no-policy-rc.d" "$t/bin/deb-systemd-invoke" ||
	die "deb-systemd-invoke: its policy-rc.d path has changed; update this test"
chmod 0755 "$t/bin/systemctl" "$t/bin/deb-systemd-helper" "$t/bin/deb-systemd-invoke"

# state ENABLED_UNITS ACTIVE_UNITS: a fresh fake machine
state() {
	rm -rf "$t/state"
	mkdir -p "$t/state/enabled" "$t/state/active"
	: > "$t/state/log"
	for u in $1; do touch "$t/state/enabled/$u"; done
	for u in $2; do touch "$t/state/active/$u"; done
}
# run SCRIPT ARGS...
run() {
	s=$1; shift
	env -i PATH="$t/bin:/usr/sbin:/usr/bin:/sbin:/bin" FAKE_STATE="$t/state" \
		sh "$t/scripts/$s" "$@" 2>> "$t/state/stderr" ||
		die "$s $* failed: $(cat "$t/state/stderr")"
}
active() { [ -e "$t/state/active/$1" ]; }
calls() { grep -v 'is-enabled\|is-active' "$t/state/log" | tr '\n' ';'; }

sa=rtftp-standalone.service

# Fresh install: the standalone unit is not enabled and must not be started
# (it would stop rtftp.socket, which it conflicts with).
state "rtftp.socket" ""
run postinst configure
! active $sa || die "fresh install started $sa (calls: $(calls))"
log "maintainer scripts: fresh install leaves $sa stopped"

# Upgrade (new preinst upgrade, new postinst configure OLD) with the
# standalone unit enabled and running, or running without being enabled:
# running again afterwards, and restarted (the new binaries).
for enabled in "$sa" ""; do
	state "$enabled" "$sa"
	run preinst upgrade 0.0.9
	run postinst configure 0.0.9
	active $sa || die "upgrade (enabled: ${enabled:-no}) left $sa stopped (calls: $(calls))"
	grep -q "restart.*$sa" "$t/state/log" ||
		die "upgrade (enabled: ${enabled:-no}) did not restart $sa (calls: $(calls))"
done
log "maintainer scripts: upgrade restarts a running $sa (enabled or not)"

# Upgrade with it neither enabled nor running: still not started.
state "rtftp.socket" "rtftp.socket"
run preinst upgrade 0.0.9
run postinst configure 0.0.9
! active $sa || die "upgrade started a disabled, stopped $sa (calls: $(calls))"
active rtftp.socket || die "upgrade left rtftp.socket stopped (calls: $(calls))"

# The old package's prerm runs with "upgrade": nothing stops there either.
state "$sa" "$sa"
run prerm upgrade 0.1.0
active $sa || die "prerm upgrade stopped $sa (calls: $(calls))"

# Remove: every unit of the package is stopped.
state "$sa" "$sa rtftp.service"
run prerm remove
! active $sa || die "prerm remove left $sa running (calls: $(calls))"
! active rtftp.service || die "prerm remove left rtftp.service running (calls: $(calls))"
state "rtftp.socket" "rtftp.socket rtftp.service"
run prerm remove
! active rtftp.socket || die "prerm remove left rtftp.socket running (calls: $(calls))"
log "maintainer scripts: remove stops $sa, rtftp.service and rtftp.socket"
