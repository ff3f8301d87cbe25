#!/usr/bin/env python3
"""fence_list.py UNIT: print the system calls that UNIT's SystemCallFilter=
lines allow, one per line, resolved the way systemd resolves them: the first
allow-list line starts from nothing, later plain lines add, "~" lines remove;
PrivateDevices=yes removes @raw-io. Groups are expanded with
`systemd-analyze syscall-filter`, recursively."""
import functools
import subprocess
import sys


@functools.lru_cache(maxsize=None)
def expand(name):
    if not name.startswith("@"):
        return frozenset([name])
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name],
                         check=True, capture_output=True, text=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        calls |= expand(item)
    return frozenset(calls)


def main(unit):
    allowed = None
    private_devices = False
    with open(unit) as f:
        for raw in f:
            line = raw.strip()
            if line.startswith("PrivateDevices="):
                private_devices = line.split("=", 1)[1] in ("yes", "true", "1", "on")
            if not line.startswith("SystemCallFilter="):
                continue
            value = line.split("=", 1)[1].strip()
            if not value:
                allowed = None
                continue
            deny = value.startswith("~")
            names = set()
            for item in value.lstrip("~").split():
                names |= expand(item)
            if deny:
                if allowed is None:
                    sys.exit("deny-list first: not an allow-list unit")
                allowed -= names
            elif allowed is None:
                allowed = set(names)
            else:
                allowed |= names
    if allowed is None:
        sys.exit(f"{unit}: no SystemCallFilter= allow-list")
    if private_devices:
        allowed -= expand("@raw-io")
    print("\n".join(sorted(allowed)))


if __name__ == "__main__":
    main(sys.argv[1])
