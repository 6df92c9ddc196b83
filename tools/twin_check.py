"""Shared end of the PyTorch twins (student_torch.py, teacher_torch.py): run the model on an input, print the
logits as JSON and, given emovox's logits, fail when they differ by more than tol × max(1, |largest logit|)."""
import json, sys

import numpy as np
import torch


def print_and_check(model, classes, x, expect=None, tol=1e-4):
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
    print(json.dumps({"classes": classes, "logits": logits.tolist()}))
    if expect:
        ref = np.load(expect)
        err = float(np.max(np.abs(ref.reshape(logits.shape) - logits)))
        scale = max(1.0, float(np.max(np.abs(ref))))
        print(f"max abs diff {err:.3e} (scale {scale:.3g})", file=sys.stderr)
        if err > tol * scale:
            sys.exit(f"emovox and PyTorch logits differ by {err:.3e} > {tol} x {scale:.3g}")
