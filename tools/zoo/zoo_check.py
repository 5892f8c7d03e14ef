"""Runs one zoo model (tools/zoo/make_zoo.py) through onnx-crypt, step by step, against the
oracles; shared by tests/zoo/zoo_models_check.py and tools/bench/zoo_table.py.

Steps, in order; the first that fails ends the check and names the reason:
  made     make_zoo.py exported the model (else its recorded error, e.g. the exporter refused it)
  info     `onnx-crypt info --json` exits 0 and says the model can be locked (else the
           unsupported nodes, summarized by op type and opset, or its own reason)
  eval     `onnx-crypt eval --dump-outputs` on the model's data agrees with ONNX Runtime:
           same shape, max |diff| <= 1e-4 * max |ORT output|; for a model whose own float32
           noise (PyTorch float32 vs float64) is >= 0.25e-4 of max |out| (a deep random-init
           net in its chaotic regime: inception_v3's error doubles per block), two correct float32
           runtimes differ by more than that, and the oracle is the float64 forward instead:
           onnx-crypt no farther from it than 2x ONNX Runtime (recorded as eval_rule)
  lock     `onnx-crypt lock --fast --json` (the fast loop: both loops share the loader and the
           engine) with the pseudo-labels y exits 0 and stops on its target
           (stop_reason "target", sample accuracy after <= target accuracy)
  unlock   `onnx-crypt verify` exits 0 and `onnx-crypt unlock` gives back the original bytes
  storage  the locked model keeps the original's storage form: the same initializer names and
           Constant nodes, the changed tensors are all of the model's storage kind (Constant-node
           weights stay Constant nodes, initializers stay initializers), and the number of changed
           values equals the lock's locked_values
When `info` says a model cannot be locked, the check also runs `lock` on it and records whether
it was refused as the issue asks (exit 1, nothing written) in `refusal`.
"""

import json
import os
import re
import subprocess
import time

import numpy as np
import onnx
import onnx.numpy_helper as onh

EVAL_RTOL = 1e-4
# A model whose own float32 noise (PyTorch float32 against float64, over max |out|) is at least
# this share of EVAL_RTOL is checked against the float64 forward instead (see check_model).
NOISE_FLOOR_SHARE = 0.25
STEPS = ("made", "info", "eval", "lock", "unlock", "storage")


def load_manifest(zoo_dir):
    with open(os.path.join(zoo_dir, "manifest.json")) as f:
        return json.load(f)


def ort_outputs(model_path, data):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    feeds = {i.name: data[i.name] for i in sess.get_inputs()}
    return sess.run(None, feeds)[0]


def weight_tensors(model):
    """name -> (kind, array) of every float initializer and float Constant-node value."""
    out = {}
    for init in model.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT:
            out[init.name] = ("initializer", onh.to_array(init))
    for node in model.graph.node:
        if node.op_type != "Constant":
            continue
        for a in node.attribute:
            if a.name == "value" and a.t.data_type == onnx.TensorProto.FLOAT:
                out[node.output[0]] = ("constant", onh.to_array(a.t))
            elif a.name == "value_floats":
                out[node.output[0]] = ("constant", np.array(a.floats, dtype=np.float32))
    return out


def summarize_unsupported(nodes):
    """["Slice-17 node '/a'", ...] -> "Slice-17 x2, Where-17 x1" (sorted by op)."""
    counts = {}
    for n in nodes:
        op = n.split(" ", 1)[0]
        counts[op] = counts.get(op, 0) + 1
    return ", ".join(f"{op} x{c}" for op, c in sorted(counts.items()))


def run(cmd, timeout):
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t0
    return p, time.perf_counter() - t0


def last_json(stdout):
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    return None


def first_error(p):
    text = (p.stderr or p.stdout or "").strip().splitlines()
    return text[0] if text else f"exit status {p.returncode}"


DEFAULT_TIMEOUT = int(os.environ.get("ONNX_CRYPT_ZOO_TIMEOUT", "900"))  # seconds per command


def check_model(entry, zoo_dir, cli, tmp, timeout=DEFAULT_TIMEOUT):
    """Returns a dict: file, name, opset, params, ops, status ('ok' or the failing step),
    reason, and whatever was measured on the way (unsupported, eval_err, lock_values,
    lock_seconds, accuracy, refusal)."""
    r = {"file": entry["file"], "name": entry["name"], "opset": entry["opset"],
         "source": entry["source"], "storage": entry["storage"],
         "params": entry.get("params"), "ops": sorted(entry.get("ops", {})),
         "status": "ok", "reason": ""}

    def fail(step, reason):
        r["status"], r["reason"] = step, reason
        return r

    if "error" in entry:
        return fail("made", f"not exported: {entry['error']}")
    model = os.path.join(zoo_dir, entry["file"] + ".onnx")
    data_path = os.path.join(zoo_dir, entry["file"] + ".npz")

    # info
    p, _ = run([cli, "info", model, "--json"], timeout)
    if p is None:
        return fail("info", "info timed out")
    info = last_json(p.stdout) if p.returncode == 0 else None
    if info is None:
        return fail("info", f"info failed: {first_error(p)}")
    r["unsupported"] = info.get("unsupported_nodes", [])
    r["eligible_parameters"] = info.get("eligible_parameters")
    if not info.get("lockable"):
        text, _ = run([cli, "info", model], timeout)  # its "can be locked: no: WHY" line
        why = [line.split(":", 1)[1].strip().removeprefix("no: ")
               for line in (text.stdout if text else "").splitlines()
               if line.startswith("can be locked:")]
        reason = (f"unsupported: {summarize_unsupported(r['unsupported'])}" if r["unsupported"]
                  else (why[0] if why else "not lockable"))
        # The issue: lock on an unsupported model fails before any work, exit 1, nothing written.
        out, key = os.path.join(tmp, "refused.onnx"), os.path.join(tmp, "refused.key")
        q, secs = run([cli, "lock", model, "--data", data_path, "-o", out, "--key", key, "-q"],
                      timeout)
        if q is not None:
            written = os.path.exists(out) or os.path.exists(key)
            r["refusal"] = (f"exit {q.returncode}, {secs:.1f} s, "
                            f"{'files written' if written else 'nothing written'}")
        return fail("info", reason)

    # eval against ONNX Runtime
    data = dict(np.load(data_path))
    dump = os.path.join(tmp, "out.npz")
    p, _ = run([cli, "eval", model, "--data", data_path, "--dump-outputs", dump, "-q"], timeout)
    if p is None:
        return fail("eval", "eval timed out")
    if p.returncode != 0:
        return fail("eval", f"eval failed: {first_error(p)}")
    ours = np.load(dump)["out"]
    want = ort_outputs(model, data)
    if ours.shape != want.shape:
        return fail("eval", f"output shape {ours.shape}, ONNX Runtime {want.shape}")
    err = float(np.abs(ours.astype(np.float64) - want).max())
    scale = float(np.abs(want).max())
    r["eval_err"] = err / scale if scale > 0 else err
    r["eval_abs_err"] = err
    if not err <= EVAL_RTOL * scale:
        why = f"max |diff| {err:.3g} > {EVAL_RTOL:g} * max |out| {scale:.3g}"
        ref_path = os.path.join(zoo_dir, entry["file"] + ".ref.npz")
        ref = np.load(ref_path)["__out__"] if os.path.exists(ref_path) else None
        if ref is None or ref.shape != want.shape:
            return fail("eval", why)
        # Which float32 result is nearer the float64 truth? Where the model's own float32 noise
        # (PyTorch float32 against float64, make_zoo.py's f32_noise) is itself near 1e-4 of max
        # |out|, two correct float32 runtimes cannot agree to 1e-4; then the float64 forward is
        # the oracle: onnx-crypt must be as near it as ONNX Runtime, within 2x.
        ours_err = float(np.abs(ours - ref).max())
        ort_err = float(np.abs(want - ref).max())
        why += f" (against PyTorch float64: onnx-crypt {ours_err:.3g}, ONNX Runtime {ort_err:.3g})"
        noise = entry.get("f32_noise", 0.0)
        r["eval_f64_ratio"] = ours_err / ort_err if ort_err > 0 else float("inf")
        if noise < NOISE_FLOOR_SHARE * EVAL_RTOL or not ours_err <= 2 * ort_err:
            return fail("eval", why + f"; the model's float32 noise {noise:.2g} of max |out|")
        r["eval_rule"] = (f"noise floor: PyTorch float32 is {noise:.2g} of max |out| from float64; "
                          f"onnx-crypt {ours_err:.3g} and ONNX Runtime {ort_err:.3g} from float64")

    # lock with the pseudo-labels
    locked, key = os.path.join(tmp, "locked.onnx"), os.path.join(tmp, "model.key")
    # The fast loop: this check is about what the loader and the engine accept from each
    # exporter, which both loops share; the hardened default's robustness is measured on the
    # bundled models (tools/bench/results/robustness/).
    p, secs = run([cli, "lock", model, "--data", data_path, "-o", locked, "--key", key,
                   "--fast", "--json", "-q"], timeout)
    if p is None:
        return fail("lock", f"lock timed out after {timeout} s")
    if p.returncode != 0:
        return fail("lock", f"lock failed: {first_error(p)}")
    summary = last_json(p.stdout)
    r["lock_values"] = summary["locked_values"]
    r["lock_seconds"] = summary.get("seconds", secs)
    r["accuracy"] = (summary["sample_accuracy_before"], summary["sample_accuracy_after"])
    r["target"] = summary["target_accuracy"]
    if summary["stop_reason"] != "target" or \
            summary["sample_accuracy_after"] > summary["target_accuracy"]:
        return fail("lock", f"lock stopped on {summary['stop_reason']} at sample accuracy "
                            f"{summary['sample_accuracy_after']:.3f} (target "
                            f"{summary['target_accuracy']:.3f})")

    # unlock bit-exact
    p, _ = run([cli, "verify", model, locked, key], timeout)
    if p is None or p.returncode != 0:
        return fail("unlock", f"verify failed: {first_error(p) if p else 'timed out'}")
    unlocked = os.path.join(tmp, "unlocked.onnx")
    p, _ = run([cli, "unlock", locked, "--key", key, "-o", unlocked], timeout)
    if p is None or p.returncode != 0:
        return fail("unlock", f"unlock failed: {first_error(p) if p else 'timed out'}")
    with open(model, "rb") as a, open(unlocked, "rb") as b:
        if a.read() != b.read():
            return fail("unlock", "unlocked bytes differ from the original")

    # storage form
    orig_m, lock_m = onnx.load(model), onnx.load(locked)
    orig_w, lock_w = weight_tensors(orig_m), weight_tensors(lock_m)
    if [i.name for i in orig_m.graph.initializer] != [i.name for i in lock_m.graph.initializer]:
        return fail("storage", "the locked model's initializers differ from the original's")
    if [(n.op_type, list(n.output)) for n in orig_m.graph.node] != \
            [(n.op_type, list(n.output)) for n in lock_m.graph.node]:
        return fail("storage", "the locked model's nodes differ from the original's")
    changed, kinds = 0, set()
    for name, (kind, arr) in orig_w.items():
        lkind, larr = lock_w[name]
        if lkind != kind or larr.shape != arr.shape:
            return fail("storage", f"{name}: {kind} {arr.shape} became {lkind} {larr.shape}")
        n = int((arr.view(np.uint32) != larr.view(np.uint32)).sum())
        if n:
            changed += n
            kinds.add(kind)
    if kinds - {entry["storage"]}:
        return fail("storage", f"values changed in {sorted(kinds)} tensors of a model stored "
                               f"as {entry['storage']}")
    if changed != r["lock_values"]:
        return fail("storage", f"{changed} values differ, the lock reports {r['lock_values']}")
    return r


def format_result(r):
    s = f"{r['file']}: {r['status'].upper() if r['status'] != 'ok' else 'ok'}"
    if r["status"] != "ok":
        s += f" ({r['status']}: {r['reason']})"
    else:
        s += (f" eval err {r['eval_err']:.1e}, {r['lock_values']} values locked in "
              f"{r['lock_seconds']:.1f} s")
    return s


def parse_ops(reason):
    return re.findall(r"([A-Za-z]+)-\d+ x\d+", reason)
