#!/usr/bin/env python3
"""`onnx-crypt lock --harden` seconds against the same command of an earlier build (the commit
before the trial-based lock loop), in the same run, with the robustness figures of both locks
beside them, so that a faster hardened lock is shown to be no weaker.

For each binary: lock the model with --harden on the 256 owner samples (same seed and threads),
then attack the locked model with the CLI's own attacks on the attacker's 600 labelled samples
(fmnist_train1pct.npz), accuracy on the first --eval-limit test images: saliency repair with
scores |g*w| and |g|, resets to 0 and to the median, k = 1, 2, 5 and 10 times the locked count
(best accuracy over all 16), and the outlier search (locked values among the top 0.1 % by |w|,
per-tensor z-score or per-row z-score). Prints the speed ratio (base seconds / this seconds).

Usage: bench_harden.py --base-cli PATH [--model M.onnx] [--threads 1] [--eval-limit 2000]
                       [--out FILE.md]
"""
import argparse
import os
import platform
import sys
import tempfile

from bench_util import run_json, write_report

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt"))
DATA = os.path.join(ROOT, "tools", "data")


def measure(cli, model, threads, eval_limit, tmp):
    locked, key = os.path.join(tmp, "h.onnx"), os.path.join(tmp, "h.key")
    lock = run_json([cli, "lock", model, "--data", os.path.join(DATA, "fmnist_owner256.npz"),
                     "-o", locked, "--key", key, "--harden", "--threads", str(threads),
                     "--json"])
    n = lock["locked_values"]
    common = ["--eval-data", os.path.join(DATA, "fmnist_test.npz"), "--eval-limit",
              str(eval_limit), "--threads", str(threads), "--json"]
    # Attacks run with the current CLI: the same attacker for both locks.
    best = 0.0
    for score in ("gw", "g"):
        for reset in ("zero", "median"):
            for mult in (1, 2, 5, 10):
                r = run_json([CLI, "attack", "repair", locked, "--data",
                              os.path.join(DATA, "fmnist_train1pct.npz"), "--k",
                              str(mult * n), "--score", score, "--reset", reset] + common)
                best = max(best, r["accuracy"])
    out = run_json([CLI, "attack", "outliers", locked, "--key", key] + common)
    return lock, best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base-cli", required=True, help="onnx-crypt built from the earlier commit")
    ap.add_argument("--model", default=os.path.join(ROOT, "tools", "models", "lenet5.onnx"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-limit", type=int, default=2000)
    ap.add_argument("--out", default=os.path.join(ROOT, "tools", "bench", "results",
                                                  "harden_cpu.md"))
    a = ap.parse_args()
    rows = ["| binary | values | rounds | lock s | sample acc after | simulated repair (owner) "
            "| best repair acc (attacker, 16 settings) | locked in top 0.1 % (any statistic) "
            "| best rank by |w| / z / row z |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    secs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, cli in (("base", a.base_cli), ("this", CLI)):
            lock, best, out = measure(cli, a.model, a.threads, a.eval_limit, tmp)
            secs[label] = lock["seconds"]
            rows.append(f"| {label} | {lock['locked_values']} | {lock['rounds']} | "
                        f"{lock['seconds']:.1f} | {lock['sample_accuracy_after']:.4f} | "
                        f"{lock['repair_accuracy']:.4f} | {best:.4f} | {out['any_top_0_1']} | "
                        f"{out['magnitude_best_rank']} / {out['zscore_best_rank']} / "
                        f"{out['local_best_rank']} |")
            print(rows[-1], flush=True)
    ratio = secs["base"] / secs["this"]
    head = (f"`onnx-crypt lock --harden` on {os.path.basename(a.model)}, 256 owner samples, "
            f"seed 0, {a.threads} thread(s), CPU ({platform.machine()}, {os.cpu_count()} cores). "
            "Attacks: the current CLI's repair (600 labelled samples; |g*w| and |g|; reset to 0 "
            "and median; k = 1, 2, 5, 10 x locked) and outlier search, accuracy on the first "
            f"{a.eval_limit} test images. Made by `tools/bench/bench_harden.py`.\n\n")
    tail = f"\n\nSpeed ratio (base seconds / this seconds): **{ratio:.1f}x**\n"
    write_report(a.out, head + "\n".join(rows) + tail)
    print("\n".join(rows) + tail)


if __name__ == "__main__":
    sys.exit(main())
