#!/usr/bin/env python3
"""Oracle fixtures for EmovoxCoreTests, from PyTorch (CPU) and the safetensors package.

    pip install torch safetensors numpy && python3 tools/gen_core_fixtures.py

Writes Tests/EmovoxCoreTests/Fixtures/core.safetensors (every case's inputs, parameters, outputs and
gradients of a fixed random upstream gradient, named "<case>.<tensor>") plus dtype fixtures
safetensors_dtypes.safetensors written by the reference library. Swift tests need no Python.
"""
import json, os
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "EmovoxCoreTests", "Fixtures")
torch.manual_seed(0)
T = {}
cases = {}


def rnd(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def record(name, meta, tensors):
    cases[name] = meta
    for k, v in tensors.items():
        T[f"{name}.{k}"] = v.detach().float().clone()


def tf_same(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


# --- convolutions: explicit padding (t, b, l, r) or TF 'same' emulated with F.pad
conv_cases = [
    dict(name="conv_basic", n=2, cin=3, cout=4, h=9, w=8, k=(3, 3), s=(1, 1), pad=(1, 1, 1, 1), groups=1, bias=True),
    dict(name="conv_stride2_asym_pad", n=2, cin=2, cout=3, h=11, w=10, k=(5, 5), s=(2, 2), pad=(1, 2, 0, 1), groups=1, bias=False),
    dict(name="conv_9x1", n=1, cin=4, cout=5, h=9, w=7, k=(9, 1), s=(1, 1), pad=(0, 0, 0, 0), groups=1, bias=True),
    dict(name="conv_groups2", n=2, cin=4, cout=6, h=7, w=7, k=(3, 3), s=(1, 1), pad=(1, 1, 1, 1), groups=2, bias=True),
    dict(name="conv_depthwise_same", n=2, cin=5, cout=5, h=8, w=7, k=(3, 3), s=(1, 1), pad="same", groups=5, bias=False),
    dict(name="conv_pointwise_s2_same", n=3, cin=4, cout=6, h=8, w=7, k=(1, 1), s=(2, 2), pad="same", groups=1, bias=False),
    dict(name="conv_7x7_s2_vggm", n=2, cin=1, cout=4, h=20, w=17, k=(7, 7), s=(2, 2), pad=(1, 1, 1, 1), groups=1, bias=False),
    # rows wider than one 8-wide block and not a multiple of it (the vectorised path's overlapping tail), with bias
    dict(name="conv_depthwise_wide_bias", n=2, cin=3, cout=3, h=6, w=19, k=(3, 3), s=(1, 1), pad="same", groups=3, bias=True),
]
for c in conv_cases:
    x = rnd(c["n"], c["cin"], c["h"], c["w"]).requires_grad_()
    w = (rnd(c["cout"], c["cin"] // c["groups"], *c["k"]) * 0.3).requires_grad_()
    b = (rnd(c["cout"]) * 0.1).requires_grad_() if c["bias"] else None
    if c["pad"] == "same":
        (t, bo), (l, r) = tf_same(c["h"], c["k"][0], c["s"][0]), tf_same(c["w"], c["k"][1], c["s"][1])
    else:
        t, bo, l, r = c["pad"]
    y = F.conv2d(F.pad(x, (l, r, t, bo)), w, b, stride=c["s"], groups=c["groups"])
    g = rnd(*y.shape)
    y.backward(g)
    tensors = dict(x=x, w=w, y=y, gy=g, gx=x.grad, gw=w.grad)
    if b is not None:
        tensors.update(b=b, gb=b.grad)
    record(c["name"], {k: v for k, v in c.items() if k != "name"}, tensors)

# --- pools (max pads with -inf; 'same' avg excludes padding like Keras)
pool_cases = [
    dict(name="maxpool_3s2", kind="max", k=(3, 3), s=(2, 2), pad=(0, 0, 0, 0), h=11, w=10),
    dict(name="maxpool_5x3_s32", kind="max", k=(5, 3), s=(3, 2), pad=(0, 0, 0, 0), h=17, w=13),
    dict(name="maxpool_same", kind="max", k=(3, 3), s=(2, 2), pad="same", h=15, w=8),
    dict(name="maxpool_same_wide", kind="max", k=(3, 3), s=(2, 2), pad="same", h=7, w=21),
    # Small integers after a ReLU: windows full of ties, whose gradient goes to the first in row-major order.
    dict(name="maxpool_ties", kind="max", k=(3, 3), s=(2, 2), pad="same", h=9, w=21, ties=True),
    dict(name="avgpool_pad_counted", kind="avg", k=(3, 3), s=(2, 2), pad=(1, 1, 1, 1), h=9, w=8),
    dict(name="avgpool_same_excluded", kind="avg", k=(3, 3), s=(2, 2), pad="same", h=9, w=8),
]
for c in pool_cases:
    x = rnd(2, 3, c["h"], c["w"])
    if c.get("ties"):
        x = torch.clamp(torch.round(x * 1.5), min=0)
    x.requires_grad_()
    if c["pad"] == "same":
        (t, bo), (l, r) = tf_same(c["h"], c["k"][0], c["s"][0]), tf_same(c["w"], c["k"][1], c["s"][1])
    else:
        t, bo, l, r = c["pad"]
    if c["kind"] == "max":
        y = F.max_pool2d(F.pad(x, (l, r, t, bo), value=float("-inf")), c["k"], c["s"])
    elif c["pad"] == "same":
        ones = torch.ones(1, 1, c["h"], c["w"])
        y = F.avg_pool2d(F.pad(x, (l, r, t, bo)), c["k"], c["s"]) / F.avg_pool2d(F.pad(ones, (l, r, t, bo)), c["k"], c["s"])
    else:
        y = F.avg_pool2d(x, c["k"], c["s"], padding=(t, l), count_include_pad=True)
    g = rnd(*y.shape)
    y.backward(g)
    record(c["name"], {k: v for k, v in c.items() if k != "name"}, dict(x=x, y=y, gy=g, gx=x.grad))

# --- batch norm: training step (batch stats, running update) and eval
bn = torch.nn.BatchNorm2d(4, eps=1e-5, momentum=0.1)
with torch.no_grad():
    bn.weight.copy_(rnd(4) * 0.5 + 1); bn.bias.copy_(rnd(4) * 0.1)
    bn.running_mean.copy_(rnd(4) * 0.1); bn.running_var.copy_(rnd(4).abs() + 0.5)
rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
x = (rnd(3, 4, 5, 6) * 2 + 0.5).requires_grad_()
bn.train(); y = bn(x); g = rnd(*y.shape); y.backward(g)
record("bn_train", {}, dict(x=x, gamma=bn.weight, beta=bn.bias, running_mean0=rm0, running_var0=rv0, y=y, gy=g, gx=x.grad,
                             ggamma=bn.weight.grad, gbeta=bn.bias.grad, running_mean1=bn.running_mean, running_var1=bn.running_var))
bn.eval()
with torch.no_grad():
    x2 = rnd(2, 4, 3, 3)
    record("bn_eval", {}, dict(x=x2, y=bn(x2)))

# --- softmax / log-softmax / soft cross-entropy / KL with temperature 2
logits = (rnd(5, 7) * 3).requires_grad_()
target = F.softmax(rnd(5, 7) * 2 / 2.0, dim=1)
p = F.softmax(logits / 2, 1)
ce = -(target * F.log_softmax(logits / 2, 1)).sum(1).mean()
ce.backward()
record("softmax_t2", {"temperature": 2}, dict(logits=logits, target=target, p=p, logp=F.log_softmax(logits / 2, 1),
                                              ce=ce.reshape(1), gce=logits.grad))
logits.grad = None
kl = F.kl_div(F.log_softmax(logits / 2, 1), target, reduction="batchmean")
kl.backward()
record("kl_t2", {"temperature": 2}, dict(logits=logits, target=target, kl=kl.reshape(1), gkl=logits.grad))

# --- linear
lin = torch.nn.Linear(6, 4)
x = rnd(3, 6).requires_grad_(); y = lin(x); g = rnd(3, 4); y.backward(g)
record("linear", {}, dict(x=x, w=lin.weight, b=lin.bias, y=y, gy=g, gx=x.grad, gw=lin.weight.grad, gb=lin.bias.grad))

# --- optimisers: three steps on fixed gradients
for name, make in [("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=5e-4)),
                   ("adam", lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=5e-4))]:
    w = torch.nn.Parameter(rnd(3, 4)); w0 = w.detach().clone()
    grads = [rnd(3, 4) for _ in range(3)]
    opt = make([w])
    for gr in grads:
        opt.zero_grad(); w.grad = gr.clone(); opt.step()
    record(name, {}, dict(w0=w0, g0=grads[0], g1=grads[1], g2=grads[2], w3=w))

# --- MatConvNet-style log-linear LR, 1e-4 → 1e-5 over 10 epochs (numpy.logspace)
T["lr_loglinear.rates"] = torch.from_numpy(np.logspace(-4, -5, 10).astype(np.float32))

os.makedirs(OUT, exist_ok=True)
save_file(T, os.path.join(OUT, "core.safetensors"), metadata={"cases": json.dumps(cases), "generator": "tools/gen_core_fixtures.py",
                                                                 "torch": torch.__version__})
# Reference-library dtypes the reader must convert.
save_file({"f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4,
           "f16": torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16),
           "bf16": torch.tensor([1.5, -3.0, 1e10], dtype=torch.bfloat16),
           "f64": torch.tensor([[1e-3, 2.5]], dtype=torch.float64),
           "i64": torch.tensor([7, -3], dtype=torch.int64)},
          os.path.join(OUT, "safetensors_dtypes.safetensors"), metadata={"note": "written by safetensors.torch"})
# float32 → float16 as PyTorch rounds it (nearest, ties to even), for the writer's F16 storage: random weights at
# many scales, ties, subnormals, the largest finite values, signed zero.
g = torch.Generator().manual_seed(16)
scales = torch.tensor([1e-7, 1e-5, 1e-3, 0.1, 1.0, 10.0, 1e3, 1e4])
weights = (torch.randn(8, 64, generator=g) * scales[:, None]).reshape(-1)
edges = torch.tensor([1 + 2**-11, 1 + 3 * 2**-11, -(1 + 2**-11), 2**-24, 2**-25, 3 * 2**-26, 6.1e-5, 65504.0, 65519.0,
                      -65504.0, 0.0, -0.0, 1 / 3, 2 / 3, 1e-8], dtype=torch.float32)
source = torch.cat([weights, edges])
save_file({"source": source, "expected": source.to(torch.float16)},
          os.path.join(OUT, "safetensors_f16.safetensors"), metadata={"note": "float32 source and torch's float16 of it"})
print("wrote", len(T), "tensors")
