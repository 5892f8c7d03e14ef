"""The onnx_crypt Python package's own API: every form of owner samples gives the same lock as
the .npz path (the oracle: the CLI's lock of the same file, byte for byte), the result object,
progress callbacks, exceptions from a callback, Ctrl-C (a real SIGINT to a real process),
lock_batch with shards, `python -m onnx_crypt` being the CLI, and docstrings that list every
option.

The package is imported from $ONNX_CRYPT_BUILD_DIR/python (default: build/python).
"""
import inspect
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

ROOT = os.environ.get("ONNX_CRYPT_ROOT",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("ONNX_CRYPT_BUILD_DIR", os.path.join(ROOT, "build"))
PYPATH = os.path.join(BUILD, "python")
sys.path.insert(0, PYPATH)
import onnx_crypt  # noqa: E402

CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(BUILD, "tools", "onnx-crypt"))
MODEL = os.path.join(ROOT, "tools", "models", "lenet5.onnx")
OWNER = os.path.join(ROOT, "tools", "data", "fmnist_owner256.npz")
QUICK = dict(max_values=4, target_accuracy=0.0, harden=False)  # the fast loop


class CalibrationReader:
    """The shape of ONNX Runtime's CalibrationDataReader: get_next() until None."""

    def __init__(self, x, y, batch):
        self.batches = [{"x": x[i:i + batch], "y": y[i:i + batch]} for i in range(0, len(x), batch)]

    def get_next(self):
        return self.batches.pop(0) if self.batches else None


class PackageApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = np.load(OWNER)
        cls.x, cls.y = d["x"], d["y"]
        # The oracle: the CLI's lock of the same samples.
        key = os.path.join(cls.tmp.name, "cli.key")
        locked = os.path.join(cls.tmp.name, "cli.onnx")
        subprocess.run([CLI, "lock", MODEL, "--data", OWNER, "-o", locked, "--key", key,
                        "--threads", "1"], check=True, capture_output=True)
        with open(locked, "rb") as f:
            cls.cli_locked = f.read()
        with open(key, "rb") as f:
            cls.cli_key = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_form_of_samples_gives_the_cli_lock(self):
        forms = {
            "path": (OWNER, None),
            "arrays": (self.x, self.y),
            "dict": ({"x": self.x, "y": self.y}, None),
            "list of (x, y)": ([(self.x[:100], self.y[:100]), (self.x[100:], self.y[100:])], None),
            "generator of dicts": (({"x": self.x[i:i + 64], "y": self.y[i:i + 64]}
                                    for i in range(0, 256, 64)), None),
            "calibration reader": (CalibrationReader(self.x, self.y, 50), None),
        }
        for name, (data, labels) in forms.items():
            with self.subTest(name):
                r = onnx_crypt.lock(MODEL, data, labels, threads=1)
                self.assertEqual(r.locked_model, self.cli_locked)
                self.assertEqual(r.key, self.cli_key)

    def test_result_object(self):
        r = onnx_crypt.lock(MODEL, OWNER, **QUICK)
        self.assertIsInstance(r, onnx_crypt.LockResult)
        self.assertEqual(r.locked_values, 4)
        self.assertEqual(r.stop_reason, "budget")
        self.assertEqual(len(r.changes), 4)
        self.assertGreater(r.sample_accuracy_before, r.sample_accuracy_after)
        locked, key, summary = r  # the older tuple form
        self.assertEqual((locked, key), (r.locked_model, r.key))
        self.assertEqual(summary["locked_values"], 4)
        self.assertEqual(r[2]["harden"], False)
        with self.assertRaises(AttributeError):
            r.no_such_field
        # save(): both files, the key owner-only; they unlock to the original.
        lp, kp = (os.path.join(self.tmp.name, n) for n in ("s.onnx", "s.key"))
        r.save(lp, kp)
        self.assertEqual(os.stat(kp).st_mode & 0o777, 0o600)
        out = os.path.join(self.tmp.name, "s.unlocked.onnx")
        onnx_crypt.unlock(lp, kp, out)
        with open(out, "rb") as a, open(MODEL, "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_bad_samples_are_clear_errors(self):
        # Two arrays for a one-input model, neither named after its input.
        with self.assertRaisesRegex(ValueError, "no array for graph input 'input'.*'a', 'b'"):
            onnx_crypt.lock(MODEL, {"a": self.x, "b": self.x})
        with self.assertRaisesRegex(ValueError, "empty"):
            onnx_crypt.lock(MODEL, iter([]))
        with self.assertRaisesRegex(ValueError, "some batches have labels"):
            onnx_crypt.lock(MODEL, [(self.x[:8], self.y[:8]), self.x[8:16]])
        with self.assertRaisesRegex(ValueError, "labels given twice"):
            onnx_crypt.lock(MODEL, {"x": self.x, "y": self.y}, self.y)
        with self.assertRaises(TypeError):
            onnx_crypt.lock(MODEL, 42)

    def test_progress_callback_and_its_exceptions(self):
        rounds = []
        r = onnx_crypt.lock(MODEL, OWNER, progress=rounds.append, **QUICK)
        self.assertEqual([i["round"] for i in rounds], list(range(1, r.rounds + 1)))
        self.assertEqual(rounds[-1]["locked"], 4)
        self.assertAlmostEqual(rounds[-1]["sample_accuracy"], r.sample_accuracy_after)

        class Stop(Exception):
            pass

        def stop(info):
            raise Stop("from the callback")

        with self.assertRaises(Stop):
            onnx_crypt.lock(MODEL, OWNER, progress=stop, **QUICK)

    def test_ctrl_c_interrupts_a_lock(self):
        # A long lock (the hardened one, no target, a large budget) in a child process; SIGINT after the first
        # round must end it with KeyboardInterrupt within a few rounds, not run to the end.
        script = (
            # A shell's background job may start us with SIGINT ignored; an interactive
            # Python has Python's own handler.
            "import signal, sys, time; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "sys.path.insert(0, %r); import onnx_crypt\n"
            "def p(info): print('round', info['round'], flush=True)\n"
            "t = time.time()\n"
            "try:\n"
            "    onnx_crypt.lock(%r, %r, harden=True, max_values=4000, target_accuracy=0.0,"
            " threads=1, progress=p)\n"
            "    print('finished')\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted after %%.1f s' %% (time.time() - t), flush=True)\n"
        ) % (PYPATH, MODEL, OWNER)
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        line = child.stdout.readline()  # the first round is done
        if not line.startswith("round"):  # (reading stderr waits for the child's end)
            self.fail(line + child.communicate(timeout=600)[1])
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=300)
        self.assertIn("interrupted", out, err)
        self.assertNotIn("finished", out)
        self.assertLess(time.monotonic() - sent, 120)

    def test_lock_batch_with_shards(self):
        whole = onnx_crypt.lock_batch([MODEL], OWNER, os.path.join(self.tmp.name, "b"),
                                      variants=3, **QUICK)
        self.assertEqual([i.ok for i in whole], [True] * 3)
        self.assertEqual([i.variant for i in whole], [0, 1, 2])
        seen = []
        parts = [onnx_crypt.lock_batch([MODEL], OWNER, os.path.join(self.tmp.name, "s"),
                                       variants=3, shard=(i, 2), progress=seen.append, **QUICK)
                 for i in range(2)]
        self.assertEqual([len(p) for p in parts], [1, 2])
        self.assertEqual(len(seen), 3)
        for item in whole:
            other = os.path.join(self.tmp.name, "s", os.path.basename(item.key_path))
            with open(item.key_path, "rb") as a, open(other, "rb") as b:
                self.assertEqual(a.read(), b.read())
        failed = onnx_crypt.lock_batch([os.path.join(self.tmp.name, "missing.onnx")], OWNER,
                                       os.path.join(self.tmp.name, "f"), **QUICK)
        self.assertFalse(failed[0].ok)
        self.assertIn("missing.onnx", failed[0].error)
        self.assertEqual(failed[0].warning, "")

    def test_lock_batch_warns_per_item(self):
        # Two values cannot break the reset states: each hardened item stops at its budget
        # with its repair aim missed; the batch warns once per item, naming its locked file.
        out = os.path.join(self.tmp.name, "w")
        with self.assertWarns(RuntimeWarning) as caught:
            items = onnx_crypt.lock_batch([MODEL], OWNER, out, variants=2, max_values=2)
        self.assertEqual([(i.ok, i.stop_reason) for i in items], [(True, "budget")] * 2)
        said = [str(w.message) for w in caught.warnings]
        for item in items:
            self.assertRegex(item.warning, r"^the budget of 2 values .* raise max_values$")
            self.assertIn(f"{item.locked_path}: {item.warning}", said)

    def test_python_m_onnx_crypt_is_the_cli(self):
        env = dict(os.environ, PYTHONPATH=PYPATH)
        for args in (["--help"], ["lock", "--help"], ["key", os.path.join(self.tmp.name, "no.key")]):
            mod = subprocess.run([sys.executable, "-m", "onnx_crypt", *args], env=env,
                                 capture_output=True, text=True)
            cli = subprocess.run([CLI, *args], capture_output=True, text=True)
            self.assertEqual((mod.returncode, mod.stdout, mod.stderr),
                             (cli.returncode, cli.stdout, cli.stderr), args)

    def test_docstrings_list_every_option(self):
        for fn in (onnx_crypt.lock, onnx_crypt.lock_batch):
            doc = inspect.getdoc(fn)
            for name in inspect.signature(fn).parameters:
                self.assertIn(name, doc, f"{fn.__name__}: {name} is not documented")
        for name in onnx_crypt.__all__:
            self.assertTrue(inspect.getdoc(getattr(onnx_crypt, name)), name)


if __name__ == "__main__":
    unittest.main()
