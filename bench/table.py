#!/usr/bin/env python3
"""Summarise bench/run.sh results: median over the rounds per server and scenario, as a
Markdown table with rtftp's ratio to each peer.  usage: table.py results.txt [header.txt]"""
import math
import statistics
import sys
from collections import defaultdict

SERVERS = ["rtftp", "hpa", "dnsmasq", "floor", "floorep"]
NAMES = {"rtftp": "rtftp", "hpa": "tftpd-hpa", "dnsmasq": "dnsmasq", "floor": "floor (tftpfloor)",
         "floorep": "floor with epoll (tftpfloor -e)"}

# metric: (label, better: +1 higher / -1 lower / 0 neither, how to combine reps)
METRICS = {
    "ok": ("transfers ok (sum)", 0, "sum"),
    "failed": ("transfers failed (sum)", -1, "sum"),
    "mbs": ("aggregate MB/s", +1, "median"),
    "limit_frac": ("share of the stop-and-wait limit", +1, "median"),
    "p50_ms": ("latency p50 ms", -1, "median"),
    "p99_ms": ("latency p99 ms", -1, "median"),
    "ttfb_p50_ms": ("first DATA p50 ms", -1, "median"),
    "ttfb_p99_ms": ("first DATA p99 ms", -1, "median"),
    "client_timeouts": ("client timeouts", -1, "median"),
    "rrq_timeouts": ("  of which waiting for the first answer", -1, "median"),
    "dup_data": ("duplicate DATA received", -1, "median"),
    "recovery_acks": ("recovery ACKs sent by clients", 0, "median"),
    "cpu_ms_per_mb": ("server CPU ms per MB", -1, "median"),
    "sys_ms_per_mb": ("  of which in the kernel", -1, "median"),
    "mem_rss_mib": ("server Rss peak MiB (sum of processes)", -1, "median"),
    "mem_pss_mib": ("server Pss peak MiB (sum of processes)", -1, "median"),
    "mem_procs": ("server processes (peak)", 0, "median"),
    "cg_mem_peak_mib": ("cgroup memory peak MiB (incl. kernel)", -1, "median"),
    "start_failed": ("server failed to start (rounds)", -1, "sum"),
    "not_alive": ("server gone after the load (rounds)", -1, "sum"),
}
BY_SCEN = {
    "a": ["ok", "failed", "mbs", "limit_frac", "cpu_ms_per_mb", "sys_ms_per_mb"],
    "b": ["ok", "failed", "mbs", "p50_ms", "p99_ms", "ttfb_p99_ms", "client_timeouts", "rrq_timeouts",
          "cpu_ms_per_mb", "sys_ms_per_mb", "mem_rss_mib", "mem_pss_mib", "mem_procs"],
    "c": ["ok", "failed", "mbs", "p50_ms", "p99_ms", "client_timeouts", "dup_data", "recovery_acks",
          "cpu_ms_per_mb", "sys_ms_per_mb"],
    "d": ["ok", "failed", "mem_rss_mib", "mem_pss_mib", "mem_procs", "cg_mem_peak_mib", "mbs",
          "client_timeouts", "cpu_ms_per_mb", "sys_ms_per_mb"],
    "ttfb": ["ok", "failed", "ttfb_p50_ms", "ttfb_p99_ms", "p50_ms"],
    "soak": ["ok", "failed", "mem_rss_mib", "mem_pss_mib", "mem_procs", "mbs", "client_timeouts",
             "cpu_ms_per_mb", "sys_ms_per_mb"],
}


def num(v):
    try:
        return float(v)
    except ValueError:
        return math.nan


def fmt(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 100 or x == int(x):
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if abs(x) >= 0.1 else f"{x:.3f}"


def main():
    rows = defaultdict(list)          # (server, scen) -> [dict]
    pingpong = {}
    ttfbx = {}
    for line in open(sys.argv[1]):
        parts = line.split()
        if len(parts) < 3:
            continue
        srv, scen = parts[0], parts[1]
        kv = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
        if srv == "pingpong":
            pingpong[scen[3:]] = kv
            continue
        if scen.startswith("ttfbx-"):
            ttfbx[scen[6:]] = kv
            continue
        d = {k: num(v) for k, v in kv.items()}
        if "start_failed" in kv:
            rows[(srv, scen)].append({"start_failed": 1.0})
            continue
        mb = d.get("bytes", 0) / 1e6
        d["cpu_ms_per_mb"] = d["server_cpu_us"] / 1000 / mb if mb > 0 else math.nan
        ticks = d.get("server_user_ticks", math.nan) + d.get("server_sys_ticks", math.nan)
        share = d.get("server_sys_ticks", math.nan) / ticks if ticks > 0 else math.nan
        d["sys_ms_per_mb"] = d["cpu_ms_per_mb"] * share
        d["mem_rss_mib"] = d.get("mem_rss_kib", math.nan) / 1024
        d["mem_pss_mib"] = d.get("mem_pss_kib", math.nan) / 1024
        d["cg_mem_peak_mib"] = d.get("cg_mem_peak_kib", math.nan) / 1024
        d["not_alive"] = 1.0 - d.get("server_alive", 1.0)
        d["start_failed"] = 0.0
        if scen.startswith("a-"):
            place = scen.rsplit("-", 1)[1]
            lim = num(pingpong.get(place, {}).get("limit_mbs", "nan"))
            d["limit_frac"] = d.get("mbs", math.nan) / lim if lim == lim else math.nan
        rows[(srv, scen)].append(d)

    if len(sys.argv) > 2:
        for h in open(sys.argv[2]):
            print(h.rstrip().lstrip("# "))
        print()
    if pingpong:
        print("Loopback stop-and-wait limit (tftpload --pingpong: one blksize+4 datagram, one 4-byte reply):")
        for place, kv in pingpong.items():
            print(f"  {place} ({kv.get('cpus')}): rtt mean {kv.get('rtt_mean_us')} us -> "
                  f"{kv.get('limit_mbs')} MB/s")
        print()

    servers = [s for s in SERVERS if any(k[0] == s for k in rows)]
    peers = [s for s in servers if s != "rtftp"]
    scens = []
    for (_, sc) in rows:
        if sc not in scens:
            scens.append(sc)
    order = {"a": 0, "b": 1, "c": 2, "d": 3, "soak": 4, "ttfb": 5}
    scens.sort(key=lambda s: (order.get(s.split("-")[0], 9), s))

    def combine(srv, scen, m):
        vals = [r[m] for r in rows.get((srv, scen), []) if m in r and not math.isnan(r[m])]
        if not vals:
            return math.nan
        return sum(vals) if METRICS[m][2] == "sum" else statistics.median(vals)

    hdr = ["scenario", "figure"] + [NAMES[s] for s in servers]
    if "rtftp" in servers:
        hdr += [f"rtftp / {NAMES[p]}" for p in peers]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for sc in scens:
        fam = sc.split("-")[0]
        nrep = max(len(rows.get((s, sc), [])) for s in servers)
        metrics = list(BY_SCEN.get(fam, ["ok", "failed", "mbs"]))
        if any(combine(s, sc, "start_failed") > 0 for s in servers):
            metrics.append("start_failed")
        if any(combine(s, sc, "not_alive") > 0 for s in servers):
            metrics.append("not_alive")
        for m in metrics:
            label, better, _ = METRICS[m]
            vals = {s: combine(s, sc, m) for s in servers}
            if all(math.isnan(v) for v in vals.values()):
                continue
            cells = [f"{sc} (x{nrep})", label + (" (higher is better)" if better > 0 else
                                                  " (lower is better)" if better < 0 else "")]
            cells += [fmt(vals[s]) for s in servers]
            if "rtftp" in servers:
                for p in peers:
                    r, q = vals["rtftp"], vals[p]
                    cells.append(fmt(r / q) if better and q and not math.isnan(q) and not math.isnan(r) else "")
            print("| " + " | ".join(cells) + " |")
    if ttfbx:
        print("\nTime to first DATA (rtftp, one client, size probe then the real RRQ; fresh server per name):\n")
        print("| name | first fetch: probe ms | first fetch: first DATA ms | first fetch MB/s | "
              "second fetch: first DATA ms | second MB/s | later fetches: first DATA p50 ms | later MB/s p50 |")
        print("|---|---|---|---|---|---|---|---|")
        for label, kv in ttfbx.items():
            g = lambda k: fmt(num(kv.get(k, "nan")))
            print(f"| {label} | {g('first_probe_ms')} | {g('first_ttfb_ms')} | {g('first_mbs')} | "
                  f"{g('second_ttfb_ms')} | {g('second_mbs')} | {g('later_ttfb_p50_ms')} | {g('later_mbs_p50')} |")
    if "rtftp" in servers:
        for place in ("same", "split"):
            w1, w16 = combine("rtftp", f"a-w1-{place}", "mbs"), combine("rtftp", f"a-w16-{place}", "mbs")
            if not math.isnan(w1) and not math.isnan(w16):
                print(f"\nrtftp windowsize 16 / windowsize 1 ({place} CPU): {w16 / w1:.2f}")
    # What an event loop costs a stop-and-wait transfer: the yardstick with and without epoll_wait,
    # against tftpd-hpa (which waits in select on its one connected socket).
    for place in ("same", "split"):
        sc = f"a-w1-{place}"
        hpa, fl, fle = (combine(s, sc, "mbs") for s in ("hpa", "floor", "floorep"))
        if not any(math.isnan(x) for x in (hpa, fl, fle)) and hpa:
            print(f"\n{sc}: the floor is {fl / hpa:.2f} x tftpd-hpa, the floor with epoll {fle / hpa:.2f} x")
    # The yardstick's kernel time is what the socket calls for these packets cost on this machine:
    # a target for CPU per MB below it cannot be met by a server that uses UDP sockets.
    for sc in scens:
        floor_sys, dns_cpu = combine("floor", sc, "sys_ms_per_mb"), combine("dnsmasq", sc, "cpu_ms_per_mb")
        if sc.startswith(("b", "d")) and not math.isnan(floor_sys) and not math.isnan(dns_cpu) and dns_cpu:
            print(f"\n{sc}: the floor's kernel time alone is {floor_sys / dns_cpu:.2f} x dnsmasq's whole "
                  f"CPU per MB ({fmt(floor_sys)} of {fmt(dns_cpu)} ms)")


if __name__ == "__main__":
    main()
