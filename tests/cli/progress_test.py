"""Progress on stderr (tools/cli/progress.h) through the real CLI: lock, lock-batch,
attack finetune and eval.

Piped stderr gets today's plain lines, one per round / item / epoch;
ONNX_CRYPT_PROGRESS=bar (and a real terminal: a pseudo-terminal) gets one line redrawn
with "\\r" and an ETA; --quiet / -q gets nothing, exit status 0. Oracle for "progress
changes nothing": the output files of the three modes, compared byte for byte, and stdout,
compared with its timings masked.
"""
import hashlib
import json
import os
import pathlib
import pty
import re
import select
import struct
import subprocess
import tempfile
import termios
import fcntl
import unittest

ROOT = pathlib.Path(os.environ.get("ONNX_CRYPT_ROOT", pathlib.Path(__file__).parents[2]))
CLI = os.environ.get("ONNX_CRYPT_CLI", str(ROOT / "build" / "tools" / "onnx-crypt"))
MODEL = ROOT / "tools" / "models" / "lenet5.onnx"
OWNER = ROOT / "tools" / "data" / "fmnist_owner256.npz"
TRAIN = ROOT / "tools" / "data" / "fmnist_train1pct.npz"
TEST = ROOT / "tools" / "data" / "fmnist_test.npz"
# A short lock: 4 values in 1 or 2 rounds.
# The fast loop: the hardened default would also warn that its budget stopped it (see
# test_hardened_budget_warning).
LOCK = ["--fast", "--max-values", "4", "--target-accuracy", "0", "--threads", "1"]
ROUND_LINE = re.compile(
    r"^lock: round \d+: \d+ values locked, sample accuracy \d\.\d{4}, loss \d+\.\d{4}$")
ITEM_LINE = re.compile(r"^lock-batch: \[\d+/\d+\] \S+: \d+ values, sample accuracy "
                       r"\d\.\d{4} -> \d\.\d{4}, \d+\.\d\d s$")
EPOCH_LINE = re.compile(r"^finetune: epoch \d+, train loss \d+\.\d{4}$")
# What differs from run to run on stdout: timings.
TIMING = re.compile(r'\d+\.\d+ s\b|\d+\.\d+ (locks|samples)/s|seconds: [0-9.e+-]+|'
                    r'"(seconds|locks_per_second|samples_per_second)":[0-9.e+-]+')


def environment(mode=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ONNX_CRYPT_PROGRESS", "ONNX_CRYPT_PASSPHRASE_FILE")}
    if mode is not None:
        env["ONNX_CRYPT_PROGRESS"] = mode
    return env


def digest_folder(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(pathlib.Path(folder).iterdir())}


def bar_cells(line):
    return line.index("]") - line.index("[") - 1


def masked(stdout, folder):
    return TIMING.sub("T", stdout.replace(str(folder), "DIR"))


class ProgressTest(unittest.TestCase):
    def setUp(self):
        for p in (MODEL, OWNER, TRAIN, TEST):
            self.assertTrue(p.exists(), f"{p} missing: run tools/setup.sh")
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def run_cli(self, args, mode=None, expect=0):
        # Bytes, decoded without newline translation: "\r" must stay "\r".
        r = subprocess.run([CLI, *map(str, args)], capture_output=True,
                           env=environment(mode), timeout=600)
        r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
        self.assertEqual(r.returncode, expect, r.stderr)
        return r

    # Runs the command in three modes, each writing into its own folder (the command
    # gets it from `args(folder)`); checks the output files and stdout agree and returns
    # the stderr of each mode.
    def three_modes(self, args):
        results = {}
        for name, mode, extra in (("plain", None, []), ("bar", "bar", []),
                                  ("quiet", "bar", ["--quiet"])):
            folder = self.dir / name
            folder.mkdir()
            r = self.run_cli(args(folder) + extra, mode)
            results[name] = (digest_folder(folder), masked(r.stdout, folder), r.stderr)
        files, stdout, _ = results["plain"]
        self.assertTrue(files)
        for name in ("bar", "quiet"):
            self.assertEqual(results[name][0], files, f"{name}: output files differ")
            self.assertEqual(results[name][1], stdout, f"{name}: stdout differs")
        # --quiet wins over ONNX_CRYPT_PROGRESS=bar.
        self.assertEqual(results["quiet"][2], "")
        return {name: r[2] for name, r in results.items()}

    def assert_bar(self, stderr, columns=80):
        self.assertIn("\r", stderr)
        self.assertIn("\x1b[K", stderr)
        self.assertIn("ETA", stderr)
        self.assertTrue(stderr.endswith("\n"), repr(stderr[-100:]))
        # Each draw is "\r" LINE "\x1b[K"; a line printed above the bar is "\r\x1b[K" LINE "\n".
        draws = [d.replace("\x1b[K", "") for d in stderr.split("\r")
                 if d and not d.startswith("\x1b[K")]
        self.assertTrue(all(len(d.rstrip("\n")) <= columns - 1 for d in draws),
                        [d for d in draws if len(d) > columns - 1])
        final = draws[-1].rstrip("\n")
        self.assertIn("100%", final)
        self.assertNotIn("ETA", final)  # the last draw shows the time taken only
        return draws

    def lock_args(self, folder):
        return ["lock", MODEL, "--data", OWNER, "-o", folder / "locked.onnx",
                "--key", folder / "locked.key", "--json", *LOCK]

    def test_lock(self):
        err = self.three_modes(self.lock_args)
        lines = err["plain"].splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, ROUND_LINE)
        self.assertNotIn("\r", err["plain"])
        draws = self.assert_bar(err["bar"])
        self.assertTrue(draws[0].startswith("lock ["), draws[0])
        self.assertIn("ETA --", draws[0])  # nothing to estimate from yet
        self.assertRegex(draws[-1], r"round \d+: 4 values, accuracy \d\.\d{4}")
        self.assertNotIn("lock: round", err["bar"])

    def test_hardened_budget_warning(self):
        # The default (hardened) lock stopped by a 2-value budget before its simulated repair
        # failed: a warning on stderr in every mode, --quiet too (it is not progress), after
        # the summary on stdout; the exit status stays 0 and the files are written.
        for i, extra in enumerate(([], ["--quiet"])):
            locked, key = self.dir / f"h{i}.onnx", self.dir / f"h{i}.key"
            r = self.run_cli(["lock", MODEL, "--data", OWNER, "-o", locked, "--key", key,
                              "--max-values", "2", "--threads", "1", "--json", *extra],
                             mode="plain")
            warning = [line for line in r.stderr.splitlines() if "warning" in line]
            self.assertEqual(len(warning), 1, r.stderr)
            self.assertRegex(warning[0], r"^onnx-crypt: warning: the budget of 2 values stopped "
                             r"the hardened lock .*target 0\.1500\): a repair may restore the "
                             r"model; raise --max-values$")
            self.assertIn("hardened: values reset to 0 / to the median leave", r.stdout)
            summary = json.loads(r.stdout.strip().splitlines()[-1])
            self.assertEqual((summary["stop_reason"], summary["harden"]), ("budget", True))
            self.assertAlmostEqual(summary["repair_target"], 0.15)
            self.assertTrue(locked.exists() and key.exists())

    def test_short_quiet_flag_and_none(self):
        self.assertEqual(self.run_cli(self.lock_args(self.dir) + ["-q"]).stderr, "")
        self.assertEqual(self.run_cli(self.lock_args(self.dir), mode="none").stderr, "")

    def test_errors_still_print_when_quiet(self):
        r = self.run_cli(["lock", MODEL, "--data", self.dir / "missing.npz", "-o",
                          self.dir / "l.onnx", "--key", self.dir / "k", "--quiet"],
                         mode="bar", expect=1)
        self.assertIn("onnx-crypt: error:", r.stderr)
        self.assertIn("missing.npz", r.stderr)
        # In bar mode the bar's line is ended before the error.
        r = self.run_cli(["lock", MODEL, "--data", self.dir / "missing.npz", "-o",
                          self.dir / "l.onnx", "--key", self.dir / "k"], mode="bar", expect=1)
        self.assertIn("\nonnx-crypt: error:", r.stderr)

    def test_unknown_mode_warns_and_detects(self):
        r = self.run_cli(self.lock_args(self.dir), mode="fancy")
        self.assertIn("ignoring ONNX_CRYPT_PROGRESS=fancy", r.stderr)
        self.assertRegex(r.stderr.splitlines()[-1], ROUND_LINE)  # piped: plain

    def test_lock_batch(self):
        err = self.three_modes(lambda folder: [
            "lock-batch", MODEL, "--data", OWNER, "--output-dir", folder,
            "--variants", "2", "--fast", "--max-values", "3", "--target-accuracy", "0",
            "--threads", "1"])
        lines = err["plain"].splitlines()
        self.assertEqual(len(lines), 2, err["plain"])
        for i, line in enumerate(lines):
            self.assertTrue(line.startswith(f"lock-batch: [{i + 1}/2] "), line)
            self.assertRegex(line, ITEM_LINE)
        draws = self.assert_bar(err["bar"])
        self.assertIn("2/2 done", draws[-1])
        self.assertNotIn("lock-batch: [", err["bar"])

    def test_lock_batch_failed_item(self):
        # A second model named like the first is refused (its outputs would collide).
        twin = self.dir / "twin" / "lenet5.onnx"
        twin.parent.mkdir()
        twin.write_bytes(MODEL.read_bytes())
        args = ["lock-batch", MODEL, twin, "--data", OWNER, "--output-dir", self.dir / "out",
                "--fast", "--max-values", "3", "--target-accuracy", "0", "--threads", "1"]
        plain = self.run_cli(args, expect=1).stderr.splitlines()
        self.assertEqual(len(plain), 2, plain)
        self.assertRegex(plain[0], ITEM_LINE)
        self.assertTrue(plain[1].startswith("lock-batch: [2/2] FAILED "), plain[1])
        bar = self.run_cli(args, mode="bar", expect=1).stderr
        # The failed item's line stays, once, above the bar; the bar says so too.
        self.assertEqual(bar.count("\r\x1b[K" + plain[1] + "\n"), 1, repr(bar))
        self.assertIn("1 failed; 2/2 done", self.assert_bar(bar)[-1])
        self.assertEqual(self.run_cli(args + ["-q"], mode="bar", expect=1).stderr, "")

    def test_attack_finetune(self):
        def args(folder):
            # The locked model comes from a plain lock beside the mode folders.
            return ["attack", "finetune", self.locked, "--data", TRAIN, "--limit", "128",
                    "--eval-data", TEST, "--eval-limit", "200", "--epochs", "3",
                    "--batch-size", "64", "--threads", "1", "-o", folder / "attacked.onnx"]
        self.locked = self.dir / "l.onnx"
        self.run_cli(["lock", MODEL, "--data", OWNER, "-o", self.locked,
                      "--key", self.dir / "l.key", *LOCK])
        err = self.three_modes(args)
        lines = err["plain"].splitlines()
        self.assertEqual(len(lines), 3, err["plain"])
        for e, line in enumerate(lines):
            self.assertTrue(line.startswith(f"finetune: epoch {e + 1},"), line)
            self.assertRegex(line, EPOCH_LINE)
        draws = self.assert_bar(err["bar"])
        self.assertRegex(draws[-1], r"epoch 3/3, train loss \d+\.\d{4}")

    def test_eval(self):
        def args(folder):
            return ["eval", MODEL, "--data", TEST, "--batch-size", "500", "--threads", "1",
                    "--dump-outputs", folder / "out.npz"]
        err = self.three_modes(args)
        lines = err["plain"].splitlines()
        # Batches of 500: 500 (0 %), then each 10 % up to 10000.
        self.assertEqual(lines, [f"eval: {n}/10000 samples" for n in [500, *range(1000, 10001, 1000)]])
        self.assertIn("10000/10000 samples", self.assert_bar(err["bar"])[-1])

    def test_a_real_terminal(self):
        # stderr on a pseudo-terminal 72 columns wide, stdout on a pipe: a bar as wide
        # as the terminal, without ONNX_CRYPT_PROGRESS; stdout as when piped.
        primary, secondary = pty.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 72, 0, 0))
        env = environment()
        env["TERM"] = "xterm"
        p = subprocess.Popen([CLI, *map(str, self.lock_args(self.dir))], stdout=subprocess.PIPE,
                             stderr=secondary, stdin=subprocess.DEVNULL, env=env)
        os.close(secondary)
        chunks = []
        while True:
            ready, _, _ = select.select([primary], [], [], 600)
            if not ready:
                p.kill()
                self.fail("no output from the terminal for 600 s")
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        os.close(primary)
        stdout = p.stdout.read().decode()
        p.stdout.close()
        self.assertEqual(p.wait(timeout=600), 0)
        # The terminal's line discipline turns "\n" into "\r\n".
        stderr = b"".join(chunks).decode().replace("\r\n", "\n")
        draws = self.assert_bar(stderr, columns=72)
        self.assertNotIn("lock: round", stderr)
        # Narrower than the bar of a stream with no width (80 columns assumed).
        forced = self.assert_bar(self.run_cli(self.lock_args(self.dir), mode="bar").stderr)
        self.assertLess(bar_cells(draws[-1]), bar_cells(forced[-1]))
        piped = self.run_cli(self.lock_args(self.dir))
        self.assertEqual(masked(stdout, self.dir), masked(piped.stdout, self.dir))


if __name__ == "__main__":
    unittest.main()
