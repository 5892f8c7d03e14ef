#!/usr/bin/env python3
"""The default (hardened) lock on every model of the zoo (tools/zoo/make_zoo.py): does it run,
stop, and unlock bit for bit on the models other exporters make, and what does it cost?

tools/zoo/zoo_check.py (CI) locks the zoo with the fast loop (`--fast`): both loops share the
loader and the engine, but the hardened loop adds its own steps (bulk statistics per row, the
three states, the simulated repair) that only this script runs on those models. For each
NAME.onnx with its NAME.npz (pseudo-labels) in the zoo folder: `onnx-crypt lock` with default
options except the budget (--max-values, default 32) and --threads, under a timeout; then
`onnx-crypt verify`. One row per model: status (ok, FAIL with the last stderr line, VERIFY-FAIL,
TIMEOUT), values locked, stop reason, sample accuracy before -> after, the lock's simulated
repair (-1: it never ran, the states were not met within the budget) and seconds.

This is a mechanics and cost check on random-init models with pseudo-labels, not a robustness
measurement (tools/bench/results/robustness/ holds those, on trained models).

Usage: zoo_default_lock.py [--zoo DIR] [--max-values 32] [--threads 2] [--timeout 120]
                           [--out FILE.md]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

from bench_util import write_report

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt"))


def lock_one(model, data, a, tmp):
    out, key = os.path.join(tmp, "locked.onnx"), os.path.join(tmp, "locked.key")
    t0 = time.perf_counter()
    try:
        p = subprocess.run([CLI, "lock", model, "--data", data, "-o", out, "--key", key,
                            "--json", "-q", "--max-values", str(a.max_values),
                            "--threads", str(a.threads)],
                           capture_output=True, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        return ["TIMEOUT", "", "", "", "", f"> {a.timeout}"]
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        last = p.stderr.strip().splitlines()[-1][:200] if p.stderr.strip() else ""
        return [f"FAIL ({p.returncode}): {last}", "", "", "", "", f"{secs:.1f}"]
    s = json.loads(p.stdout.strip().splitlines()[-1])
    v = subprocess.run([CLI, "verify", model, out, key], capture_output=True, text=True)
    return ["ok" if v.returncode == 0 else "VERIFY-FAIL", str(s.get("locked_values")),
            str(s.get("stop_reason")),
            f"{s.get('sample_accuracy_before', 0):.3f} -> {s.get('sample_accuracy_after', 0):.3f}",
            f"{s.get('repair_accuracy', -1):.3f}", f"{secs:.1f}"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zoo", default=os.path.join(ROOT, "tools", "data", "zoo"))
    ap.add_argument("--max-values", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--out", default=os.path.join(ROOT, "tools", "bench", "results",
                                                  "zoo_default_lock.md"))
    a = ap.parse_args()
    models = [m for m in sorted(glob.glob(os.path.join(a.zoo, "*.onnx")))
              if os.path.exists(m[:-len(".onnx")] + ".npz")]
    if not models:
        sys.exit(f"zoo_default_lock.py: no NAME.onnx with NAME.npz in {a.zoo} "
                 "(run tools/zoo/make_zoo.py)")
    rows = ["| model | status | values | stop | sample accuracy | simulated repair | lock s |",
            "|---|---|---:|---|---|---:|---:|"]
    for m in models:
        with tempfile.TemporaryDirectory() as tmp:
            r = lock_one(m, m[:-len(".onnx")] + ".npz", a, tmp)
        name = os.path.basename(m)[:-len(".onnx")]
        rows.append("| " + " | ".join([name] + r) + " |")
        print(rows[-1], flush=True)
    head = (f"The default (hardened) lock on the zoo ({len(models)} models, pseudo-labels), "
            f"`--max-values {a.max_values} --threads {a.threads}`, timeout {a.timeout} s; "
            "made by `tools/bench/zoo_default_lock.py`.\n\n")
    write_report(a.out, head + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
