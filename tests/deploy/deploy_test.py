"""Deploying a locked model in ONNX Runtime through the onnx_crypt Python module.

The oracle is a real ONNX Runtime (pip onnxruntime, CPU provider) running the original model:
the model unlocked in memory must give bit-identical outputs on the full Fashion-MNIST test set,
both as a whole serialized model (InferenceSession(bytes)) and as the locked model plus the
restored tensors (SessionOptions.add_initializer). Wrong, corrupted and truncated keys must
raise in onnx_crypt, before ONNX Runtime sees anything.

The module is imported from $ONNX_CRYPT_BUILD_DIR/python (default: build/python).
"""
import os
import pathlib
import sys
import tempfile
import threading
import time
import unittest
import warnings

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort

ROOT = os.environ.get("ONNX_CRYPT_ROOT",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("ONNX_CRYPT_BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(BUILD, "python"))
try:
    import onnx_crypt  # noqa: E402
except ImportError as e:
    raise ImportError(
        f"the onnx_crypt Python module is not in {os.path.join(BUILD, 'python')}: build it "
        f"(tools/build.sh; it needs python3-dev and pybind11-dev from tools/setup.sh): {e}")

MODEL = os.path.join(ROOT, "tools", "models", "lenet5.onnx")
OWNER = os.path.join(ROOT, "tools", "data", "fmnist_owner256.npz")
TEST = os.path.join(ROOT, "tools", "data", "fmnist_test.npz")
QUICK = dict(max_values=4, target_accuracy=0.0, harden=False)  # some lock, fast (the fast loop)


def session(model, options=None):
    options = options or ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def outputs(sess, x):
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + 1000]})[0]
                           for i in range(0, len(x), 1000)])


def accuracy(out, y):
    return float((out.argmax(axis=1) == y).mean())


class DeployTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path, step in ((MODEL, "tools/train_models.py"), (OWNER, "tools/setup.sh"),
                           (TEST, "tools/setup.sh")):
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path} is missing: run {step}")
        with open(MODEL, "rb") as f:
            cls.original = f.read()
        # The full default lock: the hardened one (budget 1024, accuracy target chance + 0.02,
        # repair target chance + 0.05).
        cls.locked, cls.key, cls.summary = onnx_crypt.lock(MODEL, OWNER)
        # A key for the same model from another lock (another seed): wrong for cls.locked.
        cls.other_locked, cls.other_key, _ = onnx_crypt.lock(MODEL, OWNER, seed=1, **QUICK)
        data = np.load(TEST)
        cls.x, cls.y = data["x"], data["y"]
        cls.want = outputs(session(cls.original), cls.x)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.locked_path = os.path.join(cls.tmp.name, "locked.onnx")
        cls.key_path = os.path.join(cls.tmp.name, "model.key")
        with open(cls.locked_path, "wb") as f:
            f.write(cls.locked)
        with open(cls.key_path, "wb") as f:
            f.write(cls.key)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_lock_summary(self):
        s = self.summary
        print(f"\nlock: {s['locked_values']} of {s['total_parameters']} values, sample accuracy "
              f"{s['sample_accuracy_before']:.4f} -> {s['sample_accuracy_after']:.4f} "
              f"({s['stop_reason']}), {s['seconds']:.1f} s")
        self.assertIsInstance(self.locked, bytes)
        self.assertIsInstance(self.key, bytes)
        self.assertNotEqual(self.locked, self.original)
        self.assertEqual(len(self.locked), len(self.original))  # a few values, same storage
        self.assertGreaterEqual(s["locked_values"], 1)
        self.assertLessEqual(s["locked_values"], 128)  # 65 on lenet5 at seed 0
        self.assertTrue(s["harden"])
        self.assertAlmostEqual(s["repair_target"], 0.15, places=6)
        self.assertEqual(s["locked_values"], len(s["changes"]))
        self.assertEqual(s["num_classes"], 10)
        self.assertAlmostEqual(s["target_accuracy"], 0.12, places=6)
        if s["stop_reason"] == "target":
            # The hardened lock stops when its own simulated repair on the samples fails
            # and both reset states are broken, with the locked state at the target.
            self.assertLessEqual(s["sample_accuracy_after"], s["target_accuracy"])
            self.assertLessEqual(s["repair_accuracy"], s["repair_target"])
            self.assertLessEqual(s["reset_zero_accuracy"], s["repair_target"])
            self.assertLessEqual(s["reset_median_accuracy"], s["repair_target"])
        self.assertGreater(s["sample_accuracy_before"], 0.8)
        for c in s["changes"]:
            self.assertIn(c["tensor"], s["eligible"])
            self.assertNotEqual(c["original"], c["locked"])

    def test_unlocked_bytes_in_onnx_runtime_match_the_original_bit_for_bit(self):
        unlocked = onnx_crypt.unlock_to_bytes(self.locked, self.key)
        self.assertIsInstance(unlocked, bytes)
        got = outputs(session(unlocked), self.x)
        self.assertEqual(got.shape, (10000, 10))
        self.assertTrue(np.array_equal(got, self.want), "outputs differ from the original's")
        # The same model, field for field (the library's own check, and onnx's).
        onnx_crypt.verify(MODEL, self.locked, self.key)
        self.assertEqual(onnx.load_from_string(unlocked), onnx.load_from_string(self.original))

    def test_locked_model_in_onnx_runtime_is_collapsed(self):
        original_acc = accuracy(self.want, self.y)
        locked_acc = accuracy(outputs(session(self.locked), self.x), self.y)
        print(f"\nONNX Runtime accuracy on {len(self.y)} test images: original "
              f"{original_acc:.4f}, locked {locked_acc:.4f}")
        self.assertGreater(original_acc, 0.85)
        # The lock stops at chance + 2 points on its 256 owner samples; on 10,000 held-out
        # images it lands within 2 more points of that (0.1224 with the default lock).
        self.assertLessEqual(locked_acc, 0.14)

    def assertRaisesLibraryError(self, fn, *args, kind=onnx_crypt.Error):
        with self.assertRaises(kind) as cm:
            fn(*args)
        self.assertIsInstance(cm.exception, onnx_crypt.Error)
        self.assertIsInstance(cm.exception, RuntimeError)
        self.assertTrue(str(cm.exception), "error without a message")
        self.assertTrue(cm.exception.code)
        return cm.exception

    def test_wrong_key_raises_before_onnx_runtime(self):
        for fn in (onnx_crypt.unlock_to_bytes, onnx_crypt.unlock, onnx_crypt.unlock_tensors):
            with self.subTest(fn=fn.__name__):
                e = self.assertRaisesLibraryError(fn, self.locked, self.other_key,
                                                  kind=onnx_crypt.InvalidArgumentError)
                self.assertIsInstance(e, ValueError)
                self.assertEqual(e.code, "INVALID_ARGUMENT")
        # The other way round too: this key does not open the other lock.
        self.assertRaisesLibraryError(onnx_crypt.unlock_to_bytes, self.other_locked, self.key)
        # And the right key still works on its own lock.
        other = onnx_crypt.unlock_to_bytes(self.other_locked, self.other_key)
        self.assertTrue(np.array_equal(outputs(session(other), self.x[:2000]),
                                       self.want[:2000]))

    def test_corrupted_and_truncated_keys_raise(self):
        key = self.key
        bad = {}
        for pos in (0, 5, len(key) // 2, len(key) - 1):
            flipped = bytearray(key)
            flipped[pos] ^= 0x01
            bad[f"bit flipped at byte {pos}"] = bytes(flipped)
        for n in (0, 1, 8, len(key) // 2, len(key) - 1):
            bad[f"truncated to {n} bytes"] = key[:n]
        bad["one byte appended"] = key + b"\x00"
        for what, k in bad.items():
            for fn in (onnx_crypt.unlock_to_bytes, onnx_crypt.unlock_tensors):
                with self.subTest(key=what, fn=fn.__name__):
                    e = self.assertRaisesLibraryError(fn, self.locked, k)
                    self.assertIsInstance(e, ValueError)
                    self.assertIn(e.code, ("DATA_LOSS", "INVALID_ARGUMENT"))
                    self.assertIn("key", str(e))

    def test_corrupted_locked_model_raises(self):
        # A locked model changed since locking: an initializer value flipped.
        model = onnx.load_from_string(self.locked)
        t = next(t for t in model.graph.initializer if t.name == "fc3.bias")
        a = onnx.numpy_helper.to_array(t).copy()
        a[0] += 1.0
        t.CopyFrom(onnx.numpy_helper.from_array(a, t.name))
        e = self.assertRaisesLibraryError(onnx_crypt.unlock_to_bytes,
                                          model.SerializeToString(), self.key)
        print(f"\nchanged locked model: {e}")

    def test_restored_tensors_as_initializers_match_the_original(self):
        tensors = onnx_crypt.unlock_tensors(self.locked, self.key)
        touched = {c["tensor"] for c in self.summary["changes"]}
        self.assertEqual(set(tensors), touched)
        original = {t.name: onnx.numpy_helper.to_array(t)
                    for t in onnx.load_from_string(self.original).graph.initializer}
        locked = {t.name: onnx.numpy_helper.to_array(t)
                  for t in onnx.load_from_string(self.locked).graph.initializer}
        changed = 0
        for name, a in tensors.items():
            self.assertEqual(a.dtype, original[name].dtype)
            self.assertTrue(np.array_equal(a, original[name]), name)
            changed += int((a != locked[name]).sum())
        distinct = {(c["tensor"], c["index"]) for c in self.summary["changes"]}
        self.assertEqual(changed, len(distinct))
        # ONNX Runtime: the locked model with the restored tensors overriding its own. The arrays
        # and OrtValues stay referenced (values, tensors) for as long as the session lives.
        # Graph optimizations at most ORT_ENABLE_EXTENDED: at ORT_ENABLE_ALL, ONNX Runtime's
        # NCHWc layout transformer (x86) pre-reorders Conv weights from the model's own
        # initializers and silently ignores add_initializer for them (seen with 1.32).
        levels = (ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                  ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
        for level in levels:
            with self.subTest(level=str(level)):
                options = ort.SessionOptions()
                options.graph_optimization_level = level
                values = {name: ort.OrtValue.ortvalue_from_numpy(a)
                          for name, a in tensors.items()}
                for name, v in values.items():
                    options.add_initializer(name, v)
                got = outputs(session(self.locked, options), self.x)
                reference = ort.SessionOptions()
                reference.graph_optimization_level = level
                want = outputs(session(self.original, reference), self.x)
                self.assertTrue(np.array_equal(got, want), "outputs differ from the original's")
                self.assertEqual(accuracy(got, self.y), accuracy(self.want, self.y))

    def test_bytes_and_path_arguments_agree(self):
        want = onnx_crypt.unlock_to_bytes(self.locked, self.key)
        lp, kp = self.locked_path, self.key_path
        for args in ((lp, kp), (pathlib.Path(lp), pathlib.Path(kp)), (lp, self.key),
                     (self.locked, kp), (bytearray(self.locked), memoryview(self.key)),
                     (np.frombuffer(self.locked, np.uint8), self.key)):
            with self.subTest(types=[type(a).__name__ for a in args]):
                self.assertEqual(onnx_crypt.unlock_to_bytes(*args), want)
                self.assertEqual(onnx_crypt.unlock(*args), want)
                got = onnx_crypt.unlock_tensors(*args)
                ref = onnx_crypt.unlock_tensors(self.locked, self.key)
                self.assertEqual(list(got), list(ref))
                for name in ref:
                    self.assertTrue(np.array_equal(got[name], ref[name]))
        # unlock to a file, from paths (the library's file path) and from bytes.
        for i, args in enumerate(((lp, kp), (self.locked, self.key), (lp, self.key))):
            out = pathlib.Path(self.tmp.name) / f"unlocked{i}.onnx"
            self.assertIsNone(onnx_crypt.unlock(*args, output_path=out))
            self.assertEqual(out.read_bytes(), want)
            self.assertEqual(onnx.load(str(out)), onnx.load(MODEL))
            self.assertTrue(np.array_equal(outputs(session(str(out)), self.x[:1000]),
                                           self.want[:1000]))
        # verify with paths, bytes, or both.
        onnx_crypt.verify(MODEL, lp, kp)
        onnx_crypt.verify(pathlib.Path(MODEL), self.locked, kp)
        onnx_crypt.verify(self.original, self.locked, self.key)
        # describe_key reads the same from both.
        text = onnx_crypt.describe_key(kp)
        self.assertEqual(text, onnx_crypt.describe_key(self.key))
        self.assertIn(f"locked values: {self.summary['locked_values']} of "
                      f"{self.summary['total_parameters']}", text)
        with_values = onnx_crypt.describe_key(self.key, values=True)
        self.assertGreater(len(with_values), len(text))
        c = self.summary["changes"][0]
        self.assertIn(f"{c['tensor']}[{c['index']}]", with_values)

    def test_errors_carry_messages(self):
        missing = os.path.join(self.tmp.name, "no-such-model.onnx")
        e = self.assertRaisesLibraryError(onnx_crypt.unlock_to_bytes, missing, self.key,
                                          kind=onnx_crypt.NotFoundError)
        self.assertIsInstance(e, FileNotFoundError)
        self.assertIn("no-such-model.onnx", str(e))
        # verify on a mismatch: the locked model is not the original; messages name the bytes.
        e = self.assertRaisesLibraryError(onnx_crypt.verify, self.locked, self.locked, self.key)
        self.assertIn("differs", str(e))
        self.assertIn("<original.onnx bytes>", str(e))
        self.assertNotIn(tempfile.gettempdir() + "/onnx-crypt-", str(e))
        e = self.assertRaisesLibraryError(onnx_crypt.verify, self.locked_path, self.locked_path,
                                          self.key_path)
        self.assertIn(self.locked_path, str(e))
        # Not a model at all.
        self.assertRaisesLibraryError(onnx_crypt.unlock_to_bytes, b"not a model", self.key)
        # A corrupted key file: the message names the file.
        bad = os.path.join(self.tmp.name, "bad.key")
        with open(bad, "wb") as f:
            f.write(self.key[: len(self.key) // 2])
        e = self.assertRaisesLibraryError(onnx_crypt.describe_key, bad,
                                          kind=onnx_crypt.DataLossError)
        self.assertIn("bad.key", str(e))
        # The output may not overwrite an input.
        e = self.assertRaisesLibraryError(onnx_crypt.unlock, self.locked_path, self.key,
                                          self.locked_path)
        self.assertIn("overwrite", str(e))
        # Python-side argument errors.
        with self.assertRaises(TypeError):
            onnx_crypt.unlock_to_bytes(42, self.key)
        with self.assertRaises(ValueError):
            onnx_crypt.lock(MODEL, OWNER, max_values=0)
        with self.assertRaises(ValueError):
            onnx_crypt.lock(MODEL, self.x[:8], np.zeros(7, np.int64))
        with self.assertRaises(TypeError):
            onnx_crypt.lock(MODEL, self.x[:8], np.zeros(8, np.float32))
        with self.assertRaises(ValueError):
            onnx_crypt.lock(MODEL, OWNER, np.zeros(256, np.int64))
        with self.assertRaises(onnx_crypt.NotFoundError):
            onnx_crypt.lock(MODEL, os.path.join(self.tmp.name, "missing.npz"))

    def test_hardened_lock_options_take_effect(self):
        # The CLI's lock options as keywords: --harden and its quantile and repair target.
        hardened = dict(QUICK, harden=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the budget may stop it
            locked, key, summary = onnx_crypt.lock(MODEL, OWNER, seed=1,
                                                   stealth_quantile=0.99, repair_target=0.5,
                                                   **hardened)
        self.assertTrue(summary["harden"])
        self.assertEqual(summary["repair_target"], 0.5)
        self.assertFalse(onnx_crypt.lock(MODEL, OWNER, seed=1, **QUICK)[2]["harden"])
        self.assertNotEqual(key, self.other_key)  # the plain lock with the same seed
        self.assertIn("reset_zero_accuracy", summary)
        onnx_crypt.verify(self.original, locked, key)
        with self.assertRaises(ValueError):
            onnx_crypt.lock(MODEL, OWNER, stealth_quantile=0.0)

    def test_hardened_budget_warning(self):
        # Two values cannot break the reset states: the default (hardened) lock stops at its
        # budget with its repair aim missed and says so, naming the option to raise.
        with self.assertWarnsRegex(RuntimeWarning, r"budget of 2 values stopped the hardened "
                                   r"lock .* raise max_values"):
            r = onnx_crypt.lock(MODEL, OWNER, max_values=2)
        self.assertEqual((r.stop_reason, r.locked_values), ("budget", 2))
        # The warning is the summary's, which the CLI prints in its own option names.
        self.assertRegex(r.warning, r"^the budget of 2 values .* raise max_values$")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the fast loop stops at its budget without one
            fast = onnx_crypt.lock(MODEL, OWNER, max_values=2, harden=False)
        self.assertEqual(fast.warning, "")
        # The fast loop has no repair target or stealth quantile: refused, as by the CLI.
        for bad in (dict(repair_target=0.2), dict(stealth_quantile=0.99)):
            with self.assertRaisesRegex(ValueError, "harden=False"):
                onnx_crypt.lock(MODEL, OWNER, max_values=2, harden=False, **bad)

    def test_lock_from_arrays_equals_lock_from_files(self):
        # The same samples as arrays or as the npz give the same lock, byte for byte; the
        # seed-1 lock of setUpClass is the reference.
        data = np.load(OWNER)
        locked, key, summary = onnx_crypt.lock(self.original, data["x"], data["y"], seed=1,
                                               **QUICK)
        self.assertEqual(locked, self.other_locked)
        self.assertEqual(key, self.other_key)
        self.assertEqual(summary["locked_values"], 4)
        self.assertEqual(summary["seed"], 1)

    def test_lock_releases_the_gil(self):
        # While a lock runs in another thread, this thread keeps running: no pause as long as
        # the lock itself.
        result = {}

        def work():
            t0 = time.monotonic()
            # Long enough to tell a pause from the lock: 40 values, no target.
            result["out"] = onnx_crypt.lock(MODEL, OWNER, seed=2, max_values=40,
                                            target_accuracy=0.0, values_per_round=1,
                                            threads=1)
            result["seconds"] = time.monotonic() - t0

        thread = threading.Thread(target=work)
        stamps = [time.monotonic()]
        thread.start()
        while thread.is_alive():
            time.sleep(0.001)  # needs the GIL to wake up, like any Python code
            stamps.append(time.monotonic())
        thread.join()
        longest_pause = max(np.diff(stamps))
        print(f"\nlock in a thread: {result['seconds']:.2f} s; longest pause of this thread "
              f"{longest_pause:.3f} s")
        self.assertIn("out", result)
        self.assertGreater(result["seconds"], 0.2, "lock too quick to tell")
        self.assertLess(longest_pause, 0.5 * result["seconds"])


if __name__ == "__main__":
    unittest.main()
