"""U-Boot asks `timeout 5 tsize 0 blksize 1468 windowsize 8` and rejects an OACK that differs:
the OACK holds exactly those four options, timeout echoed as asked, and no trailing bytes."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import rtftp_harness as h  # noqa: E402

IMG = h.pattern_bytes(100000, seed=1)


class UBootOack(h.ServerTestCase):
    FILES = {"default/u-boot.img": IMG}

    def test_oack_is_exactly_what_was_asked(self):
        c = self.client("127.0.0.2")
        c.send_rrq("u-boot.img", options=[("timeout", "5"), ("tsize", "0"),
                                         ("blksize", "1468"), ("windowsize", "8")])
        p = c.expect()
        self.assertEqual(p.raw, b"\x00\x06timeout\x005\x00tsize\x00100000\x00"
                                b"blksize\x001468\x00windowsize\x008\x00")
        self.assertBytesEqual(c.fetch("u-boot.img", send_request=False, first=p).data, IMG)


if __name__ == "__main__":
    h.main()
