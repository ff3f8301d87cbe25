"""The parent as a whole (parent/): what it runs its helpers with, how it answers a worker that
misbehaves, how it stops. The real rtftp, with the real worker or with stand-ins from
tests/parent (fake_worker, fake_mounter) put in a --libexec-dir of their own; the stand-ins'
behaviour is chosen by environment variables, which the parent passes on to its helpers."""

import os
import pwd
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import rtftp_harness as h

FILE = h.pattern_bytes(20000, seed=71)
NBD = b'{"url":"nbd+unix:///?socket=/nonexistent","mounts":[{"partition":1,"mountpoint":"/"}]}\n'


def libexec_with(worker="rtftp-worker", mounter="rtftp-mounter"):
    """A folder holding the chosen programs of bin/ as rtftp-worker and rtftp-mounter
    (readable and executable by the service user)."""
    d = tempfile.mkdtemp(prefix="rtftp-libexec-")
    os.chmod(d, 0o755)
    for src, dst in ((worker, "rtftp-worker"), (mounter, "rtftp-mounter")):
        shutil.copy2(os.path.join(h.bin_dir(), src), os.path.join(d, dst))
        os.chmod(os.path.join(d, dst), 0o755)
    return d


def status_fields(text):
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out


class AtFd3:
    """Holds fd at descriptor 3 of this process (the first one after stdio, which is where
    systemd puts its sockets and where an off-by-one in closing stops) while a child is
    started; restores what was there afterwards."""

    def __init__(self, fd):
        self.fd = fd

    def __enter__(self):
        try:
            self.saved = os.dup(3)
        except OSError:
            self.saved = None
        os.dup2(self.fd, 3, inheritable=True)
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            os.close(3)
        else:
            os.dup2(self.saved, 3, inheritable=False)
            os.close(self.saved)


def set_listen_pid():
    """In the child before exec: LISTEN_PID names the process that gets the sockets (rtftp)."""
    os.putenv("LISTEN_PID", str(os.getpid()))


def tasks_of(uid):
    """Threads of every process that uid runs now: what RLIMIT_NPROC counts."""
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat("/proc/" + pid).st_uid == uid:
                    n += len(os.listdir("/proc/%s/task" % pid))
            except OSError:
                pass
    return n


def service_user():
    return pwd.getpwnam("nobody") if h.is_root() else pwd.getpwuid(os.getuid())


class CheckConfig(unittest.TestCase):
    """rtftp --check-config runs its helper (which talks to a possibly hostile NBD server and
    parses the remote disk's partition tables) with the service user's privilege, never as
    root. The stand-in mounter prints its /proc/self/status instead of checking."""

    @classmethod
    def setUpClass(cls):
        cls.libexec = libexec_with(mounter="fake_mounter")
        cls.nbd = os.path.join(cls.libexec, "127.0.0.5.nbd")
        with open(cls.nbd, "wb") as f:
            f.write(NBD)
        os.chmod(cls.nbd, 0o644)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.libexec, ignore_errors=True)

    def check(self, *args):
        cmd = [h.rtftp_path(), "--libexec-dir", self.libexec] + list(args) + \
              ["--check-config", self.nbd]
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)

    def test_helper_runs_as_the_service_user(self):
        user = service_user()
        r = self.check("--user", user.pw_name)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        st = status_fields(r.stdout.decode())
        self.assertEqual(st["Uid"].split(), [str(user.pw_uid)] * 4, r.stdout.decode())
        self.assertEqual(st["Gid"].split(), [str(user.pw_gid)] * 4, r.stdout.decode())
        self.assertNotIn("0", st.get("Groups", "").split())
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            self.assertEqual(st[cap], "0000000000000000", cap)
        if h.is_root():
            self.assertEqual(st["CapBnd"], "0000000000000000")
        self.assertEqual(st["NoNewPrivs"], "1")

    def test_root_without_user_is_refused(self):
        if not h.is_root():
            raise AssertionError("this test needs root (it checks what root is refused)")
        r = self.check()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"--user", r.stderr)
        self.assertNotIn(b"Uid:", r.stdout, "the helper ran anyway")


class Parent(unittest.TestCase):
    """Each test starts its own rtftp (fake helpers chosen per test), stops it at the end."""

    def start(self, env=None, args=(), worker="fake_worker", mounter="fake_mounter", files=None,
              wait_ready=True, pass_fds=(), preexec=None):
        libexec = libexec_with(worker=worker, mounter=mounter)
        self.addCleanup(shutil.rmtree, libexec, True)
        srv = h.Server(files=files or {"default/file.bin": FILE},
                       args=["--libexec-dir", libexec] + list(args))
        self.addCleanup(srv.cleanup)
        saved = dict(os.environ)
        os.environ.update(env or {})
        try:
            srv.pass_fds = pass_fds
            srv.preexec = preexec
            srv.start(wait=False)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        if wait_ready:
            srv.wait_log(r"worker \d+ sandboxed and serving", timeout=10)
        return srv

    def workers_ready(self, srv):
        return len(re.findall(r"worker \d+ sandboxed and serving", srv.log()))

    def assert_worker_replaced(self, srv, why):
        srv.wait_log(why, timeout=5)
        srv.wait_log(r"worker \d+ killed by signal 9", timeout=5)
        end = time.monotonic() + 10
        while self.workers_ready(srv) < 2 and time.monotonic() < end:
            self.assertTrue(srv.alive(), "rtftp exited; log:\n" + srv.log())
            time.sleep(0.05)
        self.assertGreaterEqual(self.workers_ready(srv), 2, "no new worker; log:\n" + srv.log())
        self.assertTrue(srv.alive(), "rtftp exited; log:\n" + srv.log())

    def test_descriptor_from_worker_ends_only_the_worker(self):
        srv = self.start(env={"FAKE_WORKER": "fd"})
        self.assert_worker_replaced(srv, r"a descriptor attached to PW_LOG from the worker: stopping it")
        self.assertEqual(srv.stop(), 0)

    def test_badly_framed_message_ends_and_restarts_the_worker(self):
        srv = self.start(env={"FAKE_WORKER": "badframe"})
        self.assert_worker_replaced(srv, r"a badly framed message from the worker: stopping it")
        self.assertEqual(srv.stop(), 0)

    def test_malformed_messages_end_and_restart_the_worker(self):
        """Each message the protocol does not allow ends the worker that sent it: a log line
        of no known level, a HELLO of another protocol version, a type that does not exist."""
        for how, name in (("badlevel", "PW_LOG"), ("badhello", "PW_HELLO"),
                          ("unknown", "PW_UNKNOWN")):
            with self.subTest(how=how):
                srv = self.start(env={"FAKE_WORKER": how})
                self.assert_worker_replaced(srv, r"malformed %s from the worker: stopping it" % name)
                self.assertNotIn("a line of no level", srv.log())
                self.assertEqual(srv.stop(), 0)

    def test_restart_backoff_doubles(self):
        """A worker that keeps dying soon after it started is restarted after 100, 200, 400 ms:
        the delay doubles, so a crash loop does not spin. Each lives half a second: well
        short of the 30 s that count as stable and reset the delay."""
        srv = self.start()
        for n in range(1, 4):
            time.sleep(0.5)
            pids = srv.worker_pids()
            self.assertEqual(len(pids), 1, srv.log())
            os.kill(pids[0], signal.SIGKILL)
            end = time.monotonic() + 10
            while self.workers_ready(srv) < n + 1 and time.monotonic() < end:
                time.sleep(0.02)
            self.assertEqual(self.workers_ready(srv), n + 1, "no new worker; log:\n" + srv.log())
        delays = [int(d) for d in re.findall(r"starting a new worker in (\d+) ms", srv.log())]
        self.assertEqual(delays, [100, 200, 400], srv.log())
        self.assertEqual(srv.stop(), 0)

    def test_sigterm_stops_willing_children_without_sigkill(self):
        """SIGTERM reaches the worker and the mounters at once: children that obey it are gone
        well before the SIGKILL deadline, and nothing is killed."""
        srv = self.start(files={"default/file.bin": FILE, "127.0.0.5.nbd": NBD})
        end = time.monotonic() + 5
        while not self.mounter_pids(srv) and time.monotonic() < end:
            time.sleep(0.05)
        self.assertTrue(self.mounter_pids(srv), "no proactive mounter; log:\n" + srv.log())
        start = time.monotonic()
        self.assertEqual(srv.stop(), 0)
        # The log is the proof; the time only has to stay clear of the 2 s SIGKILL deadline.
        self.assertLess(time.monotonic() - start, 1.9, srv.log())
        self.assertNotIn("killing them", srv.log())

    def test_max_mounters_0_turns_remote_disks_off(self):
        """--max-mounters 0: a client's .nbd file is not consulted at all (the worker is told
        so), the request goes on to default/ at once, and nothing is logged about mounters."""
        srv = self.start(worker="rtftp-worker", mounter="rtftp-mounter",
                         args=["--max-mounters", "0"],
                         files={"default/file.bin": FILE, "127.0.0.2.nbd": NBD})
        with srv.client("127.0.0.2") as c:
            self.assertEqual(c.fetch("file.bin").data, FILE)
        self.assertNotIn("mounter", srv.log())
        self.assertEqual(srv.stop(), 0)

    def test_worker_inherits_no_stray_descriptor(self):
        """Started with an extra descriptor open (as a shell's 9</etc/shadow would leave one),
        neither the parent (which lives on as the service user) nor the sandboxed worker may
        hold it: the worker has only 0-2, its channel and what it opens or is handed."""
        secret = os.path.join(tempfile.mkdtemp(prefix="rtftp-secret-"), "inherited-secret")
        self.addCleanup(shutil.rmtree, os.path.dirname(secret), True)
        with open(secret, "w") as f:
            f.write("root only\n")
        os.chmod(secret, 0o600)
        fd = os.open(secret, os.O_RDONLY)
        os.dup2(fd, 9, inheritable=True)
        self.addCleanup(os.close, 9)
        with AtFd3(fd):                    # 3 too: the first descriptor after stdio
            srv = self.start(worker="rtftp-worker", mounter="rtftp-mounter", pass_fds=(3, 9),
                             wait_ready=False)
        os.close(fd)
        srv.wait_ready()
        handed = subprocess.run(["readlink", "/proc/self/fd/9"], pass_fds=(9,),
                                capture_output=True, text=True, timeout=10)
        self.assertEqual(handed.stdout.strip(), secret, "pass_fds does not hand the descriptor")
        parent = {os.readlink("/proc/%d/fd/%s" % (srv.proc.pid, n))
                  for n in os.listdir("/proc/%d/fd" % srv.proc.pid)}
        self.assertNotIn(secret, parent, "parent fds: %r" % parent)
        worker = srv.worker_pids()
        self.assertEqual(len(worker), 1)
        fds = os.listdir("/proc/%d/fd" % worker[0])
        links = {n: os.readlink("/proc/%d/fd/%s" % (worker[0], n)) for n in fds}
        self.assertNotIn(secret, links.values(), "worker fds: %r" % links)
        self.assertEqual(srv.stop(), 0)

    def mounter_pids(self, srv):
        return [p for p in srv.children() if b"rtftp-mounter" in h.read_cmdline(p)]

    def test_shutdown_one_deadline_for_all_children(self):
        """A worker and a mounter that both ignore SIGTERM: SIGKILL for both at 1.5 s, not
        the mounters' wait first and then the worker's."""
        srv = self.start(env={"FAKE_WORKER": "stubborn", "FAKE_MOUNTER_IGNORE_TERM": "1"},
                         files={"default/file.bin": FILE, "127.0.0.5.nbd": NBD})
        end = time.monotonic() + 5
        while not self.mounter_pids(srv) and time.monotonic() < end:
            time.sleep(0.05)
        self.assertTrue(self.mounter_pids(srv), "no proactive mounter; log:\n" + srv.log())
        time.sleep(0.3)                    # the stand-ins have set SIGTERM aside
        start = time.monotonic()
        self.assertEqual(srv.stop(), 0)    # all children gone, as the harness checks
        took = time.monotonic() - start
        self.assertGreater(took, 1.4, "the stand-ins ignore SIGTERM: SIGKILL comes at 1.5 s")
        self.assertLess(took, 1.95, "stopping took %.2f s" % took)
        self.assertIn("killing them", srv.log())

    def test_worker_restart_that_cannot_fork_is_retried(self):
        """The worker dies while the parent cannot fork: the parent logs it and tries again
        with backoff, and serves again once it can; it never exits. rtftp runs as "games"
        with RLIMIT_NPROC at what that user already runs + 2 (rtftp and its worker); one more
        process of that user, held by the test, takes the room a new worker needs, until the
        test lets it go."""
        if not h.is_root():
            raise AssertionError("this test starts rtftp as root with --user games")
        room = tasks_of(pwd.getpwnam("games").pw_uid) + 2
        limit = lambda: resource.setrlimit(resource.RLIMIT_NPROC,
                                           (room, resource.getrlimit(resource.RLIMIT_NPROC)[1]))
        srv = self.start(worker="rtftp-worker", mounter="rtftp-mounter", wait_ready=False,
                         args=["--user", "games"], preexec=limit)
        srv.wait_ready()
        old = srv.worker_pids()
        self.assertEqual(len(old), 1)
        mark = srv.log_mark()
        blocker = subprocess.Popen(["sleep", "60"], user="games")
        try:
            os.kill(old[0], signal.SIGKILL)
            srv.wait_log(r"(?s)fork for the worker.*starting a new worker in \d+ ms.*"
                         r"fork for the worker", since=mark, timeout=5)
            self.assertTrue(srv.alive(), "rtftp exited; log:\n" + srv.log())
            self.assertEqual(srv.worker_pids(), [])
        finally:
            blocker.kill()
            blocker.wait()
        srv.wait_log(r"worker \d+ sandboxed and serving", since=mark, timeout=10)
        with srv.client("127.0.0.2") as c:
            self.assertEqual(c.fetch("file.bin").data, FILE)
        self.assertEqual(srv.stop(), 0)

    def test_worker_failing_before_ready_stops_the_mounters_too(self):
        """A worker that dies before READY stops rtftp (exit 1, "not serving"), and a mounter
        already started for a .nbd file is stopped with it, its temporary folder removed:
        nothing is left behind."""
        state = tempfile.mkdtemp(prefix="rtftp-state-")
        os.chmod(state, 0o777)
        self.addCleanup(shutil.rmtree, state, True)
        srv = self.start(env={"FAKE_WORKER": "early_exit", "FAKE_WORKER_DELAY_MS": "1500"},
                         args=["--state-dir", state], wait_ready=False,
                         files={"default/file.bin": FILE, "127.0.0.5.nbd": NBD})
        end = time.monotonic() + 5
        while not self.mounter_pids(srv) and time.monotonic() < end:
            time.sleep(0.05)
        mounters = self.mounter_pids(srv)
        self.assertTrue(mounters, "no proactive mounter; log:\n" + srv.log())
        self.assertEqual(srv.proc.wait(10), 1)
        self.assertIn("not serving", srv.log())
        end = time.monotonic() + 2
        while any(h.pid_alive(p) for p in mounters) and time.monotonic() < end:
            time.sleep(0.05)
        left = [p for p in mounters if h.pid_alive(p)]
        for p in left:
            os.kill(p, signal.SIGKILL)
        self.assertEqual(left, [], "mounters left running; log:\n" + srv.log())
        self.assertEqual(os.listdir(state), [], "temporary folders left behind")


class Systemd(unittest.TestCase):
    """What systemd hands rtftp: sockets (LISTEN_FDS, from descriptor 3) and a NOTIFY_SOCKET
    that waits for READY=1 (Type=notify)."""

    start = Parent.start

    def start_activated(self, sock, env=None):
        """rtftp given sock as its one systemd socket; its --listen is ignored."""
        full = {"LISTEN_FDS": "1"}
        full.update(env or {})
        with AtFd3(sock.fileno()):
            return self.start(env=full, worker="rtftp-worker", mounter="rtftp-mounter",
                              wait_ready=False, pass_fds=(3,), preexec=set_listen_pid)

    def test_serves_on_the_socket_systemd_passed(self):
        import socket
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        srv = self.start_activated(sock)
        srv.wait_log(r"worker \d+ sandboxed and serving", timeout=10)
        self.assertIn("using 1 socket(s) from systemd", srv.log())
        with h.Client(srv, "127.0.0.2", dst=sock.getsockname()) as c:
            self.assertEqual(c.fetch("file.bin").data, FILE)
        # --listen was not bound: its port is still free
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(srv.address_for(socket.AF_INET))
        self.assertEqual(srv.stop(), 0)

    def test_a_stream_socket_from_systemd_is_refused(self):
        import socket
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        srv = self.start_activated(sock)
        self.assertEqual(srv.proc.wait(10), 1, srv.log())
        self.assertIn("descriptor 3 from systemd is not a datagram socket", srv.log())

    def test_ready_is_notified_once(self):
        """READY=1 when the first worker serves, not again for a restarted one; STOPPING=1
        on SIGTERM."""
        import socket
        d = tempfile.mkdtemp(prefix="rtftp-notify-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        path = os.path.join(d, "notify")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(ns.close)
        ns.bind(path)
        os.chmod(path, 0o777)              # the parent sends as the service user
        ns.settimeout(10)
        srv = self.start(env={"NOTIFY_SOCKET": path})
        self.assertIn(b"READY=1", ns.recv(4096))
        mark = srv.log_mark()
        os.kill(srv.worker_pids()[0], signal.SIGKILL)
        srv.wait_log(r"worker \d+ sandboxed and serving", since=mark, timeout=10)
        self.assertEqual(srv.stop(), 0)
        ns.settimeout(0.5)
        later = []
        try:
            while True:
                later.append(ns.recv(4096))
        except socket.timeout:
            pass
        self.assertFalse([m for m in later if b"READY=1" in m], later)
        self.assertTrue([m for m in later if b"STOPPING=1" in m], later)


class CommandLine(unittest.TestCase):
    def run_rtftp(self, *args):
        return subprocess.run([h.rtftp_path()] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=10)

    def test_state_dir_too_long_is_a_bad_command_line(self):
        """The mounters' folders and sockets below --state-dir need it to be 64 bytes at
        most: a longer one is refused at start (exit 2, naming the limit), not at the first
        mounter."""
        r = self.run_rtftp("--state-dir", "/tmp/" + "s" * 60, "/nonexistent-root")
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertIn(b"--state-dir", r.stderr)
        self.assertIn(b"64 bytes at most", r.stderr)
        r = self.run_rtftp("--state-dir", "/tmp/" + "s" * 59, "/nonexistent-root")
        self.assertNotEqual(r.returncode, 2, "64 bytes are allowed: " + r.stderr.decode())

    def as_nobody(self, caps=()):
        """The command prefix that runs rtftp as nobody (optionally with ambient capabilities,
        as a unit's AmbientCapabilities= gives them), and rtftp copied where nobody may
        execute it, its helpers beside it."""
        if not h.is_root():
            raise AssertionError("this test needs root to start rtftp as another user")
        d = libexec_with()
        self.addCleanup(shutil.rmtree, d, True)
        shutil.copy2(h.rtftp_path(), os.path.join(d, "rtftp"))
        pre = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        if caps:
            caps = ",".join("+" + c for c in caps)
            pre += ["--inh-caps=" + caps, "--ambient-caps=" + caps]
        return pre + [os.path.join(d, "rtftp")]

    def test_non_root_cannot_change_user(self):
        srv = h.Server(files={"default/file.bin": FILE}, args=["--user", "games"], user="")
        self.addCleanup(srv.cleanup)
        cmd = self.as_nobody() + srv.command()[1:]
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
        except subprocess.TimeoutExpired:
            self.fail("rtftp started serving as nobody although --user games was asked")
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn(b"--user games: only root can change user", r.stderr)

    def test_non_root_start_drops_inherited_capabilities(self):
        """Started as a user that is not root but holds capabilities (ambient, as systemd's
        AmbientCapabilities= gives them), rtftp keeps none of them."""
        srv = h.Server(files={"default/file.bin": FILE}, user="")
        self.addCleanup(srv.cleanup)
        prefix = self.as_nobody(caps=("net_bind_service", "net_raw"))
        srv.command = lambda: prefix + h.Server.command(srv)[1:]
        srv.start()
        st = h.proc_status(srv.proc.pid)
        self.assertEqual(st["Uid"].split(), [str(pwd.getpwnam("nobody").pw_uid)] * 4)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            self.assertEqual(st[cap], "0000000000000000", cap)
        self.assertEqual(st["NoNewPrivs"], "1")
        self.assertEqual(srv.stop(), 0)

    def test_user_root_is_refused_by_name(self):
        """--user root is refused before any change of identity, saying why: not left to the
        later proof that setuid(0) fails (which would also stop it, but as a failed drop,
        not as a bad choice of user)."""
        if not h.is_root():
            raise AssertionError("this test starts rtftp as root")
        root = tempfile.mkdtemp(prefix="rtftp-root-user-")
        self.addCleanup(shutil.rmtree, root, True)
        r = self.run_rtftp("--listen", "127.0.0.1:%d" % h.free_port(), "--user", "root", root)
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn(b"--user root is root: choose an unprivileged user", r.stderr)
        self.assertNotIn(b"running as", r.stderr)

    def test_user_with_primary_group_0_is_refused(self):
        """A --user whose primary group is root's is refused like root itself. Such a user is
        added to a private copy of /etc/passwd, bind-mounted over it in a mount namespace of
        the test's own."""
        if not h.is_root():
            raise AssertionError("this test starts rtftp as root")
        tmp = tempfile.mkdtemp(prefix="rtftp-gid0-")
        self.addCleanup(shutil.rmtree, tmp, True)
        passwd = os.path.join(tmp, "passwd")
        with open("/etc/passwd") as f:
            text = f.read()
        with open(passwd, "w") as f:
            f.write(text + "rtftpgid0:x:65530:0::/nonexistent:/usr/sbin/nologin\n")
        os.chmod(passwd, 0o644)
        os.mkdir(os.path.join(tmp, "root"))
        script = 'mount --bind "$1" /etc/passwd && exec "$2" --listen "$3" --user rtftpgid0 "$4"'
        try:
            r = subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", passwd,
                                h.rtftp_path(), "127.0.0.1:%d" % h.free_port(),
                                os.path.join(tmp, "root")],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
        except subprocess.TimeoutExpired:
            self.fail("rtftp started serving as a user of group 0")
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn(b"group 0", r.stderr)


if __name__ == "__main__":
    h.main()
