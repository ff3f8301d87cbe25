#!/bin/sh
# The systemd scriptlets of the RPM (rpm -qp --scripts), whichever macros made
# them: Fedora's systemd-rpm-macros (systemd-update-helper) or the spec's own
# fallbacks (plain systemctl) where that package is missing, as on Debian.
#   %post:   preset of the three units on a first install;
#   %preun:  disable --now of the three units on erase;
#   %postun: restart of rtftp.service and rtftp-standalone.service after an
#            upgrade (only what runs), daemon-reload.
# Used by rpm.sh; also runs alone:  rpm_scriptlets.sh PATH/TO/rtftp-*.rpm
set -eu
TEST_NAME=${TEST_NAME:-packaging.rpm}
. "$(dirname "$0")/lib.sh"
rpmfile=$1
[ -f "$rpmfile" ] || die "no such RPM: $rpmfile"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
rpm -qp --scripts "$rpmfile" > "$t/scripts"
# one file per scriptlet: postinstall, preuninstall, postuninstall, ...
awk -v dir="$t" '
	/^[a-z]+ (scriptlet|program)/ { out = dir "/" $1; next }
	out { print > out }' "$t/scripts"
for s in postinstall preuninstall postuninstall; do
	[ -f "$t/$s" ] || : > "$t/$s"
done

# has SCRIPTLET VERB-REGEX UNIT...: one line with the verb and every unit
has() {
	s=$1 verb=$2; shift 2
	grep -E "$verb" "$t/$s" > "$t/lines" || return 1
	for u; do grep -q -- "$u" "$t/lines" || return 1; done
}
all="rtftp.socket rtftp.service rtftp-standalone.service"
# shellcheck disable=SC2086
has postinstall 'systemctl .*preset|install-system-units' $all ||
	die "rpm -qp --scripts: %post does not preset $all:
$(cat "$t/postinstall")"
# shellcheck disable=SC2086
has preuninstall 'disable --now|remove-system-units' $all ||
	die "rpm -qp --scripts: %preun does not stop and disable $all:
$(cat "$t/preuninstall")"
has postuninstall 'try-restart|mark-restart-system-units' rtftp.service rtftp-standalone.service ||
	die "rpm -qp --scripts: %postun does not restart rtftp.service and rtftp-standalone.service:
$(cat "$t/postuninstall")"
has postuninstall 'daemon-reload|system-reload' ||
	die "rpm -qp --scripts: %postun has no daemon-reload"
rpm -qp --requires "$rpmfile" | grep -q '^systemd' ||
	die "rpm -qp --requires: no systemd (systemd_requires)"
log "rpm -qp --scripts: preset on install, disable --now on erase, try-restart after upgrade"
