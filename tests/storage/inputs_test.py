"""Models with several inputs, integer inputs, NHWC layouts and several
outputs (#12): data files hold one array per graph input, by input name;
`--output NAME` picks the classification output; logits [N, 1, C] work.

The models are built here with onnx.helper (seeded random weights):
  - text-style: int64 `input_ids` [N, T] and float32 `attention_mask` [N, T];
    an embedding Gather, the mask-weighted mean over T as a batched MatMul,
    a classifier MatMul giving `logits` [N, 1, C]; a second output `probs`
    (Softmax of the logits) comes first in the graph's output list;
  - NHWC: float32 `image` [N, 8, 8, 3], Transpose to NCHW, Conv, Relu,
    GlobalAveragePool, Flatten, Gemm.
Oracle: ONNX Runtime (its outputs give the labels, and its accuracy of the
locked model is the lock's effect); the original file for bit-exactness.
"""
import json
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
N, T, V, D, C = 96, 6, 50, 16, 4


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def text_model(path):
    rng = np.random.default_rng(11)
    nodes = [
        helper.make_node("Gather", ["emb", "input_ids"], ["e"], name="embed"),  # [N,T,D]
        helper.make_node("Unsqueeze", ["attention_mask", "one"], ["m"], name="mask3"),  # [N,1,T]
        helper.make_node("MatMul", ["m", "e"], ["pooled"], name="pool"),  # [N,1,D]
        helper.make_node("Tanh", ["pooled"], ["h"], name="act"),
        helper.make_node("MatMul", ["h", "W"], ["hw"], name="classifier"),  # [N,1,C]
        helper.make_node("Add", ["hw", "b"], ["logits"], name="classifier_bias"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    inits = [init("emb", (rng.standard_normal((V, D)) * 0.5).astype(np.float32)),
             init("W", (rng.standard_normal((D, C)) * 0.5).astype(np.float32)),
             init("b", np.zeros(C, np.float32)),
             init("one", np.array([1], np.int64))]
    graph = helper.make_graph(
        nodes, "text_style",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", T]),
         helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT, ["batch", T])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 1, C]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1, C])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def nhwc_model(path):
    rng = np.random.default_rng(12)
    nodes = [
        helper.make_node("Transpose", ["image"], ["nchw"], name="to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "cw", "cb"], ["c"], name="conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["out"], name="fc", transB=1),
    ]
    inits = [init("cw", (rng.standard_normal((12, 3, 3, 3)) * 0.4).astype(np.float32)),
             init("cb", (rng.standard_normal(12) * 0.1).astype(np.float32)),
             init("fw", (rng.standard_normal((C, 12)) * 0.8).astype(np.float32)),
             init("fb", np.zeros(C, np.float32))]
    graph = helper.make_graph(
        nodes, "tf_style",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 8, 8, 3])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", C])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


class InputsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def cli(self, *args, rc=0):
        r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
        self.assertEqual(r.returncode, rc, f"{args}: {r.stdout}\n{r.stderr}")
        return r

    def ort_out(self, path, feeds, name):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return sess.run([name], feeds)[0]

    def balanced(self, model_path, feeds, output, bias_name):
        """Centres the output bias over the samples (pseudo-labels then spread
        over the classes, as a trained model's do); returns the labels."""
        m = onnx.load(str(model_path))
        logits = self.ort_out(model_path, feeds, output).reshape(len(next(iter(feeds.values()))), C)
        for t in m.graph.initializer:
            if t.name == bias_name:
                t.CopyFrom(init(bias_name, (-logits.mean(0)).astype(np.float32)))
        onnx.save(m, str(model_path))
        y = self.ort_out(model_path, feeds, output).reshape(-1, C).argmax(1)
        self.assertLess(np.bincount(y, minlength=C).max(), 0.6 * len(y))
        return y.astype(np.int64)

    def lock_and_check(self, model_path, data, feeds, output, extra=()):
        locked, key, back = self.dir / "l.onnx", self.dir / "l.key", self.dir / "b.onnx"
        r = self.cli("lock", model_path, "--data", data, "-o", locked, "--key", key,
                     "--threads", "1", "--json", *extra)
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        y = np.load(data)["y"]
        acc = float((self.ort_out(locked, feeds, output).reshape(-1, C).argmax(1) == y).mean())
        self.assertLessEqual(acc, summary["target_accuracy"] + 1e-9)
        self.assertEqual(summary["sample_accuracy_before"], 1.0)
        self.cli("unlock", locked, "--key", key, "-o", back)
        self.assertEqual(back.read_bytes(), model_path.read_bytes())
        return summary

    def test_text_style_two_inputs_three_d_logits_and_output_choice(self):
        path = self.dir / "text.onnx"
        text_model(path)
        rng = np.random.default_rng(5)
        ids = rng.integers(0, V, (N, T)).astype(np.int64)
        mask = (rng.random((N, T)) < 0.8).astype(np.float32)
        feeds = {"input_ids": ids, "attention_mask": mask}
        y = self.balanced(path, feeds, "logits", "b")
        data = self.dir / "text.npz"
        np.savez(data, input_ids=ids, attention_mask=mask, y=y)
        # eval agrees with ONNX Runtime on both outputs ([N, 1, C] each).
        for output in ("logits", "probs"):
            dump = self.dir / f"{output}.npz"
            self.cli("eval", path, "--data", data, "--output", output, "--dump-outputs", dump)
            got = np.load(dump)["out"]
            want = self.ort_out(path, feeds, output).reshape(N, C)
            self.assertLessEqual(np.abs(got - want).max(), 1e-4 * np.abs(want).max(), output)
        # Without --output the first output (probs, ending in Softmax) is used.
        self.lock_and_check(path, data, feeds, "probs")
        self.lock_and_check(path, data, feeds, "logits", ("--output", "logits"))
        # Errors name what is wrong.
        r = self.cli("lock", path, "--data", data, "-o", self.dir / "x.onnx", "--key",
                     self.dir / "x.key", "--output", "nope", rc=1)
        self.assertIn("--output 'nope' names no output of the model; its outputs are "
                      "'probs', 'logits'", r.stderr)
        bad = self.dir / "bad.npz"
        np.savez(bad, input_ids=ids, y=y)
        r = self.cli("eval", path, "--data", bad, rc=1)
        self.assertIn("no array for graph input 'attention_mask' (float32[batch, 6])", r.stderr)
        self.assertIn("bad.npz", r.stderr)
        np.savez(bad, input_ids=ids.astype(np.int32), attention_mask=mask, y=y)
        r = self.cli("lock", path, "--data", bad, "-o", self.dir / "x.onnx", "--key",
                     self.dir / "x.key", rc=1)
        self.assertIn("array 'input_ids'", r.stderr)
        self.assertIn("dtype must be int64", r.stderr)
        np.savez(bad, input_ids=ids, attention_mask=mask[:10], y=y)
        r = self.cli("eval", path, "--data", bad, rc=1)
        self.assertIn("has 10 rows", r.stderr)
        self.assertFalse((self.dir / "x.onnx").exists())

    def test_nhwc_input(self):
        path = self.dir / "nhwc.onnx"
        nhwc_model(path)
        x = np.random.default_rng(6).standard_normal((N, 8, 8, 3)).astype(np.float32)
        feeds = {"image": x}
        y = self.balanced(path, feeds, "out", "fb")
        data = self.dir / "nhwc.npz"
        np.savez(data, x=x, y=y)  # one input: 'x' works as before
        r = self.cli("eval", path, "--data", data)
        self.assertIn("accuracy: 1.0000", r.stdout)
        self.lock_and_check(path, data, feeds, "out")
        # The NCHW array is refused, naming the input's layout.
        np.savez(data, x=x.transpose(0, 3, 1, 2).copy(), y=y)
        r = self.cli("eval", path, "--data", data, rc=1)
        self.assertIn("graph input 'image' (float32[n, 8, 8, 3])", r.stderr)


if __name__ == "__main__":
    unittest.main()
