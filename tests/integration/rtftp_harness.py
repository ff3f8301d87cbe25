"""Test harness for rtftp integration and regression scenarios (Python 3 stdlib only).

Three pieces:

* ``Server`` makes a temporary ROOT, picks a free UDP port, starts
  ``$RTFTP_BIN_DIR/rtftp`` on 127.0.0.1 and [::1] (or other listeners), waits until it
  answers, captures its stderr log and stops it with SIGTERM (it must be gone within 2 s,
  and its log must hold no sanitizer report).
* ``Client`` is a raw-UDP TFTP client for packet-by-packet scenarios: it sends what a test
  chooses (RRQ with options, ACK, ERROR, garbage) from a chosen source address and port and
  returns parsed packets; ``fetch`` runs a whole transfer (OACK, windows, block rollover).
* helpers to run stock clients, parse the server's transfer records and compare bytes.

Every wait has a timeout. The binaries are found through the RTFTP_BIN_DIR environment
variable (ctest sets it), else ../../build/bin relative to this file.
"""

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6
OPNAMES = {RRQ: "RRQ", WRQ: "WRQ", DATA: "DATA", ACK: "ACK", ERROR: "ERROR", OACK: "OACK"}

# How long a test waits for one packet. Generous: the sanitizer build is slower.
RECV_TIMEOUT = float(os.environ.get("RTFTP_TEST_RECV_TIMEOUT", "4"))
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                     "runtime error:")


def bin_dir():
    d = os.environ.get("RTFTP_BIN_DIR")
    if not d:
        d = os.path.join(HERE, "..", "..", "build", "bin")
    return os.path.abspath(d)


def rtftp_path():
    return os.path.join(bin_dir(), "rtftp")


def is_root():
    return os.geteuid() == 0


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def pattern_bytes(size, seed=0):
    """Deterministic, non-repeating-looking content (so a misplaced block is detected)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d:%d" % (seed, counter)).digest()
        counter += 1
    return bytes(out[:size])


# ---------------------------------------------------------------------------------------
# Packets

def _z(s):
    return s if isinstance(s, bytes) else s.encode()


def build_request(opcode, name, mode="octet", options=()):
    """RRQ/WRQ. options: sequence of (name, value); bytes or str."""
    pkt = struct.pack("!H", opcode) + _z(name) + b"\0" + _z(mode) + b"\0"
    for k, v in options:
        pkt += _z(k) + b"\0" + _z(v) + b"\0"
    return pkt


def build_rrq(name, mode="octet", options=()):
    return build_request(RRQ, name, mode, options)


def build_ack(block):
    return struct.pack("!HH", ACK, block & 0xFFFF)


def build_error(code, msg=""):
    return struct.pack("!HH", ERROR, code) + _z(msg) + b"\0"


def build_data(block, payload=b""):
    return struct.pack("!HH", DATA, block & 0xFFFF) + payload


class Packet:
    """A parsed packet from the server. ``malformed`` names what is wrong, or is None."""

    def __init__(self, raw, peer):
        self.raw = raw
        self.peer = peer
        self.when = time.monotonic()
        self.opcode = None
        self.block = None
        self.data = b""
        self.code = None
        self.msg = b""
        self.options = None        # dict (lowercase name -> value) for an OACK
        self.option_pairs = None   # [(name, value)] exactly as sent
        self.malformed = None
        self._parse()

    def _parse(self):
        raw = self.raw
        if len(raw) < 2:
            self.malformed = "shorter than 2 bytes"
            return
        self.opcode = struct.unpack("!H", raw[:2])[0]
        if self.opcode in (DATA, ACK):
            if len(raw) < 4:
                self.malformed = "short DATA/ACK"
                return
            self.block = struct.unpack("!H", raw[2:4])[0]
            self.data = raw[4:]
            if self.opcode == ACK and len(raw) != 4:
                self.malformed = "ACK with trailing bytes"
        elif self.opcode == ERROR:
            if len(raw) < 5 or not raw.endswith(b"\0"):
                self.malformed = "ERROR without code or terminating NUL"
            self.code = struct.unpack("!H", raw[2:4])[0] if len(raw) >= 4 else None
            self.msg = raw[4:].rstrip(b"\0")
            if b"\0" in self.msg:
                self.malformed = "ERROR with bytes after the message NUL"
        elif self.opcode == OACK:
            body = raw[2:]
            if not body.endswith(b"\0"):
                self.malformed = "OACK not ending in NUL (trailing bytes)"
                body += b"\0"
            parts = body[:-1].split(b"\0")
            if len(parts) % 2 != 0 or body == b"\0":
                self.malformed = "OACK with an odd number of strings or empty"
                parts = parts[: len(parts) // 2 * 2]
            self.option_pairs = [(parts[i].decode("latin-1"), parts[i + 1].decode("latin-1"))
                                 for i in range(0, len(parts), 2)]
            self.options = {k.lower(): v for k, v in self.option_pairs}
            if len(self.options) != len(self.option_pairs):
                self.malformed = "OACK repeats an option"
        else:
            self.malformed = "unexpected opcode %d" % self.opcode

    @property
    def name(self):
        return OPNAMES.get(self.opcode, "op%s" % self.opcode)

    def __repr__(self):
        if self.opcode == DATA:
            return "<DATA %d len=%d from %s>" % (self.block, len(self.data), self.peer)
        if self.opcode == ERROR:
            return "<ERROR %s %r from %s>" % (self.code, self.msg, self.peer)
        if self.opcode == OACK:
            return "<OACK %r from %s>" % (self.option_pairs, self.peer)
        return "<%s %r from %s>" % (self.name, self.raw[:40], self.peer)


class TftpError(Exception):
    def __init__(self, packet):
        super().__init__("server sent ERROR %s %r" % (packet.code, packet.msg))
        self.packet = packet
        self.code = packet.code
        self.msg = packet.msg


class TransferFailed(AssertionError):
    pass


class Transfer:
    """What a completed (or interrupted) raw-client transfer saw."""

    def __init__(self):
        self.data = b""
        self.oack = None          # Packet or None
        self.tid = None           # server's (addr, port) for this transfer
        self.blocks = []          # DATA block numbers received in order of arrival
        self.duplicates = 0       # DATA packets for blocks already received
        self.stray = []           # packets from other ports than tid
        self.max_payload = 0
        self.blksize = 512
        self.windowsize = 1


# ---------------------------------------------------------------------------------------
# Raw client

class Client:
    """One UDP socket = one TFTP client port. Bind to a chosen address (127.0.0.2 ...) and
    optionally a chosen port (GRUB-style fixed source ports)."""

    def __init__(self, server, src="127.0.0.1", port=0, dst=None):
        self.server = server
        self.family = socket.AF_INET6 if ":" in src else socket.AF_INET
        self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        if port:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((src, port))
        self.src = src
        self.port = self.sock.getsockname()[1]
        if dst is None:
            dst = server.address_for(self.family)
        self.dst = dst                     # the server's listening (addr, port)
        self.received = []                 # every packet ever received, in order

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- sending
    def send_raw(self, data, to=None):
        self.sock.sendto(data, to or self.dst)

    def send_rrq(self, name, mode="octet", options=(), to=None):
        self.send_raw(build_rrq(name, mode, options), to)

    def ack(self, block, to):
        self.send_raw(build_ack(block), to)

    def error(self, code, msg, to):
        self.send_raw(build_error(code, msg), to)

    # -- receiving
    def recv(self, timeout=RECV_TIMEOUT):
        """The next packet, or None after timeout seconds."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            raw, peer = self.sock.recvfrom(70000)
        except socket.timeout:
            return None
        except ConnectionRefusedError:
            return None
        pkt = Packet(raw, peer[:2])
        self.received.append(pkt)
        return pkt

    def recv_all(self, duration):
        """Every packet that arrives within duration seconds."""
        out = []
        end = time.monotonic() + duration
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            p = self.recv(left)
            if p is not None:
                out.append(p)

    def expect(self, timeout=RECV_TIMEOUT, what="a reply"):
        p = self.recv(timeout)
        if p is None:
            raise TransferFailed("no %s from the server within %.1f s (client %s:%d)"
                                 % (what, timeout, self.src, self.port))
        return p

    def expect_error(self, name, mode="octet", options=(), timeout=RECV_TIMEOUT):
        """Send an RRQ and require a TFTP ERROR in reply. Returns the ERROR packet."""
        self.send_rrq(name, mode, options)
        p = self.expect(timeout, "ERROR for %r" % (name,))
        if p.opcode != ERROR:
            raise TransferFailed("RRQ %r: expected ERROR, got %r" % (name, p))
        if p.malformed:
            raise TransferFailed("malformed ERROR: %s: %r" % (p.malformed, p.raw))
        return p

    # -- a whole transfer
    def fetch(self, name, options=(), mode="octet", ack_timeout=RECV_TIMEOUT, max_silence=3,
              send_request=True, first=None, after_block=0, blksize=512, windowsize=1,
              tid=None):
        """Read NAME completely. Returns a Transfer; raises TftpError on a server ERROR,
        TransferFailed on silence or a protocol violation.

        To take over a transfer that a test began by hand: send_request=False, first=the
        next packet received, and (mid-transfer) after_block=the last block already taken,
        with the blksize/windowsize/tid in force. t.data then holds the blocks after it."""
        t = Transfer()
        t.blksize, t.windowsize = blksize, windowsize
        if send_request:
            self.send_rrq(name, mode, options)
        p = first or self.expect(what="first reply to RRQ %r" % (name,))
        t.tid = tid or p.peer
        if p.opcode == ERROR:
            raise TftpError(p)
        if after_block:
            pass
        elif p.opcode == OACK:
            if p.malformed:
                raise TransferFailed("malformed OACK: %s: %r" % (p.malformed, p.raw))
            t.oack = p
            t.blksize = int(p.options.get("blksize", 512))
            t.windowsize = int(p.options.get("windowsize", 1))
            self.ack(0, t.tid)
            p = None
        elif p.opcode != DATA:
            raise TransferFailed("first reply is %r" % (p,))
        chunks = []
        last = after_block & 0xFFFF
        in_window = 0
        silence = 0
        while True:
            if p is None:
                p = self.recv(ack_timeout)
            if p is None:
                silence += 1
                if silence > max_silence:
                    raise TransferFailed("server went silent after block %d (%d bytes)"
                                         % (last, sum(map(len, chunks))))
                self.ack(last, t.tid)   # re-acknowledge what we have
                in_window = 0
                continue
            silence = 0
            if p.peer != t.tid:
                t.stray.append(p)
                p = None
                continue
            if p.opcode == ERROR:
                raise TftpError(p)
            if p.opcode == OACK:
                # the OACK again (our ACK 0 was lost or late): acknowledge again
                self.ack(0, t.tid)
                p = None
                continue
            if p.opcode != DATA or p.malformed:
                raise TransferFailed("unexpected packet during transfer: %r" % (p,))
            if len(p.data) > t.blksize:
                raise TransferFailed("DATA %d has %d bytes > blksize %d"
                                     % (p.block, len(p.data), t.blksize))
            t.blocks.append(p.block)
            expected = (last + 1) & 0xFFFF
            if p.block == expected:
                chunks.append(p.data)
                t.max_payload = max(t.max_payload, len(p.data))
                last = expected
                in_window += 1
                if len(p.data) < t.blksize:
                    self.ack(last, t.tid)
                    break
                if in_window >= t.windowsize:
                    self.ack(last, t.tid)
                    in_window = 0
            else:
                t.duplicates += 1
            p = None
        t.data = b"".join(chunks)
        return t


# ---------------------------------------------------------------------------------------
# Server

def free_port():
    """A UDP port free on 127.0.0.1, [::1] and the wildcard addresses."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s4:
            s4.bind(("127.0.0.1", 0))
            port = s4.getsockname()[1]
        ok = port > 1024
        for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                try:
                    if fam == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((addr, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no free UDP port")


def chmod_tree_readable(path):
    """The server drops to nobody when started as root: the tree must be world-readable."""
    for dirpath, dirnames, filenames in os.walk(path):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                os.chmod(p, 0o644)


def tree_snapshot(path):
    """Names, types, sizes and mtimes below path (to prove nothing was created or changed)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            snap[os.path.relpath(p, path)] = (stat.S_IFMT(st.st_mode), st.st_size,
                                              st.st_mtime_ns)
    return snap


class Server:
    """A running rtftp on a temporary ROOT.

    Usage::
        srv = Server(files={"127.0.0.2/a.txt": b"..."}, args=["--timeout", "1"])
        srv.start()
        ...
        srv.stop()
    """

    def __init__(self, files=None, args=(), listen=None, user=None):
        if listen:
            self.port = split_listen(listen[0])[1]
            self.listen = list(listen)
        else:
            self.port = free_port()
            self.listen = ["127.0.0.1:%d" % self.port, "[::1]:%d" % self.port]
        self.base = tempfile.mkdtemp(prefix="rtftp-it-")
        os.chmod(self.base, 0o755)
        self.root = os.path.join(self.base, "root")
        os.mkdir(self.root)
        # A file outside ROOT that must never be served, whatever the name asked.
        self.outside = os.path.join(self.base, "outside")
        os.mkdir(self.outside)
        self.outside_secret = b"OUTSIDE-SECRET-" + os.urandom(8).hex().encode() + b"\n"
        with open(os.path.join(self.outside, "secret.txt"), "wb") as f:
            f.write(self.outside_secret)
        self.args = list(args)
        self.user = user
        self.exe = rtftp_path()
        self.pass_fds = ()          # descriptors rtftp inherits besides 0, 1, 2
        self.preexec = None         # run in the child before rtftp (limits, say)
        self.proc = None
        self.log_path = os.path.join(self.base, "rtftp.log")
        self._log_file = None
        for rel, content in (files or {}).items():
            self.add_file(rel, content)

    # -- tree
    def path(self, rel):
        return os.path.join(self.root, rel)

    def add_file(self, rel, content):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content)
        chmod_tree_readable(self.root)
        return p

    def tree(self):
        """Snapshot of ROOT and the folder beside it (everything but the server's log)."""
        snap = tree_snapshot(self.base)
        snap.pop(os.path.relpath(self.log_path, self.base), None)
        return snap

    # -- addresses
    def address_for(self, family):
        """Where a client of this family sends its RRQ."""
        for l in self.listen:
            host, port = split_listen(l)
            if host.lower().startswith("::ffff:") and "." in host:
                host = host[7:]             # an IPv4-mapped listener is that IPv4 address
            if family == socket.AF_INET6:
                if ":" in host:
                    return ("::1" if host == "::" else host, port)
            else:
                if ":" not in host:
                    return ("127.0.0.1" if host == "0.0.0.0" else host, port)
                if host == "::":        # dual-stack wildcard accepts IPv4 too
                    return ("127.0.0.1", port)
        raise AssertionError("server has no listener for family %s" % family)

    # -- process
    def command(self):
        cmd = [self.exe]
        for l in self.listen:
            cmd += ["--listen", l]
        cmd += self.args
        user = self.user
        if user is None and is_root() and "--user" not in self.args and "-u" not in self.args:
            user = "nobody"
        if user:
            cmd += ["--user", user]
        cmd.append(self.root)
        return cmd

    def start(self, wait=True):
        chmod_tree_readable(self.root)
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=self._log_file,
                                     start_new_session=True, pass_fds=self.pass_fds,
                                     preexec_fn=self.preexec)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20.0):
        """Send a probe RRQ (for a name that does not exist) until any reply comes back."""
        fam = socket.AF_INET
        try:
            dst = self.address_for(socket.AF_INET)
            src = "127.0.0.254"
        except AssertionError:
            fam = socket.AF_INET6
            dst = self.address_for(socket.AF_INET6)
            src = "::1"
        end = time.monotonic() + timeout
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.bind((src, 0))
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    raise AssertionError("rtftp exited with %s before serving; log:\n%s"
                                         % (self.proc.returncode, self.log()))
                s.sendto(build_rrq("rtftp-harness-probe-does-not-exist"), dst)
                s.settimeout(0.3)
                try:
                    s.recvfrom(70000)
                    return
                except (socket.timeout, ConnectionRefusedError):
                    continue
        raise AssertionError("rtftp did not answer within %.0f s; log:\n%s"
                             % (timeout, self.log()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def children(self):
        """PIDs of the parent's direct children (the worker, mounters)."""
        if not self.proc:
            return []
        return children_of(self.proc.pid)

    def worker_pids(self):
        return [p for p in self.children() if b"rtftp-worker" in read_cmdline(p)]

    def stop(self, check=True):
        """SIGTERM; everything must be gone within 2 s. Returns the exit status."""
        if self.proc is None:
            return None
        kids = self.children()
        rc = None
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(2.0)
            except subprocess.TimeoutExpired:
                problems.append("rtftp did not exit within 2 s of SIGTERM")
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                rc = self.proc.wait(5)
        else:
            rc = self.proc.returncode
            problems.append("rtftp had already exited with %s" % rc)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(pid_alive(k) for k in kids):
            time.sleep(0.05)
        left = [k for k in kids if pid_alive(k)]
        if left:
            problems.append("children still running after the parent stopped: %s" % left)
            for k in left:
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:   # anything left in the session (should be nothing)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        san = self.sanitizer_report()
        if san:
            problems.append("sanitizer report in the log:\n" + san)
        self.proc_rc = rc
        self.proc = None
        if check and problems:
            raise AssertionError("; ".join(problems) + "\nlog:\n" + self.log()[-4000:])
        return rc

    def cleanup(self):
        if self.proc is not None:
            try:
                self.stop(check=False)
            except Exception:
                pass
        if os.environ.get("RTFTP_TEST_KEEP"):
            sys.stderr.write("kept %s\n" % self.base)
            return
        shutil.rmtree(self.base, ignore_errors=True)

    # -- log
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self):
        return self.log().splitlines()

    def log_mark(self):
        """Position in the log, to look only at what comes later."""
        return len(self.log())

    def log_since(self, mark):
        return self.log()[mark:]

    def sanitizer_report(self):
        text = self.log()
        for m in SANITIZER_MARKERS:
            i = text.find(m)
            if i >= 0:
                return text[max(0, i - 200): i + 3000]
        return ""

    def wait_log(self, predicate, timeout=5.0, since=0):
        """Poll the log until predicate(text) is true; returns the text. predicate may be a
        regex string."""
        if isinstance(predicate, str):
            rx = re.compile(predicate)
            predicate = lambda t: rx.search(t) is not None
        end = time.monotonic() + timeout
        while True:
            text = self.log_since(since)
            if predicate(text):
                return text
            if time.monotonic() > end:
                raise AssertionError("log condition not met within %.1f s; log since mark:\n%s"
                                     % (timeout, text[-4000:]))
            time.sleep(0.05)

    def records(self, since=0):
        return parse_transfer_records(self.log_since(since))

    def wait_record(self, timeout=5.0, since=0, **match):
        """Wait for a transfer record whose fields match (string compare); return it."""
        end = time.monotonic() + timeout
        while True:
            recs = [r for r in self.records(since) if record_matches(r, match)]
            if recs:
                return recs[-1]
            if time.monotonic() > end:
                raise AssertionError("no transfer record matching %r within %.1f s; log:\n%s"
                                     % (match, timeout, self.log_since(since)[-4000:]))
            time.sleep(0.05)

    # -- convenience
    def client(self, src="127.0.0.1", port=0):
        return Client(self, src, port)

    def assert_serves(self, rel_in_client_dir, expected, src="127.0.0.2"):
        """A normal request still works (after an attack)."""
        if not self.alive():
            raise AssertionError("rtftp is not running any more; log:\n" + self.log()[-4000:])
        with self.client(src) as c:
            t = c.fetch(rel_in_client_dir)
        if t.data != expected:
            raise AssertionError("served bytes differ for %s" % rel_in_client_dir)


def split_listen(l):
    if l.startswith("["):
        host, _, port = l[1:].partition("]:")
        return host, int(port)
    host, _, port = l.rpartition(":")
    return host, int(port)


# ---------------------------------------------------------------------------------------
# /proc

def read_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # field 4 (ppid) comes after the ")" that ends the command name
        fields = st[st.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            kids.append(int(d))
    return kids


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rfind(")") + 2:].split()[0] != "Z"


# ---------------------------------------------------------------------------------------
# Transfer records in the log

_KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_transfer_records(text):
    """Every per-transfer record in a log: text form ``... transfer k=v k="v" ...`` or one
    JSON object per line. Returns dicts of strings (JSON values converted with str(), so
    ints compare the same in both forms; the original JSON object is under "_json")."""
    recs = []
    for line in text.splitlines():
        brace = line.find("{")
        if brace >= 0:
            try:
                obj = json.loads(line[brace:])
            except ValueError:
                obj = None
            if isinstance(obj, dict) and "outcome" in obj:
                r = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in obj.items()}
                r["_json"] = obj
                r["_line"] = line
                recs.append(r)
                continue
        # "transfer k=v ..." at the start of the line, after an optional "role: " prefix
        # (the same words inside a quoted, escaped value are not a record)
        m = re.match(r"^(?:[\w.-]+(?:\[\d+\])?:\s+)?transfer\s+(\w+=.*)$", line)
        if not m:
            continue
        r = {}
        for k, v in _KV.findall(m.group(1)):
            if v.startswith('"'):
                v = v[1:-1].encode("latin-1").decode("unicode_escape")
            r[k] = v
        if "outcome" in r:
            r["_line"] = line
            recs.append(r)
    return recs


def record_matches(rec, match):
    for k, v in match.items():
        if k == "client":
            # text form "client=127.0.0.2:40000" or JSON "client": "127.0.0.2" + "port"
            got = rec.get("client", "")
            if got != v and not got.startswith(v + ":") and not (
                    got.startswith("[") and got[1:].startswith(v + "]")):
                return False
        elif str(rec.get(k)) != str(v):
            return False
    return True


def record_port(rec):
    """The client port of a record, text or JSON form."""
    if "port" in rec:
        return int(rec["port"])
    c = rec.get("client", "")
    return int(c.rsplit(":", 1)[1])


# ---------------------------------------------------------------------------------------
# Stock clients

STOCK_TOOLS = {"tftp": "tftp-hpa", "atftp": "atftp", "busybox": "busybox", "curl": "curl"}


def ensure_tools():
    """Install the stock clients if one is missing (never skip a test for it)."""
    missing = [pkg for tool, pkg in STOCK_TOOLS.items() if not shutil.which(tool)]
    if not missing:
        return
    if not is_root():
        raise AssertionError("stock clients missing and not root to install them: %s" % missing)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y"] + list(STOCK_TOOLS.values()), env=env,
                   check=True, timeout=600, stdout=subprocess.DEVNULL)
    still = [t for t in STOCK_TOOLS if not shutil.which(t)]
    if still:
        raise AssertionError("could not install %s" % still)


def run_tool(argv, timeout=180, cwd=None):
    """Run a stock client; fail with its output when it exits non-zero."""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s timed out after %d s" % (" ".join(argv), timeout))
    if r.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(argv), r.returncode, r.stdout.decode(errors="replace")[-2000:],
            r.stderr.decode(errors="replace")[-2000:]))
    return r


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def netascii_encode(b):
    """What the server must send for a file in netascii mode (RFC 1350/764)."""
    out = bytearray()
    for ch in b:
        if ch == 0x0A:
            out += b"\r\n"
        elif ch == 0x0D:
            out += b"\r\0"
        else:
            out.append(ch)
    return bytes(out)


# ---------------------------------------------------------------------------------------
# unittest glue

class ServerTestCase(unittest.TestCase):
    """One server per test class. Subclasses set FILES (rel path -> bytes) and ARGS, and
    may override setup_tree(srv) for symlinks, fifos and the like."""

    FILES = {}
    ARGS = []
    LISTEN = None

    @classmethod
    def setup_tree(cls, srv):
        pass

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files=cls.FILES, args=cls.ARGS, listen=cls.LISTEN)
        try:
            cls.setup_tree(cls.srv)
            cls.srv.start()
        except BaseException:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.srv.cleanup()

    def setUp(self):
        self.assertTrue(self.srv.alive(), "rtftp died during an earlier test; log:\n"
                        + self.srv.log()[-4000:])
        self._clients = []

    def tearDown(self):
        for c in self._clients:
            c.close()

    def client(self, src="127.0.0.1", port=0, dst=None):
        c = Client(self.srv, src, port, dst)
        self._clients.append(c)
        return c

    def assertBytesEqual(self, got, expected, what="content"):
        if got != expected:
            first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b),
                         min(len(got), len(expected)))
            self.fail("%s differs: got %d bytes (sha256 %s), expected %d bytes (sha256 %s), "
                      "first difference at offset %d" % (what, len(got), sha256(got)[:16],
                                                         len(expected), sha256(expected)[:16],
                                                         first))


def main():
    """unittest.main that fails when no test ran (a typo must not pass silently)."""
    prog = unittest.main(exit=False, verbosity=2)
    result = prog.result
    if result.testsRun == 0:
        sys.stderr.write("FAIL: 0 tests ran\n")
        sys.exit(1)
    if result.skipped:
        sys.stderr.write("FAIL: %d tests skipped; integration tests never skip\n"
                         % len(result.skipped))
        sys.exit(1)
    sys.exit(0 if result.wasSuccessful() else 1)
