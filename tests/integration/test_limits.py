"""Limits that protect the service: --max-per-client, --max-transfers, --rrq-rate."""

import re
import time

import rtftp_harness as h

FILE = h.pattern_bytes(20000, seed=41)


def hold_transfer(test, src):
    """Start a transfer and leave it waiting (DATA 1 unacknowledged). Returns (client, tid)."""
    c = test.client(src)
    c.send_rrq("file.bin")
    p = c.expect(what="DATA 1 for a held transfer from %s" % src)
    test.assertEqual((p.opcode, p.block), (h.DATA, 1), repr(p))
    return c, p


def release(c, first):
    t = c.fetch("file.bin", send_request=False, first=first)
    return t


class PerClient(h.ServerTestCase):
    FILES = {"default/file.bin": FILE}
    ARGS = ["--max-per-client", "2", "--timeout", "3", "--retries", "3"]

    def test_third_transfer_from_one_address_refused(self):
        mark = self.srv.log_mark()
        held = [hold_transfer(self, "127.0.0.2") for _ in range(2)]
        c3 = self.client("127.0.0.2")
        c3.send_rrq("file.bin")
        p = c3.expect(what="refusal of the third transfer")
        self.assertEqual(p.opcode, h.ERROR, "third concurrent transfer was served: %r" % (p,))
        self.srv.wait_log(r"127\.0\.0\.2.*(max-per-client|too many)", since=mark)
        # another address is not affected
        t = self.client("127.0.0.3").fetch("file.bin")
        self.assertBytesEqual(t.data, FILE)
        # the two held transfers still complete, and then the client may start again
        for c, first in held:
            self.assertBytesEqual(release(c, first).data, FILE)
        time.sleep(0.2)
        self.assertBytesEqual(self.client("127.0.0.2").fetch("file.bin").data, FILE)


class Global(h.ServerTestCase):
    FILES = {"default/file.bin": FILE}
    ARGS = ["--max-transfers", "2", "--timeout", "3", "--retries", "3"]

    def test_max_transfers(self):
        mark = self.srv.log_mark()
        held = [hold_transfer(self, "127.0.0.2"), hold_transfer(self, "127.0.0.3")]
        c = self.client("127.0.0.4")
        c.send_rrq("file.bin")
        p = c.expect(what="refusal at --max-transfers")
        self.assertEqual(p.opcode, h.ERROR, "transfer over --max-transfers served: %r" % (p,))
        self.srv.wait_log(r"127\.0\.0\.4.*max-transfers", since=mark)
        for cl, first in held:
            self.assertBytesEqual(release(cl, first).data, FILE)
        time.sleep(0.2)
        self.assertBytesEqual(self.client("127.0.0.4").fetch("file.bin").data, FILE)


class RrqRate(h.ServerTestCase):
    FILES = {"default/file.bin": FILE, "default/tiny": b"t\n"}
    ARGS = ["--rrq-rate", "5", "--timeout", "1", "--retries", "1"]

    def test_burst_is_limited_and_logged_once(self):
        mark = self.srv.log_mark()
        clients = [self.client("127.0.0.5") for _ in range(50)]
        for c in clients:
            c.send_rrq("tiny")
        time.sleep(0.5)
        served = errors = 0
        for c in clients:
            for p in c.recv_all(0.02):
                if p.opcode == h.DATA:
                    served += 1
                    self.assertEqual(p.data, b"t\n")
                    c.ack(p.block, p.peer)
                elif p.opcode == h.ERROR:
                    errors += 1
        self.assertGreaterEqual(served, 1, "nothing served at all")
        self.assertLessEqual(served, 12, "--rrq-rate 5 (burst 10) served %d of 50" % served)
        self.assertGreaterEqual(errors, 1, "no rate-limit error was sent")
        self.assertLessEqual(served + errors, 50)
        time.sleep(0.5)
        text = self.srv.log_since(mark)
        lines = [l for l in text.splitlines() if "127.0.0.5" in l and re.search(r"(?i)rate|requests a second|too fast", l)]
        self.assertEqual(len(lines), 1, "the rate limit must be logged once:\n" + "\n".join(lines))
        # another client is not affected
        self.assertBytesEqual(self.client("127.0.0.6").fetch("file.bin").data, FILE)
        # and the limited client is served again once it slows down
        time.sleep(2.5)
        self.assertBytesEqual(self.client("127.0.0.5").fetch("file.bin").data, FILE)


if __name__ == "__main__":
    h.main()
