"""A BIOS PXE ROM sends the same RRQ twice back to back from one port: one OACK, one stream,
every block once and in order."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import rtftp_harness as h  # noqa: E402

PXE = h.pattern_bytes(20000, seed=2)


class BiosDuplicate(h.ServerTestCase):
    FILES = {"default/pxelinux.0": PXE}
    ARGS = ["--timeout", "3"]

    def test_one_stream(self):
        c = self.client("127.0.0.2")
        for _ in range(2):
            c.send_rrq("pxelinux.0", options=[("tsize", "0"), ("blksize", "1456")])
        first = c.recv_all(1.5)       # below the 3 s retransmit timeout
        self.assertEqual([p.opcode for p in first], [h.OACK], first)
        t = c.fetch("pxelinux.0", send_request=False, first=first[0])
        self.assertBytesEqual(t.data, PXE)
        self.assertEqual(t.blocks, list(range(1, len(PXE) // 1456 + 2)))
        self.assertEqual(c.recv_all(1.0), [])


if __name__ == "__main__":
    h.main()
