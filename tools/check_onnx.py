#!/usr/bin/env python3
"""Checks an ONNX file exported by `emovox export` against emovox's own outputs.

    python3 tools/check_onnx.py MODEL.onnx --case X.npy EXPECTED_LOGITS.npy [--case ...] [--tol 1e-4]

1. onnx.checker (full check, with shape inference) must accept the model;
2. the JSON beside it (MODEL.onnx.json) must name the graph's input and outputs and as many classes as
   the logits have;
3. onnxruntime (CPU) must reproduce each EXPECTED_LOGITS.npy from X.npy to within --tol (max |difference|).

Prints one JSON line per case ({"case", "shape", "max_abs_diff"}) and exits 1 on any failure.
Needs: pip install onnx onnxruntime numpy.
"""
import argparse
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--case", nargs=2, action="append", metavar=("INPUT", "EXPECTED"), required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()

    model = onnx.load(args.model)
    onnx.checker.check_model(model, full_check=True)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 13:
        sys.exit(f"{args.model}: opset {opset} < 13")

    with open(args.model + ".json") as f:
        sidecar = json.load(f)
    graph_inputs = [i.name for i in model.graph.input]
    graph_outputs = [o.name for o in model.graph.output]
    if [sidecar["input"]["name"]] != graph_inputs:
        sys.exit(f"sidecar input {sidecar['input']['name']} != graph inputs {graph_inputs}")
    if [o["name"] for o in sidecar["outputs"]] != graph_outputs:
        sys.exit(f"sidecar outputs {sidecar['outputs']} != graph outputs {graph_outputs}")

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    failed = False
    for x_path, y_path in args.case:
        x = np.load(x_path).astype(np.float32)
        expected = np.load(y_path).astype(np.float32)
        logits, probabilities = session.run(["logits", "probabilities"], {graph_inputs[0]: x})
        if logits.shape[1] != len(sidecar["classes"]):
            sys.exit(f"{len(sidecar['classes'])} class names for {logits.shape[1]} logits")
        diff = float(np.max(np.abs(logits - expected)))
        softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
        softmax /= softmax.sum(axis=1, keepdims=True)
        prob_diff = float(np.max(np.abs(probabilities - softmax)))
        print(json.dumps({"case": x_path, "shape": list(x.shape), "max_abs_diff": diff, "max_abs_logit": float(np.max(np.abs(expected))),
                          "probabilities_vs_softmax": prob_diff}))
        if not diff <= args.tol or not prob_diff <= 1e-5:
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
