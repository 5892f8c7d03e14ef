#!/usr/bin/env python3
"""Lock seconds on the CPU: `onnx-crypt lock` against a plain PyTorch implementation of the same
loop, run in the same benchmark on the same machine with the same thread count and the same
accuracy target on the same owner samples.

The PyTorch peer (below) runs the ONNX graph with the op-by-op PyTorch interpreter of
tools/onnx_torch.py in float32, and does what the lock loop did before it ran on trials: each
round one forward+backward on the owner samples for the eligible weights (Conv/Gemm/MatMul
weights), the range-gain score |g| * room-to-extreme, the 16 best candidates, a value from each
tensor's outer 1 % tail on the gradient's side, a full trial forward pass per candidate, lock
the one that lowers sample accuracy most (then raises the loss most), until sample accuracy <=
chance + 0.02 (the default target of both) or 32 values.

Per model and thread count it prints values, seconds and whether each reached the target, and
the speed ratio (PyTorch seconds / onnx-crypt seconds; > 1 means onnx-crypt is faster). With
--base-cli (an onnx-crypt binary built from an earlier commit) it also times that binary, and
for both binaries prints the forward-equivalents per round: (lock seconds / rounds) divided by
the seconds of one forward pass over the owner samples (`onnx-crypt eval`, same threads).

Each lock runs --repeat times (default 3), interleaved with its peer, and the best seconds count.

Usage: bench_lock.py [--models M.onnx ...] [--threads 1 2] [--repeat N] [--base-cli PATH]
                     [--out FILE.md]
"""
import argparse
import os
import platform
import sys
import tempfile
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import onnx_torch  # noqa: E402  (the op-by-op interpreter)
from bench_util import run_json, write_report  # noqa: E402

CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt"))
OWNER = os.path.join(ROOT, "tools", "data", "fmnist_owner256.npz")
DEFAULT_MODELS = ["lenet5.onnx", "bn_cnn.onnx", "resnet_small.onnx"]


def to_torch_f32(array):
    t = torch.from_numpy(np.array(array))
    if t.is_floating_point():
        return t.to(torch.float32)
    return t if t.dtype == torch.bool else t.to(torch.int64)


def eligible_names(model):
    inits = {i.name for i in model.graph.initializer}
    names = []
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits:
            if n.input[1] not in names:
                names.append(n.input[1])
    order = [i.name for i in model.graph.initializer]
    return sorted(names, key=order.index)


def torch_lock(path, x_np, y_np, max_values=32, candidates=16, seed=0):
    model = onnx.load(path)
    params = {i.name: to_torch_f32(onnx.numpy_helper.to_array(i)) for i in model.graph.initializer}
    inp = [i.name for i in model.graph.input if i.name not in params][0]
    out_name = model.graph.output[0].name
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    names = eligible_names(model)
    stats = {}
    for n in names:
        s = torch.sort(params[n].reshape(-1)).values
        m = min(max(s.numel() // 100, 2), 256)
        stats[n] = (s[0].item(), s[-1].item(), s[min(m, s.numel() - 1)].item(),
                    s[max(s.numel() - 1 - m, 0)].item())
    rng = np.random.default_rng(seed)
    locked = {n: torch.zeros(params[n].numel(), dtype=torch.bool) for n in names}

    def measure():
        with torch.no_grad():
            o = onnx_torch.run_graph(model, params, {inp: x}, torch.float32)[out_name]
            loss, _ = onnx_torch.loss_of(model, o, y)
            return (o.argmax(1) == y).float().mean().item(), loss.item()

    t0 = time.perf_counter()
    acc, _ = measure()
    target = 1.0 / 10 + 0.02
    count = 0
    while acc > target and count < max_values:
        for n in names:
            params[n].requires_grad_(True)
        o = onnx_torch.run_graph(model, params, {inp: x}, torch.float32)[out_name]
        loss, _ = onnx_torch.loss_of(model, o, y)
        grads = torch.autograd.grad(loss, [params[n] for n in names])
        for n in names:
            params[n] = params[n].detach()
        scores, owners = [], []
        for k, (n, g) in enumerate(zip(names, grads)):
            w, g = params[n].reshape(-1), g.reshape(-1)
            mn, mx, _, _ = stats[n]
            room = torch.where(g > 0, mx - w, w - mn)
            sc = g.abs() * room
            sc[locked[n]] = -1.0
            scores.append(sc)
            owners.append(torch.full_like(sc, k, dtype=torch.int64))
        flat, own = torch.cat(scores), torch.cat(owners)
        top = torch.topk(flat, candidates).indices
        offsets = np.cumsum([0] + [params[n].numel() for n in names])
        trials = []
        for j in top.tolist():
            k = int(own[j]); n = names[k]; i = j - int(offsets[k])
            w = params[n].reshape(-1)
            theta = w[i].item()
            up = grads[k].reshape(-1)[i].item() > 0
            mn, mx, lo_t, hi_t = stats[n]
            lo, hi = (max(hi_t, theta), mx) if up else (mn, min(lo_t, theta))
            v = lo + rng.random() * (hi - lo)
            w[i] = v
            a, l = measure()
            w[i] = theta
            trials.append((a, -l, n, i, v))
        a, _, n, i, v = min(trials, key=lambda t: (t[0], t[1]))
        params[n].reshape(-1)[i] = v
        locked[n][i] = True
        count += 1
        acc, _ = measure()
    return count, time.perf_counter() - t0, acc <= target


def cli_lock(cli, model, threads, tmp):
    # --fast: the loop the PyTorch peer implements (the hardened lock, the CLI's default since
    # 2026-12-03, is measured by bench_harden.py).
    return run_json([cli, "lock", model, "--data", OWNER, "-o", os.path.join(tmp, "l.onnx"),
                     "--key", os.path.join(tmp, "k"), "--threads", str(threads), "--json",
                     "--fast"])


def forward_seconds(cli, model, threads):
    """Seconds of one forward pass over the 256 owner samples (best of 3)."""
    best = float("inf")
    for _ in range(3):
        r = run_json([cli, "eval", model, "--data", OWNER, "--threads", str(threads),
                      "--batch-size", "256", "--json"])
        best = min(best, r["seconds"])
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="*")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--base-cli", help="an onnx-crypt built from an earlier commit")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each lock; the best seconds count (default 3)")
    ap.add_argument("--out", default=os.path.join(ROOT, "tools", "bench", "results",
                                                  "lock_cpu.md"))
    a = ap.parse_args()
    models = a.models or [os.path.join(ROOT, "tools", "models", m) for m in DEFAULT_MODELS]
    d = np.load(OWNER)
    x, y = np.ascontiguousarray(d["x"]), d["y"].astype(np.int64)
    rows = ["| model | threads | onnx-crypt values | onnx-crypt lock s | target | PyTorch values "
            "| PyTorch lock s | target | speed ratio (PyTorch s / onnx-crypt s) |",
            "|---|---:|---:|---:|---|---:|---:|---|---:|"]
    fe_rows = ["| model | threads | binary | values | rounds | lock s | forward s | "
               "forward-equivalents per round |", "|---|---:|---|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for m in models:
            for th in a.threads:
                torch.set_num_threads(th)
                # Best of --repeat for both, interleaved (a single run swings by a third on
                # this shared machine); the locks are deterministic, so only the seconds vary.
                ours, secs = None, float("inf")
                for _ in range(a.repeat):
                    r = cli_lock(CLI, m, th, tmp)
                    if ours is None or r["seconds"] < ours["seconds"]:
                        ours = r
                    n, s, reached = torch_lock(m, x, y)
                    secs = min(secs, s)
                ok = "yes" if ours["stop_reason"] == "target" else "no"
                rows.append(f"| {os.path.basename(m)} | {th} | {ours['locked_values']} | "
                            f"{ours['seconds']:.2f} | {ok} | {n} | {secs:.2f} | "
                            f"{'yes' if reached else 'no'} | {secs / ours['seconds']:.1f} |")
                print(rows[-1], flush=True)
                runs = [("this", CLI, ours)]
                if a.base_cli:
                    runs.append(("base", a.base_cli, cli_lock(a.base_cli, m, th, tmp)))
                for label, cli, r in runs:
                    f = forward_seconds(cli, m, th)
                    fe_rows.append(f"| {os.path.basename(m)} | {th} | {label} | "
                                   f"{r['locked_values']} | {r['rounds']} | {r['seconds']:.2f} "
                                   f"| {f:.4f} | {r['seconds'] / r['rounds'] / f:.1f} |")
                    print(fe_rows[-1], flush=True)
    head = (f"Lock seconds on the CPU ({platform.machine()}, {os.cpu_count()} cores), 256 owner "
            f"samples, default options, target chance + 0.02 for both, best of {a.repeat} runs "
            f"each; PyTorch "
            f"{torch.__version__}. onnx-crypt's seconds include loading and writing files; the "
            "PyTorch loop's exclude them. Made by `tools/bench/bench_lock.py`.\n\n")
    fe_head = ("\n\nForward-equivalents per lock round: (lock seconds / rounds) / seconds of one "
               "forward pass over the 256 owner samples with the same binary and threads. "
               "`base` is the binary of the commit before the trial-based lock loop.\n\n")
    write_report(a.out, head + "\n".join(rows) + fe_head + "\n".join(fe_rows) + "\n")
    print("\n".join(rows + [""] + fe_rows))


if __name__ == "__main__":
    sys.exit(main())
