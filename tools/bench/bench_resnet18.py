#!/usr/bin/env python3
"""Lock seconds and peak memory for a torchvision resnet18 (11.7M parameters, random
initialization with a fixed seed, exported by torch.onnx.export at opset 13) on 256
Fashion-MNIST owner samples resized to 64x64 and repeated over three channels, with the
model's own predictions as pseudo-labels: `onnx-crypt lock` of this build, and optionally of
an earlier build (--base-cli), each in the same run.

Prints per binary: values, rounds, lock seconds, peak RSS of the lock process, the seconds of
one forward pass over the 256 samples (`onnx-crypt eval`), and the forward-equivalents per
round ((lock seconds / rounds) / forward seconds). --base-max-values caps the earlier build's
lock (its rounds are slow); the per-round figure is what compares.

Usage: bench_resnet18.py [--threads 2] [--base-cli PATH] [--base-max-values 3] [--out FILE.md]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from bench_util import write_report

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt"))
OWNER = os.path.join(ROOT, "tools", "data", "fmnist_owner256.npz")


def make_inputs(tmp):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    path = os.path.join(tmp, "resnet18.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, 64, 64), path, opset_version=13,
                      input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
    x = torch.from_numpy(np.load(OWNER)["x"])
    x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    data = os.path.join(tmp, "owner64.npz")
    np.savez(data, x=x.numpy().astype(np.float32))  # no y: pseudo-labels
    params = sum(p.numel() for p in model.parameters())
    return path, data, params


def run(args):
    """Runs one CLI command; returns its JSON line and that process's peak RSS (MiB)."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{args[0]} {args[1]} failed with exit code {p.returncode}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--base-cli")
    ap.add_argument("--base-max-values", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "tools", "bench", "results",
                                                  "resnet18_lock_cpu.md"))
    a = ap.parse_args()
    rows = ["| binary | values | rounds | stop | lock s | peak RSS MiB | forward s (256) | "
            "forward-equivalents per round |", "|---|---:|---:|---|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        model, data, params = make_inputs(tmp)
        # --fast: the loop the base build has (the hardened default is measured elsewhere).
        runs = [("this", CLI, ["--fast"])]
        if a.base_cli:
            runs.append(("base", a.base_cli, ["--max-values", str(a.base_max_values)]))
        for label, cli, extra in runs:
            fwd, _ = run([cli, "eval", model, "--data", data, "--batch-size", "256",
                          "--threads", str(a.threads), "--json"])
            lock, rss = run([cli, "lock", model, "--data", data, "-o",
                             os.path.join(tmp, "l.onnx"), "--key", os.path.join(tmp, "k"),
                             "--threads", str(a.threads), "--json"] + extra)
            per_round = lock["seconds"] / max(lock["rounds"], 1)
            rows.append(f"| {label} | {lock['locked_values']} | {lock['rounds']} | "
                        f"{lock['stop_reason']} | {lock['seconds']:.1f} | {rss:.0f} | "
                        f"{fwd['seconds']:.2f} | {per_round / fwd['seconds']:.1f} |")
            print(rows[-1], flush=True)
    head = (f"torchvision resnet18 ({params:,} parameters, random init, seed 0) at 64x64, 256 "
            f"owner samples with pseudo-labels, {a.threads} threads, CPU ({platform.machine()}, "
            f"{os.cpu_count()} cores). Peak RSS is that of the lock process (wait4). Made by `tools/bench/bench_resnet18.py`.\n\n")
    write_report(a.out, head + "\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    sys.exit(main())
