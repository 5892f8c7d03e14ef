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

FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
               onnx.TensorProto.BFLOAT16}


class UnsupportedError(Exception):
    pass


def node_name(node):
    return f"{node.op_type} node '{node.name or node.output[0]}'"


def attrs_of(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def to_torch(array, dtype=torch.float64):
    t = torch.from_numpy(np.array(array))
    if t.is_floating_point():
        return t.to(dtype)
    if t.dtype == torch.bool:
        return t
    return t.to(torch.int64)


def ints(t):
    return [int(v) for v in t.reshape(-1).tolist()]


# ------------------------------------------------------------------------------------------------
# Ops. Each takes (inputs, attrs, opset) and returns a list of outputs.
# ------------------------------------------------------------------------------------------------
def split_pads(pads, rank):
    """ONNX pads [x1_begin, x2_begin, ..., x1_end, x2_end, ...] -> F.pad order (last dim first)."""
    pads = list(pads) if pads else [0] * (2 * rank)
    out = []
    for d in reversed(range(rank)):
        out += [pads[d], pads[d + rank]]
    return out


def check_auto_pad(a, node):
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise UnsupportedError(f"{node_name(node)}: auto_pad={a['auto_pad']!r} is not supported")


def op_conv(ins, a, node, opset):
    check_auto_pad(a, node)
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    sp = x.dim() - 2
    pads = list(a.get("pads") or [0] * (2 * sp))
    padding = 0
    if pads[:sp] == pads[sp:]:
        padding = pads[:sp]  # symmetric: the convolution pads (no padded copy of x)
    elif any(pads):
        x = F.pad(x, split_pads(pads, sp))
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[sp]
    return [conv(x, w, b, stride=a.get("strides", [1] * sp), padding=padding,
                 dilation=a.get("dilations", [1] * sp), groups=a.get("group", 1))]


def op_gemm(ins, a, node, opset):
    A, B = ins[0], ins[1]
    if a.get("transA", 0):
        A = A.t()
    if a.get("transB", 0):
        B = B.t()
    y = a.get("alpha", 1.0) * (A @ B)
    if len(ins) > 2 and ins[2] is not None:
        y = y + a.get("beta", 1.0) * ins[2]
    return [y]


def op_maxpool(ins, a, node, opset):
    check_auto_pad(a, node)
    if len(node.output) > 1 and node.output[1]:
        raise UnsupportedError(f"{node_name(node)}: the Indices output is not supported")
    if a.get("storage_order", 0):
        raise UnsupportedError(f"{node_name(node)}: storage_order=1 is not supported")
    x = ins[0]
    sp = x.dim() - 2
    k = a["kernel_shape"]
    if any(a.get("pads") or []):
        x = F.pad(x, split_pads(a.get("pads"), sp), value=-float("inf"))
    pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[sp]
    return [pool(x, k, stride=a.get("strides", [1] * sp), dilation=a.get("dilations", [1] * sp),
                 ceil_mode=bool(a.get("ceil_mode", 0)))]


def op_avgpool(ins, a, node, opset):
    check_auto_pad(a, node)
    x = ins[0]
    sp = x.dim() - 2
    k = a["kernel_shape"]
    strides = a.get("strides", [1] * sp)
    ceil = bool(a.get("ceil_mode", 0))
    include_pad = bool(a.get("count_include_pad", 0))
    if ceil and include_pad:
        raise UnsupportedError(f"{node_name(node)}: ceil_mode with count_include_pad")
    pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[sp]
    pads = split_pads(a.get("pads"), sp)
    xp = F.pad(x, pads)
    # On the explicitly padded tensor: window sum / number of counted elements.
    avg = pool(xp, k, stride=strides, ceil_mode=ceil)
    if include_pad:
        return [avg]
    ones = F.pad(torch.ones_like(x[:1, :1]), pads)
    frac = pool(ones, k, stride=strides, ceil_mode=ceil)  # counted / window (same divisor)
    return [avg / frac]


def op_batchnorm(ins, a, node, opset):
    if a.get("training_mode", 0):
        raise UnsupportedError(f"{node_name(node)}: training_mode=1 is not supported")
    if len([o for o in node.output if o]) > 1:
        raise UnsupportedError(f"{node_name(node)}: only the inference form (1 output)")
    x, scale, bias, mean, var = ins[:5]
    shape = [1, -1] + [1] * (x.dim() - 2)
    inv = torch.rsqrt(var + a.get("epsilon", 1e-5)).reshape(shape)
    return [(x - mean.reshape(shape)) * inv * scale.reshape(shape) + bias.reshape(shape)]


def op_flatten(ins, a, node, opset):
    x = ins[0]
    axis = a.get("axis", 1)
    if axis < 0:
        axis += x.dim()
    outer = int(np.prod(x.shape[:axis])) if axis > 0 else 1
    return [x.reshape(outer, -1)]


def op_reshape(ins, a, node, opset):
    x, shape = ins[0], ints(ins[1])
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [x.reshape(shape)]


def softmax_like(fn):
    def op(ins, a, node, opset):
        x = ins[0]
        if opset >= 13:
            return [fn(x, dim=a.get("axis", -1))]
        # Before opset 13: coerce to 2-D at `axis` (default 1), normalize rows, reshape back.
        axis = a.get("axis", 1)
        if axis < 0:
            axis += x.dim()
        outer = int(np.prod(x.shape[:axis])) if axis > 0 else 1
        return [fn(x.reshape(outer, -1), dim=1).reshape(x.shape)]
    return op


def op_constant(ins, a, node, opset):
    if "value" in a:
        return [to_torch(onnx.numpy_helper.to_array(a["value"]))]
    for key, dtype in (("value_float", np.float64), ("value_floats", np.float64),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in a:
            return [to_torch(np.array(a[key], dtype=dtype))]
    raise UnsupportedError(f"{node_name(node)}: unsupported attribute {sorted(a)}")


def op_shape(ins, a, node, opset):
    dims = list(ins[0].shape)
    start, end = a.get("start", 0), a.get("end", len(dims))
    return [torch.tensor(dims[start:end], dtype=torch.int64)]


def op_gather(ins, a, node, opset):
    x, idx = ins[0], ins[1].to(torch.int64)
    axis = a.get("axis", 0)
    if axis < 0:
        axis += x.dim()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = torch.index_select(x, axis, idx.reshape(-1))
    return [out.reshape(list(x.shape[:axis]) + list(idx.shape) + list(x.shape[axis + 1:]))]


def raw_axes(ins, a, opset):
    """`axes` is an attribute before opset 13 and an optional input from opset 13 on."""
    if opset < 13:
        return a.get("axes")
    return ints(ins[1]) if len(ins) > 1 and ins[1] is not None else None


def op_unsqueeze(ins, a, node, opset):
    x = ins[0]
    axes = raw_axes(ins, a, opset)
    rank = x.dim() + len(axes)  # negative axes count from the end of the output
    for ax in sorted(ax + rank if ax < 0 else ax for ax in axes):
        x = x.unsqueeze(ax)
    return [x]


def op_squeeze(ins, a, node, opset):
    x = ins[0]
    axes = raw_axes(ins, a, opset)
    if axes is None:
        axes = [d for d, s in enumerate(x.shape) if s == 1]
    for ax in sorted((ax + x.dim() if ax < 0 else ax for ax in axes), reverse=True):
        x = x.squeeze(ax)
    return [x]


def op_transpose(ins, a, node, opset):
    x = ins[0]
    return [x.permute(a.get("perm", list(reversed(range(x.dim())))))]


def op_pad(ins, a, node, opset):
    mode = a.get("mode", b"constant")
    if mode not in (b"constant", "constant"):
        raise UnsupportedError(f"{node_name(node)}: mode={mode!r} is not supported")
    x = ins[0]
    if opset < 11:
        pads, value = a["pads"], a.get("value", 0.0)
    else:
        pads = ints(ins[1])
        value = float(ins[2]) if len(ins) > 2 and ins[2] is not None else 0.0
    if len(ins) > 3 and ins[3] is not None:
        raise UnsupportedError(f"{node_name(node)}: the axes input is not supported")
    return [F.pad(x, split_pads(pads, x.dim()), value=value)]


def op_cast(ins, a, node, opset):
    to = a["to"]
    if to in FLOAT_TYPES:
        return [ins[0].to(torch.float64)]
    if to == onnx.TensorProto.BOOL:
        return [ins[0] != 0]
    if ins[0].is_floating_point():  # float -> integer truncates toward zero
        return [torch.trunc(ins[0]).detach().to(torch.int64)]
    return [ins[0].to(torch.int64)]


def op_constant_of_shape(ins, a, node, opset):
    value = a.get("value")
    fill = to_torch(onnx.numpy_helper.to_array(value)).reshape(-1) if value is not None \
        else torch.zeros(1, dtype=torch.float64)
    return [fill.expand(ints(ins[0])).clone()]


def op_slice(ins, a, node, opset):
    x = ins[0]
    if opset < 10:
        starts, ends = a["starts"], a["ends"]
        axes, steps = a.get("axes"), None
    else:
        starts, ends = ints(ins[1]), ints(ins[2])
        axes = ints(ins[3]) if len(ins) > 3 and ins[3] is not None else None
        steps = ints(ins[4]) if len(ins) > 4 and ins[4] is not None else None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    for start, end, ax, step in zip(starts, ends, axes, steps):
        ax = ax + x.dim() if ax < 0 else ax
        n = x.shape[ax]
        start = start + n if start < 0 else start
        end = end + n if end < 0 else end
        if step > 0:
            start, end = max(0, min(n, start)), max(0, min(n, end))
        elif step < 0:
            start, end = max(-1, min(n - 1, start)), max(-1, min(n - 1, end))
        else:
            raise UnsupportedError(f"{node_name(node)}: step 0")
        x = torch.index_select(x, ax, torch.arange(start, end, step, dtype=torch.int64))
    return [x]


def op_hardsigmoid(ins, a, node, opset):
    return [torch.clamp(a.get("alpha", 0.2) * ins[0] + a.get("beta", 0.5), 0.0, 1.0)]


OPS = {
    "Add": lambda i, a, n, o: [i[0] + i[1]],
    "Sub": lambda i, a, n, o: [i[0] - i[1]],
    "Mul": lambda i, a, n, o: [i[0] * i[1]],
    "Div": lambda i, a, n, o: [i[0] / i[1]],
    "Relu": lambda i, a, n, o: [torch.relu(i[0])],
    "LeakyRelu": lambda i, a, n, o: [F.leaky_relu(i[0], a.get("alpha", 0.01))],
    # HardSwish(x) = x * max(0, min(1, x/6 + 1/2))
    "HardSwish": lambda i, a, n, o: [i[0] * torch.clamp(i[0] / 6.0 + 0.5, 0.0, 1.0)],
    "HardSigmoid": op_hardsigmoid,
    "Sigmoid": lambda i, a, n, o: [torch.sigmoid(i[0])],
    "Tanh": lambda i, a, n, o: [torch.tanh(i[0])],
    "Conv": op_conv,
    "Gemm": op_gemm,
    "MatMul": lambda i, a, n, o: [torch.matmul(i[0], i[1])],
    "MaxPool": op_maxpool,
    "AveragePool": op_avgpool,
    "GlobalAveragePool": lambda i, a, n, o: [i[0].mean(dim=tuple(range(2, i[0].dim())),
                                                       keepdim=True)],
    "BatchNormalization": op_batchnorm,
    "Flatten": op_flatten,
    "Reshape": op_reshape,
    # Inference: output = input; the optional mask output is all true.
    "Dropout": lambda i, a, n, o: [i[0], torch.ones_like(i[0], dtype=torch.bool)],
    "Identity": lambda i, a, n, o: [i[0]],
    "Softmax": softmax_like(torch.softmax),
    "LogSoftmax": softmax_like(torch.log_softmax),
    "Constant": op_constant,
    "Shape": op_shape,
    "Gather": op_gather,
    "Unsqueeze": op_unsqueeze,
    "Squeeze": op_squeeze,
    "Concat": lambda i, a, n, o: [torch.cat(i, dim=a["axis"])],
    "Transpose": op_transpose,
    "Pad": op_pad,
    "Cast": op_cast,
    "ConstantOfShape": op_constant_of_shape,
    "Slice": op_slice,
}


# ------------------------------------------------------------------------------------------------
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
