#!/usr/bin/env python3
"""Gradient oracle: the loss of an ONNX model on labelled data and its gradient with respect to
every float initializer, computed in float64 by PyTorch autograd.

Usage:
  torch_grads.py MODEL.onnx --data FILE.npz [--limit N] --out GRADS.npz [--tol T]

The ONNX graph is run by the interpreter of tools/onnx_torch.py (onnx2torch is not available on
Debian): each node becomes the matching torch call, initializers become float64 leaf tensors
with requires_grad, the first graph input is fed `x[:N]` from FILE.npz as float64. Supported ops:
Add Sub Mul Div Relu LeakyRelu HardSwish HardSigmoid Sigmoid Tanh Conv Gemm MatMul MaxPool
AveragePool GlobalAveragePool BatchNormalization (inference) Flatten Reshape Dropout (inference)
Identity Softmax LogSoftmax Constant Shape Gather Unsqueeze Squeeze Concat Transpose Pad Cast
ConstantOfShape Slice; anything
else stops with an error naming the node.

Loss, from the graph's first output `out` [N, C] and the labels y = FILE.npz["y"][:N]:
  - out produced by Softmax:    loss = -(1/N) sum_i log(max(out[i, y_i], 1e-12))
  - out produced by LogSoftmax: loss = -(1/N) sum_i out[i, y_i]
  - otherwise (logits):         loss = -(1/N) sum_i log_softmax(out[i])[y_i]   (cross-entropy)

Writes GRADS.npz: `__loss__` (float64 scalar) and, for every float initializer, its name mapped to
d loss / d initializer (float64, the initializer's shape; zeros for one the output does not
depend on). Also runs ONNX Runtime on the same samples in float32, prints the largest absolute
difference between its first output and the float64 forward here, and exits 1 if it exceeds --tol
(default 1e-3 times max(1, max |out|)).
"""

import argparse
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_torch import (FLOAT_TYPES, UnsupportedError, loss_of, run_graph,  # noqa: E402
                        to_torch)


def save_npz_atomic(path, arrays):
    tmp = f"{path}.tmp.{os.getpid()}.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--data", required=True, help=".npz with x and y")
    ap.add_argument("--limit", type=int, default=None, help="use the first N samples")
    ap.add_argument("--out", required=True, help="GRADS.npz to write")
    ap.add_argument("--tol", type=float, default=1e-3,
                    help="relative tolerance against ONNX Runtime (default 1e-3)")
    args = ap.parse_args(argv)

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    model = onnx.load(args.model)
    data = np.load(args.data)
    x_np = np.ascontiguousarray(data["x"][:args.limit], dtype=np.float32)
    y = torch.from_numpy(data["y"][:args.limit].astype(np.int64))

    params, float_names = {}, []
    for init in model.graph.initializer:
        t = to_torch(onnx.numpy_helper.to_array(init))
        if init.data_type in FLOAT_TYPES:
            t = t.to(torch.float64).requires_grad_(True)
            float_names.append(init.name)
        params[init.name] = t
    inputs = [i.name for i in model.graph.input if i.name not in params]
    if not inputs:
        print(f"torch_grads: {args.model} has no non-initializer input", file=sys.stderr)
        return 1

    try:
        env = run_graph(model, params, {inputs[0]: torch.from_numpy(x_np).to(torch.float64)})
        out = env[model.graph.output[0].name]
        loss, how = loss_of(model, out, y)
    except UnsupportedError as e:
        print(f"torch_grads: {args.model}: {e}", file=sys.stderr)
        return 1
    loss.backward()

    arrays = {"__loss__": np.array(loss.item(), dtype=np.float64)}
    for name in float_names:
        g = params[name].grad
        arrays[name] = (np.zeros(params[name].shape) if g is None
                        else g.detach().numpy()).astype(np.float64)
    save_npz_atomic(args.out, arrays)

    import onnxruntime as ort  # imported late: only the check needs it
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    ref = sess.run([sess.get_outputs()[0].name], {inputs[0]: x_np})[0]
    ours = out.detach().numpy()
    diff = float(np.abs(ours - ref).max())
    bound = args.tol * max(1.0, float(np.abs(ref).max()))
    print(f"{os.path.basename(args.model)}: {len(x_np)} samples, loss ({how}) "
          f"{loss.item():.6f}, {len(float_names)} float initializers -> {args.out}")
    print(f"forward vs ONNX Runtime: max |diff| {diff:.3e} (bound {bound:.1e})")
    if not diff <= bound:
        print("torch_grads: forward disagrees with ONNX Runtime", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
