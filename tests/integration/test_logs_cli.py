"""What the operator sees: one record per finished transfer (text and JSON), a reason for every
refusal, escaped client strings; and the command line (help, version, every bad start)."""

import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

import rtftp_harness as h

A = h.pattern_bytes(3000, seed=51)
B = h.pattern_bytes(5000, seed=52)
RECORD_KEYS = {"client", "port", "file", "root", "bytes", "blksize", "windowsize", "timeout",
               "tsize", "duration_ms", "retransmits", "outcome"}


class TextLog(h.ServerTestCase):
    FILES = {"127.0.0.2/a.txt": A, "default/b.txt": B, "127.0.0.2/grub/grub.cfg": b"cfg\n"}
    ARGS = ["--timeout", "1", "--retries", "2"]

    def test_record_client_root(self):
        mark = self.srv.log_mark()
        c = self.client("127.0.0.2")
        self.assertBytesEqual(c.fetch("a.txt").data, A)
        r = self.srv.wait_record(since=mark, client="127.0.0.2", file="a.txt")
        self.assertEqual(r["client"], "127.0.0.2:%d" % c.port, r["_line"])
        self.assertEqual(r["root"], "client")
        self.assertEqual(r["bytes"], str(len(A)))
        self.assertEqual(r["blksize"], "512")
        self.assertEqual(r["windowsize"], "1")
        self.assertEqual(r["outcome"], "ok")
        self.assertTrue(r["duration_ms"].isdigit(), r["_line"])

    def test_record_default_root_and_options(self):
        mark = self.srv.log_mark()
        c = self.client("127.0.0.2")
        t = c.fetch("/b.txt", options=[("blksize", "1024"), ("windowsize", "4")])
        self.assertBytesEqual(t.data, B)
        r = self.srv.wait_record(since=mark, client="127.0.0.2", file="b.txt")
        self.assertEqual((r["root"], r["bytes"], r["blksize"], r["windowsize"], r["outcome"]),
                         ("default", str(len(B)), "1024", "4", "ok"), r["_line"])

    def test_record_ipv6(self):
        mark = self.srv.log_mark()
        c = self.client("::1")
        self.assertBytesEqual(c.fetch("b.txt").data, B)
        r = self.srv.wait_record(since=mark, file="b.txt", outcome="ok")
        self.assertIn("::1", r["client"])
        self.assertEqual(h.record_port(r), c.port)

    def test_outcome_probe(self):
        mark = self.srv.log_mark()
        c = self.client("127.0.0.3")
        c.send_rrq("b.txt", options=[("tsize", "0")])
        p = c.expect()
        self.assertEqual(p.opcode, h.OACK)
        c.error(8, "size only", p.peer)
        r = self.srv.wait_record(since=mark, client="127.0.0.3", file="b.txt")
        self.assertEqual(r["outcome"], "probe", r["_line"])

    def test_outcome_aborted(self):
        mark = self.srv.log_mark()
        c = self.client("127.0.0.3")
        c.send_rrq("b.txt")
        p = c.expect()
        c.ack(1, p.peer)
        c.expect()
        c.error(0, "closed", p.peer)
        r = self.srv.wait_record(since=mark, client="127.0.0.3", file="b.txt")
        self.assertEqual(r["outcome"], "aborted", r["_line"])
        self.assertEqual(r["bytes"], "512", "the bytes acknowledged, not the file's size: "
                         + r["_line"])

    def test_outcome_timeout(self):
        mark = self.srv.log_mark()
        c = self.client("127.0.0.4")
        c.send_rrq("b.txt")
        p = c.expect()
        c.ack(1, p.peer)
        r = self.srv.wait_record(since=mark, timeout=15, client="127.0.0.4", file="b.txt")
        self.assertEqual(r["outcome"], "timeout", r["_line"])
        self.assertEqual(r["bytes"], "512", r["_line"])

    def test_outcome_restarted(self):
        mark = self.srv.log_mark()
        port = h.free_port()
        c = self.client("127.0.0.5", port=port)
        c.send_rrq("b.txt")
        p = c.expect()
        c.ack(1, p.peer)
        c.expect()
        c.ack(2, p.peer)          # two answers: a new RRQ now is a reboot, not an echo
        c.expect()
        c.send_rrq("b.txt")
        first = c.expect()
        if first.opcode == h.ERROR and first.peer == p.peer:
            # the old transfer's goodbye (test_firmware reports it as a bug); this test is
            # about the log records only
            first = c.expect()
        self.assertBytesEqual(c.fetch("b.txt", send_request=False, first=first).data, B)
        recs = []
        end = time.monotonic() + 5
        while time.monotonic() < end and len(recs) < 2:
            recs = [r for r in self.srv.records(mark) if h.record_matches(r, {"client": "127.0.0.5"})]
            time.sleep(0.05)
        self.assertEqual(sorted(r["outcome"] for r in recs), ["ok", "restarted"],
                         [r["_line"] for r in recs])

    def test_refusals_say_why(self):
        cases = [("missing-file.txt", "octet", r"not.found"),
                 ("../../etc/passwd", "octet", r"."),
                 ("a.txt", "mail", r"mode")]
        for name, mode, why in cases:
            with self.subTest(name=name):
                mark = self.srv.log_mark()
                self.client("127.0.0.2").expect_error(name, mode=mode)
                text = self.srv.wait_log(lambda t: "127.0.0.2" in t, since=mark)
                lines = [l for l in text.splitlines() if "127.0.0.2" in l]
                self.assertTrue(any(("reason=" in l or "detail=" in l) for l in lines),
                                "refusal without a reason:\n" + text)
                self.assertRegex(text, why)
        mark = self.srv.log_mark()
        c = self.client("127.0.0.2")
        c.send_raw(h.build_request(h.WRQ, "upload.bin"))
        self.assertEqual(c.expect().code, 2)
        text = self.srv.wait_log(lambda t: "127.0.0.2" in t, since=mark)
        self.assertRegex(text, r"(reason|detail)=\"[^\"]+\"", text)

    def test_client_strings_escaped(self):
        mark = self.srv.log_mark()
        evil = b'x"\nFAKE transfer client=6.6.6.6:1 file="f" root=client outcome=ok'
        self.client("127.0.0.2").expect_error(evil)
        quote = b'quo"te\\back.txt'
        self.client("127.0.0.2").expect_error(quote)
        self.srv.wait_log(lambda t: "back.txt" in t, since=mark)
        text = self.srv.log_since(mark)
        for line in text.splitlines():
            self.assertFalse(line.startswith("FAKE"), "log injection: %r" % line)
        self.assertEqual([r for r in self.srv.records(mark) if "6.6.6.6" in r.get("client", "")],
                         [], "a forged record was parsed from the log")
        self.assertIn('quo\\"te\\\\back.txt', text, "quote and backslash must be escaped")


class JsonLog(h.ServerTestCase):
    FILES = {"127.0.0.2/a.txt": A, "default/b.txt": B}
    ARGS = ["--log-format", "json", "--timeout", "1", "--retries", "3"]

    def json_records(self, since):
        return [r["_json"] for r in self.srv.records(since) if "_json" in r]

    def test_json_record_fields(self):
        mark = self.srv.log_mark()
        c = self.client("127.0.0.2")
        self.assertBytesEqual(c.fetch("a.txt", options=[("blksize", "1024"), ("tsize", "0"),
                                                        ("timeout", "2")]).data, A)
        r = self.srv.wait_record(since=mark, client="127.0.0.2", file="a.txt")
        self.assertIn("_json", r, "not a JSON record: " + r["_line"])
        o = r["_json"]
        self.assertTrue(RECORD_KEYS <= set(o), "missing keys: %s" % (RECORD_KEYS - set(o)))
        self.assertEqual(o["client"], "127.0.0.2")
        self.assertEqual(o["port"], c.port)
        self.assertEqual(o["file"], "a.txt")
        self.assertEqual(o["root"], "client")
        self.assertEqual(o["bytes"], len(A))
        self.assertEqual(o["blksize"], 1024)
        self.assertEqual(o["windowsize"], 1)
        self.assertEqual(o["timeout"], 2)
        self.assertIn(o["tsize"], (True, len(A)))
        self.assertEqual(o["retransmits"], 0)
        self.assertEqual(o["outcome"], "ok")
        self.assertIsInstance(o["duration_ms"], (int, float))

    def test_json_retransmits_counted(self):
        mark = self.srv.log_mark()
        c = self.client("127.0.0.3")
        c.send_rrq("b.txt")
        p1 = c.expect()
        p2 = c.expect(timeout=4, what="retransmission")     # ACK 1 dropped once
        self.assertEqual(p2.block, 1)
        self.assertBytesEqual(c.fetch("b.txt", send_request=False, first=p2).data, B)
        o = self.srv.wait_record(since=mark, client="127.0.0.3", file="b.txt")["_json"]
        self.assertGreaterEqual(o["retransmits"], 1)
        self.assertEqual((o["root"], o["outcome"]), ("default", "ok"))

    def test_every_json_line_parses(self):
        mark = self.srv.log_mark()
        self.client("127.0.0.2").expect_error(b'we"ird\\name')
        self.client("127.0.0.2").expect_error("nope.txt")
        self.assertBytesEqual(self.client("::1").fetch("b.txt").data, B)
        self.srv.wait_record(since=mark, file="b.txt")
        for line in self.srv.log_since(mark).splitlines():
            brace = line.find("{")
            if brace >= 0:
                obj = json.loads(line[brace:])      # raises on a broken line
                self.assertIsInstance(obj, dict)
        names = [o.get("file") for o in self.json_records(mark)]
        self.assertIn("b.txt", names)
        self.assertIn("nope.txt", self.srv.log_since(mark))


def run_rtftp(args, timeout=10):
    """Run rtftp to completion; fails the test if it is still running after timeout s."""
    try:
        return subprocess.run([h.rtftp_path()] + args, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("rtftp %s did not exit within %d s" % (" ".join(args), timeout))


class CommandLine(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="rtftp-cli-")
        os.chmod(self.root, 0o755)
        self.addCleanup(os.rmdir, self.root)
        self.port = h.free_port()
        self.user = ["--user", "nobody"] if h.is_root() else []

    def out(self, r):
        return (r.stdout + r.stderr).decode(errors="replace")

    def test_help(self):
        r = run_rtftp(["--help"])
        self.assertEqual(r.returncode, 0, self.out(r))
        self.assertIn("--listen", self.out(r))
        r = run_rtftp(["-h"])
        self.assertEqual(r.returncode, 0, self.out(r))

    def test_version(self):
        for flag in ("--version", "-V"):
            r = run_rtftp([flag])
            self.assertEqual(r.returncode, 0, self.out(r))
            self.assertRegex(self.out(r), r"\d+\.\d+")

    def test_bad_options_exit_2(self):
        l = ["--listen", "127.0.0.1:%d" % self.port]
        cases = [["--bogus"], ["--max-blksize", "7"], ["--max-blksize", "65465"],
                 ["--retries", "0"], ["--retries", "abc"], ["--timeout", "0"],
                 ["--timeout", "256"], ["--port-range", "9000:8000"], ["--port-range", "x"],
                 ["--listen", "999.1.1.1:69"], ["--listen", "[::1"], ["--listen", "127.0.0.1:99999"],
                 ["--log-format", "xml"], ["--max-windowsize", "0"], ["--max-transfers", "-1"],
                 ["--rrq-rate", "+5"]]
        for extra in cases:
            with self.subTest(args=extra):
                r = run_rtftp(l + extra + self.user + [self.root])
                self.assertEqual(r.returncode, 2, "%s: exit %d\n%s" % (extra, r.returncode,
                                                                       self.out(r)))
                self.assertTrue(r.stderr.strip(), "no message for %s" % extra)
        r = run_rtftp(l + self.user)           # no ROOT at all
        self.assertEqual(r.returncode, 2, self.out(r))

    def test_refusals_name_their_limit(self):
        """At most 16 --listen addresses (a 17th is refused, not written past the table), and
        --check-config takes no ROOT."""
        many = []
        for i in range(17):
            many += ["--listen", "127.0.0.%d:%d" % (i + 1, self.port)]
        r = run_rtftp(many + self.user + [self.root])
        self.assertEqual(r.returncode, 2, self.out(r))
        self.assertIn("--listen 127.0.0.17:%d: too many addresses" % self.port, self.out(r))
        r = run_rtftp(many[:32] + self.user + ["--max-blksize", "7", self.root])
        self.assertEqual(r.returncode, 2, self.out(r))
        self.assertNotIn("too many addresses", self.out(r))    # 16 are fine
        r = run_rtftp(self.user + ["--check-config", "/nonexistent/a.nbd", self.root])
        self.assertEqual(r.returncode, 2, self.out(r))
        self.assertIn("--check-config /nonexistent/a.nbd: takes no ROOT", self.out(r))

    def test_missing_root(self):
        r = run_rtftp(["--listen", "127.0.0.1:%d" % self.port] + self.user
                      + ["/nonexistent/rtftp-root"])
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.returncode, 1, self.out(r))
        self.assertIn("/nonexistent/rtftp-root", self.out(r))

    def test_unknown_user(self):
        r = run_rtftp(["--listen", "127.0.0.1:%d" % self.port, "--user",
                       "no-such-user-rtftp", self.root])
        self.assertNotEqual(r.returncode, 0, self.out(r))
        self.assertIn("no-such-user-rtftp", self.out(r))

    def test_port_in_use(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", self.port))
        try:
            r = run_rtftp(["--listen", "127.0.0.1:%d" % self.port] + self.user + [self.root])
        finally:
            s.close()
        self.assertEqual(r.returncode, 1, self.out(r))
        self.assertRegex(self.out(r), r"(?i)(bind|in use)")
        self.assertIn(str(self.port), self.out(r))

    def test_root_requires_user(self):
        if h.is_root():
            r = run_rtftp(["--listen", "127.0.0.1:%d" % self.port, self.root])
            self.assertNotEqual(r.returncode, 0, "started as root without --user:\n" + self.out(r))
            self.assertIn("--user", self.out(r))
        else:
            srv = h.Server(args=[])
            try:
                srv.start()            # as a normal user, no --user is needed
                srv.stop()
            finally:
                srv.cleanup()


if __name__ == "__main__":
    h.main()
