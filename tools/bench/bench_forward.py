#!/usr/bin/env python3
"""CPU forward throughput of `onnx-crypt eval` against ONNX Runtime (CPUExecutionProvider) with
the same thread count, batch size and data, on every bundled model. Prints a table with the
ratio (onnx-crypt samples/s divided by ONNX Runtime samples/s; > 1 means onnx-crypt is faster).

Both sides time forward passes only, after one untimed warm-up run of the first batch
(onnx-crypt reports its own forward seconds; ORT is timed around session.run), best of --repeats
runs, the two sides' runs interleaved. Usage:
  bench_forward.py [--threads 1 2] [--batch-size 256] [--repeats 3] [--out FILE.md]
"""
import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

from bench_util import write_report

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt"))
DATA = os.path.join(ROOT, "tools", "data", "fmnist_test.npz")


def ours(model, threads, batch):
    p = subprocess.run([CLI, "eval", model, "--data", DATA, "--threads", str(threads),
                        "--batch-size", str(batch), "--json"],
                       check=True, capture_output=True, text=True)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return r["samples"] / r["seconds"]


def onnxruntime(model, x, threads, batch):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    s = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    s.run(None, {name: x[:batch]})  # warm-up
    t = 0.0
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        t0 = time.perf_counter()
        s.run(None, {name: xb})
        t += time.perf_counter() - t0
    return len(x) / t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "tools", "bench", "results",
                                                  "forward_cpu.md"))
    a = ap.parse_args()
    x = np.load(DATA)["x"]
    rows = ["| model | threads | onnx-crypt samples/s | ONNX Runtime samples/s | ratio |",
            "|---|---:|---:|---:|---:|"]
    for model in sorted(glob.glob(os.path.join(ROOT, "tools", "models", "*.onnx"))):
        for th in a.threads:
            # Interleaved, so that a change in the machine's load between the two sides does not
            # land on one side only.
            o = r = 0.0
            for _ in range(a.repeats):
                o = max(o, ours(model, th, a.batch_size))
                r = max(r, onnxruntime(model, x, th, a.batch_size))
            rows.append(f"| {os.path.basename(model)} | {th} | {o:,.0f} | {r:,.0f} | "
                        f"{o / r:.2f} |")
            print(rows[-1], flush=True)
    head = (f"CPU forward throughput, {len(x)} Fashion-MNIST test images, batch "
            f"{a.batch_size}, best of {a.repeats}; machine: {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores; ONNX Runtime {ort.__version__}. Made by "
            "`tools/bench/bench_forward.py`.\n\n")
    write_report(a.out, head + "\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    sys.exit(main())
