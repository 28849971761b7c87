#!/usr/bin/python3
"""The mixed workload of tests/bench/side.sh: a dnsperf query file of COUNT queries whose names
are drawn from NAMES names (zN.SUFFIX, N the rank) with a Zipf law of exponent S, as real
traffic is: a few names asked all the time, a long tail asked once. Three in four are A, one in
four AAAA. Deterministic: the same seed gives the same file on every machine (Python's
Mersenne Twister and bisect, no numpy). The last line of stderr says how many draws repeat an
earlier one (the best hit ratio a cache can reach on this file).

usage: zipf.py OUT [COUNT [NAMES [S [SEED [SUFFIX]]]]]
"""
import bisect
import random
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    names = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    s = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 13
    suffix = sys.argv[6] if len(sys.argv) > 6 else "bench."
    cum = []
    total = 0.0
    for rank in range(1, names + 1):
        total += rank ** -s
        cum.append(total)
    rng = random.Random(seed)
    seen = set()
    repeats = 0
    with open(out, "w", encoding="ascii") as f:
        for _ in range(count):
            rank = bisect.bisect_left(cum, rng.random() * total) + 1
            qtype = "AAAA" if rng.random() < 0.25 else "A"
            key = (rank, qtype)
            if key in seen:
                repeats += 1
            seen.add(key)
            f.write(f"z{rank}.{suffix} {qtype}\n")
    print(f"zipf: {count} queries, {len(seen)} distinct, repeats {repeats / count:.4f}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
