"""Option negotiation (RFC 2347/2348/2349/7440) seen from the wire: what the OACK holds, what
the DATA packets look like, windows, modes."""

import time

import rtftp_harness as h

F1000 = h.pattern_bytes(1000, seed=1)
F1024 = h.pattern_bytes(1024, seed=2)
F100K = h.pattern_bytes(100000, seed=3)


class Negotiation(h.ServerTestCase):
    FILES = {"default/f1000": F1000, "default/f1024": F1024, "default/f100k": F100K,
             "default/empty": b""}
    # a 3 s retransmit timeout: "one window, then silence" is observed for 1.5 s, which
    # holds even on a heavily loaded machine
    ARGS = ["--timeout", "3", "--retries", "3"]

    def first_reply(self, name, options=(), mode="octet", src="127.0.0.2"):
        c = self.client(src)
        c.send_rrq(name, mode, options)
        return c, c.expect(what="reply to RRQ %s %r" % (name, options))

    def assertOack(self, p, pairs):
        """The OACK holds exactly these (name, value) pairs and nothing after them."""
        self.assertEqual(p.opcode, h.OACK, "expected an OACK, got %r" % (p,))
        self.assertIsNone(p.malformed, "%s: %r" % (p.malformed, p.raw))
        self.assertEqual({k.lower(): v for k, v in p.option_pairs},
                         {k.lower(): v for k, v in pairs})
        expected_raw = b"\x00\x06" + b"".join(
            k.encode() + b"\0" + v.encode() + b"\0" for k, v in p.option_pairs)
        self.assertEqual(p.raw, expected_raw, "OACK must have no trailing bytes")

    def test_oack_echoes_only_what_was_asked(self):
        cases = [
            ([("blksize", "1024")], [("blksize", "1024")]),
            ([("tsize", "0")], [("tsize", "1000")]),
            ([("timeout", "7")], [("timeout", "7")]),
            ([("windowsize", "4")], [("windowsize", "4")]),
            ([("tsize", "0"), ("blksize", "1468")], [("tsize", "1000"), ("blksize", "1468")]),
        ]
        for asked, want in cases:
            with self.subTest(asked=asked):
                c, p = self.first_reply("f1000", asked)
                self.assertOack(p, want)
                t = c.fetch("f1000", send_request=False, first=p)
                self.assertBytesEqual(t.data, F1000)

    def test_option_names_case_insensitive(self):
        c, p = self.first_reply("f1000", [("BlkSize", "256"), ("TSIZE", "0")])
        self.assertOack(p, [("blksize", "256"), ("tsize", "1000")])
        t = c.fetch("f1000", send_request=False, first=p)
        self.assertEqual(t.max_payload, 256)
        self.assertBytesEqual(t.data, F1000)

    def test_unknown_options_ignored(self):
        c, p = self.first_reply("f1000", [("foo", "bar"), ("blksize", "600"), ("multicast", "")])
        self.assertOack(p, [("blksize", "600")])
        self.assertBytesEqual(c.fetch("f1000", send_request=False, first=p).data, F1000)

    def test_only_unknown_options_means_no_oack(self):
        c, p = self.first_reply("f1000", [("foo", "bar")])
        self.assertEqual(p.opcode, h.DATA, "no known option: plain DATA 1, got %r" % (p,))
        self.assertEqual(p.block, 1)
        self.assertBytesEqual(c.fetch("f1000", send_request=False, first=p).data, F1000)

    def test_blksize_never_larger_than_asked(self):
        for asked in ("8", "9", "512", "1468", "8192"):
            with self.subTest(blksize=asked):
                c, p = self.first_reply("f100k", [("blksize", asked)])
                self.assertOack(p, [("blksize", p.options.get("blksize", "?"))])
                got = int(p.options["blksize"])
                self.assertTrue(8 <= got <= int(asked), "blksize %d for %s asked" % (got, int(asked)))
                t = c.fetch("f100k", send_request=False, first=p)
                self.assertEqual(t.max_payload, got)
                self.assertBytesEqual(t.data, F100K)

    def test_blksize_above_ceiling_is_clamped(self):
        c, p = self.first_reply("f100k", [("blksize", "65464")])
        self.assertEqual(p.opcode, h.OACK)
        got = int(p.options["blksize"])
        self.assertTrue(512 <= got <= 65464)
        t = c.fetch("f100k", send_request=False, first=p)
        self.assertEqual(t.max_payload, min(got, len(F100K)))
        self.assertBytesEqual(t.data, F100K)

    def test_timeout_echoed_exactly(self):
        for v in ("1", "5", "255"):
            with self.subTest(timeout=v):
                c, p = self.first_reply("f1000", [("timeout", v), ("tsize", "0")])
                self.assertOack(p, [("timeout", v), ("tsize", "1000")])
                c.error(0, "done", p.peer)

    def test_tsize_is_file_size(self):
        for name, size in (("f1000", 1000), ("f1024", 1024), ("f100k", 100000), ("empty", 0)):
            with self.subTest(name=name):
                c, p = self.first_reply(name, [("tsize", "0")])
                self.assertOack(p, [("tsize", str(size))])
                c.error(8, "probe", p.peer)

    def test_multiple_of_blksize_ends_with_empty_data(self):
        c = self.client("127.0.0.2")
        t = c.fetch("f1024")
        self.assertEqual(t.blocks, [1, 2, 3])
        self.assertBytesEqual(t.data, F1024)
        c = self.client("127.0.0.2")
        t = c.fetch("f1024", options=[("blksize", "256")])
        self.assertEqual(t.blocks, [1, 2, 3, 4, 5])
        self.assertBytesEqual(t.data, F1024)

    def test_empty_file_is_one_empty_data(self):
        c = self.client("127.0.0.2")
        c.send_rrq("empty")
        p = c.expect()
        self.assertEqual((p.opcode, p.block, p.data), (h.DATA, 1, b""))
        c.ack(1, p.peer)
        self.assertEqual(c.recv_all(1.5), [], "nothing after the final ACK")

    def test_windowsize_sends_a_window_then_waits(self):
        c, p = self.first_reply("f100k", [("windowsize", "4")])
        self.assertOack(p, [("windowsize", "4")])
        c.ack(0, p.peer)
        got = c.recv_all(1.5)           # less than the 3 s retransmit timeout
        self.assertEqual([(q.opcode, q.block) for q in got],
                         [(h.DATA, b) for b in (1, 2, 3, 4)])
        c.error(0, "enough", p.peer)

    def test_ack_inside_window_resends_from_next_block(self):
        """RFC 7440: an ACK for block n inside the window makes the server go on from n+1."""
        c, p = self.first_reply("f100k", [("windowsize", "4")])
        tid = p.peer
        c.ack(0, tid)
        got = c.recv_all(1.5)
        self.assertEqual([q.block for q in got], [1, 2, 3, 4])
        c.ack(2, tid)                   # as if 3 had been lost
        got = c.recv_all(1.5)
        self.assertEqual([q.block for q in got], [3, 4, 5, 6])
        for q in got:
            self.assertBytesEqual(q.data, F100K[(q.block - 1) * 512: q.block * 512],
                                  "block %d" % q.block)
        c.error(0, "enough", tid)

    def test_windowed_transfer_complete(self):
        for w in ("2", "8", "64"):
            with self.subTest(windowsize=w):
                c = self.client("127.0.0.2")
                t = c.fetch("f100k", options=[("windowsize", w), ("blksize", "1024")])
                self.assertEqual(t.oack.options["windowsize"], w)
                self.assertBytesEqual(t.data, F100K)
                self.assertEqual(t.duplicates, 0)

    def test_error_8_after_oack_ends_quietly(self):
        c, p = self.first_reply("f100k", [("tsize", "0"), ("blksize", "1468")])
        self.assertEqual(p.opcode, h.OACK)
        c.error(8, "tsize probe", p.peer)
        self.assertEqual(c.recv_all(2.5), [], "server must not send after the client's ERROR 8")

    def test_mode_case_insensitive_and_bad_mode(self):
        c = self.client("127.0.0.2")
        self.assertBytesEqual(c.fetch("f1000", mode="OcTeT").data, F1000)
        for mode in ("mail", "binary", ""):
            with self.subTest(mode=mode):
                p = self.client("127.0.0.2").expect_error("f1000", mode=mode)
                self.assertEqual(p.code, 4, "mode %r: %r" % (mode, p))


class Ceilings(h.ServerTestCase):
    FILES = {"default/f100k": F100K}
    ARGS = ["--max-blksize", "1024", "--max-windowsize", "4", "--timeout", "3"]

    def test_max_blksize(self):
        c = self.client("127.0.0.2")
        t = c.fetch("f100k", options=[("blksize", "8192")])
        self.assertEqual(t.oack.options["blksize"], "1024")
        self.assertEqual(t.max_payload, 1024)
        self.assertBytesEqual(t.data, F100K)

    def test_max_windowsize(self):
        c = self.client("127.0.0.2")
        c.send_rrq("f100k", options=[("windowsize", "16")])
        p = c.expect()
        self.assertEqual(p.opcode, h.OACK)
        self.assertEqual(p.options.get("windowsize"), "4")
        c.ack(0, p.peer)
        got = c.recv_all(1.5)
        self.assertEqual([q.block for q in got], [1, 2, 3, 4])
        c.error(0, "enough", p.peer)
        t = self.client("127.0.0.2").fetch("f100k", options=[("windowsize", "16")])
        self.assertBytesEqual(t.data, F100K)


if __name__ == "__main__":
    h.main()
