"""The C++ deployment example tools/examples/unlock_and_run: it unlocks a model locked by the CLI
in memory and runs it; its accuracy must equal ONNX Runtime's on the original model (the oracle),
and a wrong or truncated key must make it fail with a message and exit status 1."""
import os
import re
import subprocess
import tempfile
import unittest

import numpy as np
import onnxruntime as ort

ROOT = os.environ.get("ONNX_CRYPT_ROOT",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("ONNX_CRYPT_BUILD_DIR", os.path.join(ROOT, "build"))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(BUILD, "tools", "onnx-crypt"))
EXAMPLE = os.path.join(BUILD, "tools", "unlock_and_run")
MODEL = os.path.join(ROOT, "tools", "models", "lenet5.onnx")
OWNER = os.path.join(ROOT, "tools", "data", "fmnist_owner256.npz")
TEST = os.path.join(ROOT, "tools", "data", "fmnist_test.npz")


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True)


class UnlockAndRunExampleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path, step in ((EXAMPLE, "build the unlock_and_run target (tools/build.sh)"),
                           (CLI, "build the onnx-crypt target (tools/build.sh)"),
                           (MODEL, "run tools/train_models.py"), (OWNER, "run tools/setup.sh"),
                           (TEST, "run tools/setup.sh")):
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path} is missing: {step}")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.locked = os.path.join(cls.tmp.name, "locked.onnx")
        cls.key = os.path.join(cls.tmp.name, "model.key")
        cls.other_key = os.path.join(cls.tmp.name, "other.key")
        for out, key, seed in ((cls.locked, cls.key, "0"),
                               (os.path.join(cls.tmp.name, "other.onnx"), cls.other_key, "1")):
            subprocess.run([CLI, "lock", MODEL, "--data", OWNER, "-o", out, "--key", key,
                            "--max-values", "4", "--target-accuracy", "0", "--seed", seed],
                           check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_unlocked_accuracy_equals_onnx_runtime_on_the_original(self):
        r = run(EXAMPLE, self.locked, self.key, TEST)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"^accuracy: ([0-9.]+) \((\d+) samples\)$", r.stdout, re.M)
        self.assertIsNotNone(m, r.stdout)
        data = np.load(TEST)
        sess = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        pred = np.concatenate([sess.run(None, {name: data["x"][i:i + 1000]})[0].argmax(axis=1)
                               for i in range(0, len(data["x"]), 1000)])
        want = float((pred == data["y"]).mean())
        print(f"\nunlock_and_run: {m.group(1)}; ONNX Runtime on the original: {want:.4f}")
        self.assertEqual(int(m.group(2)), len(data["y"]))
        self.assertEqual(m.group(1), f"{want:.4f}")
        # The locked model itself scores differently (its outputs changed), on the same engine.
        locked = run(CLI, "eval", self.locked, "--data", TEST, "--json")
        self.assertEqual(locked.returncode, 0, locked.stderr)
        self.assertNotIn(f"accuracy: {want:.4f}", locked.stdout)

    def test_lists_the_restored_tensors_of_the_key(self):
        r = run(EXAMPLE, self.locked, self.key)
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = re.findall(r"^restored tensor: (\S+) float32(\[[0-9, ]+\])$", r.stdout, re.M)
        described = run(CLI, "key", self.key).stdout
        want = re.findall(r"^  (\S+) float32(\[[0-9, ]+\]): \d+ values$", described, re.M)
        self.assertTrue(want, described)
        self.assertEqual(sorted(listed), sorted(want))
        size = int(re.search(r"^unlocked model: (\d+) bytes$", r.stdout, re.M).group(1))
        self.assertEqual(size, os.path.getsize(self.locked))

    def test_wrong_and_truncated_keys_fail(self):
        truncated = os.path.join(self.tmp.name, "truncated.key")
        with open(self.key, "rb") as f:
            key = f.read()
        with open(truncated, "wb") as f:
            f.write(key[:-3])
        for key in (self.other_key, truncated):
            with self.subTest(key=os.path.basename(key)):
                r = run(EXAMPLE, self.locked, key, TEST)
                self.assertEqual(r.returncode, 1)
                self.assertIn("cannot unlock", r.stderr)
                self.assertNotIn("accuracy", r.stdout)

    def test_usage(self):
        r = run(EXAMPLE, self.locked)
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage", r.stderr)
        r = run(EXAMPLE, os.path.join(self.tmp.name, "missing.onnx"), self.key)
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing.onnx", r.stderr)


if __name__ == "__main__":
    unittest.main()
