#!/usr/bin/env python3
"""A tiny Keras-2-style HDF5 model (written with h5py, no TensorFlow) and its outputs from an independent
NumPy forward pass, for EmovoxModelsTests (needs no ../shared).

    python3 tools/gen_keras_fixture.py

The graph mirrors the mini-Xception's building blocks: Conv2D 'valid' + BN + ReLU, a residual block of
SeparableConv2D 'same' + BN, MaxPooling2D 'same' and a strided 1×1 Conv2D shortcut, Add, final Conv2D with
bias, GlobalAveragePooling2D, softmax. Strings are stored both as variable-length (model_config) and
fixed-length (layer_names, weight_names) like Keras 2.0 does.
"""
import json, os
import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "EmovoxModelsTests", "Fixtures")
rng = np.random.default_rng(0)
H = W = 9


def conv(x, k, stride=1, pad="valid", bias=None):  # x [H,W,C], k [kh,kw,ci,co] (Keras layout)
    kh, kw = k.shape[:2]
    if pad == "same":
        def amounts(n):
            out = -(-n // stride); t = max((out - 1) * stride + kw - n, 0); return t // 2, t - t // 2
        (t, b), (l, r) = amounts(x.shape[0]), amounts(x.shape[1])
        x = np.pad(x, ((t, b), (l, r), (0, 0)))
    oh, ow = (x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1
    y = np.zeros((oh, ow, k.shape[3]))
    for i in range(oh):
        for j in range(ow):
            patch = x[i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            y[i, j] = np.tensordot(patch, k, axes=([0, 1, 2], [0, 1, 2]))
    return y + (bias if bias is not None else 0)


def depthwise(x, k):  # 'same', stride 1, k [kh,kw,c,1]
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            y[i, j] = (xp[i:i + 3, j:j + 3, :] * k[:, :, :, 0]).sum(axis=(0, 1))
    return y


def maxpool_same(x):  # 3×3 stride 2 'same'
    out = -(-x.shape[0] // 2); t = max((out - 1) * 2 + 3 - x.shape[0], 0)
    xp = np.pad(x, ((t // 2, t - t // 2), (t // 2, t - t // 2), (0, 0)), constant_values=-np.inf)
    return np.stack([np.stack([xp[2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(0, 1)) for j in range(out)]) for i in range(out)])


def bn(x, p, eps=1e-3):
    return (x - p["moving_mean"]) / np.sqrt(p["moving_variance"] + eps) * p["gamma"] + p["beta"]


def bn_params(c):
    return {"gamma": rng.uniform(0.5, 1.5, c).astype(np.float32), "beta": rng.normal(0, 0.1, c).astype(np.float32),
            "moving_mean": rng.normal(0, 0.1, c).astype(np.float32), "moving_variance": rng.uniform(0.5, 1.5, c).astype(np.float32)}


w = {"conv2d_1": {"kernel": rng.normal(0, 0.5, (3, 3, 1, 4)).astype(np.float32)}, "batch_normalization_1": bn_params(4),
     "separable_conv2d_1": {"depthwise_kernel": rng.normal(0, 0.5, (3, 3, 4, 1)).astype(np.float32),
                            "pointwise_kernel": rng.normal(0, 0.5, (1, 1, 4, 6)).astype(np.float32)},
     "batch_normalization_2": bn_params(6), "conv2d_2": {"kernel": rng.normal(0, 0.5, (1, 1, 4, 6)).astype(np.float32)},
     "batch_normalization_3": bn_params(6),
     "conv2d_3": {"kernel": rng.normal(0, 0.5, (3, 3, 6, 3)).astype(np.float32), "bias": rng.normal(0, 0.1, 3).astype(np.float32)}}


def forward(img):
    x = img[:, :, None].astype(np.float64)
    a = np.maximum(bn(conv(x, w["conv2d_1"]["kernel"]), w["batch_normalization_1"]), 0)
    s = conv(depthwise(a, w["separable_conv2d_1"]["depthwise_kernel"]), w["separable_conv2d_1"]["pointwise_kernel"])
    s = maxpool_same(bn(s, w["batch_normalization_2"]))
    r = bn(conv(a, w["conv2d_2"]["kernel"], stride=2, pad="same"), w["batch_normalization_3"])
    y = conv(s + r, w["conv2d_3"]["kernel"], pad="same", bias=w["conv2d_3"]["bias"])
    return y.mean(axis=(0, 1))


def layer(cls, name, inputs, **cfg):
    return {"class_name": cls, "name": name, "config": dict(name=name, **cfg), "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else []}


layers = [layer("InputLayer", "input_1", [], batch_input_shape=[None, H, W, 1]),
          layer("Conv2D", "conv2d_1", ["input_1"], filters=4, kernel_size=[3, 3], strides=[1, 1], padding="valid", activation="linear", use_bias=False),
          layer("BatchNormalization", "batch_normalization_1", ["conv2d_1"], epsilon=0.001, axis=-1),
          layer("Activation", "activation_1", ["batch_normalization_1"], activation="relu"),
          layer("SeparableConv2D", "separable_conv2d_1", ["activation_1"], filters=6, kernel_size=[3, 3], strides=[1, 1], padding="same",
                activation="linear", use_bias=False, depth_multiplier=1),
          layer("BatchNormalization", "batch_normalization_2", ["separable_conv2d_1"], epsilon=0.001, axis=-1),
          layer("MaxPooling2D", "max_pooling2d_1", ["batch_normalization_2"], pool_size=[3, 3], strides=[2, 2], padding="same"),
          layer("Conv2D", "conv2d_2", ["activation_1"], filters=6, kernel_size=[1, 1], strides=[2, 2], padding="same", activation="linear", use_bias=False),
          layer("BatchNormalization", "batch_normalization_3", ["conv2d_2"], epsilon=0.001, axis=-1),
          layer("Add", "add_1", ["max_pooling2d_1", "batch_normalization_3"]),
          layer("Conv2D", "conv2d_3", ["add_1"], filters=3, kernel_size=[3, 3], strides=[1, 1], padding="same", activation="linear", use_bias=True),
          layer("GlobalAveragePooling2D", "global_average_pooling2d_1", ["conv2d_3"]),
          layer("Activation", "predictions", ["global_average_pooling2d_1"], activation="softmax")]
config = {"class_name": "Model", "config": {"name": "tiny", "layers": layers, "input_layers": [["input_1", 0, 0]],
                                            "output_layers": [["predictions", 0, 0]]}}

os.makedirs(OUT, exist_ok=True)
path = os.path.join(OUT, "tiny_keras.hdf5")
with h5py.File(path, "w") as f:
    f.attrs["model_config"] = json.dumps(config)  # variable-length string
    f.attrs["keras_version"] = np.bytes_(b"2.0.5")
    g = f.create_group("model_weights")
    names = [l["name"] for l in layers]
    g.attrs["layer_names"] = np.array([n.encode() for n in names], dtype=f"S{max(map(len, names))}")
    for n in names:
        lg = g.create_group(n)
        if n not in w:
            lg.attrs["weight_names"] = np.array([], dtype=np.float64)  # what Keras 2 writes for weightless layers
            continue
        wn = [f"{n}_1/{k}:0".encode() for k in w[n]]
        lg.attrs["weight_names"] = np.array(wn, dtype=f"S{max(map(len, wn))}")
        for k, v in w[n].items():
            lg.create_dataset(f"{n}_1/{k}:0", data=v)

images = rng.integers(0, 256, (3, H, W)).astype(np.float32) / 255 * 2 - 1
logits = np.stack([forward(im) for im in images])
np.save(os.path.join(OUT, "tiny_keras_inputs.npy"), images.astype(np.float32))
np.save(os.path.join(OUT, "tiny_keras_logits.npy"), logits.astype(np.float32))
print("wrote", path, logits)
