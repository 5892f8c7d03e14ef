"""Weights in the storage forms exporters use are locked in place (#12).

Paddle-style: the weights are Constant nodes, not initializers, in three
attribute forms (`value` with raw_data, `value` with the typed float_data
field, `value_floats`). The model is built here with onnx.helper (random
weights, seeded) and labelled by ONNX Runtime's own predictions (pseudo-labels,
as a vendor without labels would). Oracles: ONNX Runtime for what the models
compute, the original file for bit-exactness.

Checks: `info` lists the Constant-held weights as eligible; `lock` reaches its
target (ONNX Runtime's accuracy of the locked model against the labels); the
locked model has the same nodes (the Constant nodes are still Constant nodes,
in the same attribute form), no initializer added, and differs from the
original only in the locked values; `unlock` gives the original file's
bytes back and `verify` agrees.
"""
import os
import pathlib
import subprocess
import tempfile
import unittest

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(os.environ.get("ONNX_CRYPT_ROOT", pathlib.Path(__file__).parents[2]))
CLI = os.environ.get("ONNX_CRYPT_CLI", str(ROOT / "build" / "tools" / "onnx-crypt"))
CLASSES = 10


def constant_raw(name, array):
    return helper.make_node("Constant", [], [name], name=name + "_const",
                            value=numpy_helper.from_array(array, name))


def constant_typed(name, array):
    t = helper.make_tensor(name, TensorProto.FLOAT, array.shape, array.flatten().tolist())
    return helper.make_node("Constant", [], [name], name=name + "_const", value=t)


def paddle_style_model(path, x=None):
    """With samples x, the output bias centres the logits over x (so that the
    pseudo-labels spread over the classes, as a trained model's would)."""
    rng = np.random.default_rng(3)
    w1 = (rng.standard_normal((8, 1, 3, 3)) * 0.5).astype(np.float32)
    b1 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((8 * 6 * 6, CLASSES)) * 0.1).astype(np.float32)
    b2 = (rng.standard_normal(CLASSES) * 0.1).astype(np.float32)
    nodes = [
        constant_raw("conv_w", w1),
        helper.make_node("Constant", [], ["conv_b"], name="conv_b_const",
                         value_floats=b1.tolist()),
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], name="conv",
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        constant_typed("fc_w", w2),
        helper.make_node("MatMul", ["f", "fc_w"], ["m"], name="fc"),
        constant_raw("fc_b", b2),
        helper.make_node("Add", ["m", "fc_b"], ["logits"], name="fc_bias"),
    ]
    graph = helper.make_graph(
        nodes, "paddle_style",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, 14, 14])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, CLASSES])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    if x is not None:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        logits = sess.run(None, {"x": x})[0]
        centred = b2 - logits.mean(0)
        model.graph.node[8].attribute[0].t.CopyFrom(numpy_helper.from_array(centred, "fc_b"))
        onnx.save(model, str(path))
    return model


def constant_values(model):
    out = {}
    for n in model.graph.node:
        if n.op_type != "Constant":
            continue
        a = n.attribute[0]
        form = a.name if a.name == "value_floats" else (
            "raw_data" if a.t.raw_data else "float_data")
        arr = np.array(a.floats, np.float32) if a.name == "value_floats" \
            else numpy_helper.to_array(a.t)
        out[n.output[0]] = (form, arr)
    return out


class ConstantWeightsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.model_path = self.dir / "paddle.onnx"
        rng = np.random.default_rng(4)
        self.x = rng.standard_normal((128, 1, 14, 14)).astype(np.float32)
        self.model = paddle_style_model(self.model_path, self.x)
        self.sess = ort.InferenceSession(str(self.model_path), providers=["CPUExecutionProvider"])
        self.y = self.sess.run(None, {"x": self.x})[0].argmax(1).astype(np.int64)
        self.assertLess(np.bincount(self.y, minlength=CLASSES).max(), 0.25 * len(self.y))
        self.data = self.dir / "owner.npz"
        np.savez(self.data, x=self.x, y=self.y)

    def tearDown(self):
        self.tmp.cleanup()

    def cli(self, *args, ok=True):
        r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
        if ok:
            self.assertEqual(r.returncode, 0, f"{args}: {r.stdout}\n{r.stderr}")
        return r

    def test_info_lists_constant_weights(self):
        out = self.cli("info", self.model_path).stdout
        self.assertIn("eligible for locking: 2 tensors", out)
        self.assertIn("conv_w (72 values, Conv-13 node 'conv')", out)
        self.assertIn("fc_w (2880 values, MatMul-13 node 'fc')", out)
        self.assertIn("can be locked: yes", out)

    def test_lock_in_place_and_unlock_bit_exact(self):
        locked, key, back = self.dir / "locked.onnx", self.dir / "k.key", self.dir / "back.onnx"
        self.cli("lock", self.model_path, "--data", self.data, "-o", locked, "--key", key,
                 "--include-bias", "--threads", "1")
        lm = onnx.load(str(locked))
        # Same nodes, same attribute forms, no initializer added.
        self.assertEqual([(n.op_type, n.name) for n in lm.graph.node],
                         [(n.op_type, n.name) for n in self.model.graph.node])
        self.assertEqual(len(lm.graph.initializer), 0)
        before, after = constant_values(self.model), constant_values(lm)
        self.assertEqual(sorted(before), sorted(after))
        changed = 0
        for name, (form, arr) in before.items():
            self.assertEqual(after[name][0], form, name)
            self.assertEqual(after[name][1].shape, arr.shape, name)
            changed += int((after[name][1] != arr).sum())
        self.assertGreater(changed, 0)
        # Everything but the Constant values is the original's.
        strip_a, strip_b = onnx.ModelProto(), onnx.ModelProto()
        strip_a.CopyFrom(self.model)
        strip_b.CopyFrom(lm)
        for m in (strip_a, strip_b):
            for n in m.graph.node:
                if n.op_type == "Constant":
                    del n.attribute[:]
        self.assertEqual(strip_a.graph.SerializeToString(), strip_b.graph.SerializeToString())
        # ONNX Runtime sees the lock: accuracy against the labels at most the
        # default target (chance + 0.02).
        sess = ort.InferenceSession(str(locked), providers=["CPUExecutionProvider"])
        acc = float((sess.run(None, {"x": self.x})[0].argmax(1) == self.y).mean())
        self.assertLessEqual(acc, 1.0 / CLASSES + 0.02 + 1e-9)
        # Unlock: the original file's bytes.
        self.cli("unlock", locked, "--key", key, "-o", back)
        self.assertEqual(onnx.load(str(back)).SerializeToString(),
                         self.model.SerializeToString())
        self.cli("verify", self.model_path, locked, key)


if __name__ == "__main__":
    unittest.main()
