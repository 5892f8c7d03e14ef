"""Passphrase-wrapped keys end to end: the CLI (lock, lock-batch, unlock, verify, key, attack with
--passphrase-file or ONNX_CRYPT_PASSPHRASE_FILE) and the Python module (passphrase=).

A wrapped key must unlock bit for bit with its passphrase and fail clearly without it, with a wrong
one, or when changed on disk, writing nothing; keys are written owner-only; plain keys keep working
unchanged. The unlocked bytes also run in ONNX Runtime like the original.

The module is imported from $ONNX_CRYPT_BUILD_DIR/python (default: build/python); the CLI is
$ONNX_CRYPT_CLI (default: build/tools/onnx-crypt).
"""
import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnxruntime as ort

ROOT = os.environ.get("ONNX_CRYPT_ROOT",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("ONNX_CRYPT_BUILD_DIR", os.path.join(ROOT, "build"))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(BUILD, "tools", "onnx-crypt"))
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
QUICK = ["--fast", "--max-values", "4", "--target-accuracy", "0"]
ENV_VAR = "ONNX_CRYPT_PASSPHRASE_FILE"
WRAPPED_PREFIX = b"\x0a\x16onnx-crypt-wrapped-key"
PASSPHRASE = "correct horse battery staple \u00e9"  # non-ASCII: UTF-8 in the file and in Python


def env(passphrase_file=None):
    """The environment without any passphrase file configured, or with this one."""
    e = dict(os.environ)
    e.pop(ENV_VAR, None)
    if passphrase_file is not None:
        e[ENV_VAR] = passphrase_file
    return e


def cli(*args, passphrase_file=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True,
                          env=env(passphrase_file))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class PassphraseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path, step in ((CLI, "build the onnx-crypt target (tools/build.sh)"),
                           (MODEL, "run tools/train_models.py"), (OWNER, "run tools/setup.sh"),
                           (TEST, "run tools/setup.sh")):
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path} is missing: {step}")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.original = read(MODEL)
        cls.pass_file = cls.path("pass.txt")
        with open(cls.pass_file, "w", encoding="utf-8") as f:
            f.write(PASSPHRASE + "\n")  # as `echo` writes it: the newline is not part of it
        cls.wrong_file = cls.path("wrong.txt")
        with open(cls.wrong_file, "w") as f:
            f.write("correct horse battery staple\n")
        # One wrapped and one plain lock of the same model and seed.
        cls.locked, cls.key = cls.path("w.onnx"), cls.path("w.key")
        r = cli("lock", MODEL, "--data", OWNER, "-o", cls.locked, "--key", cls.key, *QUICK,
                "--passphrase-file", cls.pass_file, "--json")
        assert r.returncode == 0, r.stderr
        cls.lock_json = json.loads(r.stdout.strip().splitlines()[-1])
        cls.lock_stdout = r.stdout
        cls.plain_locked, cls.plain_key = cls.path("p.onnx"), cls.path("p.key")
        r = cli("lock", MODEL, "--data", OWNER, "-o", cls.plain_locked, "--key", cls.plain_key,
                *QUICK)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    def assertFails(self, r, *needles):
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        for n in needles:
            self.assertIn(n, r.stderr)

    # ------------------------------------------------------------------ CLI

    def test_lock_writes_a_wrapped_owner_only_key_and_the_same_locked_model(self):
        self.assertTrue(read(self.key).startswith(WRAPPED_PREFIX))
        self.assertFalse(read(self.plain_key).startswith(WRAPPED_PREFIX))
        self.assertEqual(mode(self.key), 0o600)
        self.assertEqual(mode(self.plain_key), 0o600)
        self.assertTrue(self.lock_json["key_wrapped"])
        self.assertIn("wrapped with the passphrase", self.lock_stdout)
        # The locked model does not depend on the passphrase.
        self.assertEqual(read(self.locked), read(self.plain_locked))

    def test_unlock_with_the_passphrase_is_bit_exact(self):
        out = self.path("u.onnx")
        r = cli("unlock", self.locked, "--key", self.key, "-o", out,
                "--passphrase-file", self.pass_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(out), self.original)
        r = cli("verify", MODEL, self.locked, self.key, "--passphrase-file", self.pass_file)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_missing_or_wrong_passphrase_fails_and_writes_nothing(self):
        out = self.path("never.onnx")
        r = cli("unlock", self.locked, "--key", self.key, "-o", out)
        self.assertFails(r, self.key, "protected by a passphrase", "--passphrase-file", ENV_VAR)
        r = cli("unlock", self.locked, "--key", self.key, "-o", out,
                "--passphrase-file", self.wrong_file)
        self.assertFails(r, f"{self.key}: wrong passphrase, or the key file was changed")
        self.assertFalse(os.path.exists(out))
        self.assertFails(cli("verify", MODEL, self.locked, self.key), "protected by a passphrase")
        self.assertFails(cli("verify", MODEL, self.locked, self.key,
                             "--passphrase-file", self.wrong_file), "wrong passphrase")
        self.assertFails(cli("key", self.key), "protected by a passphrase")
        # Passphrase files that are not: missing, empty, a directory.
        empty = self.path("empty.txt")
        with open(empty, "w") as f:
            f.write("\n")
        for bad, needle in ((self.path("none.txt"), "no such passphrase file"),
                            (empty, "empty"), (self.dir, "regular file")):
            r = cli("unlock", self.locked, "--key", self.key, "-o", out,
                    "--passphrase-file", bad)
            self.assertFails(r, needle)
        self.assertFalse(os.path.exists(out))

    def test_changed_or_truncated_wrapped_key_fails_and_writes_nothing(self):
        key = read(self.key)
        out = self.path("never2.onnx")
        bad_key = self.path("bad.key")
        cases = {"truncated": key[:len(key) // 2], "tag cut": key[:-1],
                 "ciphertext changed": key[:-30] + bytes([key[-30] ^ 1]) + key[-29:],
                 # bytes 44-59 are the salt (after magic, version, kdf, N, r, p)
                 "salt changed": key[:50] + bytes([key[50] ^ 1]) + key[51:]}
        for what, content in cases.items():
            with self.subTest(what):
                with open(bad_key, "wb") as f:
                    f.write(content)
                r = cli("unlock", self.locked, "--key", bad_key, "-o", out,
                        "--passphrase-file", self.pass_file)
                self.assertFails(r, bad_key)
                self.assertFalse(os.path.exists(out))

    def test_environment_variable_is_the_fallback(self):
        out = self.path("env.onnx")
        r = cli("unlock", self.locked, "--key", self.key, "-o", out,
                passphrase_file=self.pass_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(out), self.original)
        # The flag wins over the variable.
        os.remove(out)
        r = cli("unlock", self.locked, "--key", self.key, "-o", out,
                "--passphrase-file", self.pass_file, passphrase_file=self.wrong_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cli("verify", MODEL, self.locked, self.key, passphrase_file=self.wrong_file)
        self.assertFails(r, "wrong passphrase")
        r = cli("verify", MODEL, self.locked, self.key, passphrase_file=self.path("gone"))
        self.assertFails(r, "no such passphrase file", ENV_VAR)
        # lock wraps with it.
        key = self.path("env.key")
        r = cli("lock", MODEL, "--data", OWNER, "-o", self.path("env_locked.onnx"), "--key", key,
                *QUICK, passphrase_file=self.pass_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(read(key).startswith(WRAPPED_PREFIX))
        # An old, plain key keeps working with a passphrase configured (it is not needed).
        r = cli("verify", MODEL, self.plain_locked, self.plain_key,
                passphrase_file=self.pass_file)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_key_describes_the_envelope(self):
        r = cli("key", self.key, "--passphrase-file", self.pass_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("wrapped with a passphrase: scrypt N=65536 r=8 p=1, aes-256-gcm", r.stdout)
        self.assertIn("locked values: 4 of 61470", r.stdout)
        r = cli("key", self.plain_key)
        self.assertIn("wrapped with a passphrase: no", r.stdout)

    def test_empty_passphrase_file_fails_the_lock_before_anything_is_written(self):
        empty = self.path("empty_lock.txt")
        open(empty, "w").close()
        locked, key = self.path("e.onnx"), self.path("e.key")
        r = cli("lock", MODEL, "--data", OWNER, "-o", locked, "--key", key, *QUICK,
                "--passphrase-file", empty)
        self.assertFails(r, "empty")
        self.assertFalse(os.path.exists(locked))
        self.assertFalse(os.path.exists(key))

    def test_lock_batch_wraps_every_key(self):
        out = self.path("batch")
        r = cli("lock-batch", MODEL, "--data", OWNER, "--output-dir", out, "--variants", "2",
                *QUICK, "--passphrase-file", self.pass_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        keys = [os.path.join(out, f"lenet5-{i}.key") for i in range(2)]
        self.assertNotEqual(read(keys[0]), read(keys[1]))
        for i, key in enumerate(keys):
            self.assertTrue(read(key).startswith(WRAPPED_PREFIX))
            self.assertEqual(mode(key), 0o600)
            locked = os.path.join(out, f"lenet5-{i}.onnx")
            r = cli("verify", MODEL, locked, key, "--passphrase-file", self.pass_file)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_attack_reads_a_wrapped_key(self):
        args = ["attack", "outliers", self.locked, "--eval-data", TEST, "--eval-limit", "200",
                "--key", self.key, "--json"]
        r = cli(*args, "--passphrase-file", self.pass_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout.strip().splitlines()[-1])["locked_values"], 4)
        self.assertFails(cli(*args), "protected by a passphrase")

    def test_help_documents_the_option(self):
        for command in ("lock", "lock-batch", "unlock", "verify", "key", "attack"):
            with self.subTest(command):
                r = cli(command, "--help")
                self.assertEqual(r.returncode, 0)
                self.assertIn("--passphrase-file", r.stdout)
                self.assertIn(ENV_VAR, r.stdout)

    # ------------------------------------------------------------------ Python

    def test_python_lock_and_unlock_with_a_passphrase(self):
        locked, key, summary = onnx_crypt.lock(MODEL, OWNER, max_values=4, target_accuracy=0.0,
                                               harden=False, passphrase=PASSPHRASE)
        self.assertTrue(key.startswith(WRAPPED_PREFIX))
        self.assertEqual(locked, read(self.plain_locked))  # the CLI's plain lock, same seed
        again = onnx_crypt.lock(MODEL, OWNER, max_values=4, target_accuracy=0.0,
                                harden=False, passphrase=PASSPHRASE)
        self.assertEqual(again[0], locked)
        self.assertNotEqual(again[1], key)  # fresh salt and nonce
        for passphrase in (PASSPHRASE, PASSPHRASE.encode("utf-8"),
                           bytearray(PASSPHRASE.encode("utf-8"))):
            self.assertEqual(onnx_crypt.unlock_to_bytes(locked, key, passphrase=passphrase),
                             self.original)
        self.assertEqual(onnx_crypt.unlock(locked, key, passphrase=PASSPHRASE), self.original)
        out = self.path("py.onnx")
        self.assertIsNone(onnx_crypt.unlock(locked, key, out, passphrase=PASSPHRASE))
        self.assertEqual(read(out), self.original)
        tensors = onnx_crypt.unlock_tensors(locked, key, passphrase=PASSPHRASE)
        self.assertEqual(set(tensors), {c["tensor"] for c in summary["changes"]})
        onnx_crypt.verify(self.original, locked, key, passphrase=PASSPHRASE)
        self.assertIn("wrapped with a passphrase: scrypt",
                      onnx_crypt.describe_key(key, passphrase=PASSPHRASE))
        # In ONNX Runtime, like the original.
        x = np.load(TEST)["x"][:500]
        want = ort.InferenceSession(self.original, providers=["CPUExecutionProvider"])
        got = ort.InferenceSession(onnx_crypt.unlock_to_bytes(locked, key, passphrase=PASSPHRASE),
                                   providers=["CPUExecutionProvider"])
        name = want.get_inputs()[0].name
        self.assertTrue(np.array_equal(got.run(None, {name: x})[0], want.run(None, {name: x})[0]))

    def test_python_reads_the_cli_wrapped_key_files(self):
        # The str passphrase is the passphrase file's text (UTF-8, newline not included).
        self.assertEqual(onnx_crypt.unlock_to_bytes(self.locked, self.key, passphrase=PASSPHRASE),
                         self.original)
        out = self.path("py_files.onnx")
        onnx_crypt.unlock(self.locked, self.key, out, passphrase=PASSPHRASE)
        self.assertEqual(read(out), self.original)
        onnx_crypt.verify(MODEL, self.locked, self.key, passphrase=PASSPHRASE)
        self.assertIn("locked values: 4", onnx_crypt.describe_key(self.key, passphrase=PASSPHRASE))
        # Plain keys ignore the passphrase.
        self.assertEqual(onnx_crypt.unlock_to_bytes(self.plain_locked, self.plain_key,
                                                    passphrase="unused"), self.original)

    def test_python_errors(self):
        key = read(self.key)
        for fn, args in ((onnx_crypt.unlock_to_bytes, (self.locked, self.key)),
                         (onnx_crypt.unlock_to_bytes, (self.locked, key)),
                         (onnx_crypt.unlock, (self.locked, self.key, self.path("x.onnx"))),
                         (onnx_crypt.unlock, (self.locked, key, self.path("x.onnx"))),
                         (onnx_crypt.unlock_tensors, (self.locked, self.key)),
                         (onnx_crypt.verify, (MODEL, self.locked, self.key)),
                         (onnx_crypt.describe_key, (self.key,))):
            with self.subTest(fn=fn.__name__, key=type(args[-1]).__name__):
                with self.assertRaises(onnx_crypt.InvalidArgumentError) as cm:
                    fn(*args)
                self.assertIsInstance(cm.exception, ValueError)
                self.assertIn("protected by a passphrase", str(cm.exception))
                self.assertIn("passphrase=", str(cm.exception))
                with self.assertRaises(onnx_crypt.InvalidArgumentError) as cm:
                    fn(*args, passphrase="wrong")
                self.assertIn("wrong passphrase, or the key file was changed", str(cm.exception))
                if isinstance(args[-1], str) and args[-1] == self.key:
                    self.assertIn(self.key, str(cm.exception))
                self.assertFalse(os.path.exists(self.path("x.onnx")))
        with self.assertRaises(ValueError):
            onnx_crypt.unlock_to_bytes(self.locked, key, passphrase="")
        with self.assertRaises(ValueError):
            onnx_crypt.lock(MODEL, OWNER, max_values=4, passphrase=b"")
        with self.assertRaises(TypeError):
            onnx_crypt.unlock_to_bytes(self.locked, key, passphrase=42)
        with self.assertRaises(onnx_crypt.Error):
            onnx_crypt.unlock_to_bytes(self.locked, key[:-1], passphrase=PASSPHRASE)


if __name__ == "__main__":
    unittest.main()
