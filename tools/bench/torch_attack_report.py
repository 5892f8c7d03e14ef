#!/usr/bin/env python3
"""Torch attack report: locks bundled models with `onnx-crypt lock` (or takes given locked models
and keys), attacks each with tools/attack_torch.py (PyTorch, independent of onnx-crypt's engine)
and writes a Markdown report with every number beside the targets of issue #14:

  best saliency repair (k <= 10N)      <= chance + 10 points
  fine-tuning the locked model (best)  <= "re-initialize the touched tensors, fine-tune" + 2 points
  best pruning, best clipping          <= chance + 5 points

Usage:
  torch_attack_report.py [--models lenet5 bn_cnn resnet_small] [--lock-args "--harden ..."]
                         [--locked LOCKED.onnx KEY]... [--cli build/tools/onnx-crypt]
                         [--out tools/bench/results/robustness] [--quick]
Locks with `onnx-crypt lock MODEL --data tools/data/fmnist_owner256.npz` (the default lock, as
tools/bench/robustness_report.py does) plus --lock-args; --locked attacks a given locked model
instead (its name is the file name; the original is not needed). The attacker holds
fmnist_train1pct.npz (600 labelled); accuracy on fmnist_test.npz (all 10,000 for LeNet-5, the
first 2,000 for the larger models, fewer epochs for them: 2 shared CPU cores). --quick: 1,000 test
images, 3 epochs (a smoke run, not a measurement). Writes OUT/torch_attacks.md and
OUT/torch_attacks.json (every raw result).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(ROOT, "tools", "data")
OWNER = os.path.join(DATA, "fmnist_owner256.npz")
TRAIN = os.path.join(DATA, "fmnist_train1pct.npz")
TEST = os.path.join(DATA, "fmnist_test.npz")
ATTACK = os.path.join(ROOT, "tools", "attack_torch.py")

# Per-model limits on a 2-core machine: (test images, epochs, scan samples).
LIMITS = {"lenet5": (None, 20, 128)}
DEFAULT_LIMITS = (2000, 10, 64)
SCORE_LABEL = {"gw": "\\|g·w\\|", "g": "\\|g\\|", "w": "\\|w\\|", "z": "z-score (tensor)",
               "rowz": "robust z (row)"}
TARGET_REPAIR, TARGET_FT, TARGET_PRUNE = 0.10, 0.02, 0.05
NOTES = """## How each number is made (tools/attack_torch.py)

- **Eligible values**: the weights of Conv/ConvTranspose/Gemm/MatMul (what `onnx-crypt lock`
  perturbs without `--include-bias`). Saliency, scan, pruning and clipping act on them only.
- **Saliency repair**: one gradient of the mean cross-entropy over all 600 attacker samples at
  the locked weights; the top k of a score over all eligible values (ties by position) are reset
  together; "hit" = how many of the k are truly locked (from the key, for reporting only).
- **Single-value scan**: each eligible value set to 0 alone, the loss on the first S attacker
  samples re-computed exactly (only the nodes from the tensor's first consumer on re-run); the k
  with the largest loss drop are reset to 0 together. "full" = every nonzero value checked;
  otherwise a first-order screen (drop ≈ g·w) picks the values checked exactly.
- **Fine-tuning**: all learnable tensors (BatchNormalization running statistics frozen), batch
  32, the epochs shown, the final model evaluated (no early stopping). Starts: the locked model;
  from scratch (every learnable tensor re-initialized with PyTorch's default U(±1/√fan_in),
  BatchNormalization scale 1, bias 0, mean 0, var 1); reinit-touched (only the tensors that
  hold a locked value re-initialized, their biases and every other tensor kept). Each start's
  accuracy is the best over the same grid, chosen on the test set, which favours the attacker
  equally for every start.
- **Distillation**: a from-scratch copy trained on the attacker inputs with the locked model's
  output probabilities (softmax of logits / temperature) as targets, over the same grid.
- **Cross-check**: the |g·w| and |g| repairs re-run by `onnx-crypt attack repair` on the same
  locked file, data and test images; agreement means the engine and PyTorch see the same model.
"""


def pct(v):
    return "—" if v is None else f"{100 * v:.1f} %"


def lock(cli, model, tmp, lock_args):
    name = os.path.splitext(os.path.basename(model))[0]
    out, key = os.path.join(tmp, f"{name}.locked.onnx"), os.path.join(tmp, f"{name}.key")
    args = [cli, "lock", model, "--data", OWNER, "-o", out, "--key", key, "--json", "--quiet",
            *lock_args]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{p.stderr}")
    return out, key, json.loads(p.stdout.strip().splitlines()[-1])


def attack(name, locked, key, quick, tmp):
    test_limit, epochs, scan = (1000, 3, 32) if quick else LIMITS.get(name, DEFAULT_LIMITS)
    out = os.path.join(tmp, f"{name}.attack.json")
    args = [sys.executable, ATTACK, locked, "--data", TRAIN, "--test", TEST, "--key", key,
            "--epochs", str(epochs), "--scan-samples", str(scan), "--out", out]
    if test_limit:
        args += ["--test-limit", str(test_limit)]
    t = time.time()
    p = subprocess.run(args, capture_output=True, text=True)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}")
    with open(out) as f:
        res = json.load(f)
    res["wall_s"] = round(time.time() - t, 1)
    shown = {locked: f"{name}.locked.onnx", key: f"{name}.key"}
    res["command"] = " ".join(shlex.quote(shown.get(a, os.path.relpath(a, ROOT)
                                                    if a.startswith(ROOT) else a))
                              for a in args[1:-2])
    return res


def cross_check(cli, name, locked, key, res):
    """The same |g*w| and |g| resets (to 0, to the median) by `onnx-crypt attack repair` on
    the same locked model, data and test images: does the engine see what PyTorch sees?"""
    rows = []
    ks = sorted({r["k"] for r in res["saliency"]})
    for score in ("gw", "g"):
        for reset in ("zero", "median"):
            for k in ks:
                args = [cli, "attack", "repair", locked, "--eval-data", TEST, "--data", TRAIN,
                        "--k", str(k), "--score", score, "--reset", reset, "--key", key,
                        "--json", "--quiet", "--threads", "1"]
                if res["test_samples"] < 10000:
                    args += ["--eval-limit", str(res["test_samples"])]
                p = subprocess.run(args, capture_output=True, text=True)
                if p.returncode != 0:
                    raise SystemExit(f"failed: {' '.join(args)}\n{p.stderr}")
                d = json.loads(p.stdout.strip().splitlines()[-1])
                t = next(r for r in res["saliency"]
                         if (r["score"], r["reset"], r["k"]) == (score, reset, k))
                rows.append({"score": score, "reset": reset, "k": k,
                             "engine": d["accuracy"], "engine_hit": d["locked_reset"],
                             "torch": t["accuracy"], "torch_hit": t["locked_hit"]})
    print(f"cross-check {name}: max |engine - torch| "
          f"{max(abs(r['engine'] - r['torch']) for r in rows):.4f}", file=sys.stderr)
    return rows


def verdict(ok):
    return "yes" if ok else "**no**"


def model_section(name, res, lock_info):
    s, chance = res["summary"], res["chance"]
    lines = [f"## {name}", ""]
    lock_line = (f"Locked values N = {res['locked_count']} of {res['eligible']:,} eligible "
                 f"({', '.join(f'{t}: {c}' for t, c in res['truth']['tensors'].items())}); ")
    if lock_info:
        lock_line += (f"owner-sample accuracy {pct(lock_info['sample_accuracy_before'])} → "
                      f"{pct(lock_info['sample_accuracy_after'])} (stop: "
                      f"{lock_info['stop_reason']}); ")
    lines += [lock_line + f"test images: {res['test_samples']:,}; attacker samples: "
              f"{res['attacker_samples']}; wall time of the attacks {res['wall_s']} s "
              f"({', '.join(f'{k} {v} s' for k, v in res['seconds'].items())}).", ""]
    lines += [f"Locked accuracy **{pct(res['locked_accuracy'])}**; oracle repair (true "
              f"positions and values) {pct(res.get('oracle_accuracy'))}.", ""]
    # Targets
    best = s["best_saliency"]
    rows = [("best saliency repair (k ≤ 10N)", pct(best["accuracy"]) +
             f" ({best['score']}/{best['reset']}, k={best['k']}, {best['locked_hit']} locked hit)",
             f"≤ {pct(chance + TARGET_REPAIR)}", best["accuracy"] <= chance + TARGET_REPAIR)]
    if "best_scan" in s:
        b = s["best_scan"]
        rows.append(("best single-value scan repair (k ≤ 10N)", pct(b["accuracy"]) +
                     f" (k={b['k']}, {b['locked_hit']} locked hit)",
                     f"≤ {pct(chance + TARGET_REPAIR)}", b["accuracy"] <= chance + TARGET_REPAIR))
    if "finetune_reinit_touched_best" in s:
        ft, ri = s["finetune_locked_best"], s["finetune_reinit_touched_best"]
        rows.append(("fine-tune locked (best of grid) vs reinit-touched (best of grid)",
                     f"{pct(ft)} vs {pct(ri)} ({100 * (ft - ri):+.1f} points)",
                     "≤ +2.0 points", ft <= ri + TARGET_FT))
    for key, label in (("best_prune", "best pruning (10–90 %)"),
                       ("best_clip", "best clipping (mean ± c·sd)")):
        if key in s:
            rows.append((label, pct(s[key]), f"≤ {pct(chance + TARGET_PRUNE)}",
                         s[key] <= chance + TARGET_PRUNE))
    lines += ["| target (issue #14) | measured | bound | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {verdict(d)} |" for a, b, c, d in rows]
    lines += [""]
    # Saliency table
    ks = sorted({r["k"] for r in res["saliency"]})
    lines += ["### Saliency repair (reset the top k, gradients on the attacker's samples)", "",
              "| score / reset | " + " | ".join(f"k={k}" for k in ks) + " |",
              "|---|" + "---:|" * len(ks)]
    for score in SCORE_LABEL:
        for reset in ("zero", "median", "rowmean"):
            cells = []
            for k in ks:
                r = next((r for r in res["saliency"] if (r["score"], r["reset"], r["k"]) ==
                          (score, reset, k)), None)
                cells.append("" if r is None else
                             f"{pct(r['accuracy'])} ({r['locked_hit']} hit)")
            lines.append(f"| {SCORE_LABEL[score]} / {reset} | " + " | ".join(cells) + " |")
    lines += [""]
    if "scan" in res:
        sc = res["scan"]
        lines += [f"### Single-value reset scan ({sc['mode']}; {sc['checked']:,} values "
                  f"checked on {sc['samples']} attacker samples, base loss "
                  f"{sc['base_loss']:.3f}, {sc['seconds']} s)", "",
                  "| k | accuracy | locked hit |", "|---:|---:|---:|"]
        lines += [f"| {r['k']} | {pct(r['accuracy'])} | {r['locked_hit']} |"
                  for r in sc["rows"]]
        lines += [""]
    if "finetune" in res:
        f = res["finetune"]
        starts = [("locked", "locked model"), ("scratch", "from scratch"),
                  ("reinit_touched", "reinit touched")]
        starts = [(k, v) for k, v in starts if k in f]
        lines += ["### Fine-tuning on the attacker's samples (batch 32; SGD momentum 0.9)", "",
                  "| optimizer, lr | epochs | " + " | ".join(v for _, v in starts) + " |",
                  "|---|---:|" + "---:|" * len(starts)]
        for i, run in enumerate(f["locked"]["runs"]):
            lines.append(f"| {run['optimizer']}, {run['lr']:g} | {run['epochs']} | " +
                         " | ".join(pct(f[k]["runs"][i]["accuracy"]) for k, _ in starts) + " |")
        lines.append("| **best** | | " + " | ".join(f"**{pct(f[k]['best'])}**"
                                                    for k, _ in starts) + " |")
        head = [f"head start over from scratch {100 * f['head_start_vs_scratch']:+.1f} points"]
        if "head_start_vs_reinit" in f:
            head.append(f"over reinit-touched {100 * f['head_start_vs_reinit']:+.1f} points "
                        f"(re-initialized: {', '.join(f['reinit_touched']['tensors'])})")
        lines += ["", "Head start of the locked model (best vs best): " + "; ".join(head) + ".",
                  ""]
    if "prune" in res:
        lines += ["### Pruning (global magnitude over the eligible weights) and clipping", "",
                  "| pruned fraction | " + " | ".join(f"{r['fraction']:g}" for r in res["prune"])
                  + " |", "|---|" + "---:|" * len(res["prune"]),
                  "| accuracy | " + " | ".join(pct(r["accuracy"]) for r in res["prune"]) + " |",
                  ""]
    if "clip" in res:
        lines += ["| clip to mean ± c·sd, c = | " + " | ".join(f"{r['c']:g}" for r in res["clip"])
                  + " |", "|---|" + "---:|" * len(res["clip"]),
                  "| accuracy | " + " | ".join(pct(r["accuracy"]) for r in res["clip"]) + " |",
                  ""]
    if "distill" in res:
        d = res["distill"]
        lines += ["### Distillation (fresh copy trained on the locked model's soft labels)", "",
                  "| temperature | best over the grid |", "|---|---:|"]
        lines += [f"| {k[1:]} | {pct(v['best'])} |" for k, v in d.items()
                  if k.startswith("T")]
        lines += [f"| (yardstick) copy trained on the same samples' true labels | "
                  f"{pct(d['labelled_copy_best'])} |", ""]
        best_any = max(best["accuracy"], s.get("best_scan", {}).get("accuracy", 0),
                       s.get("finetune_locked_best", 0), d["best"])
        gap = 100 * (best_any - d["labelled_copy_best"])
        lines += [f"GroupCover's yardstick: the attacker's best ({pct(best_any)}) against a copy "
                  f"trained from the same {res['attacker_samples']} labelled samples "
                  f"({pct(d['labelled_copy_best'])}): {gap:+.1f} points.", ""]
    lines += [f"Command (from the repository root; `{name}.locked.onnx` and `{name}.key` as "
              f"written by the lock above): `{res['command']}`", ""]
    return lines


def write_report(args, argv, results, t0, pending):
    cmd = "tools/bench/torch_attack_report.py " + " ".join(shlex.quote(a) for a in argv)
    lines = ["# Attacks in PyTorch on onnx-crypt locks (independent of the engine)", "",
             f"Command: `{cmd.strip()}` ({time.time() - t0:.0f} s, 2 shared CPU cores, "
             f"torch 1 thread; onnx-crypt: `{args.cli}`)."
             + (f" Still to run: {', '.join(pending)}." if pending else ""),
             "",
             "Every attack runs in PyTorch on `tools/onnx_torch.py`'s OnnxModule (checked "
             "against ONNX Runtime by tests/attack/torch_attack_test.py), never on onnx-crypt's "
             "engine. Locks: `onnx-crypt lock MODEL --data tools/data/fmnist_owner256.npz` "
             f"{args.lock_args or '(the default lock)'}"
             + (" (given locked models)" if args.locked else "") + ". Attacker: "
             "`fmnist_train1pct.npz` (600 labelled); the key is read only to report which "
             "attacked positions were truly locked, the oracle accuracy and the "
             "reinit-touched baseline. Chance = 10 %. Fine-tuning, from-scratch and "
             "distillation accuracies are the best over the learning-rate grid (tuned per "
             "setting, on the test set: an upper bound on what the attacker could pick). "
             "Raw results: `torch_attacks.json`.", ""]
    lines += ["| model | N | locked | best saliency | best scan | "
              "fine-tune locked / reinit-touched / scratch | best prune | best clip | "
              "best distill | targets met |",
              "|---|---:|---:|---:|---:|---|---:|---:|---:|---|"]
    for r in results:
        a, s = r["attack"], r["attack"]["summary"]
        c = a["chance"]
        met = [s["best_saliency"]["accuracy"] <= c + TARGET_REPAIR,
               s.get("finetune_locked_best", 0) <= s.get("finetune_reinit_touched_best", 1) +
               TARGET_FT,
               s["best_prune"] <= c + TARGET_PRUNE and s["best_clip"] <= c + TARGET_PRUNE]
        lines.append(
            f"| {r['name']} | {a['locked_count']} | {pct(a['locked_accuracy'])} | "
            f"{pct(s['best_saliency']['accuracy'])} | "
            f"{pct(s.get('best_scan', {}).get('accuracy'))} | "
            f"{pct(s.get('finetune_locked_best'))} / "
            f"{pct(s.get('finetune_reinit_touched_best'))} / "
            f"{pct(s.get('finetune_scratch_best'))} | {pct(s['best_prune'])} | "
            f"{pct(s['best_clip'])} | {pct(s.get('best_distill'))} | "
            f"repair {verdict(met[0])}, fine-tune {verdict(met[1])}, prune/clip "
            f"{verdict(met[2])} |")
    lines += ["", NOTES]
    for r in results:
        lines += model_section(r["name"], r["attack"], r["lock"])
        if r.get("cross_check"):
            rows = r["cross_check"]
            worst = max(abs(x["engine"] - x["torch"]) for x in rows)
            same_hits = all(x["engine_hit"] == x["torch_hit"] for x in rows)
            lines += ["### Cross-check: the same repairs by `onnx-crypt attack repair` "
                      "(the engine)", "",
                      f"Largest |engine − PyTorch| accuracy difference: {100 * worst:.2f} "
                      f"points over {len(rows)} runs; locked values hit identical in every run: "
                      f"{'yes' if same_hits else '**no**'}.", "",
                      "| score / reset | k | PyTorch | engine | hit (PyTorch / engine) |",
                      "|---|---:|---:|---:|---|"]
            lines += [f"| {SCORE_LABEL[x['score']]} / {x['reset']} | {x['k']} | "
                      f"{pct(x['torch'])} | {pct(x['engine'])} | {x['torch_hit']} / "
                      f"{x['engine_hit']} |" for x in rows]
            lines += [""]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "torch_attacks.md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(args.out, "torch_attacks.json"), "w") as f:
        json.dump(results, f, indent=1)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", default=["lenet5", "bn_cnn", "resnet_small"],
                    help="bundled models (tools/models/NAME.onnx) to lock and attack")
    ap.add_argument("--locked", nargs=2, action="append", default=[],
                    metavar=("LOCKED.onnx", "KEY"), help="attack this locked model instead")
    ap.add_argument("--lock-args", default="", help="extra `onnx-crypt lock` flags")
    ap.add_argument("--cli", default=os.environ.get(
        "ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt")),
        help="the onnx-crypt binary (default: $ONNX_CRYPT_CLI, else build/tools/onnx-crypt)")
    ap.add_argument("--out", default=os.path.join(ROOT, "tools", "bench", "results",
                                                  "robustness"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--from-json", metavar="JSON",
                    help="only rewrite the md from a torch_attacks.json of an earlier run")
    ap.add_argument("--no-cross-check", action="store_true",
                    help="skip re-running the |g*w|, |g| repairs with `onnx-crypt attack`")
    args = ap.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            results = json.load(f)
        rest = [a for a in argv if a != args.from_json and a != "--from-json"]
        spent = sum(r["attack"]["wall_s"] for r in results)
        write_report(args, rest, results, time.time() - spent, [])
        return 0
    for p in ([] if args.locked and args.no_cross_check else [args.cli]):
        if not os.access(p, os.X_OK):
            raise SystemExit(f"{p}: no onnx-crypt binary there (build it, or pass --cli)")
    for p in (OWNER, TRAIN, TEST):
        if not os.path.isfile(p):
            raise SystemExit(f"{p}: missing (tools/setup.sh makes the data)")
    t0 = time.time()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        if args.locked:
            for locked, key in args.locked:
                name = os.path.basename(locked).split(".")[0]
                jobs.append((name, locked, key, None))
        else:
            for name in args.models:
                model = os.path.join(ROOT, "tools", "models", f"{name}.onnx")
                locked, key, info = lock(args.cli, model, tmp, shlex.split(args.lock_args))
                print(f"locked {name}: {info['locked_values']} values", file=sys.stderr)
                jobs.append((name, locked, key, info))
        for name, locked, key, info in jobs:
            res = attack(name, locked, key, args.quick, tmp)
            check = None if args.no_cross_check else cross_check(args.cli, name, locked, key,
                                                                 res)
            results.append({"name": name, "lock": info, "attack": res, "cross_check": check})
            # Written after every model, so that a long run leaves what it has measured.
            write_report(args, argv, results, t0, [j[0] for j in jobs[len(results):]])
    print(f"wrote {args.out}/torch_attacks.md and torch_attacks.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
