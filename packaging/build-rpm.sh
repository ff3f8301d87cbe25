#!/bin/sh
# Build the RPM of rtftp: packaging/build-rpm.sh [OUTDIR]
#
# Makes Source0 (rtftp-VERSION.tar.gz) from the tree, runs `rpmbuild -bb` on
# packaging/rpm/rtftp.spec in a temporary _topdir and copies the .rpm files to
# OUTDIR (default: ./build-dist).
#
# On an RPM-based system (Fedora, RHEL) the BuildRequires are checked as
# usual. On Debian the rpm database is empty, so the Fedora names in
# BuildRequires (libseccomp-devel, ...) cannot be satisfied by it: the build
# then runs with --nodeps, against the Debian -dev packages scripts/deps.sh
# installs, and says so. Set RTFTP_RPM_NODEPS=0 or 1 to force either way.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(sed -n 's/^project(rtftp VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || { echo "build-rpm: no version in CMakeLists.txt" >&2; exit 1; }

nodeps=${RTFTP_RPM_NODEPS:-}
if [ -z "$nodeps" ]; then
	if [ -f /etc/debian_version ] || ! rpm -q --quiet rpm 2>/dev/null; then
		nodeps=1
	else
		nodeps=0
	fi
fi

top=$(mktemp -d "${TMPDIR:-/tmp}/rtftp-rpm.XXXXXX")
trap 'rm -rf "$top"' EXIT INT TERM
mkdir -p "$top/BUILD" "$top/RPMS" "$top/SOURCES" "$top/SPECS" "$top/SRPMS"
(cd "$src" && tar -czf "$top/SOURCES/rtftp-$version.tar.gz" \
	--exclude=./.git --exclude='./build*' --exclude=./dist \
	--exclude=./fuzz/corpus-run --exclude=./debian \
	--transform "s,^\.,rtftp-$version," .)
cp "$src/packaging/sysusers.d/rtftp.conf" "$top/SOURCES/rtftp.sysusers"

set -- -bb --define "_topdir $top" --define "rtftp_version $version"
if [ "$nodeps" = 1 ]; then
	echo "build-rpm: not an RPM-based system: building with --nodeps" \
	     "(BuildRequires use Fedora/RHEL names; the Debian -dev packages stand in)" >&2
	set -- "$@" --nodeps
fi
rpmbuild "$@" "$src/packaging/rpm/rtftp.spec"

find "$top/RPMS" -name '*.rpm' -exec cp {} "$out/" \;
ls -1 "$out"/rtftp-"$version"-*.rpm
