#!/usr/bin/env python3
"""scikit-learn oracle for EmovoxEvalTests.

    pip install scikit-learn && python3 tools/gen_eval_fixtures.py

ROC curves (drop_intermediate=False) and AUCs on continuous, tied and one-class scores; balanced accuracy,
accuracy, macro-F1 and confusion; multinomial L2 logistic regression (lbfgs) coefficients and probabilities.
"""
import json, os
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve, roc_auc_score, balanced_accuracy_score, accuracy_score, f1_score, confusion_matrix

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "EmovoxEvalTests", "Fixtures", "sklearn_oracle.json")
rng = np.random.default_rng(0)
out = {"sklearn": sklearn.__version__, "roc": []}


def inf(x):
    return [("inf" if np.isinf(v) else float(v)) for v in x]


cases = {
    "continuous": (rng.normal(size=60), rng.integers(0, 2, 60)),
    "ties": (np.round(rng.normal(size=80), 1), rng.integers(0, 2, 80)),
    "all_tied": (np.full(10, 0.5), np.array([0, 1] * 5)),
    "perfect": (np.arange(10.0), np.array([0] * 5 + [1] * 5)),
}
for name, (s, y) in cases.items():
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    out["roc"].append({"name": name, "scores": s.tolist(), "labels": y.tolist(), "fpr": fpr.tolist(), "tpr": tpr.tolist(),
                       "thresholds": inf(thr), "auc": float(roc_auc_score(y, s))})

t = rng.integers(0, 5, 200)
p = np.where(rng.random(200) < 0.4, t, rng.integers(0, 5, 200))
p[p == 4] = 3  # a class never predicted
out["metrics"] = {"truth": t.tolist(), "pred": p.tolist(), "ua": balanced_accuracy_score(t, p), "wa": accuracy_score(t, p),
                  "macro_f1": f1_score(t, p, average="macro", zero_division=0), "confusion": confusion_matrix(t, p, labels=range(5)).tolist()}

x = rng.normal(size=(120, 6))
y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] * 0.7 + rng.normal(scale=0.8, size=120) > 0).astype(int) + (x[:, 3] > 0.6).astype(int) * 2
x = (x - x.mean(0)) / x.std(0)
out["logreg"] = {"x": x.tolist(), "y": y.tolist(), "fits": []}
for C in (0.1, 1.0):
    m = LogisticRegression(C=C, solver="lbfgs", tol=1e-10, max_iter=10000).fit(x, y)
    out["logreg"]["fits"].append({"C": C, "coef": m.coef_.tolist(), "intercept": m.intercept_.tolist(), "proba": m.predict_proba(x[:10]).tolist()})
with open(OUT, "w") as f:
    json.dump(out, f)
print("wrote", OUT)
