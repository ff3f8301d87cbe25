#!/usr/bin/env python3
"""rtftp(8) against `rtftp --help`: the defaults the help states are the ones
the man page states. Usage: man_defaults.py RENDERED_MAN_PAGE HELP_TEXT

The man page is read rendered (man -l, col -b): an option's entry starts with
a line indented 7 columns that begins with "-", its text is what follows.
For each option whose help line says "(default ...)" or "(... default ...)":
  - every number, path and address in the help's default must appear in the
    man entry (paths below /usr/local are compared as /usr: the help shows the
    build's prefix, the man page the packaged one);
  - when the man entry says "Default: N." with N a bare number, the help's
    default must be that same number (not a formula such as "half the RAM").
"""
import re
import sys

man = open(sys.argv[1]).read().splitlines()
helptext = open(sys.argv[2]).read().splitlines()

# help: option -> its line(s); continuation lines (deeper indent, no "-") join the previous
help_opts = {}
last = None
for line in helptext:
    m = re.match(r'^\s+(?:-\w,\s+)?(--[\w-]+)\b(.*)$', line)
    if m:
        last = m.group(1)
        help_opts[last] = m.group(2)
    elif last and re.match(r'^\s{20,}\S', line):
        help_opts[last] += ' ' + line.strip()
    else:
        last = None

# man: option -> entry text
entries = {}
cur = []
for line in man:
    m = re.match(r'^ {7}(-\S.*)$', line)
    if m:
        cur = re.findall(r'--[\w-]+', m.group(1))
        for o in cur:
            entries[o] = ''
        continue
    if re.match(r'^\S', line):   # a section heading ends the entry
        cur = []
        continue
    for o in cur:
        entries[o] += ' ' + line.strip()
entries = {o: re.sub(r'\s+', ' ', t.replace('\u2010', '-')) for o, t in entries.items()}

errors = []
checked = 0
for opt, text in sorted(help_opts.items()):
    m = re.search(r'\(([^()]*\bdefault\b[^()]*)\)', text)
    if not m:
        continue
    d = re.sub(r'^.*?\bdefault:?\s*', '', m.group(1))
    if opt not in entries:
        errors.append(f"{opt}: in --help with a default ({d}) but not in the man page")
        continue
    body = entries[opt]
    checked += 1
    for tok in re.findall(r'\[::\]:\d+|/[\w/.-]*\w|\b\d+\b', d):
        want = re.sub(r'^/usr/local/', '/usr/', tok)
        if want not in body:
            errors.append(f"{opt}: --help says default '{d}', the man page never says '{want}': {body!r}")
    mm = re.search(r'Default: (\d+)\.', body)
    if mm and not re.fullmatch(r'\d+', d.strip()):
        errors.append(f"{opt}: man page says 'Default: {mm.group(1)}.', --help says '{d}'")
    elif mm and mm.group(1) != d.strip():
        errors.append(f"{opt}: man page says 'Default: {mm.group(1)}.', --help says {d}")

if checked < 10:
    errors.append(f"only {checked} options with a default found in --help: is the parsing broken?")
if errors:
    print('\n'.join('man_defaults: ' + e for e in errors), file=sys.stderr)
    sys.exit(1)
print(f"man_defaults: the defaults of {checked} options agree between rtftp(8) and --help")
