#!/usr/bin/env python3
"""PyTorch twin of the emovox students (vggm, vggm-small).

Loads an emovox checkpoint (safetensors, PyTorch state-dict names) into a plain torch.nn module and,
given a spectrogram .npy ([bins, frames] or [N, 1, bins, frames]), prints or checks the logits:

    python3 tools/student_torch.py RUN/student.safetensors SPEC.npy [--expect LOGITS.npy] [--tol 1e-4]

Tools only: emovox itself never runs Python.
"""
import argparse, json, sys

import numpy as np
import torch
import torch.nn as nn
from twin_check import print_and_check
from safetensors.torch import load_file
from safetensors import safe_open


def fc6_height(bins):
    h = (bins + 2 - 7) // 2 + 1
    h = (h - 3) // 2 + 1
    h = (h + 2 - 5) // 2 + 1
    h = (h - 3) // 2 + 1
    return (h - 5) // 3 + 1


class Student(nn.Module):
    """VGG-M with BN as in emovox (StudentModel.swift): names match the safetensors file."""

    def __init__(self, cfg):
        super().__init__()
        c = cfg["channels"]
        def block(i, cin, cout, k, s, p):
            setattr(self, f"conv{i}", nn.Conv2d(cin, cout, k, s, p, bias=False))
            setattr(self, f"bn{i}", nn.BatchNorm2d(cout))
        block(1, 1, c[0], 7, 2, 1)
        block(2, c[0], c[1], 5, 2, 1)
        block(3, c[1], c[2], 3, 1, 1)
        block(4, c[2], c[3], 3, 1, 1)
        block(5, c[3], c[4], 3, 1, 1)
        block(6, c[4], cfg["fc6"], (fc6_height(cfg["bins"]), 1), 1, 0)
        block(7, cfg["fc6"], cfg["fc7"], 1, 1, 0)
        self.fc8 = nn.Conv2d(cfg["fc7"], cfg["classes"], 1, bias=True)

    def forward(self, x):
        r = torch.relu
        x = nn.functional.max_pool2d(r(self.bn1(self.conv1(x))), 3, 2)
        x = nn.functional.max_pool2d(r(self.bn2(self.conv2(x))), 3, 2)
        x = r(self.bn3(self.conv3(x)))
        x = r(self.bn4(self.conv4(x)))
        x = nn.functional.max_pool2d(r(self.bn5(self.conv5(x))), (5, 3), (3, 2))
        x = r(self.bn6(self.conv6(x)))
        x = x.mean(dim=3, keepdim=True)          # average over time
        x = r(self.bn7(self.conv7(x)))
        return self.fc8(x).flatten(1)


def load(path, build=None):
    """An emovox checkpoint as an eval-mode torch module: (model, config, class names). `build(cfg)` makes the
    module (default: the student); the teacher twin passes its own."""
    with safe_open(path, "np") as f:
        meta = f.metadata() or {}
    cfg = json.loads(meta["config"])
    model = (build or Student)(cfg)
    state = load_file(path)
    # num_batches_tracked is stored as a float scalar by emovox; torch wants int64.
    state = {k: (v.long() if k.endswith("num_batches_tracked") else v) for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    return model.eval(), cfg, json.loads(meta.get("classes", "[]"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("spectrogram")
    ap.add_argument("--expect")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg, classes = load(a.checkpoint)
    x = np.load(a.spectrogram).astype(np.float32)
    if x.ndim == 2:
        x = x[None, None]
    print_and_check(model, classes, x, a.expect, a.tol)


if __name__ == "__main__":
    main()
