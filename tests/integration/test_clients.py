"""Stock clients written by others (curl, tftp-hpa, atftp, busybox) against a running rtftp,
every file compared byte for byte; per-client roots from several loopback addresses, IPv6 and
IPv4-mapped sources."""

import os
import socket
import tempfile
import unittest

import rtftp_harness as h

SIZES = [0, 1, 511, 512, 513, 1 << 20]
BIG = 40 << 20          # 81920 blocks at blksize 512: the block number rolls over past 65535


def sized_name(n):
    return "f%d.bin" % n


class StockClients(h.ServerTestCase):
    """Stock clients talk from 127.0.0.1 / ::1 (they cannot choose a source address, except
    curl --interface): their files live in ROOT/127.0.0.1/, ROOT/::1/ and ROOT/default/."""

    FILES = {}
    for _n in SIZES:
        FILES["127.0.0.1/" + sized_name(_n)] = h.pattern_bytes(_n, seed=_n)
        FILES["::1/" + sized_name(_n)] = h.pattern_bytes(_n, seed=_n + 7)
    FILES["default/big.bin"] = h.pattern_bytes(BIG, seed=40)
    FILES["127.0.0.2/who.txt"] = b"client 127.0.0.2\n"
    FILES["default/who.txt"] = b"default\n"
    FILES["127.0.0.1/text.txt"] = b"line one\nline two\r\nbare cr\rend\n\n" * 300 + b"\r"

    @classmethod
    def setUpClass(cls):
        h.ensure_tools()
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="rtftp-out-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.tmp, ignore_errors=True))

    def out(self, name):
        p = os.path.join(self.tmp, name)
        if os.path.exists(p):
            os.unlink(p)
        return p

    def expected(self, rel):
        return self.FILES[rel]

    # -- the clients, one function each
    def curl(self, host, name, out, blksize=512, extra=()):
        if name == sized_name(0):
            # curl 7.88 refuses "tsize 0" in an OACK ("invalid tsize -:0:- value", exit 71,
            # with tftpd-hpa too): for the empty file it must not ask for options
            extra = list(extra) + ["--tftp-no-options"]
        url = "tftp://%s:%d/%s" % ("[%s]" % host if ":" in host else host, self.srv.port, name)
        h.run_tool(["curl", "-sS", "--max-time", "120", "--tftp-blksize", str(blksize),
                    *extra, "-o", out, url])

    def tftp_hpa(self, host, name, out, mode="binary"):
        fam = "-6" if ":" in host else "-4"
        h.run_tool(["tftp", fam, "-m", mode, host, str(self.srv.port), "-c", "get", name, out])

    def atftp(self, host, name, out, options=()):
        argv = ["atftp"]
        for o in options:
            argv += ["--option", o]
        h.run_tool(argv + ["--get", "-r", name, "-l", out, host, str(self.srv.port)])

    def busybox(self, host, name, out, blksize=512):
        h.run_tool(["busybox", "tftp", "-g", "-r", name, "-l", out, "-b", str(blksize),
                    host, str(self.srv.port)])

    def check_all_sizes(self, fetch, host="127.0.0.1", folder="127.0.0.1"):
        for n in SIZES:
            with self.subTest(size=n):
                out = self.out("got-%d" % n)
                fetch(host, sized_name(n), out)
                self.assertBytesEqual(h.read_file(out), self.expected(folder + "/" + sized_name(n)),
                                      "%s size %d" % (fetch.__name__, n))

    # -- sizes 0, 1, 511, 512, 513, 1 MiB with each client
    def test_curl_sizes(self):
        self.check_all_sizes(self.curl)

    def test_curl_blksize_1468(self):
        out = self.out("curl1468")
        self.curl("127.0.0.1", sized_name(1 << 20), out, blksize=1468)
        self.assertBytesEqual(h.read_file(out), self.expected("127.0.0.1/" + sized_name(1 << 20)))

    def test_tftp_hpa_sizes(self):
        self.check_all_sizes(self.tftp_hpa)

    def test_atftp_sizes(self):
        self.check_all_sizes(self.atftp)

    def test_atftp_blksize_windowsize(self):
        for n in SIZES:
            with self.subTest(size=n):
                out = self.out("atftp-w-%d" % n)
                self.atftp("127.0.0.1", sized_name(n), out,
                           options=["blksize 1468", "windowsize 8"])
                self.assertBytesEqual(h.read_file(out), self.expected("127.0.0.1/" + sized_name(n)))

    def test_busybox_sizes(self):
        self.check_all_sizes(self.busybox)

    def test_busybox_blksize_1468(self):
        out = self.out("bb1468")
        self.busybox("127.0.0.1", sized_name(1 << 20), out, blksize=1468)
        self.assertBytesEqual(h.read_file(out), self.expected("127.0.0.1/" + sized_name(1 << 20)))

    # -- IPv6 ([::1] listener, ROOT/::1/)
    def test_ipv6_curl(self):
        self.check_all_sizes(self.curl, host="::1", folder="::1")

    def test_ipv6_tftp_hpa(self):
        self.check_all_sizes(self.tftp_hpa, host="::1", folder="::1")

    # -- 40 MiB at blksize 512: 81920 blocks, block numbers roll over 65535 -> 0
    def test_rollover_tftp_hpa(self):
        out = self.out("big-hpa")
        self.tftp_hpa("127.0.0.1", "big.bin", out)
        self.assertBytesEqual(h.read_file(out), self.expected("default/big.bin"), "40 MiB")

    def test_rollover_curl(self):
        out = self.out("big-curl")
        self.curl("127.0.0.1", "big.bin", out, blksize=512)
        self.assertBytesEqual(h.read_file(out), self.expected("default/big.bin"), "40 MiB")

    def test_rollover_busybox(self):
        out = self.out("big-bb")
        self.busybox("127.0.0.1", "big.bin", out, blksize=512)
        self.assertBytesEqual(h.read_file(out), self.expected("default/big.bin"), "40 MiB")

    def test_rollover_raw_block_numbers(self):
        """Our own client checks the block numbers themselves: 1..65535, then 0, 1, ..."""
        c = self.client("127.0.0.1")
        t = c.fetch("big.bin", options=[("windowsize", "16")])
        self.assertBytesEqual(t.data, self.expected("default/big.bin"), "40 MiB raw")
        nblocks = BIG // 512 + 1                  # multiple of 512: one empty DATA at the end
        self.assertEqual(t.duplicates, 0)
        self.assertEqual(len(t.blocks), nblocks)
        self.assertEqual(t.blocks[65534], 65535)
        self.assertEqual(t.blocks[65535], 0, "after block 65535 the server must roll over to 0")
        self.assertEqual(t.blocks[-1], nblocks % 65536)

    # -- netascii
    def test_netascii_tftp_hpa_converts_back(self):
        out = self.out("text-hpa")
        self.tftp_hpa("127.0.0.1", "text.txt", out, mode="netascii")
        self.assertBytesEqual(h.read_file(out), self.expected("127.0.0.1/text.txt"), "netascii")

    def test_netascii_wire_bytes(self):
        """On the wire: LF -> CR LF, CR -> CR NUL; tsize absent or equal to the converted size."""
        src = self.expected("127.0.0.1/text.txt")
        c = self.client("127.0.0.1")
        t = c.fetch("text.txt", mode="netascii")
        self.assertBytesEqual(t.data, h.netascii_encode(src), "netascii wire bytes")
        c2 = self.client("127.0.0.1")
        t2 = c2.fetch("text.txt", mode="NetAscii", options=[("tsize", "0")])
        self.assertBytesEqual(t2.data, h.netascii_encode(src), "netascii wire bytes (tsize)")
        if t2.oack is not None and "tsize" in t2.oack.options:
            self.assertEqual(int(t2.oack.options["tsize"]), len(t2.data),
                             "netascii tsize must be the converted size when it is sent")

    # -- per-client roots with curl --interface
    def test_curl_interface_selects_client_folder(self):
        out = self.out("who2")
        self.curl("127.0.0.1", "who.txt", out, extra=["--interface", "127.0.0.2"])
        self.assertBytesEqual(h.read_file(out), b"client 127.0.0.2\n")
        out = self.out("who3")
        self.curl("127.0.0.1", "who.txt", out, extra=["--interface", "127.0.0.3"])
        self.assertBytesEqual(h.read_file(out), b"default\n")


class PerClientRoots(h.ServerTestCase):
    """ROOT/A/NAME, else ROOT/default/NAME, else ERROR 1, for A = the source address."""

    FILES = {
        "127.0.0.2/a.txt": b"A from 127.0.0.2\n",
        "127.0.0.3/a.txt": b"A from 127.0.0.3\n",
        "::1/a.txt": b"A from ::1\n",
        "default/a.txt": b"A from default\n",
        "default/b.txt": b"B from default\n",
        "127.0.0.2/sub/dir/c.txt": b"C nested\n",
        "127.0.0.3/only3.txt": b"only for .3\n",
    }

    def fetch(self, src, name):
        return self.client(src).fetch(name).data

    def test_client_folder_first(self):
        self.assertEqual(self.fetch("127.0.0.2", "a.txt"), b"A from 127.0.0.2\n")
        self.assertEqual(self.fetch("127.0.0.3", "a.txt"), b"A from 127.0.0.3\n")
        self.assertEqual(self.fetch("::1", "a.txt"), b"A from ::1\n")

    def test_default_fallback(self):
        self.assertEqual(self.fetch("127.0.0.4", "a.txt"), b"A from default\n")
        self.assertEqual(self.fetch("127.0.0.2", "b.txt"), b"B from default\n")
        self.assertEqual(self.fetch("127.0.0.1", "b.txt"), b"B from default\n")

    def test_nested_and_leading_slash(self):
        self.assertEqual(self.fetch("127.0.0.2", "sub/dir/c.txt"), b"C nested\n")
        self.assertEqual(self.fetch("127.0.0.2", "/sub/dir/c.txt"), b"C nested\n")

    def test_not_found_is_error_1(self):
        p = self.client("127.0.0.2").expect_error("missing.txt")
        self.assertEqual(p.code, 1)
        # another client's file is not found for me (no fallback into .3's folder)
        p = self.client("127.0.0.2").expect_error("only3.txt")
        self.assertEqual(p.code, 1)


class DualStackMapped(h.ServerTestCase):
    """A server on [::]:PORT receives IPv4 as IPv4-mapped: it must still use ROOT/127.0.0.2/."""

    FILES = {
        "127.0.0.2/m.txt": b"mapped to 127.0.0.2\n",
        "::ffff:127.0.0.2/m.txt": b"WRONG: the mapped spelling was used\n",
        "::1/m.txt": b"v6 ::1\n",
        "default/m.txt": b"default\n",
    }

    @classmethod
    def setUpClass(cls):
        port = h.free_port()
        cls.LISTEN = ["[::]:%d" % port]
        super().setUpClass()

    def test_ipv4_mapped_uses_dotted_quad_folder(self):
        c = self.client("127.0.0.2")
        t = c.fetch("m.txt")
        self.assertEqual(t.data, b"mapped to 127.0.0.2\n")
        self.assertEqual(t.tid[0], "127.0.0.1", "reply must come from the address we sent to")

    def test_ipv6_on_wildcard(self):
        self.assertEqual(self.client("::1").fetch("m.txt").data, b"v6 ::1\n")


if __name__ == "__main__":
    h.main()
