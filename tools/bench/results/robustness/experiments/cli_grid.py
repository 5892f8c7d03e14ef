#!/usr/bin/env python3
"""The quick yardstick of lock_experiments.md's 2026-12-08 section: lock MODEL (1 thread; the
OC_* switches of an experiment patch pass through the environment), then with the CLI's attacks
on the first 2,000 test images: the saliency-repair grid (|g*w| and |g|, reset to 0 and to the
median, k = 1, 2, 5, 10 x N, gradients on fmnist_train1pct), fine-tuning on fmnist_train1pct from
the locked model, from scratch and from the locked model with its touched tensors re-initialized
(Adam 1e-3 and SGD 1e-2, 1e-3, each 5 and 20 epochs), and the outlier search. Prints one line
and appends a JSON line to OUT/results.jsonl. EXP_REUSE=1 attacks OUT/TAG's earlier lock again.

Usage: cli_grid.py CLI MODEL TAG [lock flags...]   (OUT: $EXP_OUT, default /tmp/exp)"""
import json, os, subprocess, sys, time
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 5))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
from robustness_report import key_info
D = os.path.join(ROOT, "tools", "data")
BASE = os.environ.get("EXP_OUT", "/tmp/exp")
cli, model, tag, *flags = sys.argv[1:]
out = os.path.join(BASE, tag); os.makedirs(out, exist_ok=True)
lk, kk = f"{out}/l.onnx", f"{out}/k.key"
def rj(a):
    p = subprocess.run(a, capture_output=True, text=True)
    if p.returncode: sys.exit(p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])
t = time.time()
if os.environ.get("EXP_REUSE") and os.path.exists(kk):
    _t, _ = key_info(cli, kk)
    lock = {"locked_values": sum(_t.values()), "stop_reason": "?", "seconds": None,
            "loss_after": None}
else:
    lock = rj([cli, "lock", model, "--data", f"{D}/fmnist_owner256.npz", "-o", lk, "--key", kk,
               "--json", "--threads", "1", *flags])
touched, _ = key_info(cli, kk)
com = ["--eval-data", f"{D}/fmnist_test.npz", "--eval-limit", "2000", "--threads", "1", "--json"]
rep = []
for s in ("gw", "g"):
    for r in ("zero", "median"):
        for m in (1, 2, 5, 10):
            d = rj([cli, "attack", "repair", lk, "--data", f"{D}/fmnist_train1pct.npz", "--k",
                    str(m * lock["locked_values"]), "--score", s, "--reset", r] + com)
            rep.append((d["accuracy"], s, r, m))
ft = {}
for o, lr, ep in (("adam", 1e-3, 5), ("sgd", 1e-2, 5), ("sgd", 1e-3, 5), ("adam", 1e-3, 20),
                  ("sgd", 1e-2, 20), ("sgd", 1e-3, 20)):
    for start, extra in (("locked", []), ("scratch", ["--from-scratch"]),
                         ("reinit", ["--reinit", ",".join(touched)])):
        d = rj([cli, "attack", "finetune", lk, "--data", f"{D}/fmnist_train1pct.npz", "--optimizer", o,
                "--lr", str(lr), "--epochs", str(ep)] + extra + com)
        ft.setdefault(start, []).append(d["accuracy"])
outl = rj([cli, "attack", "outliers", lk, "--key", kk] + com)
res = {"tag": tag, "flags": flags, "env": {k: v for k, v in os.environ.items() if k.startswith("OC_")},
       "values": lock["locked_values"], "stop": lock["stop_reason"], "lock_s": lock["seconds"],
       "loss": lock["loss_after"], "touched": touched,
       "best_repair": max(rep), "ft": ft, "ft_best": {k: max(v) for k, v in ft.items()},
       "outliers": outl["any_top_0_1"], "wall": time.time() - t}
b = res["ft_best"]
print(f"{tag}: {res['values']} values ({res['stop']}, {res['lock_s']} s, loss {res['loss']}) "
      f"touched {touched}; best repair {max(rep)}; ft locked/reinit/scratch {b['locked']:.3f} / "
      f"{b['reinit']:.3f} / {b['scratch']:.3f} (gap {100*(b['locked']-b['reinit']):+.1f}); outliers {res['outliers']}")
with open(os.path.join(BASE, "results.jsonl"), "a") as f:
    f.write(json.dumps(res) + "\n")
