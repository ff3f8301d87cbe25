# Shared by the packaging tests. Sourced, not run.
# Every wait is bounded; every missing tool is installed, never skipped.

log() { printf '%s: %s\n' "${TEST_NAME:-packaging}" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# need_pkgs PKG...: apt-get install the Debian packages that are missing.
need_pkgs() {
	missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	log "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	timeout 600 apt-get -o DPkg::Lock::Timeout=300 update -qq ||
		die "apt-get update failed"
	# shellcheck disable=SC2086
	timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing ||
		die "cannot install$missing"
}

need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts the server as root)"
}

# free_udp_port: a UDP port on 127.0.0.1 that nothing uses right now.
free_udp_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# descendants PID: PID and every process below it, one per line.
descendants() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ parent[$1] = $2 }
		END {
			for (p in parent) {
				for (q = p; q != "" && q + 0 > 1; q = parent[q])
					if (q == root) { print p; break }
			}
		}'
}

# alive PID: the process exists and is not a zombie (kill -0 is true for zombies).
alive() {
	[ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
