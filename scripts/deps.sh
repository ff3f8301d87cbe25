#!/usr/bin/env bash
# Install everything rtftp needs to build, test, benchmark and package, on Debian 12.
# Idempotent: packages already present are left alone.
set -euo pipefail

pkgs=(
  # build
  build-essential cmake pkg-config clang libclang-rt-dev
  libseccomp-dev libcap-ng-dev libsystemd-dev libcjson-dev libnbd-dev libguestfs-dev
  # run: the libguestfs appliance and its hypervisor
  libguestfs-tools qemu-system-x86 supermin linux-image-amd64
  # tests: stock TFTP clients, NBD server and tools, disk image tools
  python3 curl tftp-hpa atftp busybox nbdkit libnbd-bin qemu-utils mtools dosfstools e2fsprogs fdisk
  iproute2 procps util-linux passwd debootstrap
  # (the benchmark peers, tftpd-hpa and dnsmasq-base, are installed by bench/run.sh when it
  # runs: tftpd-hpa's package starts a TFTP server on port 69 and enables it at boot)
  # packaging
  debhelper dh-apparmor devscripts dpkg-dev lintian fakeroot rpm systemd apparmor man-db groff-base
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The appliance kernel must be readable by the unprivileged users that launch it.
chmod 0644 /boot/vmlinuz-* 2>/dev/null || true
echo "deps: all present"
