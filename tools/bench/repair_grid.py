#!/usr/bin/env python3
"""Locks one model with the given `onnx-crypt lock` options, then runs the CLI's saliency-repair
grid on the locked model and prints one summary line (and writes a JSON file).

The grid is what tools/bench/robustness_report.py runs for the default lock: scores |g*w| and
|g|, resets to 0 and to the tensor median, k = 1, 2, 5 and 10 times the locked count, gradients
on 600 labelled training samples (fmnist_train1pct), accuracy on the first 2,000 test images.
It is the quick yardstick used to compare lock designs (results/robustness/lock_experiments.md);
the full report and the PyTorch attack suite are the real measurements.

Usage:
  repair_grid.py MODEL.onnx TAG [--cli PATH] [--out DIR] [-- LOCK OPTIONS...]
  e.g. repair_grid.py tools/models/lenet5.onnx h32 -- --harden --max-values 32 --seed 1

Writes DIR/TAG/{locked.onnx,key.bin,grid.json} (DIR default /tmp/repair_grid). Exit 1 when the
lock or an attack fails.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tools", "data")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("tag", help="name of the output folder under --out")
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "tools", "onnx-crypt"))
    ap.add_argument("--out", default="/tmp/repair_grid")
    ap.add_argument("lock_options", nargs=argparse.REMAINDER,
                    help="after --: options passed to onnx-crypt lock")
    args = ap.parse_args()
    opts = [o for o in args.lock_options if o != "--"]
    rgb = "rgb32" in args.model
    prefix = "fmnist_rgb32_" if rgb else "fmnist_"
    owner = os.path.join(DATA, prefix + "owner256.npz")
    train = os.path.join(DATA, prefix + "train1pct.npz")
    test = os.path.join(DATA, prefix + "test.npz")
    for f in (args.model, owner, train, test, args.cli):
        if not os.path.exists(f):
            sys.exit(f"repair_grid.py: {f} not found (run tools/setup.sh and tools/build.sh)")
    out = os.path.join(args.out, args.tag)
    os.makedirs(out, exist_ok=True)
    locked, key = os.path.join(out, "locked.onnx"), os.path.join(out, "key.bin")
    for p in (locked, key):
        if os.path.exists(p):
            os.remove(p)
    t0 = time.time()
    r = subprocess.run([args.cli, "lock", args.model, "--data", owner, "-o", locked, "--key", key,
                        "--quiet", "--json", *opts], capture_output=True, text=True)
    lock_s = time.time() - t0
    if r.returncode:
        sys.exit(f"repair_grid.py: lock failed ({r.returncode}): {r.stderr.strip()}")
    lock = json.loads(r.stdout.strip().splitlines()[-1])
    n = lock["locked_values"]

    def attack(kind, *extra):
        a = subprocess.run([args.cli, "attack", kind, locked, "--eval-data", test,
                            "--eval-limit", "2000", "--json", "--quiet", *extra],
                           capture_output=True, text=True)
        if a.returncode:
            sys.exit(f"repair_grid.py: attack {kind} failed: {a.stderr.strip()}")
        return json.loads(a.stdout.strip().splitlines()[-1])

    locked_acc = attack("prune", "--fraction", "0")["accuracy"]
    rows = []
    for score in ("gw", "g"):
        for reset in ("zero", "median"):
            for k in (n, 2 * n, 5 * n, 10 * n):
                d = attack("repair", "--data", train, "--key", key, "--k", str(k),
                           "--score", score, "--reset", reset)
                rows.append({"score": score, "reset": reset, "k": k,
                             "accuracy": d["accuracy"], "locked_reset": d["locked_reset"]})
    best = max(rows, key=lambda row: row["accuracy"])
    summary = {"tag": args.tag, "model": args.model, "options": opts, "values": n,
               "lock_s": round(lock_s, 2), "stop": lock["stop_reason"],
               "simulated_repair": lock["repair_accuracy"], "locked_accuracy": locked_acc,
               "best_repair": best, "grid": rows}
    with open(os.path.join(out, "grid.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{args.tag}: values={n} lock_s={lock_s:.1f} stop={lock['stop_reason']} "
          f"locked_acc={locked_acc:.4f} best_repair={best['accuracy']:.4f} "
          f"({best['score']}, {best['reset']}, k={best['k']}, {best['locked_reset']} locked hit)")


if __name__ == "__main__":
    main()
