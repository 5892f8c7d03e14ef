#!/usr/bin/env python3
"""Attacks on a locked ONNX model that run in PyTorch (tools/onnx_torch.py), not on onnx-crypt's
engine, so that an engine bug cannot hide a successful attack.

Usage:
  attack_torch.py LOCKED.onnx --data ATTACKER.npz --test TEST.npz
                  [--key KEY | --original ORIGINAL.onnx | --locked-count N] [--json] [--out F]
                  [--attacks saliency,scan,finetune,prune,clip,distill] [--epochs E] ...

The attacker has LOCKED.onnx and labelled samples (ATTACKER.npz: x, y). TEST.npz (x, y) measures
each attacked model's accuracy. KEY or ORIGINAL.onnx is used only to *report* (which attacked
positions were truly locked, the oracle repair, the clean accuracy, the "re-initialize the
touched tensors" baseline); no attack reads them. N (the number of locked values) sets the
repair budgets k = 1, 2, 5, 10 x N: from --locked-count, else from the key or the original.

Attacks (the eligible tensors are the Conv/ConvTranspose/Gemm/MatMul weights; --include-bias
adds biases and BatchNormalization scale/bias):
  saliency  gradients g of the mean cross-entropy on the attacker data at the locked weights w;
            scores |g*w|, |g|, |w|, per-tensor z |w - mean|/sd, per-row robust z
            |w - median|/(1.4826 MAD) (row = slice along axis 0); the top k over all eligible
            values are reset to 0, to their tensor's median, or to their row's mean (of the row's
            values not reset); every (score, reset, k) is evaluated on the test set.
  scan      for every eligible value: the loss on --scan-samples attacker samples with that one
            value set to 0 (only the nodes from the first consumer of its tensor on are re-run);
            the top k by loss drop are reset to 0 together. Above --scan-max eligible values, a
            first-order screen (predicted drop g*w) picks --scan-check values for the exact check.
  finetune  SGD (momentum 0.9) and Adam over a grid of learning rates, --epochs epochs, batch 32,
            on the attacker data, from (a) the locked model, (b) the architecture re-initialized
            (from scratch, PyTorch default init; BatchNormalization scale 1, bias 0, mean 0,
            var 1), (c) the locked model with every tensor that holds a locked value
            re-initialized (needs KEY or ORIGINAL). Best over the grid for each start.
  prune     global magnitude pruning of the eligible values, fractions 0.1 .. 0.9.
  clip      every eligible tensor clipped to mean +- c*sd (c = 0.5, 1, 1.5, 2, 3, 4).
  distill   a re-initialized copy trained on the attacker inputs labelled by the locked model's
            output probabilities (soft labels, temperature 1 and 4), against (b), the copy
            trained on the same samples with their true labels (GroupCover's yardstick).

Output: a summary on stdout (with --json: one JSON object as the last line of stdout instead);
--out F also writes the JSON to F. Exit status 2 for a bad argument or file.
"""

import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnx_torch  # noqa: E402
from onnx_torch import OnnxModule, UnsupportedError  # noqa: E402

SCORES = ("gw", "g", "w", "z", "rowz")
RESETS = ("zero", "median", "rowmean")
K_MULTS = (1, 2, 5, 10)
PRUNE_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CLIP_CS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
GRID = (("sgd", 0.1), ("sgd", 0.01), ("sgd", 0.001), ("adam", 0.01), ("adam", 0.001),
        ("adam", 0.0001))
ATTACKS = ("saliency", "scan", "finetune", "prune", "clip", "distill")


# AttackError, the data files and the ground truth (used only to report which attacked positions
# were locked) live in attack_inputs.py; they are re-exported here for the tests and callers.
from attack_inputs import (AttackError, load_npz, read_key, truth_from_key,  # noqa: E402,F401
                           truth_from_original)


# ------------------------------------------------------------------------------------------------
# Shared measurements
# ------------------------------------------------------------------------------------------------
@torch.no_grad()
def accuracy(module, x, y, batch=1000):
    right = 0
    for s in range(0, len(x), batch):
        right += int((module(x[s:s + batch]).argmax(1) == y[s:s + batch]).sum())
    return right / len(x)


def gradients(module, x, y, names, batch=500):
    """d mean-loss / d tensor over all of (x, y), for the initializers `names`."""
    params = [module.tensor(n) for n in names]
    grads = [torch.zeros_like(p) for p in params]
    for s in range(0, len(x), batch):
        out = module(x[s:s + batch])
        loss = module.loss(out, y[s:s + batch]) * (len(x[s:s + batch]) / len(x))
        for acc, g in zip(grads, torch.autograd.grad(loss, params, allow_unused=True)):
            if g is not None:
                acc += g
    return {n: g.numpy().astype(np.float64) for n, g in zip(names, grads)}


class Flat:
    """The eligible tensors as one flat vector: position p <-> (tensor, flat index)."""

    def __init__(self, module, names):
        self.names = names
        self.shapes = [tuple(module.tensor(n).shape) for n in names]
        sizes = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.size = int(self.offsets[-1])
        self.tensor_id = np.repeat(np.arange(len(names)), sizes)
        self.index = np.concatenate([np.arange(s) for s in sizes]) if sizes else np.zeros(0, int)

    def gather(self, arrays):
        return np.concatenate([np.asarray(arrays[n], dtype=np.float64).reshape(-1)
                               for n in self.names])

    def where(self, positions):
        return [(self.names[self.tensor_id[p]], int(self.index[p])) for p in positions]

    def locked_mask(self, truth):
        mask = np.zeros(self.size, dtype=bool)
        for t, name in enumerate(self.names):
            for idx in truth.get(name, {}):
                mask[self.offsets[t] + idx] = True
        return mask


def rows_of(shape):
    """Row (slice along axis 0) of every flat index of a tensor of `shape`."""
    n = int(np.prod(shape))
    per_row = n // shape[0] if len(shape) > 1 and shape[0] else n
    return np.arange(n) // max(per_row, 1)


def robust_row_z(w, shape):
    rows = rows_of(shape)
    m = w.reshape(-1, len(w) // (rows[-1] + 1)) if len(w) else w.reshape(0, 1)
    med = np.median(m, axis=1, keepdims=True)
    mad = np.median(np.abs(m - med), axis=1, keepdims=True) * 1.4826
    return (np.abs(m - med) / (mad + 1e-12)).reshape(-1)


def score_vector(kind, flat, w, g):
    if kind == "gw":
        return np.abs(g * w)
    if kind == "g":
        return np.abs(g)
    if kind == "w":
        return np.abs(w)
    out = np.empty_like(w)
    for t, shape in enumerate(flat.shapes):
        a, b = flat.offsets[t], flat.offsets[t + 1]
        seg = w[a:b]
        if kind == "z":
            out[a:b] = np.abs(seg - seg.mean()) / (seg.std() + 1e-12)
        else:
            out[a:b] = robust_row_z(seg, shape)
    return out


def top_k(score, k):
    """Indices of the k largest scores; ties broken by position (stable)."""
    return np.argsort(-score, kind="stable")[:k]


def reset_values(kind, flat, w, picked):
    """New values for positions `picked` of flat vector w."""
    if kind == "zero":
        return np.zeros(len(picked))
    out = np.empty(len(picked))
    chosen = np.zeros(flat.size, dtype=bool)
    chosen[picked] = True
    row_cache = {}
    for j, p in enumerate(picked):
        t = flat.tensor_id[p]
        a, b = flat.offsets[t], flat.offsets[t + 1]
        if kind == "median":
            out[j] = np.median(w[a:b])
            continue
        if t not in row_cache:
            row_cache[t] = rows_of(flat.shapes[t])
        rows = row_cache[t]
        same = np.nonzero(rows == rows[p - a])[0] + a
        keep = same[~chosen[same]]
        out[j] = w[keep].mean() if len(keep) else 0.0
    return out


def apply_flat(module, flat, positions, values):
    """Writes values at flat positions into module's parameters (in place)."""
    with torch.no_grad():
        for (name, idx), v in zip(flat.where(positions), values):
            module.tensor(name).view(-1)[idx] = float(v)


# ------------------------------------------------------------------------------------------------
# Attacks
# ------------------------------------------------------------------------------------------------
def attack_saliency(locked, flat, data, test, n_locked, mask):
    xa, ya = data
    w = flat.gather(locked.arrays(flat.names))
    g = flat.gather(gradients(locked, xa, ya, flat.names))
    rows = []
    for score in SCORES:
        s = score_vector(score, flat, w, g)
        for mult in K_MULTS:
            k = min(flat.size, max(1, mult * n_locked))
            picked = top_k(s, k)
            hit = int(mask[picked].sum()) if mask is not None else None
            for reset in RESETS:
                m = copy.deepcopy(locked)
                apply_flat(m, flat, picked, reset_values(reset, flat, w, picked))
                rows.append({"score": score, "reset": reset, "k_over_n": mult, "k": k,
                             "accuracy": accuracy(m, *test), "locked_hit": hit})
    return rows


@torch.no_grad()
def attack_scan(locked, flat, data, test, n_locked, mask, samples, scan_max, scan_check):
    xa, ya = data[0][:samples], data[1][:samples]
    w = flat.gather(locked.arrays(flat.names))
    env0 = {o: getattr(locked, t) for t, o in locked.onnx_names.items()}
    env0[locked.input_name] = xa
    base_env = onnx_torch.run_steps(locked.steps, locked.opset, dict(env0), locked.dtype)
    base = float(locked.loss(base_env[locked.output_name], ya))
    if flat.size <= scan_max:
        mode, candidates = "full", np.nonzero(w != 0)[0]
    else:
        with torch.enable_grad():
            g = flat.gather(gradients(locked, xa, ya, flat.names))
        mode = f"first-order screen (g*w) of {flat.size}, exact check of the top {scan_check}"
        candidates = np.sort(top_k(g * w, scan_check))
    drop = np.full(flat.size, -np.inf)
    t0 = time.time()
    for t, name in enumerate(flat.names):
        sel = candidates[(candidates >= flat.offsets[t]) & (candidates < flat.offsets[t + 1])]
        if not len(sel):
            continue
        first = next(i for i, (node, _, _) in enumerate(locked.steps) if name in node.input)
        suffix = locked.steps[first:]
        # Values computed before the first consumer do not depend on this tensor.
        prefix_env = dict(env0)
        onnx_torch.run_steps(locked.steps[:first], locked.opset, prefix_env, locked.dtype)
        param = locked.tensor(name).view(-1)
        for p in sel:
            idx = int(p - flat.offsets[t])
            old = param[idx].item()
            param[idx] = 0.0
            out = onnx_torch.run_steps(suffix, locked.opset, dict(prefix_env),
                                       locked.dtype)[locked.output_name]
            drop[p] = base - float(locked.loss(out, ya))
            param[idx] = old
    seconds = time.time() - t0
    order = np.argsort(-drop, kind="stable")
    rows = []
    for mult in K_MULTS:
        k = min(len(candidates), max(1, mult * n_locked))
        picked = order[:k]
        m = copy.deepcopy(locked)
        apply_flat(m, flat, picked, np.zeros(k))
        rows.append({"k_over_n": mult, "k": k, "accuracy": accuracy(m, *test),
                     "locked_hit": int(mask[picked].sum()) if mask is not None else None})
    return {"mode": mode, "checked": int(len(candidates)), "samples": int(len(xa)),
            "seconds": round(seconds, 1), "base_loss": base, "rows": rows}


def reinit(module, names, seed, reset_bn_stats=False):
    """PyTorch default init for the weights/biases in `names` (U(+-1/sqrt(fan_in))); BN scale 1,
    bias 0 (and mean 0, var 1 with reset_bn_stats). Returns the names it could not place."""
    fans = onnx_torch.fan_ins(module.model)
    bn = {}
    for n in module.model.graph.node:
        if n.op_type == "BatchNormalization":
            for slot, value in zip(range(1, 5), (1.0, 0.0, 0.0, 1.0)):
                if slot < len(n.input):
                    bn[n.input[slot]] = (slot, value)
    gen = torch.Generator().manual_seed(seed)
    skipped = []
    with torch.no_grad():
        for name in names:
            p = module.tensor(name)
            if name in fans:
                bound = 1.0 / np.sqrt(max(fans[name], 1))
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
            elif name in bn and (bn[name][0] <= 2 or reset_bn_stats):
                p.fill_(bn[name][1])
            else:
                skipped.append(name)
    return skipped


def train(module, x, y, optimizer, lr, epochs, seed, soft=None, batch=32):
    """Trains in place on (x, y) (or on soft targets `soft` [N, C]); returns the module."""
    params = [p for p in module.parameters() if p.requires_grad]
    opt = (torch.optim.SGD(params, lr=lr, momentum=0.9) if optimizer == "sgd"
           else torch.optim.Adam(params, lr=lr))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for s in range(0, len(x), batch):
            idx = perm[s:s + batch]
            out = module(x[idx])
            if soft is None:
                loss = module.loss(out, y[idx])
            else:
                loss = -(soft[idx] * module.log_probs(out)).sum(1).mean()
            if not torch.isfinite(loss):
                return module  # diverged: keep what it has (its accuracy says so)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return module


def learnable(module):
    return [n for n in module.float_names if module.tensor(n).requires_grad]


def grid_runs(start, data, test, epochs, seed, soft=None):
    runs = []
    for opt, lr in GRID:
        m = train(copy.deepcopy(start), *data, opt, lr, epochs, seed, soft=soft)
        runs.append({"optimizer": opt, "lr": lr, "epochs": epochs,
                     "accuracy": accuracy(m, *test)})
    return {"best": max(r["accuracy"] for r in runs), "runs": runs}


def from_scratch(locked, seed):
    m = copy.deepcopy(locked)
    reinit(m, learnable(m) + sorted(onnx_torch.running_stat_names(m.model)), seed,
           reset_bn_stats=True)
    return m


def attack_finetune(locked, data, test, epochs, seed, touched):
    out = {"locked": grid_runs(locked, data, test, epochs, seed),
           "scratch": grid_runs(from_scratch(locked, seed), data, test, epochs, seed)}
    if touched:
        m = copy.deepcopy(locked)
        skipped = reinit(m, touched, seed)
        out["reinit_touched"] = grid_runs(m, data, test, epochs, seed)
        out["reinit_touched"]["tensors"] = touched
        out["reinit_touched"]["not_reinitialized"] = skipped
        out["head_start_vs_reinit"] = out["locked"]["best"] - out["reinit_touched"]["best"]
    out["head_start_vs_scratch"] = out["locked"]["best"] - out["scratch"]["best"]
    return out


def attack_prune(locked, flat, test):
    w = flat.gather(locked.arrays(flat.names))
    order = np.argsort(np.abs(w), kind="stable")
    rows = []
    for f in PRUNE_FRACTIONS:
        m = copy.deepcopy(locked)
        picked = order[:int(round(f * flat.size))]
        apply_flat(m, flat, picked, np.zeros(len(picked)))
        rows.append({"fraction": f, "accuracy": accuracy(m, *test)})
    return rows


def attack_clip(locked, flat, test):
    rows = []
    for c in CLIP_CS:
        m = copy.deepcopy(locked)
        with torch.no_grad():
            for name in flat.names:
                p = m.tensor(name)
                mu, sd = p.mean(), p.std(unbiased=False)
                p.copy_(torch.clamp(p, float(mu - c * sd), float(mu + c * sd)))
        rows.append({"c": c, "accuracy": accuracy(m, *test)})
    return rows


def attack_distill(locked, data, test, epochs, seed, scratch_best):
    x = data[0]
    with torch.no_grad():
        logp = torch.cat([locked.log_probs(locked(x[s:s + 500])) for s in range(0, len(x), 500)])
    out = {}
    for temp in (1.0, 4.0):
        soft = torch.softmax(logp / temp, dim=1)
        res = grid_runs(from_scratch(locked, seed), data, test, epochs, seed, soft=soft)
        out[f"T{temp:g}"] = res
    out["best"] = max(v["best"] for v in out.values())
    out["labelled_copy_best"] = scratch_best
    return out


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------
def run(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    for path in [args.locked, args.data, args.test] + [p for p in (args.key, args.original) if p]:
        if not os.path.isfile(path):
            raise AttackError(f"{path}: no such file")
    modules = []
    for path in [args.locked] + ([args.original] if args.original else []):
        try:
            modules.append(OnnxModule(path))
        except UnsupportedError as e:
            raise AttackError(f"{path}: {e}") from e
    locked, original = modules[0], (modules[1] if args.original else None)
    attacks = args.attacks.split(",")
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise AttackError(f"--attacks: unknown {unknown} (known: {','.join(ATTACKS)})")
    data = load_npz(args.data, args.train_limit)
    test = load_npz(args.test, args.test_limit)

    truth = None
    if args.key:
        truth = truth_from_key(read_key(args.key), locked)
    elif original is not None:
        truth = truth_from_original(original, locked)
    n_locked = args.locked_count or (sum(len(v) for v in truth.values()) if truth else 0)
    if n_locked <= 0:
        raise AttackError("the locked count N is unknown: pass --locked-count, --key or "
                          "--original")

    names = onnx_torch.weight_names(locked.model)
    if args.include_bias:
        names += [n for n in onnx_torch.bias_names(locked.model) if n not in names]
    flat = Flat(locked, names)
    mask = flat.locked_mask(truth) if truth else None
    res = {"model": args.locked, "attacker_samples": len(data[0]), "test_samples": len(test[0]),
           "locked_count": n_locked, "eligible": flat.size, "eligible_tensors": names,
           "locked_accuracy": accuracy(locked, *test), "chance": 1.0 / int(
               locked(test[0][:1]).shape[1])}
    if truth:
        outside = [t for t in truth if t not in names]
        res["truth"] = {"source": "key" if args.key else "original",
                        "tensors": {t: len(v) for t, v in truth.items()},
                        "locked_outside_eligible": outside}
        oracle = copy.deepcopy(locked)
        with torch.no_grad():
            for t, vals in truth.items():
                for idx, v in vals.items():
                    oracle.tensor(t).view(-1)[idx] = float(v)
        res["oracle_accuracy"] = accuracy(oracle, *test)
        if original is not None:
            res["original_accuracy"] = accuracy(original, *test)
            res["oracle_bit_exact"] = all(
                oracle.tensor(n).detach().numpy().tobytes() ==
                original.tensor(n).detach().numpy().tobytes() for n in locked.float_names)
    timing = {}

    def timed(name, fn):
        t0 = time.time()
        out = fn()
        timing[name] = round(time.time() - t0, 1)
        log(f"{name}: {timing[name]} s")
        return out

    if "saliency" in attacks:
        res["saliency"] = timed("saliency", lambda: attack_saliency(
            locked, flat, data, test, n_locked, mask))
    if "scan" in attacks:
        res["scan"] = timed("scan", lambda: attack_scan(
            locked, flat, data, test, n_locked, mask, args.scan_samples, args.scan_max,
            args.scan_check))
    if "finetune" in attacks or "distill" in attacks:
        touched = sorted(truth, key=locked.float_names.index) if truth else None
        res["finetune"] = timed("finetune", lambda: attack_finetune(
            locked, data, test, args.epochs, args.seed, touched))
    if "prune" in attacks:
        res["prune"] = timed("prune", lambda: attack_prune(locked, flat, test))
    if "clip" in attacks:
        res["clip"] = timed("clip", lambda: attack_clip(locked, flat, test))
    if "distill" in attacks:
        res["distill"] = timed("distill", lambda: attack_distill(
            locked, data, test, args.epochs, args.seed, res["finetune"]["scratch"]["best"]))
    res["seconds"] = timing
    res["summary"] = summarize(res)
    return res


def summarize(res):
    s = {"locked_accuracy": res["locked_accuracy"]}
    if "saliency" in res:
        best = max(res["saliency"], key=lambda r: r["accuracy"])
        s["best_saliency"] = best
    if "scan" in res:
        s["best_scan"] = max(res["scan"]["rows"], key=lambda r: r["accuracy"])
    if "finetune" in res:
        f = res["finetune"]
        s["finetune_locked_best"] = f["locked"]["best"]
        s["finetune_scratch_best"] = f["scratch"]["best"]
        if "reinit_touched" in f:
            s["finetune_reinit_touched_best"] = f["reinit_touched"]["best"]
    if "prune" in res:
        s["best_prune"] = max(r["accuracy"] for r in res["prune"])
    if "clip" in res:
        s["best_clip"] = max(r["accuracy"] for r in res["clip"])
    if "distill" in res:
        s["best_distill"] = res["distill"]["best"]
    return s


def log(msg):
    print(f"attack_torch: {msg}", file=sys.stderr, flush=True)


def print_summary(res):
    s = res["summary"]
    pct = lambda v: f"{100 * v:.1f} %"  # noqa: E731
    print(f"{res['model']}: N={res['locked_count']} locked of {res['eligible']} eligible; "
          f"locked accuracy {pct(res['locked_accuracy'])} on {res['test_samples']} test samples")
    if "oracle_accuracy" in res:
        print(f"  oracle repair (true positions and values): {pct(res['oracle_accuracy'])}"
              + (f", bit-exact: {res['oracle_bit_exact']}" if "oracle_bit_exact" in res else ""))
    if "best_saliency" in s:
        b = s["best_saliency"]
        print(f"  best saliency repair: {pct(b['accuracy'])} ({b['score']}/{b['reset']}, "
              f"k={b['k']}, locked hit {b['locked_hit']})")
    if "best_scan" in s:
        b = s["best_scan"]
        print(f"  best single-value scan repair: {pct(b['accuracy'])} (k={b['k']}, locked hit "
              f"{b['locked_hit']}; {res['scan']['mode']})")
    if "finetune_locked_best" in s:
        line = (f"  fine-tune best: locked {pct(s['finetune_locked_best'])}, from scratch "
                f"{pct(s['finetune_scratch_best'])}")
        if "finetune_reinit_touched_best" in s:
            line += f", reinit touched {pct(s['finetune_reinit_touched_best'])}"
        print(line)
    for key, label in (("best_prune", "pruning"), ("best_clip", "clipping"),
                       ("best_distill", "distillation")):
        if key in s:
            print(f"  best {label}: {pct(s[key])}")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("locked", metavar="LOCKED.onnx")
    ap.add_argument("--data", required=True, help="attacker samples (.npz with x, y)")
    ap.add_argument("--test", required=True, help="test set (.npz with x, y)")
    ap.add_argument("--key", help="the key, for reporting only")
    ap.add_argument("--original", help="ORIGINAL.onnx, for reporting only")
    ap.add_argument("--locked-count", type=int, default=0, help="N (default: from the key)")
    ap.add_argument("--attacks", default=",".join(ATTACKS),
                    help=f"comma-separated subset of {','.join(ATTACKS)}")
    ap.add_argument("--include-bias", action="store_true",
                    help="biases and BatchNormalization scale/bias are eligible too")
    ap.add_argument("--epochs", type=int, default=20, help="fine-tune/distill epochs (20)")
    ap.add_argument("--train-limit", type=int, default=None, help="use the first N attacker "
                    "samples")
    ap.add_argument("--test-limit", type=int, default=None, help="use the first N test samples")
    ap.add_argument("--scan-samples", type=int, default=128, help="attacker samples per scan "
                    "loss (128)")
    ap.add_argument("--scan-max", type=int, default=100000,
                    help="full scan up to this many eligible values (100000)")
    ap.add_argument("--scan-check", type=int, default=3000,
                    help="exact checks after the first-order screen (3000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared machine, more threads ran slower)")
    ap.add_argument("--json", action="store_true", help="last line of stdout: one JSON object")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)
    try:
        res = run(args)
    except AttackError as e:
        print(f"attack_torch: {e}", file=sys.stderr)
        return 2
    text = json.dumps(res, default=float)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    if args.json:
        print(text)
    else:
        print_summary(res)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
