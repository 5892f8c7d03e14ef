"""The ops of part "ops-elem" (issue #12) composed the way exporters chain them, through the
loader and the CPU engine (`onnx-crypt eval`), against ONNX Runtime (CPU) on the same inputs.

Each model takes x float32 [N, 6] and returns float32 [N, C]; both sides compute in float32, so
outputs must agree within rtol 1e-5 / atol 1e-6. The models mix an int64 shape path (Shape ->
Gather -> Equal -> Cast), bool masks (Less/Greater/And/Or/Xor/Not), Where with three-way
broadcasting, PRelu, Pow with float and int64 exponents, variadic Max/Min/Sum/Mean, the smooth
activations, rounding ops, and casts through int64, int8, float16, double and bool (CastLike).
Opsets 13 to 17 only (libonnx 1.12's checker; Gelu-20 and Cast-19/21 are covered by
tests/ops/elem_ops_test.cc)."""
import os
import subprocess
import tempfile
import unittest

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.environ.get("ONNX_CRYPT_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt"))


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def model(nodes, inits, out_dim, opset):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", out_dim])
    graph = helper.make_graph(nodes, "elem", [x], [out], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def shape_gate_model():
    n = helper.make_node
    nodes = [
        n("Shape", ["x"], ["s"]),
        n("Gather", ["s", "one"], ["d"]),
        n("Equal", ["d", "six"], ["e"]),
        n("Cast", ["e"], ["ef"], to=TensorProto.FLOAT),
        n("Less", ["x", "zero"], ["neg"]),
        n("PRelu", ["x", "slope"], ["p"]),
        n("Abs", ["x"], ["ax"]),
        n("Pow", ["ax", "expo"], ["pw"]),
        n("Where", ["neg", "p", "pw"], ["w"]),
        n("Where", ["neg", "x", "half"], ["w2"]),  # scalar Y: three-way broadcast
        n("Mul", ["w", "ef"], ["we"]),
        n("Sum", ["we", "x", "w2"], ["sm"]),
        n("Mean", ["we", "bias"], ["mn"]),
        n("Max", ["sm", "mn", "zero"], ["mx"]),
        n("Min", ["sm", "mn"], ["mi"]),
        n("Softplus", ["mx"], ["sp"]),
        n("Concat", ["sp", "mi"], ["out"], axis=1),
    ]
    inits = [const("one", np.int64(1)), const("six", np.int64(6)),
             const("zero", np.float32(0)), const("half", np.float32(0.5)),
             const("slope", np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], np.float32)),
             const("expo", np.array([2.0, 1.5, 0.5, 3.0, 1.0, 2.5], np.float32)),
             const("bias", np.array([0.1], np.float32))]
    return model(nodes, inits, 12, 15)


def activations_model():
    n = helper.make_node
    nodes = [
        n("Elu", ["x"], ["a"], alpha=0.7),
        n("Selu", ["x"], ["b"]),
        n("Softsign", ["x"], ["c"]),
        n("Sign", ["x"], ["d"]),
        n("Mul", ["x", "k"], ["xk"]),
        n("Floor", ["xk"], ["f"]),
        n("Ceil", ["xk"], ["g"]),
        n("Round", ["xk"], ["h"]),
        n("Reshape", ["x", "shape3"], ["x3"]),
        n("PRelu", ["x3", "cslope"], ["pr3"]),
        n("Reshape", ["pr3", "shape2"], ["pr"]),
        n("Concat", ["a", "b", "c", "d", "f", "g", "h", "pr"], ["out"], axis=1),
    ]
    inits = [const("k", np.float32(2.5)),
             const("cslope", np.array([[0.25], [-0.5], [1.5]], np.float32)),  # per channel
             const("shape3", np.array([-1, 3, 2], np.int64)),
             const("shape2", np.array([-1, 6], np.int64))]
    return model(nodes, inits, 48, 13)


def casts_model():
    n = helper.make_node
    nodes = [
        n("Mul", ["x", "hundred"], ["xh"]),
        n("Cast", ["xh"], ["i64"], to=TensorProto.INT64),
        n("Cast", ["i64"], ["h16"], to=TensorProto.FLOAT16),
        n("Cast", ["h16"], ["a"], to=TensorProto.FLOAT),
        n("Mul", ["x", "thirty"], ["x30"]),  # stays inside int8 (out of range is unspecified)
        n("Cast", ["x30"], ["i8"], to=TensorProto.INT8),
        n("Cast", ["i8"], ["b"], to=TensorProto.FLOAT),
        n("Cast", ["x"], ["dbl"], to=TensorProto.DOUBLE),
        n("Pow", ["dbl", "iexp"], ["pd"]),
        n("CastLike", ["pd", "x"], ["c"]),
        n("Greater", ["x", "zero"], ["pos"]),
        n("Less", ["x", "tenth"], ["small"]),
        n("And", ["pos", "small"], ["band"]),
        n("Or", ["pos", "small"], ["bor"]),
        n("Xor", ["band", "bor"], ["bxor"]),
        n("Not", ["bxor"], ["bnot"]),
        n("Cast", ["bnot"], ["d"], to=TensorProto.FLOAT),
        n("Cast", ["x"], ["xb"], to=TensorProto.BOOL),
        n("CastLike", ["xb", "x"], ["e"]),
        n("Cast", ["x"], ["x16"], to=TensorProto.FLOAT16),
        n("Max", ["x16", "h16"], ["m16"]),
        n("Cast", ["m16"], ["f"], to=TensorProto.FLOAT),
        n("Concat", ["a", "b", "c", "d", "e", "f"], ["out"], axis=1),
    ]
    inits = [const("hundred", np.float32(100)), const("thirty", np.float32(30)),
             const("zero", np.float32(0)),
             const("tenth", np.float32(0.4)),
             const("iexp", np.array([2, 3, -1, 0, 1, 4], np.int64))]
    return model(nodes, inits, 36, 17)


class ElemOrtTest(unittest.TestCase):
    def test_models_match_onnx_runtime(self):
        rng = np.random.default_rng(12)
        x = rng.normal(0.0, 1.0, (40, 6)).astype(np.float32)
        x[np.abs(x) < 1e-3] = 0.25  # keep 1/x (Pow with exponent -1) finite
        x[0, :] = [0.0, -0.0, 0.5, -0.5, 1.5, -2.5]  # zeros and halves (Round, Sign)
        y = np.zeros(len(x), np.int64)
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "data.npz")
            np.savez(data, x=x, y=y)
            for name, build in [("shape_gate", shape_gate_model),
                                ("activations", activations_model), ("casts", casts_model)]:
                with self.subTest(model=name):
                    path = os.path.join(tmp, name + ".onnx")
                    onnx.save(build(), path)
                    dump = os.path.join(tmp, name + "_out.npz")
                    subprocess.run([CLI, "eval", path, "--data", data, "--batch-size", "16",
                                    "--dump-outputs", dump, "--quiet"], check=True,
                                   capture_output=True)
                    ours = np.load(dump)["out"]
                    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
                    want = sess.run(None, {"x": x})[0]
                    self.assertEqual(ours.shape, want.shape)
                    self.assertTrue(np.isfinite(want).all())
                    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-6)
                    print(f"{name}: max |diff| {np.abs(ours - want).max():.2e}")


if __name__ == "__main__":
    unittest.main()
