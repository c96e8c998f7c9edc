#!/usr/bin/python3
"""qos_calc.py - the figures of bench/qos.sh from one run's files.

    qos_calc.py steady DIR MODEL_FIXED_US MODEL_BYTES_PER_US THRESHOLD_US SHARES...
        DIR/stats-<i>.json are the API's 1 s stats of the hosts (series
        host:NAME) over the measured part of the steady phase, in the order
        of SHARES: latencies as the target sees them (from a command's
        arrival), so time an initiator keeps a command queued behind its
        window does not count, as in PARDA.  Prints "share-error
        latency-error units..." where share-error is the largest
        |share_i - expected_i| / expected_i of the hosts' size-normalized
        throughput (8 KiB reference IOs by the emulated device's cost model
        cost(s) = fixed + s / bytes_per_us, linear, so bytes/s suffice) and
        latency-error is |Lnorm - L| / L for the IO-weighted average of the
        latencies normalized to 8 KiB as the controller does
        (L - (mean size - 8 KiB) / bytes_per_us).

    qos_calc.py converge STATUS_LOG RESTART_S SHARES...
        STATUS_LOG: lines "<seconds> <qos-status JSON>".  Prints the seconds
        from RESTART_S until every host's window (reference IOs) is within
        5% of its share of the total, and stays so for 1 s; -1 if never.
"""
import json
import sys

REF = 8192


def steady(d, fixed, bpus, threshold, shares):
    units, lat_w, ios_w = [], 0.0, 0.0
    ref = fixed + REF / bpus
    for i in range(len(shares)):
        with open(f"{d}/stats-{i}.json") as f:
            points = json.load(f)["points"]
        u = 0.0
        for p in points:
            iops = p["read_iops"] + p["write_iops"]
            bps = p["read_bytes_per_s"] + p["write_bytes_per_s"]
            if iops <= 0:
                continue
            u += (iops * fixed + bps / bpus) / ref  # cost is linear in size
            mean = bps / iops
            lat_w += iops * (p["avg_latency_us"] - (mean - REF) / bpus)
            ios_w += iops
        units.append(u / max(len(points), 1))
    total, stotal = sum(units), sum(shares)
    err = max(abs(u / total - s / stotal) / (s / stotal) for u, s in zip(units, shares))
    lnorm = lat_w / ios_w if ios_w else 0.0
    print("%.4f %.4f %s" % (err, abs(lnorm - threshold) / threshold,
                            " ".join("%.0f" % u for u in units)))


def converge(log, restart, shares):
    stotal = sum(shares)
    good_since = None
    for line in open(log):
        t, text = line.split(" ", 1)
        t = float(t)
        if t < restart:
            continue
        hosts = {h["host"]: h["window"] for h in json.loads(text)["hosts"]}
        ws = [hosts.get(f"iqn.2026-12.dev.bench:host-{i}", 0.0) for i in range(len(shares))]
        total = sum(ws)
        ok = total > 0 and all(abs(w / total - s / stotal) <= 0.05 * s / stotal
                               for w, s in zip(ws, shares))
        if ok and good_since is None:
            good_since = t
        elif not ok:
            good_since = None
        if good_since is not None and t - good_since >= 1.0:
            print("%.2f" % (good_since - restart))
            return
    print("-1")


if sys.argv[1] == "steady":
    steady(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]),
           [float(s) for s in sys.argv[6:]])
else:
    converge(sys.argv[2], float(sys.argv[3]), [float(s) for s in sys.argv[4:]])
