"""lock-batch --shard I/N: N shards run as separate processes write exactly the
files of one unsharded run, byte for byte, and no shard writes another's file.

Oracle: the unsharded run of the same batch (2 models x 3 variants) in this
test, compared file by file with the union of 3 shards run concurrently.
"""
import hashlib
import os
import pathlib
import subprocess
import tempfile
import unittest

ROOT = pathlib.Path(os.environ.get("ONNX_CRYPT_ROOT", pathlib.Path(__file__).parents[2]))
CLI = os.environ.get("ONNX_CRYPT_CLI", str(ROOT / "build" / "tools" / "onnx-crypt"))
MODELS = [ROOT / "tools" / "models" / "lenet5.onnx", ROOT / "tools" / "models" / "bn_cnn.onnx"]
DATA = ROOT / "tools" / "data" / "fmnist_owner256.npz"
# A short lock keeps the test quick; sharding does not depend on its length or its loop (the
# fast one: the hardened default would also warn for every item that its budget stopped it).
LOCK = ["--fast", "--max-values", "3", "--target-accuracy", "0", "--variants", "3",
        "--threads", "1"]


def digest_folder(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(pathlib.Path(folder).iterdir())}


class ShardTest(unittest.TestCase):
    def setUp(self):
        for p in MODELS + [DATA]:
            self.assertTrue(p.exists(), f"{p} missing: run tools/setup.sh")
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def batch(self, out, *extra):
        return [CLI, "lock-batch", *map(str, MODELS), "--data", str(DATA),
                "--output-dir", str(out), *LOCK, *extra]

    def test_three_shards_equal_one_run(self):
        whole = self.dir / "whole"
        run = subprocess.run(self.batch(whole), capture_output=True, text=True, timeout=600)
        self.assertEqual(run.returncode, 0, run.stderr)
        expected = digest_folder(whole)
        self.assertEqual(len(expected), 12)  # 6 locked models + 6 keys

        sharded = self.dir / "sharded"
        procs = [subprocess.Popen(self.batch(sharded, "--shard", f"{i}/3", "--json"),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(3)]
        per_shard = []
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=600)
            self.assertEqual(p.returncode, 0, err)
            self.assertIn(f'"shard":"{i}/3"', out.splitlines()[-1])
            per_shard.append([line for line in err.splitlines() if line.startswith("lock-batch: [")])
        # Equal slices: 2 items each, and every item in exactly one shard.
        self.assertEqual([len(s) for s in per_shard], [2, 2, 2])
        self.assertEqual(digest_folder(sharded), expected)

    def test_slurm_launcher_runs_the_shards(self):
        """tools/launch/slurm_lock_batch.sbatch, run as Slurm would run array tasks 0..2."""
        whole = self.dir / "whole"
        subprocess.run(self.batch(whole), check=True, capture_output=True, timeout=600)
        (self.dir / "models.txt").write_text("".join(f"{m}\n" for m in MODELS))
        out = self.dir / "slurm"
        script = ROOT / "tools" / "launch" / "slurm_lock_batch.sbatch"
        for i in range(3):
            env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(i), SLURM_ARRAY_TASK_COUNT="3",
                       SLURM_ARRAY_TASK_MIN="0", SLURM_CPUS_PER_TASK="1", ONNX_CRYPT=CLI)
            run = subprocess.run(["bash", str(script), str(self.dir / "models.txt"), str(DATA),
                                  str(out), *LOCK[:-2]],
                                 env=env, capture_output=True, text=True, timeout=600)
            self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(digest_folder(out), digest_folder(whole))

    def test_kubernetes_launcher_is_an_indexed_job(self):
        yaml = __import__("yaml")
        job = yaml.safe_load((ROOT / "tools" / "launch" / "k8s_lock_batch.yaml").read_text())
        spec = job["spec"]
        self.assertEqual(job["kind"], "Job")
        self.assertEqual(spec["completionMode"], "Indexed")
        container = spec["template"]["spec"]["containers"][0]
        shards = {e["name"]: e["value"] for e in container["env"]}["SHARDS"]
        self.assertEqual(int(shards), spec["completions"])
        self.assertEqual(spec["parallelism"], spec["completions"])
        self.assertIn('--shard "${JOB_COMPLETION_INDEX}/${SHARDS}"', container["args"][0])

    def test_bad_shards_are_usage_errors(self):
        for bad in ["3/3", "-1/3", "1/0", "1", "a/b", "1/3/4", ""]:
            run = subprocess.run(self.batch(self.dir / "bad", "--shard", bad),
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(run.returncode, 2, f"--shard {bad!r}: {run.stderr}")
            self.assertIn("--shard", run.stderr)
            self.assertFalse((self.dir / "bad").exists())

    def test_more_shards_than_items(self):
        out = self.dir / "many"
        items = 0
        for i in range(8):  # 6 items over 8 shards: two shards are empty
            run = subprocess.run(self.batch(out, "--shard", f"{i}/8"),
                                 capture_output=True, text=True, timeout=600)
            self.assertEqual(run.returncode, 0, run.stderr)
            items += sum(line.startswith("lock-batch: [") for line in run.stderr.splitlines())
        self.assertEqual(items, 6)
        self.assertEqual(len(list(out.iterdir())), 12)


if __name__ == "__main__":
    unittest.main()
