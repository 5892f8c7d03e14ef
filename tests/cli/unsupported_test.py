"""A model with operators the engine does not implement: `info` names every
such node and says the model cannot be locked; `lock`, `eval` and `lock-batch`
fail before any work with the whole list, exit 1, and write nothing.

The model is built here with onnx.helper: a small Gemm classifier whose
middle holds two nodes of an op type no ONNX release defines in the default
domain's tables the engine uses (a custom domain) and one `Det` node (an ONNX
op the engine has no kernel for), so each is unsupported whatever else lands.
"""
import json
import os
import pathlib
import subprocess
import tempfile
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = pathlib.Path(os.environ.get("ONNX_CRYPT_ROOT", pathlib.Path(__file__).parents[2]))
CLI = os.environ.get("ONNX_CRYPT_CLI", str(ROOT / "build" / "tools" / "onnx-crypt"))


def build_model(path):
    rng = np.random.default_rng(0)
    w = helper.make_tensor("W", TensorProto.FLOAT, [4, 4],
                           rng.standard_normal(16).astype(np.float32))
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["h"], name="fc"),
        helper.make_node("Mystery", ["h"], ["m1"], name="odd1", domain="com.example"),
        helper.make_node("Mystery", ["m1"], ["m2"], name="odd2", domain="com.example"),
        helper.make_node("Reshape", ["m2", "shape"], ["sq"], name="to_square"),
        helper.make_node("Det", ["sq"], ["d"], name="det"),
        helper.make_node("Relu", ["m2"], ["y"], name="relu"),
    ]
    shape = helper.make_tensor("shape", TensorProto.INT64, [3], [-1, 2, 2])
    graph = helper.make_graph(
        nodes, "unsupported", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4]),
         helper.make_tensor_value_info("d", TensorProto.FLOAT, [None])],
        initializer=[w, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.example", 1)])
    model.ir_version = 8
    onnx.save(model, str(path))


class UnsupportedModelTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)
        self.model = self.dir / "m.onnx"
        build_model(self.model)
        self.data = self.dir / "d.npz"
        np.savez(self.data, x=np.ones((8, 4), np.float32), y=np.zeros(8, np.int64))
        self.expected = ["com.example.Mystery-1 node 'odd1'", "com.example.Mystery-1 node 'odd2'",
                         "Det-13 node 'det'"]

    def tearDown(self):
        self.tmp.cleanup()

    def run_cli(self, *args):
        return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)

    def test_info_names_every_unsupported_node(self):
        r = self.run_cli("info", self.model)
        self.assertEqual(r.returncode, 0, r.stderr)
        section = r.stdout.split("not supported by the engine:\n")[1].splitlines()
        self.assertEqual([s.strip() for s in section[:3]], self.expected)
        self.assertIn("can be locked: no: 3 nodes use operators the engine does not implement",
                      r.stdout)
        j = json.loads(self.run_cli("info", "--json", self.model).stdout)
        self.assertFalse(j["lockable"])
        self.assertEqual(j["unsupported_nodes"], self.expected)

    def test_supported_model_is_lockable(self):
        r = self.run_cli("info", ROOT / "tools" / "models" / "lenet5.onnx")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("can be locked: yes", r.stdout)

    def test_commands_fail_before_work_with_the_whole_list(self):
        out = self.dir / "out"
        out.mkdir()
        before = sorted(p.name for p in self.dir.iterdir())
        runs = {
            "lock": ["lock", self.model, "--data", self.data, "-o", out / "l.onnx",
                     "--key", out / "l.key"],
            "eval": ["eval", self.model, "--data", self.data],
            "lock-batch": ["lock-batch", self.model, "--data", self.data,
                           "--output-dir", out],
        }
        for name, args in runs.items():
            r = self.run_cli(*args)
            self.assertEqual(r.returncode, 1, f"{name}: {r.stdout} {r.stderr}")
            self.assertIn("3 of 6 nodes use operators the engine does not implement", r.stderr)
            self.assertIn("Det-13 x1", r.stderr)
            self.assertIn("com.example.Mystery-1 x2", r.stderr)
            for node in self.expected:
                self.assertIn(node, r.stderr, name)
            self.assertEqual(list(out.iterdir()), [], name)
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), before)


if __name__ == "__main__":
    unittest.main()
