"""Loss, duplicates and strangers: bounded retransmission, no Sorcerer's Apprentice, ERROR 5
for a wrong port, and a server that cannot be used as a reflector."""

import threading
import time

import rtftp_harness as h

FILE = h.pattern_bytes(40000, seed=21)


def collect_until_quiet(client, quiet, limit):
    """Packets until none arrived for `quiet` seconds (or `limit` seconds in all)."""
    out = []
    end = time.monotonic() + limit
    while time.monotonic() < end:
        p = client.recv(min(quiet, end - time.monotonic()))
        if p is None:
            break
        out.append(p)
    return out


class Retransmit(h.ServerTestCase):
    FILES = {"default/file.bin": FILE}
    # --timeout 2: short enough to keep the class fast, long enough that "one window, then
    # silence" (observed for 1.2 s) holds on a loaded machine
    ARGS = ["--timeout", "2", "--retries", "2"]

    def test_dropped_ack_resends_block(self):
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin")
        p1 = c.expect()
        self.assertEqual((p1.opcode, p1.block), (h.DATA, 1))
        p2 = c.expect(timeout=6, what="retransmission of DATA 1")      # ACK 1 "dropped"
        self.assertEqual((p2.opcode, p2.block, p2.data), (h.DATA, 1, p1.data))
        self.assertEqual(p2.peer, p1.peer)
        gap = p2.when - p1.when
        self.assertTrue(1.5 <= gap <= 5.0, "retransmit after %.2f s with --timeout 2" % gap)
        c.ack(1, p1.peer)
        q = c.expect()
        self.assertEqual(q.block, 2)
        q2 = c.expect(timeout=6, what="retransmission of DATA 2")       # drop ACK 2 too
        self.assertEqual((q2.block, q2.data), (2, q.data))
        t = c.fetch("file.bin", send_request=False, first=q2, after_block=1)
        self.assertBytesEqual(FILE[:512] + t.data, FILE)

    def test_dropped_window_resent_from_first_unacked(self):
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin", options=[("windowsize", "4")])
        p = c.expect()
        self.assertEqual(p.opcode, h.OACK)
        tid = p.peer
        c.ack(0, tid)
        first = c.recv_all(1.2)
        self.assertEqual([q.block for q in first], [1, 2, 3, 4])
        again = c.recv_all(2.5)       # no ACK at all: the window comes again after ~2 s
        self.assertTrue(again, "no retransmission of the window")
        self.assertEqual(again[0].block, 1, "resend starts at the first unacknowledged block")
        self.assertEqual([q.block for q in again][:4], [1, 2, 3, 4][:len(again)])
        for q in again:
            self.assertBytesEqual(q.data, FILE[(q.block - 1) * 512: q.block * 512])
        c.ack(4, tid)
        got = c.recv_all(1.2)
        self.assertEqual([q.block for q in got], [5, 6, 7, 8])
        c.error(0, "enough", tid)

    def test_duplicate_ack_no_duplicate_resend(self):
        """Sorcerer's Apprentice: ACK n twice must not make DATA n+1 go out twice."""
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin")
        p = c.expect()
        tid = p.peer
        c.ack(1, tid)
        c.ack(1, tid)
        got = c.recv_all(1.2)
        self.assertEqual([(q.opcode, q.block) for q in got], [(h.DATA, 2)],
                         "duplicate ACK 1 must give exactly one DATA 2")
        for _ in range(3):
            c.ack(2, tid)
        got = c.recv_all(1.2)
        self.assertEqual([q.block for q in got], [3], "three ACK 2 must give one DATA 3")
        c.error(0, "enough", tid)

    def test_duplicate_ack_windowed(self):
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin", options=[("windowsize", "4")])
        p = c.expect()
        tid = p.peer
        c.ack(0, tid)
        c.ack(0, tid)
        got = c.recv_all(1.2)
        self.assertEqual([q.block for q in got], [1, 2, 3, 4], "one window per ACK 0")
        c.ack(4, tid)
        c.ack(4, tid)
        got = c.recv_all(1.2)
        self.assertEqual([q.block for q in got], [5, 6, 7, 8], "one window per ACK 4")
        c.error(0, "enough", tid)

    def test_gives_up_after_retries_and_logs_timeout(self):
        mark = self.srv.log_mark()
        c = self.client("127.0.0.8")
        c.send_rrq("file.bin")
        p = c.expect()
        c.ack(1, p.peer)
        got = collect_until_quiet(c, quiet=6.0, limit=30.0)   # sends at ~0, 2, 6 s
        blocks = [q.block for q in got]
        self.assertEqual(blocks, [2, 2, 2],
                         "--retries 2: DATA 2 once and retransmitted twice, then nothing")
        rec = self.srv.wait_record(since=mark, timeout=15, client="127.0.0.8")
        self.assertEqual(rec["outcome"], "timeout", rec["_line"])

    def test_wrong_port_gets_error_5_and_transfer_goes_on(self):
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin")
        p = c.expect()
        tid = p.peer
        for src in ("127.0.0.2", "127.0.0.3"):
            with self.subTest(stranger=src):
                stranger = self.client(src)
                stranger.ack(1, tid)
                e = stranger.expect(what="ERROR 5 for a stranger")
                self.assertEqual((e.opcode, e.code), (h.ERROR, 5), repr(e))
                self.assertEqual(e.peer, tid)
                stranger.send_raw(h.build_data(1, b"junk"), tid)
                e = stranger.expect(what="ERROR 5 for stranger DATA")
                self.assertEqual((e.opcode, e.code), (h.ERROR, 5), repr(e))
        t = c.fetch("file.bin", send_request=False, first=p)
        self.assertBytesEqual(t.data, FILE)

    def test_stranger_error_not_answered(self):
        """A stranger's ERROR on a transfer's port gets no ERROR 5 back (two servers must not
        bounce errors at each other forever); its ACK does, and the transfer goes on."""
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin")
        p = c.expect()
        tid = p.peer
        stranger = self.client("127.0.0.3")
        stranger.error(5, "unknown transfer ID", tid)
        self.assertEqual(stranger.recv_all(0.5), [], "an ERROR was answered")
        stranger.ack(1, tid)
        e = stranger.expect(what="ERROR 5 for the stranger's ACK")
        self.assertEqual((e.opcode, e.code), (h.ERROR, 5), repr(e))
        t = c.fetch("file.bin", send_request=False, first=p)
        self.assertBytesEqual(t.data, FILE)

    def test_lost_ack_0_resends_oack(self):
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin", options=[("blksize", "1024"), ("tsize", "0")])
        p = c.expect()
        self.assertEqual(p.opcode, h.OACK)
        q = c.expect(timeout=6, what="OACK again after a lost ACK 0")
        self.assertEqual((q.raw, q.peer), (p.raw, p.peer), "the same OACK, from the same port")
        self.assertTrue(1.5 <= q.when - p.when <= 5.0, q.when - p.when)
        t = c.fetch("file.bin", send_request=False, first=q)
        self.assertBytesEqual(t.data, FILE)
        self.assertEqual(t.duplicates, 0)

    def test_ack_for_unsent_block_ignored(self):
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin")
        p = c.expect()
        for b in (1000, 65535, 3):
            c.ack(b, p.peer)          # blocks never sent: change nothing
        self.assertEqual(c.recv_all(0.5), [])
        t = c.fetch("file.bin", send_request=False, first=p)
        self.assertBytesEqual(t.data, FILE)

    def test_client_timeout_option_sets_retransmit_interval(self):
        c = self.client("127.0.0.2")
        c.send_rrq("file.bin", options=[("timeout", "3")])
        p = c.expect()
        self.assertEqual(p.options, {"timeout": "3"})
        c.ack(0, p.peer)
        d1 = c.expect()
        d2 = c.expect(timeout=6, what="retransmission with timeout 3")
        self.assertEqual((d1.block, d2.block), (1, 1))
        gap = d2.when - d1.when
        self.assertTrue(2.0 <= gap <= 5.0, "retransmit after %.2f s with timeout 3" % gap)
        c.error(0, "enough", p.peer)


class NoReflection(h.ServerTestCase):
    """A spoofed RRQ (a victim that never answers) gets at most 3 packets in all, even with
    the default --retries."""

    FILES = {"default/file.bin": FILE}
    ARGS = ["--timeout", "1"]

    def test_spoofed_rrq_is_bounded(self):
        results = {}

        def victim(name, options):
            c = h.Client(self.srv, "127.0.0.9")
            try:
                c.send_rrq("file.bin", options=options)
                results[name] = collect_until_quiet(c, quiet=6.0, limit=40.0)
            finally:
                c.close()

        threads = [threading.Thread(target=victim, args=("plain", [])),
                   threading.Thread(target=victim, args=("oack", [("blksize", "1468"),
                                                                 ("tsize", "0")]))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertTrue(results["plain"], "the server did answer at all")
        self.assertLessEqual(len(results["plain"]), 3, results["plain"])
        self.assertTrue(all(q.opcode == h.DATA and q.block == 1 for q in results["plain"]))
        self.assertTrue(results["oack"])
        self.assertLessEqual(len(results["oack"]), 3, results["oack"])
        self.assertTrue(all(q.opcode == h.OACK for q in results["oack"]))


if __name__ == "__main__":
    h.main()
