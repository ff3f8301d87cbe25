"""Network-boot firmware, emulated packet by packet from what each is documented to send."""

import threading
import time

import rtftp_harness as h

BOOTX64 = h.pattern_bytes(300000, seed=11)      # an EFI loader
UBOOT_IMG = h.pattern_bytes(200000, seed=12)
GRUB_CFG = b"set timeout=5\nmenuentry 'Linux' {\n  linux /vmlinuz\n}\n"
GRUB_MOD = h.pattern_bytes(150000, seed=13)
RPI = {
    "start4.elf": h.pattern_bytes(220000, seed=14),
    "fixup4.dat": h.pattern_bytes(5400, seed=15),
    "config.txt": b"arm_64bit=1\nkernel=kernel8.img\n",
    "bcm2711-rpi-4-b.dtb": h.pattern_bytes(50000, seed=16),
    "kernel8.img": h.pattern_bytes(400000, seed=17),
}
PXELINUX = h.pattern_bytes(42000, seed=18)


class Firmware(h.ServerTestCase):
    FILES = {
        "127.0.0.2/bootx64.efi": BOOTX64,
        "127.0.0.3/u-boot.img": UBOOT_IMG,
        "default/grub/grub.cfg": GRUB_CFG,
        "default/grub/x86_64-efi/normal.mod": GRUB_MOD,
        "default/pxelinux.0": PXELINUX,
    }
    for _n, _c in RPI.items():
        FILES["127.0.0.4/" + _n] = _c
    ARGS = ["--timeout", "3", "--retries", "3"]

    def test_uefi_pxe_probe_then_fetch(self):
        opts = [("tsize", "0"), ("blksize", "1468"), ("windowsize", "4")]
        probe = self.client("127.0.0.2")
        probe.send_rrq("bootx64.efi", options=opts)
        p = probe.expect(what="OACK to the UEFI size probe")
        self.assertEqual(p.opcode, h.OACK, repr(p))
        self.assertIsNone(p.malformed)
        self.assertEqual(p.options, {"tsize": str(len(BOOTX64)), "blksize": "1468",
                                     "windowsize": "4"})
        probe.error(8, "User aborted the transfer", p.peer)
        self.assertEqual(probe.recv_all(1.5), [], "nothing after the probe's ERROR 8")

        c = self.client("127.0.0.2")       # a new port, as the firmware does
        t = c.fetch("bootx64.efi", options=opts)
        self.assertEqual(t.oack.options["blksize"], "1468")
        self.assertEqual(t.oack.options["windowsize"], "4")
        self.assertEqual(t.max_payload, 1468)
        self.assertBytesEqual(t.data, BOOTX64)
        self.assertEqual(t.duplicates, 0)

    def test_uboot_exact_oack(self):
        """U-Boot rejects an OACK that differs from what it asked."""
        c = self.client("127.0.0.3")
        asked = [("timeout", "5"), ("tsize", "0"), ("blksize", "1468"), ("windowsize", "8")]
        c.send_rrq("u-boot.img", options=asked)
        p = c.expect(what="OACK for U-Boot")
        self.assertEqual(p.opcode, h.OACK, repr(p))
        self.assertIsNone(p.malformed, p.malformed)
        self.assertEqual(sorted(k for k, _ in p.option_pairs),
                         ["blksize", "timeout", "tsize", "windowsize"])
        self.assertEqual(p.options, {"timeout": "5", "tsize": str(len(UBOOT_IMG)),
                                     "blksize": "1468", "windowsize": "8"})
        t = c.fetch("u-boot.img", send_request=False, first=p)
        self.assertBytesEqual(t.data, UBOOT_IMG)
        self.assertEqual(t.duplicates, 0)

    def test_grub_leading_slash_and_early_close(self):
        c = self.client("127.0.0.5")
        t = c.fetch("/grub/grub.cfg", options=[("blksize", "1024"), ("tsize", "0")])
        self.assertEqual(t.oack.options, {"blksize": "1024", "tsize": str(len(GRUB_CFG))})
        self.assertBytesEqual(t.data, GRUB_CFG)

        c = self.client("127.0.0.5")
        c.send_rrq("/grub/x86_64-efi/normal.mod", options=[("blksize", "1024"), ("tsize", "0")])
        p = c.expect()
        self.assertEqual(p.opcode, h.OACK)
        tid = p.peer
        c.ack(0, tid)
        for b in (1, 2, 3):
            q = c.expect(what="DATA %d" % b)
            self.assertEqual((q.opcode, q.block), (h.DATA, b))
            self.assertBytesEqual(q.data, GRUB_MOD[(b - 1) * 1024: b * 1024])
            if b < 3:
                c.ack(b, tid)
        c.error(0, "closed", tid)            # GRUB closes the file early
        self.assertEqual(c.recv_all(2.5), [], "nothing after the client's ERROR 0")

    def test_grub_same_port_restart(self):
        """GRUB reuses its source port on the next boot: a new RRQ from the addr:port of a
        live transfer restarts it at once."""
        port = h.free_port()
        c = self.client("127.0.0.5", port=port)
        opts = [("blksize", "1024"), ("tsize", "0")]
        c.send_rrq("grub/x86_64-efi/normal.mod", options=opts)
        p = c.expect()
        self.assertEqual(p.opcode, h.OACK)
        old_tid = p.peer
        c.ack(0, old_tid)
        for b in range(1, 6):
            q = c.expect(what="DATA %d" % b)
            self.assertEqual(q.block, b)
            if b < 5:
                c.ack(b, old_tid)
        # the machine reboots: the same RRQ from the same address and port, DATA 5 unacked
        sent = time.monotonic()
        c.send_rrq("grub/x86_64-efi/normal.mod", options=opts)
        p = c.expect(timeout=2.0, what="OACK of the restarted transfer")
        self.assertEqual(p.opcode, h.OACK, "restart must begin with a fresh OACK, got %r" % (p,))
        self.assertLess(p.when - sent, 1.5, "restart must be served at once, not after a timeout")
        t = c.fetch("grub/x86_64-efi/normal.mod", send_request=False, first=p)
        self.assertBytesEqual(t.data, GRUB_MOD)
        self.assertEqual(t.blocks[:3], [1, 2, 3])
        late = c.recv_all(2.0)
        stray = [q for q in t.stray + late if q.peer == old_tid and old_tid != t.tid]
        self.assertEqual(stray, [], "the old transfer must be gone")
        self.assertEqual([q for q in late if q.peer == t.tid], [])

    def test_rpi4_serial_prefixed_names_fail_fast(self):
        c = self.client("127.0.0.4")
        for name in ("1a2b3c4d/start4.elf", "1a2b3c4d/config.txt", "dc4b8e2f/fixup4.dat"):
            with self.subTest(name=name):
                sent = time.monotonic()
                p = c.expect_error(name, options=[("tsize", "0"), ("blksize", "1468")])
                self.assertEqual(p.code, 1)
                self.assertLess(p.when - sent, 1.5, "a missing file must be refused at once")

    def test_rpi4_parallel_requests(self):
        results = {}
        errors = []

        def get(name):
            try:
                c = h.Client(self.srv, "127.0.0.4")
                try:
                    results[name] = c.fetch(name, options=[("tsize", "0"), ("blksize", "1468")])
                finally:
                    c.close()
            except Exception as e:       # reported below, in the main thread
                errors.append("%s: %r" % (name, e))

        threads = [threading.Thread(target=get, args=(n,)) for n in RPI]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual(errors, [])
        for name, content in RPI.items():
            self.assertIn(name, results)
            self.assertBytesEqual(results[name].data, content, name)
            self.assertEqual(results[name].oack.options["tsize"], str(len(content)))

    def test_rpi4_early_terminate(self):
        c = self.client("127.0.0.4")
        c.send_rrq("start4.elf", options=[("tsize", "0"), ("blksize", "1468")])
        p = c.expect()
        self.assertEqual(p.opcode, h.OACK)
        self.assertEqual(p.options["tsize"], str(len(RPI["start4.elf"])))
        c.error(0, "Early terminate", p.peer)
        self.assertEqual(c.recv_all(2.0), [])
        t = self.client("127.0.0.4").fetch("start4.elf", options=[("blksize", "1468")])
        self.assertBytesEqual(t.data, RPI["start4.elf"])

    def test_bios_pxe_duplicate_rrq_with_options(self):
        """The same RRQ twice back to back from one port: exactly one transfer."""
        c = self.client("127.0.0.6")
        opts = [("tsize", "0"), ("blksize", "1456")]
        c.send_rrq("pxelinux.0", options=opts)
        c.send_rrq("pxelinux.0", options=opts)
        first = c.recv_all(1.5)       # below the 3 s retransmit timeout
        self.assertEqual([q.opcode for q in first], [h.OACK],
                         "a duplicate RRQ must not start a second stream: %r" % (first,))
        t = c.fetch("pxelinux.0", send_request=False, first=first[0])
        self.assertBytesEqual(t.data, PXELINUX)
        nblocks = len(PXELINUX) // 1456 + 1
        self.assertEqual(t.blocks, list(range(1, nblocks + 1)), "every block once, in order")
        self.assertEqual(t.stray, [])
        self.assertEqual(c.recv_all(1.0), [])

    def test_bios_pxe_duplicate_rrq_without_options(self):
        c = self.client("127.0.0.6")
        c.send_rrq("pxelinux.0")
        c.send_rrq("pxelinux.0")
        first = c.recv_all(1.5)
        self.assertEqual([(q.opcode, q.block) for q in first], [(h.DATA, 1)],
                         "a duplicate RRQ must not start a second stream: %r" % (first,))
        t = c.fetch("pxelinux.0", send_request=False, first=first[0])
        self.assertBytesEqual(t.data, PXELINUX)
        self.assertEqual(t.blocks, list(range(1, len(PXELINUX) // 512 + 2)))
        self.assertEqual(t.stray, [])


if __name__ == "__main__":
    h.main()
