#!/usr/bin/env python3
"""Table of scripts/bench_teacher_train.sh's rounds: images/s of emovox (its default path: the measured table, Winograd
at the teachers' 3×3 layers; the direct kernels everywhere, when the bench timed them; the im2col path) and of
PyTorch's faster layout per round, their ratios, and the median ratio over the rounds.

    python3 tools/teacher_train_table.py OUT_DIR ROUNDS
"""
import json, os, statistics, sys


def rows(d):
    t = d["teacher_training"]
    return {r["model"]: r for r in (t if isinstance(t, list) else [t])}


def main():
    out, rounds = sys.argv[1], int(sys.argv[2])
    ratios = {}
    print("| round | net | emovox default | emovox direct | emovox im2col | default / direct | default / im2col | PyTorch (layout) | default / PyTorch | im2col / PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in range(1, rounds + 1):
        e = rows(json.load(open(os.path.join(out, f"emovox-{r}.json"))))
        p = rows(json.load(open(os.path.join(out, f"peer-{r}.json"))))
        for m in e:
            d, i, t = e[m]["images_per_s"], e[m]["images_per_s_im2col"], p[m]["images_per_s"]
            k = e[m].get("images_per_s_direct", float("nan"))
            ratios.setdefault(m, []).append((d / i, d / t, i / t, d / k))
            print(f"| {r} | {m} | {d:.1f} | {k:.1f} | {i:.1f} | {d / k:.2f}× | {d / i:.2f}× | {t:.1f} ({p[m]['layout']}) | {d / t:.2f}× | {i / t:.2f}× |")
    for m, rs in ratios.items():
        cols = list(zip(*rs))
        print(f"{m}: median default/direct {statistics.median(cols[3]):.2f}× [{min(cols[3]):.2f}–{max(cols[3]):.2f}], "
              f"default/im2col {statistics.median(cols[0]):.2f}× [{min(cols[0]):.2f}–{max(cols[0]):.2f}], "
              f"default/PyTorch {statistics.median(cols[1]):.2f}× [{min(cols[1]):.2f}–{max(cols[1]):.2f}], "
              f"im2col/PyTorch {statistics.median(cols[2]):.2f}× [{min(cols[2]):.2f}–{max(cols[2]):.2f}]")

if __name__ == "__main__":
    main()
