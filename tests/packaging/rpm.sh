#!/bin/sh
# packaging.rpm: packaging/build-rpm.sh builds the RPM (here with --nodeps:
# Debian's rpm database cannot satisfy Fedora's BuildRequires names), then
#   rpm -qpl: every file the package must ship is in it, with Fedora's paths;
#   rpm -qpR: the runtime needs of the mounters and the sonames rpm found;
#   rpm -qp --scripts: the systemd scriptlets (rpm_scriptlets.sh);
#   the units inside read /etc/sysconfig/rtftp.
# Usage: rpm.sh SOURCE_DIR WORK_DIR
set -eu
TEST_NAME=packaging.rpm
. "$(dirname "$0")/lib.sh"
src=$1 work=$2

need_pkgs rpm cmake pkg-config libseccomp-dev libcap-ng-dev libsystemd-dev libcjson-dev \
	libnbd-dev libguestfs-dev cpio

rm -rf "$work"
mkdir -p "$work/out"
log "building the RPM (log: $work/build-rpm.log)"
if ! timeout 1500 "$src/packaging/build-rpm.sh" "$work/out" > "$work/build-rpm.log" 2>&1; then
	tail -40 "$work/build-rpm.log" >&2
	die "build-rpm.sh failed"
fi
grep 'build-rpm:' "$work/build-rpm.log" >&2 || true
rpmfile=$(ls "$work"/out/rtftp-[0-9]*.rpm | grep -v -- '-debug' | head -1)
[ -n "$rpmfile" ] || die "no rtftp RPM in $work/out"
log "built $(basename "$rpmfile")"

rpm -qpl "$rpmfile" > "$work/files"
sed 's/^/  /' "$work/files" >&2
for f in /usr/sbin/rtftp /usr/libexec/rtftp/rtftp-worker /usr/libexec/rtftp/rtftp-mounter \
	/usr/lib/systemd/system/rtftp.socket /usr/lib/systemd/system/rtftp.service \
	/usr/lib/systemd/system/rtftp-standalone.service \
	/usr/lib/sysusers.d/rtftp.conf /usr/lib/tmpfiles.d/rtftp.conf \
	/etc/sysconfig/rtftp /etc/apparmor.d/usr.sbin.rtftp; do
	grep -qx "$f" "$work/files" || die "rpm -qpl: $f missing"
done
grep -q '^/usr/share/man/man8/rtftp\.8' "$work/files" || die "rpm -qpl: rtftp.8 missing"
grep -q '^/usr/share/man/man5/rtftp\.nbd\.5' "$work/files" || die "rpm -qpl: rtftp.nbd.5 missing"
! grep -q '^/etc/default/' "$work/files" || die "rpm ships /etc/default (Debian's place)"
log "rpm -qpl: all $(wc -l < "$work/files") paths as expected"

"$(dirname "$0")/rpm_scriptlets.sh" "$rpmfile"

rpm -qp --configfiles "$rpmfile" > "$work/config"
grep -qx /etc/sysconfig/rtftp "$work/config" || die "/etc/sysconfig/rtftp is not %config"

rpm -qpR "$rpmfile" > "$work/requires"
sed 's/^/  /' "$work/requires" >&2
for r in libguestfs supermin qemu-img kernel-core; do
	grep -q "^$r\$" "$work/requires" || die "rpm -qpR: $r missing"
done
if [ "$(uname -m)" = x86_64 ]; then
	grep -q 'qemu-system-x86-core' "$work/requires" || die "rpm -qpR: no qemu for x86_64"
fi
# sonames found by rpm's ELF dependency generator in the three binaries
for so in libseccomp.so libcap-ng.so libsystemd.so libguestfs.so libnbd.so libcjson.so; do
	grep -q "^$so" "$work/requires" || die "rpm -qpR: no $so dependency"
done
log "rpm -qpR: $(wc -l < "$work/requires") requirements, sonames and the appliance's needs present"

mkdir "$work/x"
(cd "$work/x" && rpm2cpio "$rpmfile" | cpio -idm --quiet)
grep -q '^EnvironmentFile=-/etc/sysconfig/rtftp$' "$work/x/usr/lib/systemd/system/rtftp.service" ||
	die "rtftp.service in the RPM does not read /etc/sysconfig/rtftp"
grep -q '^ExecStart=/usr/sbin/rtftp ' "$work/x/usr/lib/systemd/system/rtftp.service" ||
	die "rtftp.service in the RPM: wrong ExecStart"
grep -q '^profile rtftp /usr/sbin/rtftp ' "$work/x/etc/apparmor.d/usr.sbin.rtftp" ||
	die "AppArmor profile in the RPM does not attach to /usr/sbin/rtftp"
log "PASS"
