#!/usr/bin/env python3
"""Markdown table of `emovox demo` runs from their summary.json files (docs/recipe-search.md).
   python3 tools/recipe_table.py demo-out-a demo-out-b ..."""
import json, os, sys


def teacher_name(t):
    """fer's FER2013 Keras model, or a checkpoint trained by teacher-train (FER+)."""
    return "fer (FER2013)" if t.endswith(".hdf5") or t.startswith("fer") else "FER+ " + os.path.basename(t)


def row(run):
    d = json.load(open(os.path.join(run, "summary.json")))
    s = d["splits"]
    def g(split, key):
        v = s.get(split, {}).get(key)
        return f"{v:.3f}" if isinstance(v, float) else "–"
    what = f"{d['recipe']}: {d['model']}, {d['epochs']} ep, batch {d['batch_size']}, LR {d['lr_start']:g}→{d['lr_end']:g}"
    what += ", balanced" if d["class_balanced"] else ""
    what += ", aug" if d["augmented"] else ", no aug"
    probe = d.get("unheard_probe_ua")
    return [os.path.basename(run.rstrip("/")), what, teacher_name(d["teacher"]), str(d["seed"]),
            g("train", "student_ua"), g("heard", "student_ua"), g("unheard", "student_ua"),
            g("heard", "mean_auc"), g("unheard", "mean_auc"),
            f"{probe:.3f}" if probe is not None else "–", g("unheard", "teacher_ua"), f"{d['seconds'] / 60:.1f}"]


def main():
    head = ["run", "recipe", "teacher", "seed", "UA train", "UA heard", "UA unheard", "AUC heard", "AUC unheard",
            "unheard probe UA", "teacher UA (unheard)", "min"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for run in sys.argv[1:]:
        print("| " + " | ".join(row(run)) + " |")


if __name__ == "__main__":
    main()
