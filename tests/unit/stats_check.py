#!/usr/bin/python3
# stats_check.py: dotd's Prometheus exposition and JSON (resolver/stats.c), read back by real
# parsers: prometheus_client's (Debian's python3-prometheus-client) and json's.
#
# usage: stats_check.py TEST_STATS
#
# TEST_STATS --prometheus and --json print a view whose upstreams have hostile names (quotes,
# backslash, newline, control characters, bytes that are not UTF-8; one name twice). Checked:
# every sample parses into a family declared with # HELP and # TYPE, each exactly once and
# before its samples; the types; counters end in _total; the histogram's buckets increase and
# are cumulative, +Inf equal to _count; no two samples of a family have the same labels; the
# upstream names come back as written (U+FFFD for what is not UTF-8, #2 for the second of a
# name); the JSON is strict JSON with the same names. Exit 0 when all hold, 1 otherwise.
import json
import math
import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

NAMES = [
    '192.0.2.1@853"} 1\n# TYPE x counter',
    '192.0.2.1@853"} 1\n# TYPE x counter#2',
    "192.0.2.2@853\\",
    "192.0.2.3@853\n\t\x01\x7f",
    "192.0.2.4@853 \u00e9 \ufffd\ufffd",
]
GAUGES = {
    "dotd_info",
    "dotd_uptime_seconds",
    "dotd_queries_in_flight",
    "dotd_clients_waiting",
    "dotd_tcp_connections_open",
    "dotd_cache_entries",
    "dotd_cache_bytes",
    "dotd_upstream_in_flight",
    "dotd_upstream_queued",
    "dotd_upstream_connections_open",
    "dotd_upstream_srtt_seconds",
    "dotd_upstream_backoff_seconds",
    "dotd_upstream_state",
}
HISTOGRAMS = {"dotd_answer_duration_seconds"}
SOME_COUNTERS = {
    "dotd_queries",
    "dotd_queries_by_type",
    "dotd_answers_by_rcode",
    "dotd_answers_by_source",
    "dotd_cache_hits",
    "dotd_cache_evictions",
    "dotd_upstream_queries",
    "dotd_upstream_handshakes_resumed",
}

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what)


def run(arg):
    return subprocess.run([sys.argv[1], arg], check=True, capture_output=True).stdout


def check_prometheus(text):
    lines = text.split("\n")
    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    check(len(names) == len(set(names)), "each family once: %s" % sorted(names))
    for f in families:
        # The parser makes a family of its own, untyped, of a sample outside its family.
        check(f.type in ("counter", "gauge", "histogram"), "%s: typed (%s)" % (f.name, f.type))
        check(f.name.startswith("dotd_"), "%s: dotd_ prefix" % f.name)
        exposed = f.name + "_total" if f.type == "counter" else f.name
        help_lines = [l for l in lines if l.startswith("# HELP %s " % exposed)]
        type_lines = [l for l in lines if l == "# TYPE %s %s" % (exposed, f.type)]
        check(len(help_lines) == 1 and len(type_lines) == 1,
              "%s: one # HELP and one # TYPE (%d, %d)" % (exposed, len(help_lines),
                                                          len(type_lines)))
        if f.type == "counter":
            check(all(s.name == f.name + "_total" for s in f.samples),
                  "%s: counter samples end in _total" % f.name)
            check(all(s.value >= 0 for s in f.samples), "%s: counters >= 0" % f.name)
        labelsets = [(s.name, tuple(sorted(s.labels.items()))) for s in f.samples]
        check(len(labelsets) == len(set(labelsets)), "%s: label sets unique" % f.name)
        if f.name.startswith("dotd_upstream_"):
            got = [s.labels.get("upstream") for s in f.samples]
            # dotd_upstream_state: one sample per state (idle, connecting, up, backed-off,
            # resolving) of each upstream.
            want = NAMES if f.name != "dotd_upstream_state" else [n for n in NAMES for _ in
                                                                  range(5)]
            check(got == want, "%s: upstream names as written: %r" % (f.name, got))
    types = {f.name: f.type for f in families}
    for g in GAUGES:
        check(types.get(g) == "gauge", "%s: a gauge (%s)" % (g, types.get(g)))
    for h in HISTOGRAMS:
        check(types.get(h) == "histogram", "%s: a histogram (%s)" % (h, types.get(h)))
    for c in SOME_COUNTERS:
        check(types.get(c) == "counter", "%s: a counter (%s)" % (c, types.get(c)))
    for f in families:
        if f.type != "histogram":
            continue
        buckets = [(float(s.labels["le"]), s.value) for s in f.samples
                   if s.name == f.name + "_bucket"]
        count = [s.value for s in f.samples if s.name == f.name + "_count"]
        total = [s.value for s in f.samples if s.name == f.name + "_sum"]
        les = [b[0] for b in buckets]
        check(les == sorted(les) and len(set(les)) == len(les), "%s: le increasing" % f.name)
        check(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])),
              "%s: buckets cumulative" % f.name)
        check(buckets and math.isinf(buckets[-1][0]), "%s: ends with +Inf" % f.name)
        check(len(count) == 1 and buckets and buckets[-1][1] == count[0],
              "%s: +Inf equals _count" % f.name)
        check(len(total) == 1 and total[0] >= 0, "%s: one _sum" % f.name)
    state = [s for f in families if f.name == "dotd_upstream_state" for s in f.samples]
    for n in NAMES:
        ones = [s.labels["state"] for s in state if s.labels["upstream"] == n and s.value == 1]
        check(len(ones) == 1, "dotd_upstream_state: one state of %r (%s)" % (n, ones))


def check_json(raw):
    try:
        d = json.loads(raw.decode("utf-8", errors="strict"))
    except ValueError as e:
        check(False, "JSON parses: %s" % e)
        return
    check(isinstance(d, dict), "JSON: one object")
    check(list(d["upstream_queries"].keys()) == NAMES,
          "JSON: upstream names as written: %r" % list(d["upstream_queries"].keys()))
    check(list(d["upstream_state"].keys()) == NAMES, "JSON: upstream_state by upstream")
    h = d["answer_duration_seconds"]
    check(h["buckets"]["+Inf"] == h["count"], "JSON: +Inf equals count")


prom = run("--prometheus")
check_prometheus(prom.decode("utf-8", errors="strict"))
check_json(run("--json"))
print("%s: %s" % (sys.argv[0], "%d failed" % len(failures) if failures else "all passed"))
sys.exit(1 if failures else 0)
