"""The Python package takes several inputs as a dict of arrays (#12): the same
locked model as `onnx-crypt lock` with an .npz of the same arrays (oracle:
the CLI's output, byte for byte). Models and labels come from inputs_test.py.

The package is imported from $ONNX_CRYPT_BUILD_DIR/python (default: build/python).
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import inputs_test as it  # noqa: E402

BUILD = os.environ.get("ONNX_CRYPT_BUILD_DIR", str(it.ROOT / "build"))
sys.path.insert(0, os.path.join(BUILD, "python"))
import onnx_crypt  # noqa: E402


class InputsApiTest(unittest.TestCase):
    def test_lock_with_a_dict_of_inputs(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = pathlib.Path(tmp)
            path = d / "text.onnx"
            it.text_model(path)
            rng = np.random.default_rng(5)
            feeds = {"input_ids": rng.integers(0, it.V, (it.N, it.T)).astype(np.int64),
                     "attention_mask": (rng.random((it.N, it.T)) < 0.8).astype(np.float32)}
            helper = it.InputsTest()
            y = helper.balanced(path, feeds, "logits", "b")
            result = onnx_crypt.lock(str(path), dict(feeds, y=y), output="logits", threads=1)
            data = d / "t.npz"
            np.savez(data, **feeds, y=y)
            r = subprocess.run([it.CLI, "lock", str(path), "--data", str(data), "-o",
                                str(d / "c.onnx"), "--key", str(d / "c.key"), "--output",
                                "logits", "--threads", "1"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(result.locked_model, (d / "c.onnx").read_bytes())
            self.assertEqual(result.key, (d / "c.key").read_bytes())
            # The arrays keep their dtype: an int32 input_ids is refused, named.
            with self.assertRaisesRegex(ValueError, "array 'input_ids'.*int64"):
                onnx_crypt.lock(str(path), dict(feeds, input_ids=feeds["input_ids"].astype(
                    np.int32), y=y), output="logits")


if __name__ == "__main__":
    unittest.main()
