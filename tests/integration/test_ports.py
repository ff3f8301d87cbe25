"""Where replies come from: per-transfer ports, --port-range, --single-port, and the local
address the request was sent to (multi-homed / anycast)."""

import socket
import threading

import rtftp_harness as h

FILES = {"default/f%d.bin" % i: h.pattern_bytes(60000 + 999 * i, seed=70 + i) for i in range(6)}


def parallel_fetch(srv, specs):
    """specs: [(src, name, options)]. Returns [(Transfer or exception text)] in order."""
    out = [None] * len(specs)

    def run(i, src, name, opts):
        try:
            c = h.Client(srv, src)
            try:
                out[i] = c.fetch(name, options=opts)
            finally:
                c.close()
        except Exception as e:
            out[i] = "%s: %r" % (name, e)

    th = [threading.Thread(target=run, args=(i,) + s) for i, s in enumerate(specs)]
    for t in th:
        t.start()
    for t in th:
        t.join(60)
    return out


class EphemeralPorts(h.ServerTestCase):
    FILES = FILES

    def test_each_transfer_has_its_own_port(self):
        a = self.client("127.0.0.2").fetch("f0.bin")
        b = self.client("127.0.0.2").fetch("f1.bin")
        self.assertNotEqual(a.tid[1], self.srv.port, "RFC 1350: a new transfer ID per transfer")
        self.assertNotEqual(b.tid[1], self.srv.port)
        self.assertBytesEqual(a.data, FILES["default/f0.bin"])
        self.assertBytesEqual(b.data, FILES["default/f1.bin"])


class PortRange(h.ServerTestCase):
    FILES = FILES

    @classmethod
    def setUpClass(cls):
        base = h.free_port()
        cls.lo, cls.hi = (base + 100, base + 140) if base < 60000 else (base - 140, base - 100)
        cls.ARGS = ["--port-range", "%d:%d" % (cls.lo, cls.hi)]
        super().setUpClass()

    def test_transfer_ports_in_range(self):
        specs = [("127.0.0.%d" % (2 + i % 3), "f%d.bin" % i, [("windowsize", "4")])
                 for i in range(6)]
        res = parallel_fetch(self.srv, specs)
        for (src, name, _), t in zip(specs, res):
            self.assertIsInstance(t, h.Transfer, t)
            self.assertBytesEqual(t.data, FILES["default/" + name], name)
            self.assertTrue(self.lo <= t.tid[1] <= self.hi,
                            "transfer port %d outside %d:%d" % (t.tid[1], self.lo, self.hi))

    def test_ipv6_in_range(self):
        t = self.client("::1").fetch("f2.bin")
        self.assertTrue(self.lo <= t.tid[1] <= self.hi, t.tid)
        self.assertBytesEqual(t.data, FILES["default/f2.bin"])


class PortRangeCrowded(h.ServerTestCase):
    """A port of the range held by another program: the search for a free port wraps round
    within the range, never past its end."""

    FILES = FILES

    @classmethod
    def setUpClass(cls):
        cls.lo = h.free_port()
        cls.hi = cls.lo + 1
        cls.blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.blocker.bind(("127.0.0.1", cls.hi))
        cls.ARGS = ["--port-range", "%d:%d" % (cls.lo, cls.hi)]
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.blocker.close()

    def test_busy_port_skipped_within_range(self):
        # the search starts at a random port of the two: a dozen transfers start at the busy
        # one about six times
        for i in range(12):
            with self.subTest(transfer=i):
                t = self.client("127.0.0.2").fetch("f0.bin")
                self.assertEqual(t.tid[1], self.lo)
                self.assertBytesEqual(t.data, FILES["default/f0.bin"])


class SinglePort(h.ServerTestCase):
    FILES = FILES
    ARGS = ["--single-port", "--timeout", "1", "--retries", "2"]

    def test_answers_from_listening_port(self):
        t = self.client("127.0.0.2").fetch("f0.bin", options=[("blksize", "1024")])
        self.assertEqual(t.tid, ("127.0.0.1", self.srv.port))
        self.assertBytesEqual(t.data, FILES["default/f0.bin"])
        t = self.client("::1").fetch("f1.bin")
        self.assertEqual(t.tid[1], self.srv.port)
        self.assertBytesEqual(t.data, FILES["default/f1.bin"])

    def test_concurrent_clients(self):
        specs = [("127.0.0.2", "f0.bin", []), ("127.0.0.2", "f1.bin", [("windowsize", "8")]),
                 ("127.0.0.3", "f2.bin", [("blksize", "1468")]), ("::1", "f3.bin", []),
                 ("127.0.0.4", "f4.bin", [("windowsize", "4"), ("blksize", "700")])]
        res = parallel_fetch(self.srv, specs)
        for (src, name, _), t in zip(specs, res):
            self.assertIsInstance(t, h.Transfer, t)
            self.assertBytesEqual(t.data, FILES["default/" + name], name)
            self.assertEqual(t.tid[1], self.srv.port)

    def test_stranger_ack_on_listening_port(self):
        c = self.client("127.0.0.2")
        c.send_rrq("f0.bin")
        p = c.expect()
        stranger = self.client("127.0.0.2")
        stranger.ack(1, p.peer)
        for q in stranger.recv_all(0.5):
            self.assertEqual((q.opcode, q.code), (h.ERROR, 5), repr(q))
        t = c.fetch("f0.bin", send_request=False, first=p)
        self.assertBytesEqual(t.data, FILES["default/f0.bin"])


class ReplyFromRequestedAddress(h.ServerTestCase):
    """On a wildcard listener, the reply leaves from the address the request was sent to."""

    FILES = FILES

    @classmethod
    def setUpClass(cls):
        cls.LISTEN = ["[::]:%d" % h.free_port()]
        super().setUpClass()

    def test_reply_source_address(self):
        for dst in ("127.0.0.1", "127.0.0.7", "127.1.2.3"):
            with self.subTest(dst=dst):
                c = self.client("127.0.0.2", dst=(dst, self.srv.port))
                t = c.fetch("f0.bin")
                self.assertEqual(t.tid[0], dst)
                self.assertBytesEqual(t.data, FILES["default/f0.bin"])

    def test_reply_source_address_single_port_style_error(self):
        c = self.client("127.0.0.2", dst=("127.0.0.9", self.srv.port))
        p = c.expect_error("missing.bin")
        self.assertEqual(p.peer[0], "127.0.0.9")


class MappedListenAddress(h.ServerTestCase):
    """--listen [::ffff:127.0.0.1]:PORT is the IPv4 address 127.0.0.1 (a v6-only socket cannot
    bind a mapped address: rtftp used to stop with "Invalid argument")."""

    FILES = FILES

    @classmethod
    def setUpClass(cls):
        cls.LISTEN = ["[::ffff:127.0.0.1]:%d" % h.free_port()]
        super().setUpClass()

    def test_served_over_ipv4(self):
        t = self.client("127.0.0.2").fetch("f1.bin")
        self.assertBytesEqual(t.data, FILES["default/f1.bin"])
        self.assertIn("listening on 127.0.0.1:%d" % self.srv.port, self.srv.log())


if __name__ == "__main__":
    h.main()
