"""The op table of tools/onnx_torch.py's interpreter: one function per ONNX op,
f(inputs, attributes, node, opset) -> [outputs], each the matching torch call (in whatever float
dtype its inputs have), and the helpers they share (attributes, pads, node names). An op that is
not in OPS, or an attribute value an op does not handle, raises UnsupportedError naming the node.
"""

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F

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
