#!/usr/bin/env python3
"""Headline numbers of `emovox demo` runs over seeds, per run and as mean ± sd (docs/demo-results.md).
   python3 tools/seed_table.py /work/demo-runs/seed0 /work/demo-runs/seed1 /work/demo-runs/seed2
A run folder holds the demo's summary.json; its `time.txt` (GNU time -v output, appended to by each process of a
resumed run), when present, adds wall and CPU time over all processes."""
import json, os, re, statistics, sys

MEASURES = [  # (column, how to read it from summary.json)
    ("student UA vs acted, unheard", lambda d: d["splits"]["unheard"]["student_ua"]),
    ("mean AUC, unheard", lambda d: d["splits"]["unheard"]["mean_auc"]),
    ("unheard probe UA", lambda d: d.get("unheard_probe_ua")),
    ("teacher UA through pairing, unheard", lambda d: d["splits"]["unheard"]["teacher_ua"]),
    ("student UA train", lambda d: d["splits"]["train"]["student_ua"]),
    ("student UA heard", lambda d: d["splits"]["heard"]["student_ua"]),
    ("wall time of the last process (min)", lambda d: d["seconds"] / 60),
]


def gnu_time(run):
    """(wall, CPU) minutes summed over the GNU `time -v` reports in time.txt (one per process of a resumed run)."""
    try:
        text = open(os.path.join(run, "time.txt")).read()
    except OSError:
        return None, None
    cpu = [float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", text)]
    wall = 0.0
    for clock in re.findall(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([0-9:.]+)", text):
        parts = [float(x) for x in clock.split(":")]
        wall += sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    return (wall / 60 if wall else None), (sum(cpu) / 60 if cpu else None)


def main(runs):
    cols = [name for name, _ in MEASURES] + ["wall time, all processes (min)", "CPU time (min)"]
    table = []
    for run in runs:
        d = json.load(open(os.path.join(run, "summary.json")))
        table.append((f"seed {d['seed']}", [get(d) for _, get in MEASURES] + list(gnu_time(run))))
    print("| run | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    fmt = lambda v, c: "–" if v is None else (f"{v:.1f}" if "min" in c else f"{v:.3f}")
    for name, vals in table:
        print(f"| {name} | " + " | ".join(fmt(v, c) for v, c in zip(vals, cols)) + " |")
    summary = []
    for i, c in enumerate(cols):
        vals = [row[i] for _, row in table if row[i] is not None]
        if len(vals) >= 2:
            summary.append(f"{statistics.mean(vals):.3f} ± {statistics.stdev(vals):.3f}" if "min" not in c
                           else f"{statistics.mean(vals):.1f} ± {statistics.stdev(vals):.1f}")
        else:
            summary.append(fmt(vals[0], c) if vals else "–")
    print(f"| mean ± sd ({len(table)} seeds) | " + " | ".join(summary) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
