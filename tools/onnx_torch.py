#!/usr/bin/env python3
"""ONNX -> PyTorch: an op-by-op interpreter of ONNX graphs in PyTorch, and `OnnxModule`, a
torch.nn.Module that runs a model with its float initializers as named nn.Parameters.

Used by tools/torch_grads.py (float64 gradient oracle for the C++ engine), tools/attack_torch.py
(attacks on locked models that do not run on our engine) and tools/bench/bench_lock.py.

The interpreter: each node becomes the matching torch call, in graph order; every floating-point
value is kept in one dtype (float64 for the gradient oracle, float32 for OnnxModule). Supported
ops: Add Sub Mul Div Relu LeakyRelu HardSwish HardSigmoid Sigmoid Tanh Conv Gemm MatMul MaxPool
AveragePool GlobalAveragePool BatchNormalization (inference) Flatten Reshape Dropout (inference)
Identity Softmax LogSoftmax Constant Shape Gather Unsqueeze Squeeze Concat Transpose Pad Cast
ConstantOfShape Slice; anything else raises UnsupportedError naming the node.

OnnxModule(path_or_ModelProto, dtype=torch.float32):
  - float initializers -> nn.Parameter (name: the ONNX name with every character other than
    [A-Za-z0-9_] replaced by '_', made unique; `onnx_names` maps parameter -> ONNX name and
    `torch_names` the other way); BatchNormalization running mean/var get requires_grad=False;
  - other initializers -> buffers (int64 or bool);
  - forward(x) -> the graph's first output; log_probs(out) and loss(out, y) handle models that end
    in logits, LogSoftmax or Softmax (loss on log(max(p, 1e-12)));
  - arrays() / set_arrays() read and write numpy copies by ONNX name, to_onnx() writes a model.
Helpers name the weight-bearing tensors (weight_names, bias_names) and their fan-in (for
re-initialization). Run this file to compare it with ONNX Runtime on models:
  onnx_torch.py MODEL.onnx... [--data FILE.npz] [--limit N]
"""

import argparse
import copy
import re
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F
from torch import nn


# The op table (one torch function per ONNX op) and the node helpers live in onnx_torch_ops.py;
# UnsupportedError and FLOAT_TYPES are re-exported here for callers.
from onnx_torch_ops import (FLOAT_TYPES, OPS, UnsupportedError, attrs_of,  # noqa: E402,F401
                            node_name, to_torch)


# Interpreter
# ------------------------------------------------------------------------------------------------
def default_opset(model):
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    raise UnsupportedError("model imports no default-domain opset")


def compile_graph(model):
    """[(node, op function, attributes)] in graph order; checks every node is supported."""
    steps = []
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise UnsupportedError(f"{node_name(node)}: domain '{node.domain}' is not supported")
        fn = OPS.get(node.op_type)
        if fn is None:
            raise UnsupportedError(f"{node_name(node)}: op {node.op_type} is not supported")
        steps.append((node, fn, attrs_of(node)))
    return steps


def run_steps(steps, opset, env, dtype=torch.float64):
    """Runs compiled steps on env ({value name: tensor}, updated in place); every floating-point
    node output is cast to dtype (Constant, Cast and ConstantOfShape make float64)."""
    for node, fn, attrs in steps:
        ins = []
        for name in node.input:
            if not name:
                ins.append(None)
                continue
            if name not in env:
                raise UnsupportedError(f"{node_name(node)}: input '{name}' is not computed yet "
                                       "(graph not topologically sorted?)")
            ins.append(env[name])
        outs = fn(ins, attrs, node, opset)
        for name, value in zip(node.output, outs):
            if name:
                if value.is_floating_point() and value.dtype != dtype:
                    value = value.to(dtype)
                env[name] = value
    return env


def run_graph(model, params, feeds, dtype=torch.float64):
    """Evaluates the (topologically sorted) graph; returns {value name: tensor}."""
    env = dict(params)
    env.update(feeds)
    return run_steps(compile_graph(model), default_opset(model), env, dtype)


def loss_of(model, out, y):
    producer = {o: n for n in model.graph.node for o in n.output}.get(model.graph.output[0].name)
    kind = producer.op_type if producer is not None else ""
    if out.dim() != 2:
        raise UnsupportedError(f"first output has shape {list(out.shape)}; expected [N, classes]")
    picked = out.gather(1, y.reshape(-1, 1)).reshape(-1)
    if kind == "Softmax":
        return -torch.log(torch.clamp(picked, min=1e-12)).mean(), "softmax -> -mean log(p_y)"
    if kind == "LogSoftmax":
        return -picked.mean(), "log-softmax -> -mean(out_y)"
    return F.cross_entropy(out, y), "logits -> cross-entropy"



# ------------------------------------------------------------------------------------------------
# Tensor roles
# ------------------------------------------------------------------------------------------------
WEIGHT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def initializer_names(model):
    return [i.name for i in model.graph.initializer]


def weight_names(model):
    """Float initializers that are the weight of a Conv/ConvTranspose/Gemm/MatMul, in initializer
    order (what the lock may perturb without --include-bias)."""
    floats = {i.name for i in model.graph.initializer if i.data_type in FLOAT_TYPES}
    found = set()
    for n in model.graph.node:
        if n.op_type in ("Conv", "ConvTranspose"):
            slots = [1]
        elif n.op_type in ("Gemm", "MatMul"):
            slots = [0, 1]
        else:
            continue
        found.update(n.input[s] for s in slots if s < len(n.input) and n.input[s] in floats)
    return [name for name in initializer_names(model) if name in found]


def bias_names(model):
    """Conv/ConvTranspose/Gemm biases and BatchNormalization scale and bias."""
    floats = {i.name for i in model.graph.initializer if i.data_type in FLOAT_TYPES}
    found = set()
    for n in model.graph.node:
        slots = {"Conv": [2], "ConvTranspose": [2], "Gemm": [2],
                 "BatchNormalization": [1, 2]}.get(n.op_type, [])
        found.update(n.input[s] for s in slots if s < len(n.input) and n.input[s] in floats)
    return [name for name in initializer_names(model) if name in found]


def running_stat_names(model):
    return {n.input[s] for n in model.graph.node if n.op_type == "BatchNormalization"
            for s in (3, 4) if s < len(n.input) and n.input[s]}


def fan_ins(model):
    """{initializer name: fan-in of the layer it belongs to} for weights and biases of
    Conv/ConvTranspose/Gemm/MatMul (PyTorch's default init draws U(-1/sqrt(fan_in), +...))."""
    shapes = {i.name: list(i.dims) for i in model.graph.initializer}
    out = {}
    for n in model.graph.node:
        ins = list(n.input)
        if n.op_type in ("Conv", "ConvTranspose") and len(ins) > 1 and ins[1] in shapes:
            s = shapes[ins[1]]
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            fan = int(np.prod(s[1:])) if n.op_type == "Conv" else int(s[0] // group *
                                                                       np.prod(s[2:]))
            out[ins[1]] = fan
            if len(ins) > 2 and ins[2] in shapes:
                out[ins[2]] = fan
        elif n.op_type == "Gemm" and len(ins) > 1 and ins[1] in shapes:
            trans_b = next((a.i for a in n.attribute if a.name == "transB"), 0)
            s = shapes[ins[1]]
            fan = s[1] if trans_b else s[0]
            out[ins[1]] = fan
            if len(ins) > 2 and ins[2] in shapes:
                out[ins[2]] = fan
        elif n.op_type == "MatMul" and len(ins) > 1 and ins[1] in shapes:
            out[ins[1]] = shapes[ins[1]][0]
    return out


def output_kind(model):
    producer = {o: n for n in model.graph.node for o in n.output}.get(model.graph.output[0].name)
    kind = producer.op_type if producer is not None else ""
    return kind if kind in ("Softmax", "LogSoftmax") else "logits"


# ------------------------------------------------------------------------------------------------
# OnnxModule
# ------------------------------------------------------------------------------------------------
class OnnxModule(nn.Module):
    """A torch.nn.Module running an ONNX model; see the module docstring."""

    def __init__(self, model, dtype=torch.float32):
        super().__init__()
        if isinstance(model, str):
            path = model
            try:
                model = onnx.load(path)
            except Exception as e:  # onnx raises DecodeError, OSError, ...
                raise UnsupportedError(f"{path}: cannot load: {e}") from e
        self.model = model
        self.dtype = dtype
        self.opset = default_opset(model)
        self.steps = compile_graph(model)
        self.onnx_names, self.torch_names, self.onnx_dtypes = {}, {}, {}
        frozen = running_stat_names(model)
        used = set()
        for init in model.graph.initializer:
            base = re.sub(r"[^A-Za-z0-9_]", "_", init.name) or "t"
            if base[0].isdigit():
                base = "t_" + base
            tname, i = base, 1
            while tname in used or hasattr(self, tname):
                tname, i = f"{base}_{i}", i + 1
            used.add(tname)
            self.onnx_names[tname] = init.name
            self.torch_names[init.name] = tname
            arr = onnx.numpy_helper.to_array(init)
            self.onnx_dtypes[init.name] = arr.dtype
            if init.data_type in FLOAT_TYPES:
                p = nn.Parameter(torch.from_numpy(np.array(arr)).to(dtype),
                                 requires_grad=init.name not in frozen)
                self.register_parameter(tname, p)
            else:
                self.register_buffer(tname, to_torch(arr), persistent=False)
        inits = set(self.torch_names)
        inputs = [i.name for i in model.graph.input if i.name not in inits]
        if not inputs:
            raise UnsupportedError("the model has no input that is not an initializer")
        self.input_name = inputs[0]
        self.output_name = model.graph.output[0].name
        self.output_kind = output_kind(model)
        self.float_names = [i.name for i in model.graph.initializer
                            if i.data_type in FLOAT_TYPES]

    def tensor(self, onnx_name):
        """The parameter (or buffer) holding initializer `onnx_name`."""
        return getattr(self, self.torch_names[onnx_name])

    def forward(self, x):
        env = {onnx: getattr(self, t) for t, onnx in self.onnx_names.items()}
        env[self.input_name] = x.to(self.dtype)
        return run_steps(self.steps, self.opset, env, self.dtype)[self.output_name]

    def log_probs(self, out):
        if out.dim() != 2:
            raise UnsupportedError(f"output has shape {list(out.shape)}; expected [N, classes]")
        if self.output_kind == "Softmax":
            return torch.log(torch.clamp(out, min=1e-12))
        if self.output_kind == "LogSoftmax":
            return out
        return F.log_softmax(out, dim=1)

    def loss(self, out, y):
        """Mean cross-entropy against integer labels y."""
        return F.nll_loss(self.log_probs(out), y)

    def arrays(self, names=None):
        """{ONNX name: float32 numpy copy} of the float initializers (or of `names`)."""
        names = self.float_names if names is None else names
        return {n: self.tensor(n).detach().cpu().numpy().copy() for n in names}

    @torch.no_grad()
    def set_arrays(self, arrays):
        for name, value in arrays.items():
            t = self.tensor(name)
            t.copy_(torch.from_numpy(np.asarray(value)).to(t.dtype).reshape(t.shape))

    def to_onnx(self):
        """A copy of the model whose float initializers hold the current parameters, each in its
        original element type."""
        m = copy.deepcopy(self.model)
        for i, init in enumerate(m.graph.initializer):
            if init.data_type not in FLOAT_TYPES:
                continue
            arr = self.tensor(init.name).detach().cpu().numpy()
            arr = arr.astype(self.onnx_dtypes[init.name])
            m.graph.initializer[i].CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
        return m


# ------------------------------------------------------------------------------------------------
# Check against ONNX Runtime
# ------------------------------------------------------------------------------------------------
def compare_with_ort(path, x, batch=256):
    """Largest |torch float32 - ONNX Runtime| over the first output, and max |ORT output|."""
    import onnxruntime as ort  # only this check needs it

    module = OnnxModule(path).eval()
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    in_name, out_name = sess.get_inputs()[0].name, sess.get_outputs()[0].name
    diff, scale = 0.0, 0.0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            xb = np.ascontiguousarray(x[s:s + batch], dtype=np.float32)
            ref = sess.run([out_name], {in_name: xb})[0]
            ours = module(torch.from_numpy(xb)).numpy()
            diff = max(diff, float(np.abs(ours - ref).max()))
            scale = max(scale, float(np.abs(ref).max()))
    return diff, scale


def main(argv):
    ap = argparse.ArgumentParser(description="Compare OnnxModule (float32) with ONNX Runtime.")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--data", help=".npz with x (default: random normal inputs)")
    ap.add_argument("--limit", type=int, default=256)
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="bound on max |diff| / max(1, max |out|) (default 1e-4)")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    bad = 0
    for path in args.models:
        try:
            module = OnnxModule(path)
        except UnsupportedError as e:
            print(f"onnx_torch: {path}: {e}", file=sys.stderr)
            bad += 1
            continue
        if args.data:
            x = np.load(args.data)["x"][:args.limit]
        else:
            inp = next(i for i in module.model.graph.input if i.name == module.input_name)
            dims = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
            x = np.random.default_rng(0).standard_normal([args.limit] + dims[1:])
        diff, scale = compare_with_ort(path, x)
        rel = diff / max(1.0, scale)
        ok = rel <= args.tol
        bad += not ok
        print(f"{path}: {len(x)} samples, max |diff| {diff:.3e} (relative {rel:.2e}) "
              f"{'ok' if ok else 'FAIL'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
