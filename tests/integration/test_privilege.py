"""Privilege separation seen from /proc: started as root with --user nobody, neither the
parent nor the worker keeps a root uid or a capability, both have no_new_privs, the worker is
in seccomp filter mode; a killed worker is replaced; SIGTERM stops everything."""

import os
import shutil
import signal
import tempfile
import time

import rtftp_harness as h

FILE = h.pattern_bytes(30000, seed=61)


class Privilege(h.ServerTestCase):
    FILES = {"default/file.bin": FILE}
    # Started the way a root shell or a supervisor may start it: with supplementary groups
    # (adm, disk), which the drop must clear (root's own list is often empty, which would
    # let a missing setgroups() pass unseen).
    START_GROUPS = [4, 6]

    @classmethod
    def setup_tree(cls, srv):
        super().setup_tree(srv)
        if h.is_root():
            srv.preexec = lambda: os.setgroups(cls.START_GROUPS)

    def parent_pid(self):
        return self.srv.proc.pid

    def worker_pid(self, timeout=5.0):
        end = time.monotonic() + timeout
        while True:
            w = self.srv.worker_pids()
            if len(w) == 1:
                return w[0]
            if time.monotonic() > end:
                self.fail("expected exactly one rtftp-worker child, found %s" % w)
            time.sleep(0.05)

    def check_unprivileged(self, pid, role):
        st = h.proc_status(pid)
        uids = st["Uid"].split()
        gids = st["Gid"].split()
        self.assertEqual(len(uids), 4)
        if h.is_root():
            nobody = str(__import__("pwd").getpwnam("nobody").pw_uid)
            self.assertEqual(uids, [nobody] * 4, "%s Uid: %s" % (role, st["Uid"]))
            self.assertNotIn("0", gids, "%s Gid: %s" % (role, st["Gid"]))
            self.assertEqual(st.get("Groups", ""), "", "%s keeps supplementary groups" % role)
        else:
            self.assertNotIn("0", uids)
        self.assertEqual(st["CapEff"], "0000000000000000", "%s CapEff" % role)
        self.assertEqual(st["CapPrm"], "0000000000000000", "%s CapPrm" % role)
        self.assertEqual(st["CapInh"], "0000000000000000", "%s CapInh" % role)
        self.assertEqual(st["CapAmb"], "0000000000000000", "%s CapAmb" % role)
        self.assertEqual(st["NoNewPrivs"], "1", "%s NoNewPrivs" % role)
        return st

    def test_parent_and_worker_unprivileged(self):
        self.check_unprivileged(self.parent_pid(), "parent")
        st = self.check_unprivileged(self.worker_pid(), "worker")
        self.assertEqual(st["Seccomp"], "2", "worker must run under a seccomp filter")

    def test_worker_bounding_set_empty(self):
        st = h.proc_status(self.worker_pid())
        if h.is_root():
            self.assertEqual(st["CapBnd"], "0000000000000000", "worker CapBnd")

    def test_worker_is_a_separate_executable(self):
        pid = self.worker_pid()
        exe = os.readlink("/proc/%d/exe" % pid)
        self.assertTrue(os.path.basename(exe).startswith("rtftp-worker"), exe)
        # the helper beside the rtftp under test (so a sanitizer build tests its own worker)
        self.assertEqual(os.path.dirname(exe), os.path.dirname(os.path.realpath(self.srv.exe)))

    def test_zz_killed_worker_is_replaced(self):
        old = self.worker_pid()
        mark = self.srv.log_mark()
        os.kill(old, signal.SIGKILL)
        end = time.monotonic() + 10
        new = None
        while time.monotonic() < end:
            w = [p for p in self.srv.worker_pids() if p != old and h.pid_alive(p)]
            if w:
                new = w[0]
                break
            time.sleep(0.1)
        self.assertIsNotNone(new, "no new worker within 10 s; log:\n" + self.srv.log_since(mark))
        text = self.srv.wait_log(r"(?i)worker.*(signal|killed|SIGKILL|9)", since=mark)
        self.assertRegex(text, r"(?i)(signal 9|SIGKILL|killed)")
        # the new worker serves again within a few seconds
        end = time.monotonic() + 8
        while True:
            try:
                t = self.client("127.0.0.2").fetch("file.bin")
                break
            except (h.TransferFailed, h.TftpError):
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
        self.assertBytesEqual(t.data, FILE)
        st = self.check_unprivileged(new, "new worker")
        self.assertEqual(st["Seccomp"], "2")


class PrivateInstall(Privilege):
    """Every test above again, with rtftp installed in a folder that only root may enter (a
    build tree in /root, say): the service user cannot reach the helpers by path, and must not
    need to, neither for the first worker nor for a replaced one."""

    @classmethod
    def setUpClass(cls):
        if not h.is_root():
            raise AssertionError("this test starts rtftp as root with --user nobody")
        cls.private = tempfile.mkdtemp(prefix="rtftp-private-")     # mode 0700, root's
        bindir = os.path.join(cls.private, "bin")
        os.mkdir(bindir)
        for name in ("rtftp", "rtftp-worker", "rtftp-mounter"):
            shutil.copy2(os.path.join(h.bin_dir(), name), bindir)
        cls.exe = os.path.join(bindir, "rtftp")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.private, ignore_errors=True)

    @classmethod
    def setup_tree(cls, srv):
        super().setup_tree(srv)
        srv.exe = cls.exe

    def test_installed_where_the_user_cannot_enter(self):
        self.assertEqual(os.stat(self.private).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(self.private).st_uid, 0)
        self.assertEqual(self.srv.command()[0], self.exe)
        self.assertBytesEqual(self.client("127.0.0.2").fetch("file.bin").data, FILE)


class Shutdown(h.ServerTestCase):
    FILES = {"default/file.bin": FILE}

    def test_sigterm_mid_transfer_stops_within_2s(self):
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin")
        p = c.expect()
        self.assertEqual(p.opcode, h.DATA)
        kids = self.srv.children()
        self.assertTrue(kids)
        start = time.monotonic()
        rc = self.srv.stop()          # asserts exit within 2 s and no child left
        self.assertLess(time.monotonic() - start, 2.5)
        self.assertEqual(rc, 0, "exit status after SIGTERM")
        for k in kids:
            self.assertFalse(h.pid_alive(k), "child %d still alive" % k)
        # restart so that tearDownClass has something to stop
        self.srv.start()

    def test_worker_ends_when_the_parent_is_gone(self):
        """The parent killed outright: its worker, now unsupervised, ends its transfers (the
        client hears "server shutting down") and exits, instead of serving on as an orphan."""
        kids = self.srv.children()
        self.assertEqual(len(self.srv.worker_pids()), 1, kids)
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin")
        p = c.expect()
        self.assertEqual(p.opcode, h.DATA)
        os.kill(self.srv.proc.pid, signal.SIGKILL)
        self.srv.proc.wait(5)
        e = c.expect(timeout=3, what="the worker's goodbye")
        self.assertEqual((e.opcode, e.code, e.msg), (h.ERROR, 0, b"server shutting down"), repr(e))
        end = time.monotonic() + 3
        while time.monotonic() < end and any(h.pid_alive(k) for k in kids):
            time.sleep(0.05)
        self.assertEqual([k for k in kids if h.pid_alive(k)], [], "children outlived the parent")
        self.srv.stop(check=False)    # reaps what is left, whatever happened
        self.srv.start()


if __name__ == "__main__":
    h.main()
