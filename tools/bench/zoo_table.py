#!/usr/bin/env python3
"""Writes the zoo table (issue #12): every model of tools/zoo/make_zoo.py through onnx-crypt,
as tests/zoo/zoo_models_check.py checks it (tools/zoo/zoo_check.py), one row per model and opset.

Usage:
  zoo_table.py [--cli PATH] [--zoo DIR] [--set ci|full] [--gradients BIN] [--out FILE.md]
               [--follow]

--cli: the onnx-crypt binary (default build/tools/onnx-crypt). --zoo: the zoo folder (default
tools/data/zoo; made or reused with make_zoo.py --ensure). --set: ci (default) or full.
--gradients: the zoo_gradients_check binary (default build/tests/zoo_gradients_check when it
exists); each model's gradients against PyTorch are then checked with ONNX_CRYPT_ZOO_ONLY set to
it, and the column says pass / FAIL (first failure line). --out: default
tools/bench/results/zoo.md.

Columns: model, opset, source, storage, params (float weights), ops (op types used), eval error
(max |onnx-crypt - ONNX Runtime| / max |ONNX Runtime|), gradients vs PyTorch, lock values
(values changed), lock accuracy (sample accuracy before -> after, pseudo-labels), lock seconds
(the lock's own timing), status (ok, or the failing step and its reason). Then the op types
missing from the engine, with the models that need each.
"""
import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "zoo"))
import zoo_check  # noqa: E402


def gradients(binary, zoo, stem, zoo_set):
    env = dict(os.environ, ONNX_CRYPT_ZOO_DIR=zoo, ONNX_CRYPT_ZOO_ONLY=stem,
               ONNX_CRYPT_ZOO=zoo_set)
    p = subprocess.run([binary], capture_output=True, text=True, env=env, cwd=ROOT)
    if p.returncode == 0:
        return "pass"
    # The first failure: its message is the last line before "Google Test trace:".
    lines = p.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.endswith(": Failure"):
            block = []
            for nxt in lines[i + 1:]:
                if nxt.startswith("Google Test trace:") or nxt.endswith(": Failure"):
                    break
                block.append(nxt.strip())
            fails = sum(1 for x in lines if x.endswith(": Failure"))
            return f"FAIL ({fails} failures): " + (block[-1] if block else "")[:200]
    return f"FAIL (exit {p.returncode})"


def table_row(e, args, tmp, have_grads, missing, notes):
    if "skipped" in e:
        return None
    r = zoo_check.check_model(e, args.zoo, args.cli, tmp)
    if "eval_rule" in r:
        notes.append(f"{e['file']}: {r['eval_rule']}")
    print(zoo_check.format_result(r), flush=True)
    grads = "n/a"  # filled in once the zoo is complete (the gradient test locks the folder)
    for op in zoo_check.parse_ops(r["reason"]) if r["status"] == "info" else []:
        missing.setdefault(op, set()).add(e["name"])
    acc = r.get("accuracy")
    return e, [
        e["name"], e["opset"], e["source"], e["storage"],
        f"{r['params']:,}" if r.get("params") else "",
        " ".join(r["ops"]),
        (f"{r['eval_err']:.1e}" + (" †" if "eval_rule" in r else "")) if "eval_err" in r else "",
        grads,
        r.get("lock_values", ""),
        f"{acc[0]:.2f} -> {acc[1]:.2f}" if acc else "",
        f"{r['lock_seconds']:.1f}" if "lock_seconds" in r else "",
        "ok" if r["status"] == "ok" else f"**{r['status']}**: {r['reason']}",
    ]


def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


# ONNX_CRYPT_ZOO_ONLY=X[,X...]: only these model names or file stems (the table says so).
ONLY = [n for n in os.environ.get("ONNX_CRYPT_ZOO_ONLY", "").split(",") if n]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "tools", "onnx-crypt"))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "tools", "data", "zoo"))
    ap.add_argument("--set", choices=["ci", "full"], default="ci")
    ap.add_argument("--gradients", default=os.path.join(ROOT, "build", "tests",
                                                        "zoo_gradients_check"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tools", "bench", "results", "zoo.md"))
    ap.add_argument("--follow", action="store_true",
                    help="do not make the zoo: check each model as a make_zoo.py started "
                         "before this writes it, until its stamp says the zoo is complete")
    args = ap.parse_args(argv)
    if not args.follow:
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "zoo", "make_zoo.py"),
                        "--out", args.zoo, "--set", args.set, "--ensure"], check=True)
    have_grads = os.path.exists(args.gradients)
    rows, missing, done, notes = [], {}, set(), []
    started = time.time()
    stamp = os.path.join(args.zoo, "COMPLETE")
    if args.follow:  # a stamp (and manifest) of an earlier run: wait for make_zoo.py to clear it
        while os.path.exists(stamp) and os.path.getmtime(stamp) < started:
            time.sleep(5)
    with tempfile.TemporaryDirectory() as tmp:
        while True:
            complete = os.path.exists(stamp)
            try:
                manifest = zoo_check.load_manifest(args.zoo)
            except (OSError, ValueError):
                manifest = []
            for e in manifest:
                if e["file"] in done or (args.set == "ci" and e["set"] != "ci"):
                    continue
                if ONLY and e["file"] not in ONLY and e["name"] not in ONLY:
                    continue  # ONNX_CRYPT_ZOO_ONLY, as in the checks
                done.add(e["file"])
                rows.append(table_row(e, args, tmp, have_grads, missing, notes))
            if complete or not args.follow:
                break
            time.sleep(20)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    manifest = zoo_check.load_manifest(args.zoo)
    rows = [x for x in rows if x is not None]
    for e, row in rows:
        if have_grads and e.get("reference"):
            row[7] = gradients(args.gradients, args.zoo, e["file"], args.set)
            print(f"{e['file']}: gradients {row[7]}", flush=True)
    rows = [row for _, row in rows]
    ok = sum(1 for row in rows if row[-1] == "ok" and row[7] in ("pass", "n/a"))
    steps_ok = sum(1 for row in rows if row[-1] == "ok")
    lines = [
        "# Model zoo: onnx-crypt on the models other tools produce",
        "",
        f"Made by `tools/bench/zoo_table.py --set {args.set}` on "
        f"{datetime.date.today().isoformat()} (checkout {commit}, binary `{args.cli}`); "
        "models from `tools/zoo/make_zoo.py` (random init, fixed seed; 16 samples "
        "with the model's own argmax as pseudo-labels, at most 2 per class, picked from 64 "
        "random inputs after centring the final Linear's bias on them). The checks are those of "
        "`tests/zoo/zoo_models_check.py` (`tools/zoo/zoo_check.py`); gradients from "
        "`tests/zoo/zoo_gradients_check.cc` against PyTorch float64 autograd.",
        "",
        f"**{ok} of {len(rows)} rows pass** (status ok and gradients pass; {steps_ok} pass "
        "info/eval/lock/unlock/storage)." + (
            "" if args.set == "full" or not any(e["set"] != "ci" for e in manifest) else
            " Set `ci`: " + ", ".join(sorted({e['name'] for e in manifest
                                               if e['set'] != 'ci'})) +
            " are in the full set only (`ONNX_CRYPT_ZOO=full`, `--set full`)."),
        "",
        "| model | opset | source | storage | params | ops | eval err vs ORT | gradients vs "
        "PyTorch | lock values | lock accuracy | lock s | status |",
        "|---|---|---|---|---:|---|---:|---|---:|---|---:|---|",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    if notes:
        lines += ["", "† eval checked against the float64 forward (the model's own float32 noise is "
                  "at least a quarter of the 1e-4 criterion, so two correct float32 runtimes "
                  "differ by more; onnx-crypt must be within 2x of ONNX Runtime's distance from "
                  "float64; `tools/zoo/zoo_check.py`):", ""]
        lines += [f"- {n}" for n in notes]
    lines += ["", "## Operators the engine lacks, and the models that need them", ""]
    if missing:
        lines += [f"- {op}: {', '.join(sorted(ms))}" for op, ms in sorted(missing.items())]
    else:
        lines += ["none"]
    lines.append("")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"zoo_table: {ok} of {len(rows)} rows pass ({steps_ok} without the gradients); "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
