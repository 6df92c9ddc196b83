#!/usr/bin/env python3
"""PyTorch twin of emovox's trainable face teachers of the VGG family (`vgg-fer`, TeacherNets.swift).

Loads a face-teacher checkpoint (safetensors with the net's config and class names in the metadata, PyTorch
state-dict names) into a plain torch.nn module and, given crops as .npy [N, 1, S, S] scaled like emovox
((x/255 - 0.5) * 2), prints or checks the logits:

    python3 tools/teacher_torch.py RUN/teacher.safetensors CROPS.npy [--expect LOGITS.npy] [--tol 1e-4]

tools/peer_bench.py times the same module's training step. Tools only: emovox itself never runs Python.
"""
import argparse, json, sys

import numpy as np
import torch
import torch.nn as nn
from twin_check import print_and_check
import torch.nn.functional as F

VGG_FER = {"name": "vgg-fer", "inputSize": 48, "stages": [[32, 32], [64, 64], [128, 128], [256]], "dropout": 0.3, "classes": 8}
VGG13_FER = {"name": "vgg13-fer", "inputSize": 48, "stages": [[32, 32], [64, 64], [128, 128, 128], [256, 256, 256]], "dropout": 0.4, "classes": 8}
VGG13_FER_WIDE = {"name": "vgg13-fer-wide", "inputSize": 48, "stages": [[64, 64], [128, 128], [256, 256, 256], [256, 256, 256]], "dropout": 0.4, "classes": 8}
VGG13_FER_WIDE_FC = dict(VGG13_FER_WIDE, name="vgg13-fer-wide-fc", head=[384, 384])


class VGGTeacher(nn.Module):
    """Stages of 3x3 conv (no bias) + BN + ReLU, a 2x2 max pool after each, then global average pool, dropout,
    linear; or with cfg["head"], the last pooled map flattened, fully connected ReLU layers each with dropout, linear."""

    def __init__(self, cfg):
        super().__init__()
        self.names = []
        c = 1
        for s, stage in enumerate(cfg["stages"]):
            for j, out in enumerate(stage):
                n = f"{s + 1}_{j + 1}"
                setattr(self, f"conv{n}", nn.Conv2d(c, out, 3, padding=1, bias=False))
                setattr(self, f"bn{n}", nn.BatchNorm2d(out))
                self.names.append((n, s, j == len(stage) - 1))
                c = out
        self.dropout = nn.Dropout(cfg.get("dropout") or 0.0)
        self.head = cfg.get("head") or []
        if self.head:
            side = cfg["inputSize"]
            for _ in cfg["stages"]:
                side //= 2
            c *= side * side
            for i, width in enumerate(self.head):
                setattr(self, f"fc{i + 1}", nn.Linear(c, width))
                c = width
        self.fc = nn.Linear(c, cfg["classes"])

    def forward(self, x):
        for n, _, last in self.names:
            x = F.relu(getattr(self, f"bn{n}")(getattr(self, f"conv{n}")(x)))
            if last:
                x = F.max_pool2d(x, 2, 2)
        if not self.head:
            return self.fc(self.dropout(x.mean(dim=(2, 3))))
        x = x.flatten(1)
        for i in range(len(self.head)):
            x = self.dropout(F.relu(getattr(self, f"fc{i + 1}")(x)))
        return self.fc(x)


def load(path):
    """A vgg-family teacher checkpoint as an eval-mode module (the loader is student_torch's)."""
    import student_torch  # tools/ is on the path when a tool runs; safetensors is imported there

    def build(cfg):
        if cfg.get("family") != "vgg":
            sys.exit(f"{path}: only the VGG family has a PyTorch twin here (this is {cfg.get('name')})")
        return VGGTeacher(cfg)
    return student_torch.load(path, build)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("crops")
    ap.add_argument("--expect")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg, classes = load(a.checkpoint)
    x = np.load(a.crops).astype(np.float32)
    print_and_check(model, classes, x, a.expect, a.tol)


if __name__ == "__main__":
    main()
