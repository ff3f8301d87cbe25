#!/bin/sh
# packaging.deb: the Debian package, end to end, on this machine.
#  1. packaging/build-deb.sh builds rtftp_*.deb;
#  1b. deb_maintscripts.sh: the units on install, upgrade and remove;
#  2. lintian: no error (warnings are printed);
#  3. apt-get install ./rtftp_*.deb (rtftp user, kvm membership, /var/cache/rtftp);
#  4. systemd-analyze verify on the installed units, and the offline security
#     score of rtftp.service (printed, and must stay at or below 2.0);
#  5. the installed /usr/sbin/rtftp started the way rtftp.socket + rtftp.service
#     start it: systemd-socket-activate binds the UDP socket as root and passes
#     it (LISTEN_FDS), setpriv then does what User=rtftp,
#     CapabilityBoundingSet= and NoNewPrivileges= do, and the arguments come
#     from /etc/default/rtftp exactly as in ExecStart; the unit's
#     SystemCallFilter= is loaded too (seccomp_fence, see syscallfilter.sh);
#     READY=1 must arrive on a NOTIFY_SOCKET (Type=notify);
#  6. curl fetches a file from /srv/tftp/default;
#  7. /proc: no process of the tree runs as root (any uid or gid), and every
#     capability set (CapInh CapPrm CapEff CapBnd CapAmb) is empty;
#  8. SIGTERM stops it within 2 s, exit status 0;
#  8b. the standalone way (rtftp-standalone.service): started as root with the
#     unit's bounding set and filter, --user rtftp --listen 127.0.0.1:PORT;
#     fetch, /proc check, stop again;
#  9. apt-get purge: every file of `dpkg -L rtftp` is gone, and so are
#     /etc/default/rtftp, /var/cache/rtftp, the AppArmor local include, the
#     unit symlinks and the /srv/tftp folders the package made. The rtftp user
#     stays, as Debian policy wants (documented in docs/operations.md).
# Usage: deb.sh SOURCE_DIR WORK_DIR RTFTP_BIN_DIR
set -eu
TEST_NAME=packaging.deb
. "$(dirname "$0")/lib.sh"
src=$1 work=$2 bindir=$3
[ -x "$bindir/seccomp_fence" ] || die "$bindir/seccomp_fence not built"

need_root
need_pkgs debhelper dh-apparmor devscripts dpkg-dev lintian fakeroot cmake pkg-config \
	libseccomp-dev libcap-ng-dev libsystemd-dev libcjson-dev libnbd-dev libguestfs-dev \
	systemd apparmor curl util-linux procps python3

rm -rf "$work"
mkdir -p "$work/out"
pid=

cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
	rm -f "/srv/tftp/default/$probe_name"
	rm -rf "$notify_dir"
}
probe_name=rtftp-pkgtest-$$.bin
notify_dir=$(mktemp -d)
trap cleanup EXIT

# 1. build
log "building the .deb (log: $work/build-deb.log)"
if ! timeout 1500 "$src/packaging/build-deb.sh" "$work/out" > "$work/build-deb.log" 2>&1; then
	tail -40 "$work/build-deb.log" >&2
	die "build-deb.sh failed"
fi
deb=$(ls "$work"/out/rtftp_*_"$(dpkg --print-architecture)".deb)
log "built $(basename "$deb")"
dpkg-deb -f "$deb" Depends >&2
# the appliance's kernel: Debian's (linux-image-ARCH) or Ubuntu's (linux-image-generic)
arch=$(dpkg --print-architecture)
case $arch in amd64|arm64)
	for k in "linux-image-$arch" linux-image-generic linux-image-virtual; do
		dpkg-deb -f "$deb" Depends | tr ',|' '\n\n' | sed 's/^ *//; s/ .*//' | grep -qx "$k" ||
			die "Depends: no $k alternative for the appliance's kernel"
	done ;;
esac

# 1b. the maintainer scripts' handling of the units (fresh install, upgrade, remove)
"$(dirname "$0")/deb_maintscripts.sh" "$deb"

# 2. lintian on the .changes (rtftp and rtftp-dbgsym): errors fail, the rest is shown
changes=$(ls "$work"/out/rtftp_*_"$(dpkg --print-architecture)".changes)
lintian_out=$(timeout 600 lintian --fail-on error --display-level '>=info' "$changes" 2>&1) || {
	printf '%s\n' "$lintian_out" >&2
	die "lintian reports errors"
}
printf '%s\n' "$lintian_out" | grep -v 'running with root privileges' >&2 || true
log "lintian: no error"

# 3. install (a previous install is purged first: same version would not reinstall)
if dpkg-query -W -f='${Status}' rtftp 2>/dev/null | grep -q 'ok installed\|config-files'; then
	log "purging a previously installed rtftp"
	timeout 300 apt-get -o DPkg::Lock::Timeout=300 purge -y -qq rtftp >&2
fi
srv_before=; [ -e /srv/tftp ] && srv_before=1
default_before=; [ -e /srv/tftp/default ] && default_before=1
export DEBIAN_FRONTEND=noninteractive
timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$deb" > "$work/install.log" 2>&1 || {
	cat "$work/install.log" >&2
	die "apt-get install $deb failed"
}
getent passwd rtftp >/dev/null || die "no rtftp user after install"
id -nG rtftp | tr ' ' '\n' | grep -qx kvm || die "rtftp is not in the kvm group"
[ "$(stat -c %U:%a /var/cache/rtftp)" = rtftp:750 ] || die "/var/cache/rtftp: $(stat -c %U:%a /var/cache/rtftp)"
[ -d /srv/tftp/default ] || die "/srv/tftp/default not made"
[ -x /usr/sbin/rtftp ] && [ -x /usr/libexec/rtftp/rtftp-worker ] && [ -x /usr/libexec/rtftp/rtftp-mounter ] ||
	die "binaries missing: $(dpkg -L rtftp | grep -E 'sbin|libexec')"
log "installed: user $(id rtftp)"

# 4. units
units="/lib/systemd/system/rtftp.socket /lib/systemd/system/rtftp.service /lib/systemd/system/rtftp-standalone.service"
# shellcheck disable=SC2086
out=$(cd / && timeout 120 systemd-analyze verify $units 2>&1) || die "systemd-analyze verify: $out"
[ -z "$out" ] || die "systemd-analyze verify printed: $out"
log "systemd-analyze verify: clean"
score=$(cd / && timeout 120 systemd-analyze security --offline=yes /lib/systemd/system/rtftp.service 2>&1 |
	sed -n 's/.*Overall exposure level for rtftp.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || die "no score from systemd-analyze security --offline=yes"
log "systemd-analyze security --offline=yes rtftp.service: $score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || die "exposure $score is above 2.0"
grep -q '^CapabilityBoundingSet=$' /lib/systemd/system/rtftp.service || die "rtftp.service keeps capabilities"
grep -q '^User=rtftp$' /lib/systemd/system/rtftp.service || die "rtftp.service: no User=rtftp"

# 5. start it as the socket unit would
head -c 100000 /dev/urandom > "/srv/tftp/default/$probe_name"
chmod 0644 "/srv/tftp/default/$probe_name"
port=$(free_udp_port)
# ExecStart=/usr/sbin/rtftp $RTFTP_OPTIONS ${RTFTP_ROOT}, Environment=RTFTP_ROOT=/srv/tftp
RTFTP_ROOT=/srv/tftp
RTFTP_OPTIONS=
# shellcheck disable=SC1091
. /etc/default/rtftp
chmod 0755 "$notify_dir"
install -m 0755 "$bindir/seccomp_fence" "$notify_dir/seccomp_fence"
python3 "$(dirname "$0")/fence_list.py" /lib/systemd/system/rtftp.service > "$notify_dir/allowed"
python3 "$(dirname "$0")/fence_list.py" /lib/systemd/system/rtftp-standalone.service > "$notify_dir/allowed.standalone"
chmod 0644 "$notify_dir/allowed" "$notify_dir/allowed.standalone"
python3 - "$notify_dir/notify" > "$work/notify.log" 2>&1 <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777)
s.settimeout(60)
while True:
    m = s.recv(4096).decode(errors="replace")
    print(m.replace("\n", " "), flush=True)
    if "READY=1" in m:
        break
PY
notify_pid=$!
for _ in $(seq 50); do [ -S "$notify_dir/notify" ] && break; sleep 0.1; done
# shellcheck disable=SC2086
systemd-socket-activate --datagram -l "127.0.0.1:$port" -E "NOTIFY_SOCKET=$notify_dir/notify" \
	setpriv --reuid=rtftp --regid=rtftp --init-groups --inh-caps=-all --bounding-set=-all \
	        --no-new-privs \
	"$notify_dir/seccomp_fence" "$notify_dir/allowed" -- \
	/usr/sbin/rtftp $RTFTP_OPTIONS "$RTFTP_ROOT" > "$work/rtftp.log" 2>&1 &
pid=$!
log "listening on 127.0.0.1:$port; the first datagram execs /usr/sbin/rtftp $RTFTP_OPTIONS $RTFTP_ROOT (pid $pid)"

# 6. fetch: curl's RRQ wakes systemd-socket-activate, which execs rtftp in
# place (same pid, LISTEN_PID matches); rtftp then reads that RRQ.
timeout 30 curl -sS --max-time 20 -o "$work/fetched" "tftp://127.0.0.1:$port/$probe_name" ||
	{ cat "$work/rtftp.log" >&2; die "curl could not fetch $probe_name"; }
cmp "$work/fetched" "/srv/tftp/default/$probe_name" || die "fetched bytes differ"
log "curl fetched $probe_name ($(stat -c %s "$work/fetched") bytes), identical"
[ "$(readlink "/proc/$pid/exe")" = /usr/sbin/rtftp ] || die "pid $pid is $(readlink "/proc/$pid/exe"), not /usr/sbin/rtftp"
ready=
for _ in $(seq 50); do
	grep -q 'READY=1' "$work/notify.log" 2>/dev/null && { ready=1; break; }
	sleep 0.1
done
[ -n "$ready" ] || { cat "$work/rtftp.log" >&2; die "no READY=1 on NOTIFY_SOCKET (Type=notify)"; }
log "sd_notify: $(tr '\n' ' ' < "$work/notify.log")"
wait "$notify_pid" 2>/dev/null || true

# 7. privileges of every process of the tree
procs=$(descendants "$pid")
n=0
for p in $procs; do
	st=/proc/$p/status
	[ -r "$st" ] || continue
	n=$((n + 1))
	name=$(awk '/^Name:/ { print $2 }' "$st")
	uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")
	gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st")
	for u in $uids $gids; do
		[ "$u" != 0 ] || die "process $p ($name) runs as root: Uid $uids Gid $gids"
	done
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		v=$(awk -v k="$c:" '$1 == k { print $2 }' "$st")
		[ "$v" = 0000000000000000 ] || die "process $p ($name) has $c $v"
	done
	log "pid $p $name: uid $uids, gid $gids, groups $(awk '/^Groups:/ { $1 = ""; print }' "$st"), no capabilities"
done
[ "$n" -ge 2 ] || die "expected the parent and its worker, found $n process(es): $procs"

# 8. stop
kill -TERM "$pid"
t0=$(date +%s%N)
stopped=
for _ in $(seq 40); do
	alive "$pid" || { stopped=1; break; }
	sleep 0.05
done
[ -n "$stopped" ] || die "still running 2 s after SIGTERM"
rc=0; wait "$pid" || rc=$?
pid=
for p in $procs; do
	case $(readlink "/proc/$p/exe" 2>/dev/null) in
	*rtftp*|*qemu*) die "process $p ($(readlink "/proc/$p/exe")) left after the parent stopped" ;;
	esac
done
log "stopped $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGTERM, exit status $rc"
[ "$rc" = 0 ] || { cat "$work/rtftp.log" >&2; die "exit status $rc after SIGTERM, expected 0"; }

# 8b. the standalone way (rtftp-standalone.service): started as root with only
# the unit's bounding set, it binds by itself and drops to --user rtftp.
port=$(free_udp_port)
# shellcheck disable=SC2086
setpriv --bounding-set=-all,+net_bind_service,+setuid,+setgid,+setpcap --inh-caps=-all \
	--no-new-privs \
	"$notify_dir/seccomp_fence" "$notify_dir/allowed.standalone" -- \
	/usr/sbin/rtftp --user rtftp --listen "127.0.0.1:$port" $RTFTP_OPTIONS "$RTFTP_ROOT" \
	> "$work/rtftp-standalone.log" 2>&1 &
pid=$!
timeout 30 curl -sS --max-time 20 --retry 3 --retry-delay 1 -o "$work/fetched2" \
	"tftp://127.0.0.1:$port/$probe_name" ||
	{ cat "$work/rtftp-standalone.log" >&2; die "standalone: curl could not fetch $probe_name"; }
cmp "$work/fetched2" "/srv/tftp/default/$probe_name" || die "standalone: fetched bytes differ"
procs=$(descendants "$pid")
for p in $procs; do
	st=/proc/$p/status
	[ -r "$st" ] || continue
	for u in $(awk '/^Uid:|^Gid:/ { print $2, $3, $4, $5 }' "$st"); do
		[ "$u" != 0 ] || die "standalone: process $p runs as root"
	done
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		v=$(awk -v k="$c:" '$1 == k { print $2 }' "$st")
		[ "$v" = 0000000000000000 ] || die "standalone: process $p has $c $v"
	done
done
kill -TERM "$pid"
for _ in $(seq 40); do alive "$pid" || break; sleep 0.05; done
! alive "$pid" || die "standalone: still running 2 s after SIGTERM"
rc=0; wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || { cat "$work/rtftp-standalone.log" >&2; die "standalone: exit status $rc"; }
log "standalone: root start, --user rtftp, fetched, $(echo $procs | wc -w) processes without root or capabilities, stopped"

# 9. purge
rm -f "/srv/tftp/default/$probe_name"
dpkg -L rtftp > "$work/dpkg-L"
timeout 300 apt-get -o DPkg::Lock::Timeout=300 purge -y -qq rtftp > "$work/purge.log" 2>&1 || {
	cat "$work/purge.log" >&2
	die "apt-get purge rtftp failed"
}
while read -r f; do
	[ "$f" = /. ] && continue
	if [ -d "$f" ]; then
		# a folder may stay when another package (or the base system) owns it
		dpkg -S "$f" >/dev/null 2>&1 && continue
		case $f in /lib64|/bin|/sbin|/etc|/etc/default|/etc/apparmor.d|/lib|/lib/systemd|/lib/systemd/system|/usr|/usr/*bin|/usr/lib|/usr/libexec|/usr/share|/usr/share/doc|/usr/share/man|/usr/share/man/man?|/usr/lib/sysusers.d|/usr/lib/tmpfiles.d) continue ;; esac
		die "folder left after purge: $f"
	fi
	[ ! -e "$f" ] && [ ! -L "$f" ] || die "file left after purge: $f"
done < "$work/dpkg-L"
for f in /etc/default/rtftp /var/cache/rtftp /var/lib/rtftp /etc/apparmor.d/local/usr.sbin.rtftp \
	/etc/systemd/system/sockets.target.wants/rtftp.socket; do
	[ ! -e "$f" ] || die "left after purge: $f"
done
left=$(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled -name '*rtftp*' 2>/dev/null || true)
[ -z "$left" ] || die "unit state left after purge: $left"
[ -n "$default_before" ] || [ ! -e /srv/tftp/default ] || die "/srv/tftp/default (made by the package) left after purge"
[ -n "$srv_before" ] || [ ! -e /srv/tftp ] || die "/srv/tftp (made by the package) left after purge"
[ -z "$srv_before" ] || [ -d /srv/tftp ] || die "/srv/tftp existed before install and is gone"
log "purged: nothing left ($(wc -l < "$work/dpkg-L") paths checked); user rtftp kept: $(getent passwd rtftp)"
log "PASS"
