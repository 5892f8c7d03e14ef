"""Every bundled model: the onnx-crypt CPU engine against ONNX Runtime (CPU) on the full
Fashion-MNIST test set. Outputs agree within rtol 1e-4 / atol 1e-5, and the top-1 predictions,
hence the accuracy, are the same to the sample."""
import glob
import os
import subprocess
import tempfile
import unittest

import numpy as np
import onnxruntime as ort

ROOT = os.environ.get("ONNX_CRYPT_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt"))
TEST_DATA = os.path.join(ROOT, "tools", "data", "fmnist_test.npz")


def ort_outputs(model, x):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = [sess.run(None, {name: x[i:i + 500]})[0] for i in range(0, len(x), 500)]
    return np.concatenate(outs)


class OrtAgreementTest(unittest.TestCase):
    def test_every_bundled_model_matches_onnx_runtime(self):
        models = sorted(glob.glob(os.path.join(ROOT, "tools", "models", "*.onnx")))
        self.assertGreaterEqual(len(models), 4, "bundled models missing (tools/train_models.py)")
        self.assertTrue(os.path.exists(TEST_DATA), "run tools/setup.sh to make the data")
        data = np.load(TEST_DATA)
        x, y = data["x"], data["y"]
        with tempfile.TemporaryDirectory() as tmp:
            for model in models:
                with self.subTest(model=os.path.basename(model)):
                    dump = os.path.join(tmp, "out.npz")
                    subprocess.run([CLI, "eval", model, "--data", TEST_DATA, "--dump-outputs",
                                    dump], check=True, capture_output=True)
                    ours = np.load(dump)
                    want = ort_outputs(model, x)
                    self.assertEqual(ours["out"].shape, want.shape)
                    np.testing.assert_allclose(ours["out"], want, rtol=1e-4, atol=1e-5)
                    ort_pred = want.argmax(axis=1)
                    self.assertEqual(int((ours["pred"] != ort_pred).sum()), 0,
                                     "top-1 predictions differ")
                    ours_acc = float((ours["pred"] == y).mean())
                    ort_acc = float((ort_pred == y).mean())
                    print(f"{os.path.basename(model)}: onnx-crypt {ours_acc:.4f}, "
                          f"ONNX Runtime {ort_acc:.4f}, max |diff| "
                          f"{np.abs(ours['out'] - want).max():.2e}")
                    self.assertEqual(ours_acc, ort_acc)


if __name__ == "__main__":
    unittest.main()
