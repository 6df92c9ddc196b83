#!/usr/bin/env python3
"""Whole-model check of the `vggm-small` student in the style of llm.c's test_gpt2, from PyTorch (CPU).

    pip install torch safetensors numpy && python3 tools/gen_student_step_fixture.py [--out PATH]

Weights and input are not stored: both sides draw them from one counter-based generator (SplitMix64 of
seed + k, top 24 bits → a float32 uniform in [-1, 1), exact in both languages), so the fixture holds only
what PyTorch computed: the training-mode logits, the distillation loss (soft cross-entropy at T = 2 against
the stored soft targets), the gradient of every parameter, and the losses around 3 SGD steps (momentum 0.9,
weight decay 5e-4: DistillationConfig's defaults; learning rate 0.01, large enough to move the loss by 0.34 and
small enough to keep the run predictable: at 0.05, float32 and float64 runs part by 2e-3 after 3 steps, as BN
over a batch of 4 amplifies rounding). The batch is 4 rather than 2: BN7 sees one value per clip, and over 2 clips
it would output ±1 whatever came in, hiding every layer below it from the gradients. The reference runs in float64 from the float32 start, so
it is the exact answer up to float64 rounding; the script also prints how far a float32 PyTorch run lands
from it, the yardstick for the Swift test's tolerances.

Writes Tests/EmovoxDistillTests/Fixtures/vggm_small_steps.safetensors (~1.4 MB, nearly all gradients).
"""
import json, os, sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(__file__))
from student_torch import Student  # noqa: E402  (the PyTorch twin of StudentModel, state-dict names shared)

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "EmovoxDistillTests", "Fixtures", "vggm_small_steps.safetensors")
SEED, N, FRAMES, CLASSES, T = 20261207, 4, 100, 8, 2.0
LR, MOMENTUM, WEIGHT_DECAY, STEPS = 0.01, 0.9, 5e-4, 3
CFG = dict(name="vggm-small", bins=257, channels=[32, 64, 96, 96, 64], fc6=256, fc7=128, classes=CLASSES, dropout=0)
M64 = (1 << 64) - 1


def uniform(stream, count):
    """float32 in [-1, 1): SplitMix64 of (seed + stream·2³² + k + 1)·γ, top 24 bits / 2²³ − 1 (exact)."""
    with np.errstate(over="ignore"):
        k = np.arange(1, count + 1, dtype=np.uint64)
        base = np.uint64((SEED + (stream << 32)) & M64)
        z = base + k * np.uint64(0x9E3779B97F4A7C15)  # wraps mod 2^64 like Swift's &+ / &*
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(40)).astype(np.float32) / np.float32(1 << 23) - np.float32(1)).astype(np.float32)


def initial_value(index, name, shape):
    """Parameter `index` (PyTorch order): conv weights u/√fan-in, BN scales 1 + u/10, biases u/10."""
    u = uniform(1 + index, int(np.prod(shape))).reshape(shape)
    if name.endswith("weight") and len(shape) == 4:
        return u * np.float32(1 / np.sqrt(float(np.prod(shape[1:]))))
    if name.startswith("bn") and name.endswith("weight"):
        return np.float32(1) + np.float32(0.1) * u
    return np.float32(0.1) * u


def run(dtype):
    torch.manual_seed(0)
    model = Student(CFG)
    names = [n for n, _ in model.named_parameters()]
    with torch.no_grad():
        for i, (n, p) in enumerate(model.named_parameters()):
            p.copy_(torch.from_numpy(initial_value(i, n, tuple(p.shape))))
    model = model.to(dtype).train()
    x = torch.from_numpy(uniform(0, N * CFG["bins"] * FRAMES).reshape(N, 1, CFG["bins"], FRAMES)).to(dtype)
    raw = uniform(1000, N * CLASSES).reshape(N, CLASSES).astype(np.float64) * 3
    targets = np.exp(raw) / np.exp(raw).sum(1, keepdims=True)
    t = torch.from_numpy(targets.astype(np.float32)).to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)

    def loss_of(logits):
        return -(t * torch.log_softmax(logits / T, dim=1)).sum(1).mean()

    losses, first = [], None
    for step in range(STEPS + 1):
        opt.zero_grad()
        logits = model(x)
        loss = loss_of(logits)
        losses.append(loss.item())
        if step == STEPS:
            break
        loss.backward()
        if step == 0:
            first = (logits.detach().clone(), {n: p.grad.detach().clone() for n, p in model.named_parameters()})
        opt.step()
    return names, targets.astype(np.float32), first[0], first[1], losses


def main():
    out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else OUT
    torch.set_num_threads(1)
    names, targets, logits, grads, losses = run(torch.float64)
    _, _, logits32, grads32, losses32 = run(torch.float32)

    def rel(a, b):
        return float((a.double() - b.double()).abs().max() / b.double().abs().max())
    # Gradients relative to their tensor's largest, leaving out tensors whose gradient is zero up to rounding
    # (bn5.bias: the training-mode BN6 cancels any shift of mpool5's output).
    floor = 1e-6 * max(float(g.abs().max()) for g in grads.values())
    nonzero = [n for n in names if float(grads[n].abs().max()) > floor]
    worst = max(nonzero, key=lambda n: rel(grads32[n], grads[n]))
    print(f"float32 PyTorch vs the float64 reference: logits {rel(logits32, logits):.2e}, "
          f"loss {abs(losses32[0] - losses[0]) / abs(losses[0]):.2e}, "
          f"worst gradient {rel(grads32[worst], grads[worst]):.2e} ({worst}; zero up to rounding: "
          f"{', '.join(n for n in names if n not in nonzero) or 'none'}), "
          f"losses {max(abs(a - b) / abs(b) for a, b in zip(losses32, losses)):.2e}")
    print("losses:", [f"{l:.6f}" for l in losses])
    tensors = {"targets": targets, "logits": logits.float().numpy(), "losses": np.array(losses, dtype=np.float64)}
    for n in names:
        tensors["grad." + n] = grads[n].float().numpy()
    meta = dict(seed=str(SEED), n=str(N), frames=str(FRAMES), classes=str(CLASSES), temperature=str(T), lr=str(LR),
                momentum=str(MOMENTUM), weight_decay=str(WEIGHT_DECAY), steps=str(STEPS), parameters=json.dumps(names),
                torch=torch.__version__)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    save_file(tensors, out, metadata=meta)
    print(f"wrote {os.path.normpath(out)} ({os.path.getsize(out) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
