#!/usr/bin/env python3
"""Writes a large MLP whose weights live in ONNX external data, plus owner samples.

The model: x [N, IN] -> MatMul W0 [IN, H] -> Relu -> (MatMul Wk [H, H] -> Relu) x LAYERS
-> MatMul Wout [H, CLASSES] -> logits [N, CLASSES]. Every weight is float32, He-initialized
(N(0, 2 / fan_in)) from a seeded generator, and stored in one external data file
(`weights.bin`, tensors back to back at 4096-byte aligned offsets); the .onnx itself holds only
the graph (a few KB). Weights are generated and written one tensor at a time, so the generator
needs about one tensor of memory, never the whole model.

Also writes `owner.npz` with `x` (N samples, float32, no labels: the lock uses the model's own
predictions). The defaults give 2.45e9 bytes of weights (more than protobuf's 2 GiB limit, so
the model can only exist with external data).

Usage: make_big_model.py OUT_DIR [--hidden 8192] [--layers 9] [--inputs 1024] [--classes 10]
                         [--samples 32] [--seed 0]
Prints one JSON line: model path, data path, weights file, its size, tensor offsets.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

ALIGN = 4096
WEIGHTS_FILE = "weights.bin"


def external_initializer(name, dims, offset, length):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", WEIGHTS_FILE), ("offset", str(offset)),
                       ("length", str(length))):
        entry = t.external_data.add()
        entry.key = key
        entry.value = value
    return t


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--hidden", type=int, default=8192)
    p.add_argument("--layers", type=int, default=9, help="hidden H x H layers")
    p.add_argument("--inputs", type=int, default=1024)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    rng = np.random.default_rng(a.seed)

    shapes = [("w0", [a.inputs, a.hidden])]
    shapes += [(f"w{k + 1}", [a.hidden, a.hidden]) for k in range(a.layers)]
    shapes.append(("wout", [a.hidden, a.classes]))

    initializers, nodes, offsets = [], [], {}
    offset = 0
    weights_path = os.path.join(a.out_dir, WEIGHTS_FILE)
    with open(weights_path, "wb") as f:
        for name, dims in shapes:
            if offset % ALIGN:
                pad = ALIGN - offset % ALIGN
                f.write(b"\0" * pad)
                offset += pad
            w = rng.standard_normal(size=dims, dtype=np.float32)
            w *= np.float32(np.sqrt(2.0 / dims[0]))
            data = w.tobytes()
            f.write(data)
            initializers.append(external_initializer(name, dims, offset, len(data)))
            offsets[name] = [offset, len(data)]
            offset += len(data)
            del w, data
    prev = "x"
    for k, (name, _) in enumerate(shapes):
        out = "logits" if name == "wout" else f"h{k}"
        nodes.append(helper.make_node("MatMul", [prev, name], [out], name=f"matmul_{name}"))
        prev = out
        if name != "wout":
            nodes.append(helper.make_node("Relu", [prev], [f"{prev}_relu"], name=f"relu_{k}"))
            prev = f"{prev}_relu"
    graph = helper.make_graph(
        nodes, "big_external_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", a.inputs])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", a.classes])],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="make_big_model.py")
    model.ir_version = 8
    model_path = os.path.join(a.out_dir, "big.onnx")
    with open(model_path, "wb") as f:
        f.write(model.SerializeToString())
    x = rng.standard_normal(size=(a.samples, a.inputs), dtype=np.float32)
    data_path = os.path.join(a.out_dir, "owner.npz")
    np.savez(data_path, x=x)
    print(json.dumps({"model": model_path, "data": data_path, "weights": weights_path,
                      "weights_bytes": os.path.getsize(weights_path),
                      "model_bytes": os.path.getsize(model_path), "tensors": offsets}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
