#!/usr/bin/env python3
"""Side-by-side table of rdr against its peers from the shared harness's raw.csv.

Usage: peers-table.py RESULTS_DIR > table.md

Every row is one measurement (median of the runs); the columns are the tools,
the best peer, the ratio of rdr to that peer, and issue 6's target for the row.
For times, ratio = best peer / rdr (higher is better, 2.5 means rdr is 2.5x
faster); for sizes and memory, ratio = rdr / best peer (lower is better).
"""
import collections
import csv
import os
import statistics
import sys

res = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(res, "raw.csv"))))
timed = collections.defaultdict(list)
extra = {}
for r in rows:
    key = (r["tool"], r["dataset"], r["op"])
    if r["wall_s"] and r["extra"] != "FAILED":
        timed[key].append((float(r["wall_s"]), int(r["maxrss_kb"]) / 1024))
    elif r["extra"]:
        extra[key] = r["extra"]

# the hardware bounds of rdr's throughput rows on this machine, when
# benches/machine.sh wrote them: (dataset, op) -> seconds
bounds = {}
if os.path.exists(os.path.join(res, "bounds.csv")):
    for b in csv.DictReader(open(os.path.join(res, "bounds.csv"))):
        bounds[(b["dataset"], b["op"])] = float(b["bound_s"])
BOUND_OP = {"init_backup": "backup", "restore": "restore", "check": "check", "nochange_backup": "nochange"}

PEERS = ["restic", "borg", "rustic"]
tools = ["rdr"] + [t for t in PEERS if any(k[0] == t for k in timed)]


def med(tool, ds, op, i=0):
    v = [x[i] for x in timed.get((tool, ds, op), [])]
    return statistics.median(v) if v else None


def added(tool, ds, _op):
    v = extra.get((tool, ds, "mutated_added_bytes"))
    return int(v) / 1e6 if v else None


# (label, dataset, getter, kind, target, op of its bound) ; kind "time" = faster is better, "less" = smaller is better
ROWS = [
    ("backup, 1 GiB random (s)", "random", lambda t, d: med(t, d, "init_backup"), "time", 2.5, "init_backup"),
    ("backup, tree (s)", "tree", lambda t, d: med(t, d, "init_backup"), "time", 2.5, "init_backup"),
    ("backup, pgbench dump via stdin (s)", "pgdump", lambda t, d: med(t, d, "init_backup"), "time", 2.5, "init_backup"),
    ("no-change backup, random (s)", "random", lambda t, d: med(t, d, "nochange_backup"), "time", 3.0),
    ("no-change backup, tree (s)", "tree", lambda t, d: med(t, d, "nochange_backup"), "time", 3.0, "nochange_backup"),
    ("restore, random (s)", "random", lambda t, d: med(t, d, "restore"), "time", 1.3, "restore"),
    ("restore, tree (s)", "tree", lambda t, d: med(t, d, "restore"), "time", 1.3, "restore"),
    ("restore, pgdump (s)", "pgdump", lambda t, d: med(t, d, "restore"), "time", 1.3, "restore"),
    ("check --read-data, random (s)", "random", lambda t, d: med(t, d, "check"), "time", 2.4, "check"),
    ("check --read-data, tree (s)", "tree", lambda t, d: med(t, d, "check"), "time", 2.4, "check"),
    ("mutated dump: bytes added (MB)", "pgdump", lambda t, d: added(t, d, None), "less", 0.5),
    ("peak RSS, backup random (MB)", "random", lambda t, d: med(t, d, "init_backup", 1), "abs", 64),
    ("peak RSS, backup tree (MB)", "tree", lambda t, d: med(t, d, "init_backup", 1), "abs", 64),
    ("peak RSS, backup pgdump (MB)", "pgdump", lambda t, d: med(t, d, "init_backup", 1), "abs", 64),
    ("peak RSS, restore random (MB)", "random", lambda t, d: med(t, d, "restore", 1), "abs", 128),
    ("peak RSS, restore tree (MB)", "tree", lambda t, d: med(t, d, "restore", 1), "abs", 128),
]


def fmt(v):
    if v is None:
        return "—"
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


print("| row | " + " | ".join(tools) + " | best peer | rdr vs best | target | met | bound | rdr / bound |")
print("|---|" + "---|" * (len(tools) + 6))
for label, ds, get, kind, target, *bound_op in ROWS:
    vals = {t: get(t, ds) for t in tools}
    peers = [(vals[t], t) for t in tools if t != "rdr" and vals[t] is not None]
    best = min(peers) if peers else None
    mine = vals["rdr"]
    ratio, met, tgt = None, "—", ""
    if kind == "time":
        tgt = f"≥ {target}× faster"
        if best and mine:
            ratio = best[0] / mine
            met = "yes" if ratio >= target else "no"
        shown = f"{ratio:.2f}× faster" if ratio else "—"
    elif kind == "less":
        tgt = f"≤ {target}× best"
        if best and mine is not None:
            ratio = mine / best[0] if best[0] else None
            met = "yes" if ratio is not None and ratio <= target else "no"
        shown = f"{ratio:.2f}×" if ratio is not None else "—"
    else:
        tgt = f"≤ {target} MB"
        met = "yes" if mine is not None and mine <= target else ("no" if mine is not None else "—")
        ratio = mine / best[0] if best and mine else None
        shown = f"{ratio:.2f}×" if ratio else "—"
    cells = [fmt(vals[t]) for t in tools]
    best_s = f"{best[1]} {fmt(best[0])}" if best else "—"
    bound = bounds.get((ds, BOUND_OP[bound_op[0]])) if bound_op else None
    over = f"{mine / bound:.2f}×" if bound and mine else "—"
    print(f"| {label} | " + " | ".join(cells) + f" | {best_s} | {shown} | {tgt} | {met} | {fmt(bound)} | {over} |")
