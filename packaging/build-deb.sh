#!/bin/sh
# Build the Debian package of rtftp: packaging/build-deb.sh [OUTDIR]
#
# The source tree is the repository root and the debian/ folder lives in
# packaging/debian, so this copies the tree (without .git and build folders)
# to a temporary folder, puts packaging/debian at ./debian there and runs
# `dpkg-buildpackage -b -us -uc`. The .deb, .buildinfo and .changes land in
# OUTDIR (default: ./build-dist). Build dependencies: see packaging/debian/control
# (`apt-get build-dep` does not apply here; scripts/deps.sh installs them).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
cmake_version=$(sed -n 's/^project(rtftp VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
if [ "${version%%-*}" != "$cmake_version" ]; then
	echo "build-deb: debian/changelog says $version, CMakeLists.txt says $cmake_version" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rtftp-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
tree="$work/rtftp-$version"
mkdir "$tree"
# Copy the tree: everything but version control, build folders and old packages.
(cd "$src" && tar -cf - --exclude=./.git --exclude='./build*' --exclude=./dist \
	--exclude=./fuzz/corpus-run --exclude=./debian .) | tar -C "$tree" -xf -
cp -a "$src/packaging/debian" "$tree/debian"

(cd "$tree" && dpkg-buildpackage -b -us -uc -j"$(nproc)")

for f in "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes; do
	[ -e "$f" ] && cp "$f" "$out/"
done
ls -1 "$out"/rtftp_"$version"_*.deb
