#!/bin/sh
# packaging.deb_fresh: the .deb on a machine that has nothing else installed.
# packaging.deb installs the package here, where the build already brought in
# every library and tool, so a Depends: that this machine happens to satisfy
# passes there unseen. This test:
#  1. makes a minimal Debian of this machine's release (debootstrap
#     --variant=minbase) with this machine's apt sources;
#  2. installs the .deb that packaging.deb built, with apt-get install
#     --no-install-recommends, as an operator with a strict apt would;
#  3. starts the installed /usr/sbin/rtftp as rtftp-standalone.service does
#     (as root, --user rtftp) inside that system, and fetches with curl:
#     a file from default/, and a file from a remote disk (an image from
#     tests/mounter/mkdisk.sh served by nbdkit from this machine over a unix
#     socket, mounted by the installed rtftp-mounter through the libguestfs
#     appliance that the package's dependencies must bring, force_tcg);
#     both must be byte-identical.
# The chroot's mounts live in a private mount namespace, so they go with it.
# Usage: deb_fresh.sh SOURCE_DIR WORK_DIR DEB_DIR
set -eu
TEST_NAME=packaging.deb_fresh
. "$(dirname "$0")/lib.sh"
src=$1 work=$2 debdir=$3

need_root
need_pkgs debootstrap util-linux nbdkit fdisk mtools dosfstools e2fsprogs
deb=$(ls "$debdir"/rtftp_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || die "no .deb in $debdir (packaging.deb builds it)"

root=$work/root
nbd=/var/tmp/pkgtest/nbd              # as the chroot sees it
cleanup() {
	bash "$src/tests/mounter/nbdkit.sh" stop "$root$nbd" 2>/dev/null || true
	# Anything still running inside the chroot (there should be nothing) is killed.
	for p in /proc/[0-9]*; do
		case $(readlink "$p/root" 2>/dev/null) in "$root"|"$root"/*)
			log "left running inside the chroot: $(tr '\0' ' ' < "$p/cmdline")"
			kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
		esac
	done
}
trap cleanup EXIT
# Every mount of this test lives in a private namespace; never delete through a mount.
! findmnt -rn -o TARGET | grep -q "^$work/" || die "something is mounted below $work"
rm -rf "$work"
mkdir -p "$work"

# 1. a minimal system of this machine's release, from the mirror this machine uses
. /etc/os-release
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	grep -v security | head -n 1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
[ -n "$mirror" ] || die "no Debian mirror in this machine's apt sources"
log "debootstrap --variant=minbase $VERSION_CODENAME from $mirror"
timeout 900 unshare --mount --propagation private debootstrap --variant=minbase "$VERSION_CODENAME" "$root" "$mirror" \
	> "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
rm -f "$root/etc/apt/sources.list"
cp -a /etc/apt/sources.list /etc/apt/sources.list.d "$root/etc/apt/" 2>/dev/null || true
cp /etc/resolv.conf /etc/hosts "$root/etc/"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"   # start no service in there
chmod 0755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/tmp/pkg"
cp "$deb" "$root/tmp/pkg/"

# The disk and its NBD server come from this machine: only rtftp is under test in there.
bash "$src/tests/mounter/mkdisk.sh" "$root/var/tmp/pkgtest/disk" 8 > /dev/null
mkdir -p "$root$nbd"
bash "$src/tests/mounter/nbdkit.sh" unix "$root$nbd" "$root/var/tmp/pkgtest/disk/disk.img"

cat > "$root/tmp/inside.sh" <<'EOF'
#!/bin/sh
set -eu
say() { echo "inside: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
export DEBIAN_FRONTEND=noninteractive
timeout 600 apt-get update -qq || fail "apt-get update"
timeout 900 apt-get install -y -qq --no-install-recommends /tmp/pkg/rtftp_*.deb > /tmp/install.log 2>&1 ||
	{ tail -30 /tmp/install.log >&2; fail "apt-get install --no-install-recommends rtftp"; }
say "installed: $(dpkg-query -W -f='${Package} ${Version}' rtftp), $(dpkg -l | grep -c '^ii') packages in all"
/usr/sbin/rtftp --version | grep -q '^rtftp ' || fail "rtftp --version"
getent passwd rtftp > /dev/null || fail "no rtftp user"
# the client used for fetching only, after rtftp's dependencies are settled
timeout 600 apt-get install -y -qq --no-install-recommends curl > /dev/null 2>&1 || fail "install curl"

t=/var/tmp/pkgtest
mkdir -p $t/root/default
head -c 70000 /dev/urandom > $t/root/default/local.bin
cat > $t/root/127.0.0.1.nbd <<JSON
{ "url": "nbd+unix:///?socket=$t/nbd/nbd.sock",
  "mounts": [ { "partition": 2, "mountpoint": "/" }, { "partition": 1, "mountpoint": "/boot" } ],
  "tftp_root": "/boot" }
JSON
chmod -R a+rX $t
/usr/sbin/rtftp --user rtftp --listen 127.0.0.1:$PORT --guestfs-backend-settings force_tcg \
	$t/root > /tmp/rtftp.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; sleep 2; cat /tmp/rtftp.log >&2' EXIT
# The first request waits for the appliance (15-25 s without KVM): curl asks again until then.
timeout 240 curl -s --retry 60 --retry-delay 3 --retry-all-errors \
	"tftp://127.0.0.1:$PORT/vmlinuz" -o /tmp/vmlinuz || fail "fetch vmlinuz from the remote disk"
cmp /tmp/vmlinuz $t/disk/files/vmlinuz || fail "vmlinuz from the remote disk differs"
say "vmlinuz from the remote disk: identical ($(stat -c %s /tmp/vmlinuz) bytes)"
timeout 60 curl -s "tftp://127.0.0.1:$PORT/local.bin" -o /tmp/local.bin || fail "fetch local.bin"
cmp /tmp/local.bin $t/root/default/local.bin || fail "local.bin from default/ differs"
say "local.bin from default/: identical"
grep -q 'mounter 127.0.0.1 ready' /tmp/rtftp.log || fail "no 'mounter 127.0.0.1 ready' line"
kill $pid
for _ in $(seq 40); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "rtftp still running 4 s after SIGTERM"
wait $pid || fail "rtftp exited with status $?"
trap - EXIT
say "stopped"
EOF
chmod 0755 "$root/tmp/inside.sh"

port=$(free_udp_port)
log "installing the .deb in the fresh system and serving from it (port $port)"
# / must be a mount point inside the chroot (as on a real machine); every mount is
# private to this namespace.
timeout 1500 unshare --mount --propagation private sh -c '
	set -e
	r=$1
	mount --bind "$r" "$r"
	mount --rbind /dev "$r/dev"
	mount --rbind /sys "$r/sys"
	mount -t proc proc "$r/proc"
	mount -t tmpfs tmpfs "$r/run"
	exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		PORT="$2" /bin/sh /tmp/inside.sh' sh "$root" "$port" \
	|| die "the package did not install or serve on a fresh system (see above)"
log "ok: installed with --no-install-recommends on a fresh $PRETTY_NAME and served local and remote files"
cleanup
trap - EXIT
rm -rf "$root"
