"""GRUB reuses its source port on the next boot: an RRQ from the addr:port of a live transfer
restarts it at once (fresh OACK within 0.5 s, whole file), and the old transfer says no more.
The log records the old one as `restarted`."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import rtftp_harness as h  # noqa: E402

MOD = h.pattern_bytes(50000, seed=3)


class GrubPortReuse(h.ServerTestCase):
    FILES = {"default/grub/normal.mod": MOD}
    ARGS = ["--timeout", "3"]

    def test_restart(self):
        mark = self.srv.log_mark()
        c = self.client("127.0.0.2", port=h.free_port())
        opts = [("blksize", "1024"), ("tsize", "0")]
        c.send_rrq("/grub/normal.mod", options=opts)
        p = c.expect()
        old = p.peer
        c.ack(0, old)
        c.expect()
        c.ack(1, old)
        c.expect()
        sent = time.monotonic()
        c.send_rrq("/grub/normal.mod", options=opts)
        p = c.expect()
        self.assertEqual(p.opcode, h.OACK, p)
        self.assertLess(p.when - sent, 1.5, "served at once, not after the old timeout")
        t = c.fetch("/grub/normal.mod", send_request=False, first=p)
        self.assertBytesEqual(t.data, MOD)
        self.assertEqual([q for q in t.stray + c.recv_all(1.5) if q.peer == old and old != t.tid], [])
        self.srv.wait_record(since=mark, client="127.0.0.2", outcome="restarted")
        self.srv.wait_record(since=mark, client="127.0.0.2", outcome="ok")


if __name__ == "__main__":
    h.main()
