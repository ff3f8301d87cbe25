"""Hostile requests: traversal in every spelling, symlinks, other clients' folders, .nbd files,
special files, WRQ, stray opcodes, truncated and huge packets, option abuse. Each must get an
error (or silence, for what a server may not answer), the worker must not die, a normal
request must still work, and no byte from outside the client's roots may ever leave."""

import os
import socket
import time

import rtftp_harness as h

OK = b"ok for 127.0.0.2\n"
SECRET3 = b"SECRET-OF-127.0.0.3-" + os.urandom(6).hex().encode() + b"\n"
NBD_SECRET = b"NBD-CONFIG-SECRET-" + os.urandom(6).hex().encode() + b"\n"
BIG = h.pattern_bytes(5000, seed=31)
CTL = b"a file whose name has a control character\n"
CONTROLS = ("\x01", "\x1b", "\x1f", "\x7f", "\n")
# the longest name served (511 bytes, in three components of at most 255) and one byte more
LONG511 = "L" * 250 + "/" + "M" * 250 + "/" + "n" * 9
LONG512 = LONG511 + "n"
FALLBACK = b"default's rel-out: never the answer for a client folder's link out\n"


class Attacks(h.ServerTestCase):
    FILES = {
        "127.0.0.2/ok.txt": OK,
        "127.0.0.2/big.bin": BIG,
        "127.0.0.2/sub/inner.txt": b"inner\n",
        "127.0.0.3/secret": SECRET3,
        "default/pub.txt": b"public\n",
        "127.0.0.2.nbd": NBD_SECRET,
        "x.nbd": NBD_SECRET,
        "127.0.0.2/" + LONG511: b"511 bytes of name\n",
        "127.0.0.2/" + LONG512: b"512 bytes of name\n",
        "default/rel-out": FALLBACK,
    }
    for _c in CONTROLS:
        FILES["127.0.0.2/ctl%s.txt" % _c] = CTL
    # a high --rrq-rate: this class sends many requests from one address on purpose
    ARGS = ["--map-backslash", "--timeout", "1", "--retries", "2", "--rrq-rate", "10000"]

    @classmethod
    def setup_tree(cls, srv):
        d = srv.path("127.0.0.2")
        outside = os.path.join(srv.outside, "secret.txt")
        os.symlink(outside, os.path.join(d, "abs-out"))                  # absolute, out of ROOT
        os.symlink("../../outside/secret.txt", os.path.join(d, "rel-out"))  # relative, out
        os.symlink("../127.0.0.3/secret", os.path.join(d, "other"))      # into another client
        os.symlink("../127.0.0.2.nbd", os.path.join(d, "nbd-link"))     # to a .nbd file
        os.symlink("/etc/passwd", os.path.join(d, "passwd"))
        os.symlink("ok.txt", os.path.join(d, "in-link"))                 # stays inside: served
        os.symlink("sub/inner.txt", os.path.join(d, "in-link2"))
        os.symlink("/proc/self/environ", os.path.join(d, "magic"))
        os.mkdir(os.path.join(d, "adir"))
        os.mkfifo(os.path.join(d, "fifo"))
        if h.is_root():
            os.mknod(os.path.join(d, "null"), 0o666 | 0o020000, os.makedev(1, 3))
        else:
            os.symlink("/dev/null", os.path.join(d, "null"))
        os.symlink(d, os.path.join(d, "self-dir"))
        cls.snapshot = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.snapshot = cls.srv.tree()
        cls.worker_at_start = cls.srv.worker_pids()
        cls.leaked = []

    def setUp(self):
        super().setUp()
        self.forbidden = [SECRET3.strip(), NBD_SECRET.strip(), self.srv.outside_secret.strip(),
                          b"root:x:0:0", b"PATH="]

    def tearDown(self):
        # nothing received by any client of this test carries a forbidden byte string
        for c in self._clients:
            for p in c.received:
                for f in self.forbidden:
                    self.assertNotIn(f, p.raw, "LEAK: %r from %r" % (f, p))
        super().tearDown()
        self.srv.assert_serves("ok.txt", OK)
        self.assertEqual(self.srv.worker_pids(), self.worker_at_start,
                         "the worker was restarted (it crashed?); log:\n"
                         + self.srv.log()[-3000:])

    def assertRefused(self, name, src="127.0.0.2", mode="octet", options=()):
        c = self.client(src)
        c.send_rrq(name, mode, options)
        p = c.expect(what="ERROR for %r" % (name,))
        self.assertEqual(p.opcode, h.ERROR, "%r was not refused: %r" % (name, p))
        self.assertIsNone(p.malformed)
        if p.opcode != h.ERROR:
            c.error(0, "stop", p.peer)
        return p

    def assertSilentOrError(self, c, what):
        got = c.recv_all(0.6)
        for p in got:
            self.assertEqual(p.opcode, h.ERROR, "%s: the server answered %r" % (what, p))

    # -- traversal
    def test_traversal_spellings(self):
        names = [
            "../outside/secret.txt", "../../outside/secret.txt", "../../../outside/secret.txt",
            "/../outside/secret.txt", "/../../outside/secret.txt",
            "sub/../../../outside/secret.txt", "./../../outside/secret.txt",
            "..\\..\\outside\\secret.txt", "\\..\\..\\outside\\secret.txt",
            "%2e%2e/%2e%2e/outside/secret.txt", "..%2f..%2foutside%2fsecret.txt",
            "....//....//outside/secret.txt",
            "default/../127.0.0.3/secret", "../127.0.0.3/secret", "/../127.0.0.3/secret",
            "..\\127.0.0.3\\secret", "../default/../127.0.0.3/secret",
            "/etc/passwd", "//etc/passwd", "///etc/passwd", "../../../../../../../../etc/passwd",
            "\\etc\\passwd", "/proc/self/environ", "../../../../../../proc/self/environ",
            "..", "../", ".", "./", "/", "//", "sub/..", "adir/",
        ]
        for name in names:
            with self.subTest(name=name):
                self.assertRefused(name)

    def test_other_clients_folder(self):
        for name in ("../127.0.0.3/secret", "127.0.0.3/secret", "/127.0.0.3/secret", "other"):
            with self.subTest(name=name):
                self.assertRefused(name)
        # and 127.0.0.3 itself does get it (the file is real)
        t = self.client("127.0.0.3").fetch("secret")
        self.assertEqual(t.data, SECRET3)
        self._clients[-1].received.clear()

    def test_nbd_files_never_served(self):
        for src in ("127.0.0.2", "127.0.0.4"):
            for name in ("../127.0.0.2.nbd", "../x.nbd", "/../x.nbd", "127.0.0.2.nbd", "x.nbd",
                         "nbd-link", "..\\x.nbd", "./../x.nbd", "sub/../../x.nbd"):
                with self.subTest(src=src, name=name):
                    self.assertRefused(name, src=src)

    def test_symlinks(self):
        for name in ("abs-out", "rel-out", "other", "nbd-link", "passwd", "magic"):
            with self.subTest(name=name):
                self.assertRefused(name)
        self.assertEqual(self.client("127.0.0.2").fetch("in-link").data, OK)
        self.assertEqual(self.client("127.0.0.2").fetch("in-link2").data, b"inner\n")

    def test_only_regular_files(self):
        for name in ("adir", "adir/", "sub", "self-dir", "self-dir/ok.txt", "null"):
            with self.subTest(name=name):
                if name == "self-dir/ok.txt":
                    continue        # a symlink to the client's own folder: either answer is fine
                self.assertRefused(name)
        sent = time.monotonic()
        self.assertRefused("fifo")
        self.assertLess(time.monotonic() - sent, 2.0, "a fifo must not block the worker")

    def test_bad_names(self):
        names = [b"", b"ok\x01.txt", b"ok.txt\n", b"\x1b[31mred", b"ok\x7f.txt",
                 b"a" * 512, b"a" * 600, b"b/" * 300 + b"ok.txt", b"ok.txt\xff\xfe"]
        for name in names:
            with self.subTest(name=name[:40]):
                self.assertRefused(name)

    def test_control_characters_refused_even_for_existing_files(self):
        """A name with a control character (0x00-0x1f, 0x7f) is refused with ERROR 2 before any
        lookup: here a file of that very name exists and must not be served."""
        for ch in CONTROLS:
            with self.subTest(ch=ch):
                p = self.assertRefused("ctl%s.txt" % ch)
                self.assertEqual(p.code, 2, repr(p))
                self.assertIn(b"control character", p.msg)
        self.forbidden.append(CTL.strip())

    def test_name_length_limit(self):
        """A name of 511 bytes is served; 512 is refused with ERROR 2 although the file exists."""
        self.assertEqual(self.client("127.0.0.2").fetch(LONG511).data, b"511 bytes of name\n")
        p = self.assertRefused(LONG512)
        self.assertEqual(p.code, 2, repr(p))
        self.assertIn(b"too long", p.msg)

    def test_empty_names_refused_with_error_2(self):
        """Empty, also once the leading slashes are stripped: ERROR 2, not a lookup of ""."""
        for name in ("", "/", "//", "\\"):
            with self.subTest(name=name):
                p = self.assertRefused(name)
                self.assertEqual(p.code, 2, repr(p))
                self.assertIn(b"empty file name", p.msg)

    def test_every_leading_slash_stripped(self):
        for name, want in (("/ok.txt", OK), ("//ok.txt", OK), ("///sub/inner.txt", b"inner\n")):
            with self.subTest(name=name):
                self.assertEqual(self.client("127.0.0.2").fetch(name).data, want)

    def test_map_backslash_serves_nested_names(self):
        """--map-backslash: Windows-style names reach the same files as slashed ones."""
        self.assertEqual(self.client("127.0.0.2").fetch("sub\\inner.txt").data, b"inner\n")
        self.assertEqual(self.client("127.0.0.2").fetch("\\ok.txt").data, OK)

    def test_link_out_of_client_folder_does_not_fall_back_to_default(self):
        """A name that leads outside the client's folder is refused (ERROR 2), not looked up
        again in default/, where a file of that name exists."""
        p = self.assertRefused("rel-out")
        self.assertEqual(p.code, 2, repr(p))
        self.forbidden.append(FALLBACK.strip())

    def test_error_packets_never_answered(self):
        """An ERROR on the listening port gets no reply at all (two servers must not bounce
        errors at each other), unlike the other stray opcodes."""
        c = self.client("127.0.0.2")
        for pkt in (h.build_error(0, "x"), h.build_error(5, "unknown transfer ID"),
                    h.build_error(8, ""), b"\x00\x05\x00\x01"):
            c.send_raw(pkt)
        self.assertEqual(c.recv_all(0.6), [])
        c.send_raw(h.build_ack(1))
        self.assertEqual(c.expect(what="ERROR 4 for a stray ACK").code, 4)

    def test_nul_inside_name(self):
        # the name ends at the first NUL; what follows is taken as the mode: not a valid RRQ
        c = self.client("127.0.0.2")
        c.send_raw(b"\x00\x01ok.txt\x00../../outside/secret.txt\x00octet\x00")
        self.assertSilentOrError(c, "NUL inside the name")
        c = self.client("127.0.0.2")
        c.send_raw(b"\x00\x01../../outside/secret.txt\x00\x00octet\x00")
        self.assertSilentOrError(c, "empty mode")

    def test_wrq_refused_nothing_written(self):
        before = self.srv.tree()
        for name in ("new.txt", "ok.txt", "../outside/secret.txt", "sub/new.bin", "adir/x"):
            for mode in ("octet", "netascii"):
                with self.subTest(name=name, mode=mode):
                    c = self.client("127.0.0.2")
                    c.send_raw(h.build_request(h.WRQ, name, mode, [("tsize", "10")]))
                    p = c.expect(what="ERROR for WRQ")
                    self.assertEqual((p.opcode, p.code), (h.ERROR, 2), repr(p))
                    # a client that ignores the error and sends DATA anyway
                    c.send_raw(h.build_data(1, b"overwritten!"))
                    c.send_raw(h.build_data(1, b"overwritten!"), p.peer)
                    self.assertSilentOrError(c, "DATA after a refused WRQ")
        time.sleep(0.3)
        self.assertEqual(self.srv.tree(), before, "the tree changed")

    def test_other_opcodes_on_listening_port(self):
        packets = [
            h.build_data(1, b"hello"), h.build_ack(0), h.build_ack(1), h.build_error(0, "x"),
            h.build_error(8, ""), b"\x00\x06blksize\x00512\x00", b"\x00\x63ok.txt\x00octet\x00",
            b"\x00\x00ok.txt\x00octet\x00", b"\xff\xffok.txt\x00octet\x00", b"\x00\x07",
        ]
        for pkt in packets:
            with self.subTest(pkt=pkt[:12]):
                c = self.client("127.0.0.2")
                c.send_raw(pkt)
                self.assertSilentOrError(c, "opcode %r" % pkt[:2])

    def test_garbage_on_transfer_port(self):
        """Malformed packets sent to a live transfer's port: ignored or answered with an
        error, and the transfer still completes."""
        c = self.client("127.0.0.2")
        c.send_rrq("big.bin", options=[("blksize", "1024")])
        p = c.expect()
        self.assertEqual(p.opcode, h.OACK)
        tid = p.peer
        for pkt in (b"", b"\x00", b"\x00\x04", b"\x00\x04\x00", b"\x00\x05", b"\x00\x05\x00",
                    b"\x00\x63\x00\x00", b"\x00\x01ok.txt\x00octet\x00",
                    b"\x00\x02ok.txt\x00octet\x00", b"\x00\x03\x00\x01abc", b"\x00\x06x\x00",
                    os.urandom(60000)):
            c.send_raw(pkt, tid)
        for q in c.recv_all(0.5):
            self.assertIn(q.opcode, (h.ERROR, h.OACK, h.DATA), repr(q))
            if q.opcode == h.ERROR:
                return          # the server may end a transfer on a protocol error
        t = c.fetch("big.bin", send_request=False, first=p)
        self.assertBytesEqual(t.data, BIG)

    def test_truncated_packets(self):
        packets = [b"", b"\x00", b"\x01", b"\x00\x01", b"\x00\x01o", b"\x00\x01ok.txt",
                   b"\x00\x01ok.txt\x00", b"\x00\x01ok.txt\x00octet", b"\x00\x01\x00",
                   b"\x00\x01\x00octet\x00", b"\x00\x01ok.txt\x00octet\x00blksize",
                   b"\x00\x01ok.txt\x00octet\x00blksize\x00", b"\x00\x05", b"\x00\x04\x00"]
        for pkt in packets:
            with self.subTest(pkt=pkt):
                c = self.client("127.0.0.2")
                c.send_raw(pkt)
                got = c.recv_all(0.6)
                for p in got:
                    # an unterminated last option may be dropped and the file served: then it
                    # must be the right file
                    if p.opcode == h.DATA and pkt.startswith(b"\x00\x01ok.txt\x00octet\x00"):
                        self.assertEqual(p.data, OK)
                        c.ack(p.block, p.peer)
                    else:
                        self.assertEqual(p.opcode, h.ERROR, "%r answered with %r" % (pkt, p))

    def test_huge_datagrams(self):
        for pkt in (b"\x00\x01" + b"a" * 64990 + b"\x00octet\x00",
                    b"\x00\x01ok.txt\x00octet\x00" + b"x" * 64990,
                    b"\x00\x01ok.txt\x00octet\x00" + b"blksize\x00" * 7000,
                    os.urandom(65000)):
            with self.subTest(len=len(pkt)):
                c = self.client("127.0.0.2")
                c.send_raw(pkt)
                got = c.recv_all(0.8)
                for p in got:
                    if p.opcode in (h.DATA, h.OACK):
                        c.error(0, "stop", p.peer)
                        if p.opcode == h.DATA:
                            self.assertEqual(p.data, OK)
                    else:
                        self.assertEqual(p.opcode, h.ERROR)

    def test_datagram_over_2048_bytes_refused(self):
        """A request of 2048 bytes is read; one byte more is refused as a whole with ERROR 4,
        even when its first 2048 bytes are a valid RRQ for a file that exists."""
        base = b"\x00\x01ok.txt\x00octet\x00pad\x00"

        def request_of(size):
            c = self.client("127.0.0.2")
            c.send_raw(base + b"v" * (size - len(base) - 1) + b"\x00")
            return c, c.expect()

        c, p = request_of(2048)
        self.assertEqual(c.fetch("ok.txt", send_request=False, first=p).data, OK)
        c, p = request_of(2049)
        self.assertEqual((p.opcode, p.code), (h.ERROR, 4), repr(p))
        self.assertIn(b"too large", p.msg)

    def test_ipv6_huge_datagram(self):
        c = self.client("::1")
        c.send_raw(b"\x00\x01" + b"a" * 65000 + b"\x00octet\x00")
        self.assertSilentOrError(c, "65 KB IPv6 datagram")

    def test_thousand_garbage_options(self):
        opts = [("x%d" % i, "y" * (i % 40)) for i in range(1000)]
        c = self.client("127.0.0.2")
        c.send_rrq("big.bin", options=opts + [("blksize", "1024")])
        p = c.expect()
        if p.opcode == h.ERROR:
            return
        t = c.fetch("big.bin", send_request=False, first=p)
        self.assertBytesEqual(t.data, BIG)
        if t.oack is not None:
            self.assertEqual(set(t.oack.options), {"blksize"})

    def test_option_value_abuse(self):
        bad = [
            ("blksize", "+5"), ("blksize", "0x10"), ("blksize", "99999999999999999999"),
            ("blksize", " 512"), ("blksize", "512 "), ("blksize", ""), ("blksize", "-1"),
            ("blksize", "0"), ("blksize", "7"), ("blksize", "1e3"), ("blksize", "５１２"),
            ("windowsize", "0"), ("windowsize", "70000"), ("windowsize", "+4"),
            ("timeout", "0"), ("timeout", "256"), ("timeout", "+5"), ("timeout", "05x"),
            ("tsize", "abc"), ("tsize", "-1"),
        ]
        for k, v in bad:
            with self.subTest(option=k, value=v):
                c = self.client("127.0.0.2")
                c.send_rrq("big.bin", options=[(k, v)])
                p = c.expect()
                if p.opcode == h.ERROR:
                    self.assertEqual(p.code, 8, "a refused option is error 8: %r" % (p,))
                    continue
                if p.opcode == h.OACK:
                    self.assertNotIn(k, p.options, "invalid %s=%r was echoed: %r" % (k, v, p))
                t = c.fetch("big.bin", send_request=False, first=p)
                self.assertEqual(t.max_payload, 512)
                self.assertBytesEqual(t.data, BIG)

    def test_option_values_clamped(self):
        for v in ("65465", "1000000", "4294967297"):
            with self.subTest(blksize=v):
                c = self.client("127.0.0.2")
                c.send_rrq("big.bin", options=[("blksize", v)])
                p = c.expect()
                if p.opcode == h.ERROR:
                    self.assertEqual(p.code, 8)
                    continue
                if p.opcode == h.OACK and "blksize" in p.options:
                    self.assertLessEqual(int(p.options["blksize"]), 65464)
                t = c.fetch("big.bin", send_request=False, first=p)
                self.assertBytesEqual(t.data, BIG)

    def test_duplicate_options(self):
        c = self.client("127.0.0.2")
        c.send_rrq("big.bin", options=[("blksize", "1024"), ("blksize", "64"),
                                       ("BLKSIZE", "8")])
        p = c.expect()
        self.assertEqual(p.opcode, h.OACK)
        self.assertIsNone(p.malformed, p.malformed)
        self.assertEqual(len(p.option_pairs), 1, "one blksize in the OACK: %r" % (p,))
        t = c.fetch("big.bin", send_request=False, first=p)
        self.assertBytesEqual(t.data, BIG)

    def test_tree_unchanged_after_everything(self):
        # runs last in alphabetical order among the tests that touch the tree
        self.assertEqual(self.srv.tree(), self.snapshot, "the tree below the temporary folder changed")


class NamesAsSent(h.ServerTestCase):
    """Without --map-backslash a backslash is an ordinary character of the name."""
    FILES = {"default/back\\slash.txt": b"a backslash in the name\n",
             "default/back/slash.txt": b"WRONG: the backslash was mapped\n"}

    def test_backslash_kept_without_map_backslash(self):
        t = self.client("127.0.0.2").fetch("back\\slash.txt")
        self.assertEqual(t.data, b"a backslash in the name\n")


class AllowExt(h.ServerTestCase):
    FILES = {"default/boot.efi": b"efi\n", "default/disk.img": b"img\n",
             "default/grub.cfg": b"cfg\n", "default/boot.efi.txt": b"txt\n",
             "default/noext": b"none\n", "default/BOOT.EFI": b"EFI\n",
             "default/disk.im": b"im\n", "default/boot.ef": b"ef\n"}
    ARGS = ["--allow-ext", ".efi,.img"]

    def test_allowed_served(self):
        self.assertEqual(self.client("127.0.0.2").fetch("boot.efi").data, b"efi\n")
        self.assertEqual(self.client("127.0.0.2").fetch("disk.img").data, b"img\n")

    def test_others_refused(self):
        for name in ("grub.cfg", "boot.efi.txt", "noext", "efi", "boot.efi/", "boot.efi\x00"):
            with self.subTest(name=name):
                c = self.client("127.0.0.2")
                c.send_rrq(name)
                p = c.expect()
                self.assertEqual(p.opcode, h.ERROR, "%r served despite --allow-ext: %r"
                                 % (name, p))

    def test_extension_case_insensitive(self):
        self.assertEqual(self.client("127.0.0.2").fetch("BOOT.EFI").data, b"EFI\n")

    def test_extension_matched_whole(self):
        """.im and .ef are not .img and .efi: a prefix of an allowed extension is refused."""
        for name in ("disk.im", "boot.ef"):
            with self.subTest(name=name):
                c = self.client("127.0.0.2")
                c.send_rrq(name)
                p = c.expect()
                self.assertEqual((p.opcode, p.code), (h.ERROR, 2), repr(p))
                self.assertIn(b"file type not served", p.msg)


if __name__ == "__main__":
    h.main()
