#!/usr/bin/env python3
"""What apparmor_parser cannot tell about the rtftp profiles: whether they work
together under no_new_privs. Usage: apparmor_check.py PROFILE_FILE (as configured).

1. Only top-level profiles (no child profiles, no hats), each one's rules read
   from the file itself (includes are not followed).
2. Every exec transition (Px, Cx, Pix, ...) goes to a stacked label that
   contains the current profile, written in full: "-> CURRENT//&NAME", NAME a
   profile of this file. rtftp sets no_new_privs before it starts a helper,
   and under it the kernel refuses a transition to a label that does not
   contain the current one (security/apparmor/domain.c, "no new privs"). A
   target "&NAME" is refused here too: the kernel (x_to_label) stacks NAME on
   the profile that attaches to the executable's path, not on the current
   one.
3. Stacked, a helper may do only what both profiles allow: every rule of a
   stacked profile (deny rules aside) is also, verbatim, in the profile that
   stacks it.
4. Signals: the parent stops its helpers, a mounter stops its qemu (same
   label), systemd (unconfined) stops everything; each flow must be allowed by
   every profile of the sending label (send, peer = the whole receiving label)
   and every profile of the receiving label (receive, peer = the whole sending
   label).
"""
import re
import sys

text = open(sys.argv[1]).read()
errors = []


def strip_comment(line):
    # '#' starts a comment unless it starts "#include" (old syntax, not used here)
    return re.sub(r'\s*#.*$', '', line).strip()


profiles = {}   # name -> list of rules (without the trailing comma)
current = None
depth = 0
for raw in text.splitlines():
    line = strip_comment(raw)
    if not line:
        continue
    m = re.match(r'^profile\s+(\S+)(\s+\S+)?(\s+flags=\([^)]*\))?\s*\{$', line)
    if m:
        if current is not None:
            errors.append(f"profile {m.group(1)} is inside {current}: child profiles cannot be "
                          "entered under no_new_privs; make it a top-level profile and stack it")
        current = m.group(1)
        profiles[current] = []
        depth += 1
        continue
    if line.startswith('^'):
        errors.append(f"hat {line} in {current}: not usable under no_new_privs")
    if line == '}':
        depth -= 1
        current = None
        continue
    if current is not None:
        profiles[current].append(line.rstrip(','))

if not profiles:
    sys.exit("apparmor_check: no profile found in " + sys.argv[1])

def label(*names):
    # the kernel orders the profiles of a stacked label by name
    return '//&'.join(sorted(names))


# 2. exec transitions
stacks = []    # (parent, helper)
for name, rules in profiles.items():
    for r in rules:
        if re.search(r'\s[pPcC][iu]?x(\s|$)', r):
            m = re.search(r'->\s*(\S+)$', r)
            target = m.group(1) if m else None
            if target and target.startswith('&'):
                errors.append(f"{name}: '{r}': '-> &NAME' stacks NAME on the profile attached "
                              f"to the executable's path, not on {name}; write "
                              f"'-> {name}//{target}'")
                continue
            parts = target.split('//&') if target else []
            if len(parts) < 2 or name not in parts:
                errors.append(f"{name}: '{r}' is a transition to a label without {name}, "
                              f"refused under no_new_privs; stack: '-> {name}//&NAME'")
                continue
            others = [p for p in parts if p != name]
            missing = [p for p in others if p not in profiles]
            if missing:
                errors.append(f"{name}: '{r}' stacks {', '.join(missing)}, not defined in this file")
                continue
            if target != label(*parts):
                errors.append(f"{name}: '{r}': the kernel names this label {label(*parts)}; "
                              "write it so, as the signal peers must")
            for h in others:
                stacks.append((name, h))


# 3. a stacked profile's rules are all in the stacking profile
for parent, helper in stacks:
    have = set(profiles[parent])
    for r in profiles[helper]:
        if r.startswith(('include', 'deny ')):
            continue
        if r not in have:
            errors.append(f"{helper} is stacked on {parent}, but {parent} lacks '{r},': "
                          f"the helper would be refused it")

# 4. signals
def signal_rules(name):
    out = []
    for r in profiles[name]:
        m = re.match(r'^signal(\s+\(([^)]*)\))?(\s+set=\([^)]*\))?\s+peer=(\S+)$', r)
        if m:
            perms = m.group(2)
            perms = {p.strip() for p in perms.split(',')} if perms else {'send', 'receive'}
            out.append((perms, m.group(4)))
        elif r.startswith('signal'):
            errors.append(f"{name}: cannot read the signal rule '{r}'")
    return out


def allows(name, perm, peer):
    return any(perm in perms and p == peer for perms, p in signal_rules(name))


flows = []
parent_names = {p for p, _ in stacks}
running = [label(p) for p in parent_names] + [label(p, h) for p, h in stacks]
for p, h in stacks:
    flows.append(((p,), (p, h)))                # the parent stops its helpers
    if any(re.search(r'\six(\s|$)', r) for r in profiles[h]):
        flows.append(((p, h), (p, h)))          # the helper stops what it started (qemu)
for lab in running:
    flows.append((None, tuple(lab.split('//&'))))   # systemd, root: unconfined

for sender, target in flows:
    tl = label(*target)
    sl = label(*sender) if sender else 'unconfined'
    for s in sender or ():
        if not allows(s, 'send', tl):
            errors.append(f"signal {sl} -> {tl}: {s} has no 'signal (send) peer={tl},'")
    for t in target:
        if not allows(t, 'receive', sl):
            errors.append(f"signal {sl} -> {tl}: {t} has no 'signal (receive) peer={sl},'")

# every peer named in a signal rule is a label that can exist
for name in profiles:
    for _, peer in signal_rules(name):
        if peer != 'unconfined' and peer not in running:
            errors.append(f"{name}: signal peer={peer} is no label these profiles make "
                          f"(they make {', '.join(running)})")

if errors:
    print('\n'.join('apparmor_check: ' + e for e in errors), file=sys.stderr)
    sys.exit(1)
print(f"apparmor_check: {len(profiles)} top-level profiles; stacks "
      f"{', '.join(label(p, h) for p, h in stacks)}; helpers' rules all in their parent's; "
      f"{len(flows)} signal flows allowed on both sides")
