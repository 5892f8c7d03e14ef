"""The zoo's hand-built graphs (tools/zoo/make_zoo.py): what tf2onnx makes of a small Keras CNN
(NHWC, Transpose/Cast, Pad, ReduceMean) and what Paddle exports (weights in Constant nodes). The
weights are numpy arrays, the ONNX names are chosen here, and the torch reference is the same
computation in torch.nn.functional on the same arrays, so the name map is the identity.
"""

import numpy as np
import onnx
import onnx.helper as oh
import onnx.numpy_helper as onh

from zoo_export import SAMPLES, SEED, finish_entry, reference, torch_reference


def weights(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def make_tf2onnx(torch, opset, out_dir, entry):
    """What tf2onnx makes of a small Keras CNN: NHWC float input, Transpose to NCHW, a Cast,
    explicit Pad, Conv with folded batch norm as Mul/Add, ReduceMean for global pooling, MatMul +
    Add for the dense layer, Softmax. Names in TensorFlow's style."""
    F = torch.nn.functional
    rng = np.random.default_rng(SEED)
    H = 16
    w = {
        "conv2d/Conv2D/ReadVariableOp:0": weights(rng, (8, 3, 3, 3), 27),
        "conv2d/BiasAdd/ReadVariableOp:0": (0.1 * rng.standard_normal(8)).astype(np.float32),
        "batch_normalization/mul:0": (1 + 0.1 * rng.standard_normal((1, 8, 1, 1))).astype(np.float32),
        "batch_normalization/sub:0": (0.1 * rng.standard_normal((1, 8, 1, 1))).astype(np.float32),
        "conv2d_1/Conv2D/ReadVariableOp:0": weights(rng, (16, 8, 3, 3), 72),
        "conv2d_1/BiasAdd/ReadVariableOp:0": (0.1 * rng.standard_normal(16)).astype(np.float32),
        "dense/MatMul/ReadVariableOp:0": weights(rng, (16, 10), 16),
        "dense/BiasAdd/ReadVariableOp:0": (0.1 * rng.standard_normal(10)).astype(np.float32),
    }
    pads = np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64)  # NCHW, after the Transpose
    inits = [onh.from_array(v, k) for k, v in w.items()]
    inits.append(onh.from_array(pads, "Pad__6:0"))
    nodes = [
        oh.make_node("Transpose", ["input_1"], ["conv2d__5:0"], perm=[0, 3, 1, 2],
                     name="conv2d__5"),
        oh.make_node("Cast", ["conv2d__5:0"], ["Cast__7:0"], to=onnx.TensorProto.FLOAT,
                     name="Cast__7"),
        oh.make_node("Pad", ["Cast__7:0", "Pad__6:0"], ["Pad__8:0"], mode="constant",
                     name="Pad__8"),
        oh.make_node("Conv", ["Pad__8:0", "conv2d/Conv2D/ReadVariableOp:0",
                              "conv2d/BiasAdd/ReadVariableOp:0"], ["conv2d/BiasAdd:0"],
                     kernel_shape=[3, 3], strides=[1, 1], name="conv2d/Conv2D"),
        oh.make_node("Mul", ["conv2d/BiasAdd:0", "batch_normalization/mul:0"],
                     ["batch_normalization/mul_1:0"], name="batch_normalization/mul_1"),
        oh.make_node("Add", ["batch_normalization/mul_1:0", "batch_normalization/sub:0"],
                     ["batch_normalization/add_1:0"], name="batch_normalization/add_1"),
        oh.make_node("Relu", ["batch_normalization/add_1:0"], ["re_lu/Relu:0"],
                     name="re_lu/Relu"),
        oh.make_node("Conv", ["re_lu/Relu:0", "conv2d_1/Conv2D/ReadVariableOp:0",
                              "conv2d_1/BiasAdd/ReadVariableOp:0"], ["conv2d_1/BiasAdd:0"],
                     kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                     name="conv2d_1/Conv2D"),
        oh.make_node("Relu", ["conv2d_1/BiasAdd:0"], ["re_lu_1/Relu:0"], name="re_lu_1/Relu"),
        oh.make_node("ReduceMean", ["re_lu_1/Relu:0"], ["global_average_pooling2d/Mean:0"],
                     axes=[2, 3], keepdims=0, name="global_average_pooling2d/Mean"),
        oh.make_node("MatMul", ["global_average_pooling2d/Mean:0",
                                "dense/MatMul/ReadVariableOp:0"], ["dense/MatMul:0"],
                     name="dense/MatMul"),
        oh.make_node("Add", ["dense/MatMul:0", "dense/BiasAdd/ReadVariableOp:0"],
                     ["dense/BiasAdd:0"], name="dense/BiasAdd"),
        oh.make_node("Softmax", ["dense/BiasAdd:0"], ["dense"], axis=-1, name="dense/Softmax"),
    ]
    graph = oh.make_graph(
        nodes, "tf2onnx",
        [oh.make_tensor_value_info("input_1", onnx.TensorProto.FLOAT, ["unk__20", H, H, 3])],
        [oh.make_tensor_value_info("dense", onnx.TensorProto.FLOAT, ["unk__21", 10])], inits)
    model = oh.make_model(graph, producer_name="tf2onnx", producer_version="1.9.3",
                          opset_imports=[oh.make_opsetid("", opset)])
    model.ir_version = 7 if opset <= 13 else 8
    onnx.checker.check_model(model)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.ParameterDict()
            self.keys = list(w)
            for i, k in enumerate(self.keys):
                self.p[f"p{i}"] = torch.nn.Parameter(torch.from_numpy(w[k].copy()))

        def forward(self, x):
            p = [self.p[f"p{i}"] for i in range(len(self.keys))]
            h = x.permute(0, 3, 1, 2)
            h = F.pad(h, (1, 1, 1, 1))
            h = F.conv2d(h, p[0], p[1])
            h = F.relu(h * p[2] + p[3])
            h = F.relu(F.conv2d(h, p[4], p[5], stride=2, padding=1))
            h = h.mean(dim=(2, 3))
            return torch.softmax(h @ p[6] + p[7], dim=-1)

    net = Net().eval()
    gen = torch.Generator().manual_seed(SEED + 1)
    x = torch.randn(SAMPLES, H, H, 3, generator=gen)
    with torch.no_grad():
        torch_out = net(x).numpy()
    y = torch_out.argmax(axis=1).astype(np.int64)
    names = {k: (f"p.p{i}", "same") for i, k in enumerate(net.keys)}
    ref = reference(torch_reference(torch, net, [x], y, softmax_output=True), names)
    entry["input_size"] = H
    finish_entry(entry, model, {"input_1": x.numpy()}, y, ref, names, [], out_dir, torch_out)


def make_paddle(torch, opset, out_dir, entry):
    """What paddle2onnx (older releases) makes of a small CNN: every weight a Constant node
    (attribute `value`; one bias as `value_floats`), no initializers; Conv, BatchNormalization,
    Relu, MaxPool, GlobalAveragePool, Flatten, MatMul + Add. Names in Paddle's style."""
    F = torch.nn.functional
    rng = np.random.default_rng(SEED + 7)
    H = 16
    w = {
        "conv2d_0.w_0": weights(rng, (8, 3, 3, 3), 27),
        "conv2d_0.b_0": (0.1 * rng.standard_normal(8)).astype(np.float32),
        "batch_norm_0.w_0": (1 + 0.1 * rng.standard_normal(8)).astype(np.float32),
        "batch_norm_0.b_0": (0.1 * rng.standard_normal(8)).astype(np.float32),
        "batch_norm_0.w_1": (0.1 * rng.standard_normal(8)).astype(np.float32),       # mean
        "batch_norm_0.w_2": (0.5 + rng.random(8)).astype(np.float32),               # variance
        "conv2d_1.w_0": weights(rng, (16, 8, 3, 3), 72),
        "linear_0.w_0": weights(rng, (16, 10), 16),
        "linear_0.b_0": (0.1 * rng.standard_normal(10)).astype(np.float32),
    }
    nodes = []
    for k, v in w.items():
        if k == "linear_0.b_0":
            nodes.append(oh.make_node("Constant", [], [k], value_floats=v.tolist(),
                                      name=f"Constant_{len(nodes)}"))
        else:
            nodes.append(oh.make_node("Constant", [], [k], value=onh.from_array(v, k),
                                      name=f"Constant_{len(nodes)}"))
    nodes += [
        oh.make_node("Conv", ["x", "conv2d_0.w_0", "conv2d_0.b_0"], ["conv2d_0.tmp_1"],
                     kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], group=1,
                     dilations=[1, 1], name="p2o.Conv.0"),
        oh.make_node("BatchNormalization", ["conv2d_0.tmp_1", "batch_norm_0.w_0",
                                            "batch_norm_0.b_0", "batch_norm_0.w_1",
                                            "batch_norm_0.w_2"], ["batch_norm_0.tmp_2"],
                     epsilon=1e-5, momentum=0.9, name="p2o.BatchNormalization.0"),
        oh.make_node("Relu", ["batch_norm_0.tmp_2"], ["relu_0.tmp_0"], name="p2o.Relu.0"),
        oh.make_node("MaxPool", ["relu_0.tmp_0"], ["pool2d_0.tmp_0"], kernel_shape=[2, 2],
                     strides=[2, 2], name="p2o.MaxPool.0"),
        oh.make_node("Conv", ["pool2d_0.tmp_0", "conv2d_1.w_0"], ["conv2d_1.tmp_0"],
                     kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], name="p2o.Conv.1"),
        oh.make_node("Relu", ["conv2d_1.tmp_0"], ["relu_1.tmp_0"], name="p2o.Relu.1"),
        oh.make_node("GlobalAveragePool", ["relu_1.tmp_0"], ["pool2d_1.tmp_0"],
                     name="p2o.GlobalAveragePool.0"),
        oh.make_node("Flatten", ["pool2d_1.tmp_0"], ["flatten_0.tmp_0"], axis=1,
                     name="p2o.Flatten.0"),
        oh.make_node("MatMul", ["flatten_0.tmp_0", "linear_0.w_0"], ["linear_0.tmp_0"],
                     name="p2o.MatMul.0"),
        oh.make_node("Add", ["linear_0.tmp_0", "linear_0.b_0"], ["linear_0.tmp_1"],
                     name="p2o.Add.0"),
    ]
    graph = oh.make_graph(
        nodes, "paddle",
        [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [-1, 3, H, H])],
        [oh.make_tensor_value_info("linear_0.tmp_1", onnx.TensorProto.FLOAT, [-1, 10])])
    model = oh.make_model(graph, producer_name="PaddlePaddle",
                          opset_imports=[oh.make_opsetid("", opset)])
    model.ir_version = 7 if opset <= 13 else 8
    onnx.checker.check_model(model)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.ParameterDict()
            self.keys = list(w)
            for i, k in enumerate(self.keys):
                self.p[f"p{i}"] = torch.nn.Parameter(torch.from_numpy(w[k].copy()))

        def forward(self, x):
            p = [self.p[f"p{i}"] for i in range(len(self.keys))]
            h = F.conv2d(x, p[0], p[1], padding=1)
            h = (h - p[4][None, :, None, None]) / torch.sqrt(p[5][None, :, None, None] + 1e-5)
            h = F.relu(h * p[2][None, :, None, None] + p[3][None, :, None, None])
            h = F.max_pool2d(h, 2, 2)
            h = F.relu(F.conv2d(h, p[6], padding=1))
            h = h.mean(dim=(2, 3))
            return h @ p[7] + p[8]

    net = Net().eval()
    gen = torch.Generator().manual_seed(SEED + 2)
    x = torch.randn(SAMPLES, 3, H, H, generator=gen)
    with torch.no_grad():
        torch_out = net(x).numpy()
    y = torch_out.argmax(axis=1).astype(np.int64)
    names = {k: (f"p.p{i}", "same") for i, k in enumerate(net.keys)}
    ref = reference(torch_reference(torch, net, [x], y), names)
    entry["input_size"] = H
    finish_entry(entry, model, {"x": x.numpy()}, y, ref, names, [], out_dir, torch_out)
