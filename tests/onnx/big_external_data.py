#!/usr/bin/env python3
"""The large external-data test (issue #12): lock and unlock a model over 2 GB whose weights live
in ONNX external data, with peak memory below the model's size + 2 GB.

Not a *_test.py file, so ctest does not run it: it writes three copies of a ~2.45 GB model
(original, locked, unlocked) and takes minutes on 2 cores. tools/test.sh runs it when the disk
has room (see NEEDED_FREE_BYTES) and then requires it to pass; otherwise it says it was skipped.

What it checks, with the model generated at test time by tools/make_big_model.py in a temporary
folder (deleted afterwards):
  1. `onnx-crypt lock` succeeds, reaches its target accuracy, and its peak RSS (getrusage of the
     child, via os.wait4) is below weights + 2 GB;
  2. the locked model keeps its weights external, and its data file differs from the input's
     exactly at the bytes of the values the key lists (tensor offsets from the generator), with
     the key's locked bits there;
  3. ONNX Runtime loads the locked model with its external data and computes the same logits as
     `onnx-crypt eval` on it (max |diff| <= 1e-4 * max |logit|); its peak RSS is reported;
  4. `onnx-crypt unlock` restores the model and its data file bit for bit, with peak RSS below
     weights + 2 GB.
Prints one summary line "[big-external] ..." with the figures.

Environment: ONNX_CRYPT_CLI (the onnx-crypt binary; default build/tools/onnx-crypt),
ONNX_CRYPT_BIG_TMP (where the temporary folder goes; default the build folder),
ONNX_CRYPT_BIG_LAYERS (hidden layers, default 9: 2.45e9 bytes of weights).
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt"))
TMP_BASE = os.environ.get("ONNX_CRYPT_BIG_TMP", os.path.join(ROOT, "build"))
LAYERS = int(os.environ.get("ONNX_CRYPT_BIG_LAYERS", "9"))
# Three copies of the weights (original, locked, unlocked: 3 x 2.45 GB) plus room for the
# temporaries of an atomic write and the rest of the build: 8 GiB.
NEEDED_FREE_BYTES = 8 << 30
HEADROOM = 2_000_000_000  # "model size + 2 GB"
CHUNK = 64 << 20


def run_measured(cmd):
    """Runs cmd; returns (returncode, stdout, stderr, peak RSS in bytes, seconds)."""
    t0 = time.monotonic()
    out_f = tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    p = subprocess.Popen(cmd, stdout=out_f, stderr=err_f)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - t0
    out_f.seek(0)
    err_f.seek(0)
    return (p.returncode, out_f.read().decode(), err_f.read().decode(), usage.ru_maxrss * 1024,
            seconds)


def key_values(key_path):
    """{(tensor, index): (original float bits, locked float bits)} from `onnx-crypt key --values`."""
    text = subprocess.run([CLI, "key", key_path, "--values"], check=True, capture_output=True,
                          text=True).stdout
    values = {}
    for m in re.finditer(r"^\s+(\S+)\[(\d+)\]: (\S+) -> (\S+) \(round \d+\)$", text, re.M):
        bits = lambda s: struct.unpack("<I", struct.pack("<f", float(s)))[0]
        values[(m.group(1), int(m.group(2)))] = (bits(m.group(3)), bits(m.group(4)))
    return values


def differing_bytes(a_path, b_path):
    """Sorted byte offsets where two files of equal size differ."""
    assert os.path.getsize(a_path) == os.path.getsize(b_path), (a_path, b_path)
    offsets = []
    with open(a_path, "rb") as fa, open(b_path, "rb") as fb:
        at = 0
        while True:
            a = fa.read(CHUNK)
            b = fb.read(CHUNK)
            if not a:
                break
            if a != b:
                diff = np.nonzero(np.frombuffer(a, np.uint8) != np.frombuffer(b, np.uint8))[0]
                offsets.extend(int(at + d) for d in diff)
            at += len(a)
    return offsets


def ort_logits(model_path, data_path, out_path):
    """Child process: ONNX Runtime on the locked model; writes its logits."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    x = np.load(data_path)["x"]
    np.save(out_path, sess.run(None, {"x": x})[0])


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--ort":
        ort_logits(sys.argv[2], sys.argv[3], sys.argv[3] + ".ort.npy")
        return 0
    free = shutil.disk_usage(TMP_BASE).free
    if free < NEEDED_FREE_BYTES:
        print(f"[big-external] skipped: {free / 2**30:.1f} GiB free in {TMP_BASE}, needs "
              f"{NEEDED_FREE_BYTES / 2**30:.0f} GiB")
        return 0
    work = tempfile.mkdtemp(prefix="oc_big_external_", dir=TMP_BASE)
    try:
        return check(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check(work):
    t0 = time.monotonic()
    src = os.path.join(work, "original")
    gen = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_big_model.py"), src,
                          "--layers", str(LAYERS)], check=True, capture_output=True, text=True)
    info = json.loads(gen.stdout.strip().splitlines()[-1])
    weights = info["weights_bytes"]
    gen_s = time.monotonic() - t0
    limit = weights + HEADROOM

    # 1. Lock, measured.
    locked_dir = os.path.join(work, "locked")
    os.makedirs(locked_dir)
    locked, key = os.path.join(locked_dir, "big.onnx"), os.path.join(work, "big.key")
    rc, out, err, lock_rss, lock_s = run_measured(
        [CLI, "lock", info["model"], "--data", info["data"], "-o", locked, "--key", key,
         "--fast", "--target-accuracy", "0.9", "--max-values", "32", "--json", "--quiet"])
    assert rc == 0, f"lock failed ({rc}):\n{out}\n{err}"
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["stop_reason"] == "target", summary
    assert summary["sample_accuracy_after"] <= summary["target_accuracy"], summary
    assert lock_rss < limit, (f"lock peak RSS {lock_rss / 1e9:.2f} GB is not below weights + 2 GB "
                              f"= {limit / 1e9:.2f} GB")

    # 2. External data stays external, and only the key's values changed, to the key's bits.
    locked_weights = os.path.join(locked_dir, "weights.bin")
    assert os.path.getsize(locked) < 1 << 20, "the locked .onnx should hold no weights"
    values = key_values(key)
    assert values and len(values) == summary["locked_values"], (values, summary)
    expected = set()
    with open(locked_weights, "rb") as f:
        for (tensor, index), (orig_bits, locked_bits) in values.items():
            offset = info["tensors"][tensor][0] + 4 * index
            f.seek(offset)
            assert struct.unpack("<I", f.read(4))[0] == locked_bits, (tensor, index)
            for byte in range(4):
                if (orig_bits >> (8 * byte)) & 255 != (locked_bits >> (8 * byte)) & 255:
                    expected.add(offset + byte)
    changed = differing_bytes(info["weights"], locked_weights)
    assert set(changed) == expected, (
        f"{len(changed)} bytes differ, {len(expected)} expected from the key's values")

    # 3. ONNX Runtime reads the locked model's external data as we do.
    dump = os.path.join(work, "eval.npz")
    subprocess.run([CLI, "eval", locked, "--data", info["data"], "--dump-outputs", dump,
                    "--quiet"], check=True, capture_output=True)
    ours = np.load(dump)["out"]
    data_copy = os.path.join(work, "owner.npz")
    shutil.copy(info["data"], data_copy)
    rc, out, err, ort_rss, ort_s = run_measured(
        [sys.executable, os.path.abspath(__file__), "--ort", locked, data_copy])
    assert rc == 0, f"ONNX Runtime failed on the locked model:\n{err}"
    theirs = np.load(data_copy + ".ort.npy")
    scale = float(np.max(np.abs(theirs)))
    assert np.max(np.abs(ours - theirs)) <= 1e-4 * scale, float(np.max(np.abs(ours - theirs)))

    # 4. Unlock, measured, bit for bit.
    unlocked_dir = os.path.join(work, "unlocked")
    os.makedirs(unlocked_dir)
    unlocked = os.path.join(unlocked_dir, "big.onnx")
    rc, out, err, unlock_rss, unlock_s = run_measured(
        [CLI, "unlock", locked, "--key", key, "-o", unlocked])
    assert rc == 0, f"unlock failed ({rc}):\n{out}\n{err}"
    assert unlock_rss < limit, f"unlock peak RSS {unlock_rss / 1e9:.2f} GB >= {limit / 1e9:.2f} GB"
    assert differing_bytes(info["weights"], os.path.join(unlocked_dir, "weights.bin")) == []
    with open(info["model"], "rb") as a, open(unlocked, "rb") as b:
        assert a.read() == b.read(), "the unlocked .onnx differs from the original"

    print(f"[big-external] passed: weights {weights / 1e9:.2f} GB; lock peak RSS "
          f"{lock_rss / 1e9:.2f} GB (limit {limit / 1e9:.2f}), {lock_s:.0f} s, "
          f"{summary['locked_values']} values; unlock peak RSS {unlock_rss / 1e9:.2f} GB, "
          f"{unlock_s:.0f} s; ONNX Runtime load+run peak RSS {ort_rss / 1e9:.2f} GB, {ort_s:.0f} s;"
          f" generation {gen_s:.0f} s; total {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
