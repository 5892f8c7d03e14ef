"""The attack suite that does not run on onnx-crypt's engine (tools/onnx_torch.py,
tools/attack_torch.py), checked against oracles:

- OnnxModule (float32) against ONNX Runtime on every bundled model (tools/models/, rgb32/);
- its gradients (float64) against central finite differences, and the Softmax-model loss against
  -mean log p_y computed from ONNX Runtime's probabilities;
- a planted perturbation (one LeNet-5 weight set to a large wrong value with onnx/numpy) is found
  by the |g*w| repair at k = 1 and by the single-value scan, and the accuracy comes back;
- the oracle repair from a real key (`onnx-crypt lock`) is bit-exact against the original;
- lock -> tools/attack_torch.py end to end through both CLIs.

Run: cd tests && ONNX_CRYPT_CLI=build/tools/onnx-crypt ONNX_CRYPT_ROOT=.. \\
     ../.venv/bin/python -m unittest -v attack/torch_attack_test.py
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
import onnx.numpy_helper
import torch

ROOT = pathlib.Path(os.environ.get("ONNX_CRYPT_ROOT", pathlib.Path(__file__).parents[2]))
CLI = os.environ.get("ONNX_CRYPT_CLI", str(ROOT / "build" / "tools" / "onnx-crypt"))
sys.path.insert(0, str(ROOT / "tools"))
import attack_torch  # noqa: E402
import onnx_torch  # noqa: E402

MODELS = ROOT / "tools" / "models"
DATA = ROOT / "tools" / "data"
OWNER = DATA / "fmnist_owner256.npz"
TRAIN = DATA / "fmnist_train1pct.npz"
TEST = DATA / "fmnist_test.npz"
LENET = MODELS / "lenet5.onnx"


def need(*paths):
    missing = [str(p) for p in paths if not pathlib.Path(p).exists()]
    if missing:
        raise unittest.SkipTest(f"missing {missing} (tools/setup.sh makes the data)")


def test_set(n):
    x, y = attack_torch.load_npz(str(TEST), n)
    return x, y


class OnnxTorchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)

    def test_matches_onnxruntime_on_bundled_models(self):
        models = sorted(MODELS.glob("*.onnx")) + sorted(MODELS.glob("rgb32/*.onnx"))
        self.assertGreaterEqual(len(models), 5)
        rgb = DATA / "fmnist_rgb32_test.npz"
        for path in models:
            with self.subTest(model=path.name):
                src = rgb if path.parent.name == "rgb32" else TEST
                if src.exists():
                    x = np.load(src)["x"][:16]
                else:
                    shape = (3, 32, 32) if path.parent.name == "rgb32" else (1, 28, 28)
                    x = np.random.default_rng(0).standard_normal((16,) + shape)
                diff, scale = onnx_torch.compare_with_ort(str(path), x)
                self.assertGreater(scale, 0.0)
                self.assertLess(diff, 1e-4 * max(1.0, scale), path.name)

    def test_parameters_are_named_and_trainable(self):
        m = onnx_torch.OnnxModule(str(MODELS / "bn_cnn.onnx"))
        names = [i.name for i in m.model.graph.initializer
                 if i.data_type == onnx.TensorProto.FLOAT]
        self.assertEqual(sorted(m.onnx_names[n] for n, _ in m.named_parameters()), sorted(names))
        stats = onnx_torch.running_stat_names(m.model)
        self.assertTrue(stats)
        for n in names:
            self.assertEqual(m.tensor(n).requires_grad, n not in stats, n)
        out = m(torch.zeros(2, 1, 28, 28))
        m.loss(out, torch.tensor([0, 1])).backward()
        self.assertTrue(all(m.tensor(n).grad is not None for n in names if n not in stats))

    def test_softmax_model_loss_is_log_of_clamped_output(self):
        need(TEST)
        import onnxruntime as ort

        path = str(MODELS / "mlp_softmax.onnx")
        m = onnx_torch.OnnxModule(path)
        self.assertEqual(m.output_kind, "Softmax")
        x, y = test_set(64)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        p = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
        want = -np.log(np.maximum(p[np.arange(64), y.numpy()], 1e-12)).mean()
        with torch.no_grad():
            got = float(m.loss(m(x), y))
        self.assertAlmostEqual(got, want, delta=1e-5)

    def test_gradients_match_finite_differences(self):
        x = torch.from_numpy(np.random.default_rng(1).standard_normal((8, 1, 28, 28)))
        y = torch.arange(8) % 10
        for model, tensor in (("lenet5.onnx", "conv1.weight"), ("lenet5.onnx", "fc1.weight"),
                              ("mlp_softmax.onnx", None), ("bn_cnn.onnx", None)):
            m = onnx_torch.OnnxModule(str(MODELS / model), dtype=torch.float64)
            names = [tensor] if tensor else onnx_torch.weight_names(m.model)[:1] + \
                onnx_torch.bias_names(m.model)[:1]
            grads = attack_torch.gradients(m, x, y, names)
            for name in names:
                g = grads[name].reshape(-1)
                for idx in np.argsort(-np.abs(g))[:3]:
                    with self.subTest(model=model, tensor=name, index=int(idx)):
                        p = m.tensor(name).view(-1)
                        old, h = p[idx].item(), 1e-6
                        with torch.no_grad():
                            p[idx] = old + h
                            up = float(m.loss(m(x), y))
                            p[idx] = old - h
                            down = float(m.loss(m(x), y))
                            p[idx] = old
                        fd = (up - down) / (2 * h)
                        self.assertGreater(abs(g[idx]), 1e-6)
                        self.assertAlmostEqual(fd, g[idx], delta=1e-5 * max(1.0, abs(fd)))


class PlantedPerturbationTest(unittest.TestCase):
    """One LeNet-5 weight set to a large wrong value (with onnx/numpy, not onnx-crypt)."""

    @classmethod
    def setUpClass(cls):
        need(TRAIN, TEST)
        torch.set_num_threads(1)
        model = onnx.load(str(LENET))
        init = next(i for i in model.graph.initializer if i.name == "conv1.weight")
        w = onnx.numpy_helper.to_array(init).copy()
        cls.index = 37
        w.reshape(-1)[cls.index] = -8.0  # the tensor's values lie within about +-0.6
        init.CopyFrom(onnx.numpy_helper.from_array(w, init.name))
        cls.broken = onnx_torch.OnnxModule(model)
        cls.clean = onnx_torch.OnnxModule(str(LENET))
        cls.test = test_set(2000)
        cls.data = attack_torch.load_npz(str(TRAIN), 200)
        cls.flat = attack_torch.Flat(cls.broken, onnx_torch.weight_names(cls.broken.model))
        truth = attack_torch.truth_from_original(cls.clean, cls.broken)
        cls.mask = cls.flat.locked_mask(truth)
        cls.clean_acc = attack_torch.accuracy(cls.clean, *cls.test)

    def test_truth_is_the_planted_position(self):
        self.assertEqual(self.flat.where(np.nonzero(self.mask)[0]), [("conv1.weight", 37)])

    def test_gw_repair_finds_it(self):
        broken_acc = attack_torch.accuracy(self.broken, *self.test)
        self.assertLess(broken_acc, self.clean_acc - 0.2)
        rows = attack_torch.attack_saliency(self.broken, self.flat, self.data, self.test, 1,
                                            self.mask)
        self.assertEqual(len(rows), len(attack_torch.SCORES) * len(attack_torch.RESETS) *
                         len(attack_torch.K_MULTS))
        row = next(r for r in rows if (r["score"], r["reset"], r["k"]) == ("gw", "zero", 1))
        self.assertEqual(row["locked_hit"], 1)
        self.assertGreater(row["accuracy"], self.clean_acc - 0.02)

    def test_scan_finds_it(self):
        res = attack_torch.attack_scan(self.broken, self.flat, self.data, self.test, 1,
                                       self.mask, samples=64, scan_max=10 ** 6, scan_check=0)
        self.assertEqual(res["mode"], "full")
        self.assertEqual(res["rows"][0]["locked_hit"], 1)
        self.assertGreater(res["rows"][0]["accuracy"], self.clean_acc - 0.02)
        # The screened mode finds it too.
        res = attack_torch.attack_scan(self.broken, self.flat, self.data, self.test, 1,
                                       self.mask, samples=64, scan_max=0, scan_check=200)
        self.assertEqual(res["checked"], 200)
        self.assertEqual(res["rows"][0]["locked_hit"], 1)


class LockedModelTest(unittest.TestCase):
    """A real lock by onnx-crypt; its key read by attack_torch's own protobuf reader."""

    @classmethod
    def setUpClass(cls):
        need(OWNER, TRAIN, TEST, CLI)
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        d = np.load(OWNER)
        cls.owner = os.path.join(cls.tmp.name, "owner64.npz")
        np.savez(cls.owner, x=d["x"][:64], y=d["y"][:64])
        cls.locked = os.path.join(cls.tmp.name, "locked.onnx")
        cls.key = os.path.join(cls.tmp.name, "key.bin")
        p = subprocess.run([CLI, "lock", str(LENET), "--data", cls.owner, "-o", cls.locked,
                            "--key", cls.key, "--json", "--quiet"], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError(f"onnx-crypt lock failed: {p.stderr}")
        cls.lock = json.loads(p.stdout.strip().splitlines()[-1])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_oracle_repair_is_bit_exact(self):
        locked = onnx_torch.OnnxModule(self.locked)
        values = attack_torch.read_key(self.key)
        self.assertEqual(len(values), self.lock["locked_values"])
        truth = attack_torch.truth_from_key(values, locked)
        original = {i.name: onnx.numpy_helper.to_array(i)
                    for i in onnx.load(str(LENET)).graph.initializer}
        before = {i.name: onnx.numpy_helper.to_array(i)
                  for i in locked.to_onnx().graph.initializer}
        differs = [n for n in original if original[n].tobytes() != before[n].tobytes()]
        self.assertEqual(sorted(differs), sorted(truth))
        with torch.no_grad():
            for name, vals in truth.items():
                for idx, v in vals.items():
                    locked.tensor(name).view(-1)[idx] = float(v)
        after = {i.name: onnx.numpy_helper.to_array(i)
                 for i in locked.to_onnx().graph.initializer}
        for name, arr in original.items():
            self.assertEqual(arr.dtype, after[name].dtype, name)
            self.assertEqual(arr.tobytes(), after[name].tobytes(), name)
        # The same positions, found by diffing with the original, agree with the key.
        by_diff = attack_torch.truth_from_original(onnx_torch.OnnxModule(str(LENET)),
                                                   onnx_torch.OnnxModule(self.locked))
        self.assertEqual({t: sorted(v) for t, v in by_diff.items()},
                         {t: sorted(v) for t, v in truth.items()})

    def test_corrupt_key_is_refused(self):
        data = bytearray(open(self.key, "rb").read())
        data[-40] ^= 0x01
        bad = os.path.join(self.tmp.name, "bad.key")
        with open(bad, "wb") as f:
            f.write(data)
        with self.assertRaisesRegex(attack_torch.AttackError, "bad.key"):
            attack_torch.read_key(bad)

    def run_cli(self, *args):
        return subprocess.run([sys.executable, str(ROOT / "tools" / "attack_torch.py"), *args],
                              capture_output=True, text=True)

    def test_cli_end_to_end(self):
        p = self.run_cli(self.locked, "--data", str(TRAIN), "--test", str(TEST), "--key",
                         self.key, "--json", "--epochs", "1", "--train-limit", "128",
                         "--test-limit", "500", "--scan-max", "0", "--scan-check", "300",
                         "--scan-samples", "32")
        self.assertEqual(p.returncode, 0, p.stderr)
        res = json.loads(p.stdout.strip().splitlines()[-1])
        n = self.lock["locked_values"]
        self.assertEqual(res["locked_count"], n)
        self.assertEqual(sum(res["truth"]["tensors"].values()), n)
        self.assertLess(res["locked_accuracy"], 0.35)
        self.assertGreater(res["oracle_accuracy"], 0.8)
        self.assertEqual(len(res["saliency"]), 60)
        self.assertEqual(res["scan"]["checked"], 300)
        self.assertEqual([r["k"] for r in res["scan"]["rows"]],
                         [min(m * n, 300) for m in attack_torch.K_MULTS])
        self.assertEqual(len(res["prune"]), 9)
        self.assertEqual(len(res["finetune"]["locked"]["runs"]), len(attack_torch.GRID))
        self.assertIn("reinit_touched", res["finetune"])
        for r in res["saliency"] + res["prune"] + res["clip"]:
            self.assertTrue(0.0 <= r["accuracy"] <= 1.0)
        s = res["summary"]
        for key in ("best_saliency", "best_scan", "finetune_locked_best", "best_prune",
                    "best_clip", "best_distill"):
            self.assertIn(key, s)
        # Fine-tuning the locked model for one epoch beats the locked model itself.
        self.assertGreater(s["finetune_locked_best"], res["locked_accuracy"])

    def test_cli_errors_name_the_file(self):
        p = self.run_cli(self.locked, "--data", "/nonexistent/a.npz", "--test", str(TEST),
                         "--locked-count", "3")
        self.assertEqual(p.returncode, 2)
        self.assertIn("/nonexistent/a.npz", p.stderr)
        p = self.run_cli(self.locked, "--data", str(TRAIN), "--test", str(TEST))
        self.assertEqual(p.returncode, 2)
        self.assertIn("--locked-count", p.stderr)
        p = self.run_cli("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("saliency", p.stdout)


if __name__ == "__main__":
    unittest.main()
