#!/usr/bin/python3
"""The report of tests/bench/side.sh: reads OUT/raw.tsv (round, system, metric, value) and
OUT/meta.txt, and writes into OUT
  results.md       the table: the mean of the rounds per system, the best peer, dotd's ratio to
                   it and to the floor; then the spread of the rounds per figure
  results.json     the same figures, every round, and the run's conditions
  latency-cdf.png  the CDF of miss latency per system (and the Zipf mix's), gnuplot
  throughput.png   hit, Zipf-mix and miss throughput per system, gnuplot

usage: side_report.py OUT
       side_report.py --compare A/results.json B/results.json   (the spread between two runs,
       |a - b| / mean per figure and system, as a Markdown table on stdout)
"""
import json
import math
import os
import subprocess
import sys

PEERS = ["unbound", "kresd", "dnsdist", "stubby"]
# dotd2: workers: 2 (steered by CPU, the default), dotd2h: by hash; beside the peers' one thread
OURS = ["dotd", "dotd2", "dotd2h"]
# echo_floor with 2 threads, steered by CPU and by hash; then waiting in epoll_wait, 1 and 2 threads
FLOORS2 = ["floor2", "floor2h", "floore", "floor2e"]
ORDER = ["floor"] + FLOORS2 + ["direct"] + OURS + PEERS
COLOURS = {
    "floor": "#000000",
    "floor2": "#444444",
    "floor2h": "#999999",
    "floore": "#555555",
    "floor2e": "#bbbbbb",
    "direct": "#777777",
    "dotd": "#d62728",
    "dotd2": "#e377c2",
    "dotd2h": "#8c564b",
    "unbound": "#1f77b4",
    "kresd": "#2ca02c",
    "dnsdist": "#ff7f0e",
    "stubby": "#9467bd",
}
NAMES = {
    "floor": "floor",
    "floor2": "floor, 2 threads",
    "floor2h": "floor, 2 threads, hash",
    "floore": "floor, epoll",
    "floor2e": "floor, 2 threads, epoll",
    "direct": "floor",
    "dotd": "dotd",
    "dotd2": "dotd, 2 workers",
    "dotd2h": "dotd, 2 workers, hash",
    "unbound": "Unbound",
    "kresd": "Knot Resolver",
    "dnsdist": "dnsdist",
    "stubby": "Stubby",
}

# (metric, label, unit, better, floor system or None)
ROWS = [
    ("cpu_us_per_hit_pin", "CPU per hit at {rate} q/s, dnsperf and the system each on a CPU",
     "µs", "low", "floor"),
    ("fixedpin_qps", "rate held in that phase", "q/s", "high", "floor"),
    ("cpu_us_per_hit", "CPU per hit at {rate} q/s, CPUs left to the scheduler", "µs", "low",
     "floor"),
    ("fixed_qps", "rate held in that phase", "q/s", "high", "floor"),
    ("cpu_us_per_hit_2c", "CPU per hit at {rate} q/s from 2 dnsperf threads", "µs", "low",
     "floor"),
    ("share_1c", "the smaller worker's share of the queries, 1 dnsperf thread", "", "info", None),
    ("share_2c", "the smaller worker's share of the queries, 2 dnsperf threads", "", "info",
     None),
    ("hit_qps", "hit throughput (saturation)", "q/s", "high", "floor"),
    ("zipf_qps", "Zipf mix throughput (100,000 queries, cold cache)", "q/s", "high", None),
    ("zipf_p50_ms", "Zipf mix latency p50", "ms", "low", None),
    ("zipf_p99_ms", "Zipf mix latency p99", "ms", "low", None),
    ("miss_qps", "miss throughput (unique names)", "q/s", "high", "direct"),
    ("miss_p50_ms", "miss latency p50 at {miss_rate} q/s", "ms", "low", "direct"),
    ("miss_p90_ms", "miss latency p90", "ms", "low", "direct"),
    ("miss_p99_ms", "miss latency p99", "ms", "low", "direct"),
    ("miss_noerror_share", "share of NOERROR answers in the miss-latency phase", "", "info",
     "direct"),
    ("zipf_noerror_share", "share of NOERROR answers in the Zipf mix", "", "info", None),
    ("lost", "queries lost (all phases)", "", "low", None),
    ("conns_per_10k", "TLS connections to the upstream per 10,000 queries", "", "low", None),
    ("full_per_10k", "full handshakes per 10,000 queries", "", "low", None),
    ("resumed_per_10k", "resumed handshakes per 10,000 queries", "", "info", None),
    ("reconnects", "new connections for {reconnects} queries a second apart (upstream closes "
     "after 500 ms idle)", "", "info", None),
    ("reconnect_resumed_share", "share of those resumed (upstream's num.query.tls.resume)", "",
     "high", None),
    ("rss_start_mb", "RSS at start (listening, no query yet)", "MB", "low", None),
    ("rss_idle_mb", "RSS idle (after start and one query)", "MB", "low", None),
    ("rss_after_mb", "RSS after the run", "MB", "low", None),
    ("rss_anon_after_mb", "anonymous RSS after the run", "MB", "low", None),
]


def read_raw(out):
    rounds = {}
    with open(os.path.join(out, "raw.tsv"), encoding="utf-8") as f:
        for line in f:
            r, sysname, metric, value = line.rstrip("\n").split("\t")
            try:
                v = float(value)
            except ValueError:
                v = float("nan")
            rounds.setdefault(int(r), {}).setdefault(sysname, {})[metric] = v
    # Derived figures: MB from kB, the losses of every phase together.
    for per in rounds.values():
        for m in per.values():
            for k in ("rss_start", "rss_idle", "rss_after", "rss_anon_after", "rss_anon_idle"):
                if k + "_kb" in m:
                    m[k + "_mb"] = m[k + "_kb"] / 1024
            if m.get("reconnect_queries"):
                m["reconnect_resumed_share"] = m["reconnect_resumed"] / m["reconnect_queries"]
            lost = [v for k, v in m.items() if k.endswith("_lost")]
            if lost:
                m["lost"] = sum(lost)
    return rounds


def read_meta(out):
    meta = {}
    with open(os.path.join(out, "meta.txt"), encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def nan_free(x):
    """JSON has no NaN or infinity: they become null."""
    if isinstance(x, dict):
        return {k: nan_free(v) for k, v in x.items()}
    if isinstance(x, float) and not finite(x):
        return None
    return x


def finite(v):
    return v is not None and not math.isnan(v) and not math.isinf(v)


def fmt(v, unit=""):
    if not finite(v):
        return "-" if v is None else str(v)
    if unit == "q/s" or abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if abs(v) >= 0.1 or v == 0 else f"{v:.3f}"


def summarise(rounds):
    mean, spread = {}, {}
    systems = {s for per in rounds.values() for s in per}
    for s in systems:
        metrics = {m for per in rounds.values() for m in per.get(s, {})}
        for m in metrics:
            vals = [per[s][m] for per in rounds.values() if m in per.get(s, {})]
            vals = [v for v in vals if finite(v)]
            if not vals:
                continue
            mu = sum(vals) / len(vals)
            mean.setdefault(s, {})[m] = mu
            if len(vals) > 1 and mu:
                spread.setdefault(s, {})[m] = (max(vals) - min(vals)) / abs(mu) * 100
    return mean, spread


def best_peer(mean, metric, better):
    cands = [(mean[p][metric], p) for p in PEERS if p in mean and finite(mean[p].get(metric))]
    if not cands or better not in ("low", "high"):
        return None
    return min(cands)[1] if better == "low" else max(cands)[1]


def ratio(a, b):
    if not finite(a) or not finite(b) or b == 0:
        return None
    return a / b


def workers_lines(mean):
    """dotd with 2 workers against 1, and the floor with 2 threads against 1, steered by CPU
    and by hash."""
    out = []
    for metric, what in (("cpu_us_per_hit", "CPU per hit, 1 dnsperf thread"),
                         ("cpu_us_per_hit_2c", "CPU per hit, 2 dnsperf threads"),
                         ("hit_qps", "hit throughput")):
        for d2, f2, how in (("dotd2", "floor2", "by CPU"), ("dotd2h", "floor2h", "by hash")):
            d = ratio(mean.get(d2, {}).get(metric), mean.get("dotd", {}).get(metric))
            f = ratio(mean.get(f2, {}).get(metric), mean.get("floor", {}).get(metric))
            if d is None:
                continue
            line = f"- workers ({how}): {what}, dotd with 2 workers / with 1: {fmt(d)}"
            if f is not None:
                line += f"; the floor with 2 threads / with 1: {fmt(f)}"
            e = ratio(mean.get("floor2e", {}).get(metric), mean.get("floore", {}).get(metric))
            if how == "by CPU" and e is not None:
                line += f"; the floor waiting in epoll_wait, 2 threads / 1: {fmt(e)}"
            out.append(line)
    return out


def table(meta, mean, spread, rounds):
    present = [s for s in ORDER if s in mean]
    peers = [s for s in present if s in PEERS]
    ours = [s for s in OURS if s in present]
    floors = [s for s in FLOORS2 if s in present]
    head = ["figure", "floor"] + [NAMES[s] for s in floors + ours + peers]
    head += ["best peer", "dotd / best peer", "dotd / floor"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ratios = {}
    for metric, label, unit, better, floor in ROWS:
        vals = {s: mean.get(s, {}).get(metric) for s in present}
        if all(v is None for v in vals.values()):
            continue
        label = label.format(rate=meta.get("rate", "?"), miss_rate=meta.get("miss_rate", "?"),
                             reconnects=meta.get("reconnects", "?"))
        u = f" ({unit})" if unit else ""
        fl = vals.get(floor) if floor else None
        bp = best_peer(mean, metric, better)
        rb = ratio(vals.get("dotd"), vals.get(bp)) if bp else None
        rf = ratio(vals.get("dotd"), fl)
        ratios[metric] = {"best_peer": bp, "dotd_to_best_peer": rb, "dotd_to_floor": rf}
        row = [label + u, fmt(fl, unit)]
        row += [fmt(vals.get(s), unit) for s in floors + ours + peers]
        row += [NAMES[bp] if bp else "-", fmt(rb) if rb else "-", fmt(rf) if rf else "-"]
        lines.append("| " + " | ".join(row) + " |")
    sp = []
    if len(rounds) > 1:
        sys_sp = ["floor"] + floors + ["direct"] + ours + peers
        sys_sp = [s for s in sys_sp if s in spread]
        sp.append("| figure | " + " | ".join(
            "floor (echo)" if s == "floor" else "floor (DoT direct)" if s == "direct"
            else NAMES[s] for s in sys_sp) + " |")
        sp.append("|" + "---|" * (len(sys_sp) + 1))
        for metric, label, unit, better, floor in ROWS:
            cells = [spread.get(s, {}).get(metric) for s in sys_sp]
            if all(c is None for c in cells):
                continue
            label = label.format(rate=meta.get("rate", "?"),
                                 miss_rate=meta.get("miss_rate", "?"),
                                 reconnects=meta.get("reconnects", "?"))
            sp.append("| " + label + " | " + " | ".join(
                "-" if c is None else f"{c:.0f} %" for c in cells) + " |")
    return lines, sp, ratios


def gnuplot(out, mean, present):
    cdfs = []
    for s in present:
        f = os.path.join(out, f"cdf-miss-{s}.txt")
        if os.path.exists(f) and os.path.getsize(f) > 0:
            title = "floor (dnsperf DoT to the upstream)" if s == "direct" else NAMES[s]
            cdfs.append(f"'{f}' using 1:2 with lines lw 2 lc rgb '{COLOURS[s]}' title '{title}'")
    zcdfs = []
    for s in present:
        f = os.path.join(out, f"cdf-zipf-{s}.txt")
        if os.path.exists(f) and os.path.getsize(f) > 0:
            zcdfs.append(
                f"'{f}' using 1:2 with lines lw 2 lc rgb '{COLOURS[s]}' title '{NAMES[s]}'")
    bars = os.path.join(out, "throughput.dat")
    with open(bars, "w", encoding="utf-8") as f:
        f.write("system hit zipf miss\n")
        for s in present:
            m = mean.get(s, {})
            name = {"floor": "floor(echo)", "direct": "floor(DoT)"}.get(s, NAMES[s])
            vals = [m.get(k) for k in ("hit_qps", "zipf_qps", "miss_qps")]
            if not any(finite(v) for v in vals):
                continue  # the epoll floors measure CPU only: no empty column for them
            f.write('"' + name + '" ' + " ".join(
                f"{v:.0f}" if finite(v) else "-" for v in vals) + "\n")
    script = f"""
set terminal pngcairo size 900,520 font ',10'
set output '{os.path.join(out, "latency-cdf.png")}'
set multiplot layout 1,2
set title 'miss latency at a fixed rate (last round)'
set logscale x
set xlabel 'latency (ms, log scale)'
set ylabel 'fraction of queries answered'
set key bottom right
set grid
set yrange [0:1]
plot {", ".join(cdfs) if cdfs else "1/0 notitle"}
set title 'Zipf mix, cold cache, saturation (last round)'
plot {", ".join(zcdfs) if zcdfs else "1/0 notitle"}
unset multiplot
set output '{os.path.join(out, "throughput.png")}'
unset logscale x
set logscale y
set title 'throughput (mean of the rounds; q/s, log scale)'
set xlabel ''
set ylabel 'queries per second'
set yrange [100:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set datafile missing '-'
set key top right
set xtics rotate by -20
plot '{bars}' using 2:xtic(1) title 'hits', '' using 3 title 'Zipf mix', '' using 4 title 'misses'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def compare(a_path, b_path):
    with open(a_path, encoding="utf-8") as f:
        whole = json.load(f)
    a, meta = whole["mean"], whole["meta"]
    with open(b_path, encoding="utf-8") as f:
        b = json.load(f)["mean"]
    present = [s for s in ORDER if s in a and s in b]
    print("| figure | " + " | ".join(
        "floor (echo)" if s == "floor" else "floor (DoT direct)" if s == "direct" else NAMES[s]
        for s in present) + " |")
    print("|" + "---|" * (len(present) + 1))
    for metric, label, _unit, _better, _floor in ROWS:
        cells = []
        for s in present:
            x, y = a[s].get(metric), b[s].get(metric)
            if x is None or y is None or not finite(x) or not finite(y) or x + y == 0:
                cells.append("-")
            else:
                cells.append(f"{abs(x - y) / ((x + y) / 2) * 100:.0f} %")
        if any(c != "-" for c in cells):
            label = label.format(rate=meta.get("rate", "?"), miss_rate=meta.get("miss_rate", "?"),
                                 reconnects=meta.get("reconnects", "?"))
            print("| " + label + " | " + " | ".join(cells) + " |")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--compare":
        compare(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    meta = read_meta(out)
    rounds = read_raw(out)
    mean, spread = summarise(rounds)
    present = [s for s in ORDER if s in mean]
    lines, sp, ratios = table(meta, mean, spread, rounds)
    md = [
        f"Side-by-side benchmark, {meta.get('date', '?')}: {meta.get('host', '?')}, "
        f"{meta.get('cpu', '?')}, {meta.get('nproc', '?')} CPUs, load before "
        f"{meta.get('load_before', '?')}; {meta.get('rounds', '?')} rounds of "
        f"{meta.get('secs', '?')} s phases, figures are the mean of the rounds. "
        "Ratios are dotd's figure over the other's (for q/s above 1 is better, for CPU, "
        "latency, connections and memory below 1). Floor: echo_floor for hits, dnsperf "
        "straight to the upstream over DoT for misses. Stubby has no cache: its hits are "
        "forwarded queries.",
        "",
    ] + lines
    w = workers_lines(mean)
    if w:
        md += [""] + w
    if sp:
        md += ["", "Spread of the rounds, (max - min) / mean:", ""] + sp
    md += [""]
    for k, v in sorted(meta.items()):
        if k.startswith("version.") or k.startswith("load_after") or k in ("zipf", "upstream"):
            md.append(f"- {k}: {v}")
    with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    clean = {
        "meta": meta,
        "rounds": {str(r): per for r, per in sorted(rounds.items())},
        "mean": mean,
        "spread_pct": spread,
        "ratios": ratios,
    }
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(nan_free(clean), f, indent=1, sort_keys=True, allow_nan=False,
                  default=str)
        f.write("\n")
    gnuplot(out, mean, present)
    print("\n".join(md))
    print(f"side_report: {out}/results.md, results.json, latency-cdf.png, throughput.png")


if __name__ == "__main__":
    main()
