#!/usr/bin/env python3
"""Runs an ONNX model with ONNX Runtime over a .npz data set: the peer for tests and benchmarks.

Usage:
  ort_eval.py MODEL.onnx --data FILE.npz [--threads N] [--batch B] [--limit N] [--json]
              [--dump-outputs OUT.npz]

The .npz holds `x` (float32, fed to the model's first input, batched along axis 0) and optionally
`y` (int64 labels). ONNX Runtime runs on the CPUExecutionProvider with intra_op_num_threads = N
(default 1; 0 lets ONNX Runtime choose) and its default graph optimizations.

Prints accuracy (argmax of the first output along axis 1 against `y`, when `y` is present and the
output is [samples, classes]) and throughput. Timing: one untimed warm-up run on the first batch,
then `seconds` covers the runs over all samples (batches of B, the last one possibly smaller),
input slicing included; samples_per_s = samples / seconds.

--json prints, as the last line, one JSON object:
  {"model", "data", "samples", "batch", "threads", "seconds", "samples_per_s",
   "accuracy" (null without labels), "output_name", "output_shape"}
--dump-outputs writes OUT.npz with `out`: the first output for all samples, float32, concatenated
along axis 0 (written to a temporary name and renamed into place).
Exit status: 0 on success, 1 on a usage, model or data error (message on stderr).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--data", required=True, help=".npz with x (and optionally y)")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    ap.add_argument("--batch", type=int, default=256, help="samples per run (default 256)")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N samples")
    ap.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    ap.add_argument("--dump-outputs", metavar="OUT.npz", help="save the first output as `out`")
    args = ap.parse_args(argv)
    if args.batch <= 0 or args.threads < 0 or (args.limit is not None and args.limit <= 0):
        ap.error("--batch and --limit must be positive, --threads non-negative")

    try:
        data = np.load(args.data)
        x = data["x"]
        y = data["y"] if "y" in data.files else None
    except (OSError, KeyError, ValueError) as e:
        print(f"ort_eval: cannot read x/y from {args.data}: {e}", file=sys.stderr)
        return 1
    if args.limit is not None:
        x = x[:args.limit]
        y = None if y is None else y[:args.limit]
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x)
    if n == 0:
        print(f"ort_eval: {args.data} holds no samples", file=sys.stderr)
        return 1

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    try:
        sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        print(f"ort_eval: cannot load {args.model}: {e}", file=sys.stderr)
        return 1
    in_name = sess.get_inputs()[0].name
    out_name = sess.get_outputs()[0].name

    sess.run([out_name], {in_name: x[:args.batch]})  # warm-up, untimed
    outs = []
    t0 = time.perf_counter()
    for i in range(0, n, args.batch):
        outs.append(sess.run([out_name], {in_name: x[i:i + args.batch]})[0])
    seconds = time.perf_counter() - t0
    out = np.concatenate(outs).astype(np.float32, copy=False)

    accuracy = None
    if y is not None and out.ndim == 2:
        accuracy = float((out.argmax(axis=1) == y).mean())
    rate = n / seconds if seconds > 0 else float("inf")
    acc_text = "n/a (no labels)" if accuracy is None else f"{100 * accuracy:.2f} %"
    print(f"{os.path.basename(args.model)}: {n} samples, accuracy {acc_text}, "
          f"{seconds:.3f} s, {rate:.1f} samples/s ({args.threads} threads, batch {args.batch})")

    if args.dump_outputs:
        tmp = f"{args.dump_outputs}.tmp.{os.getpid()}.npz"
        np.savez(tmp, out=out)
        os.replace(tmp, args.dump_outputs)
        print(f"wrote {args.dump_outputs}: out {list(out.shape)} float32")
    if args.json:
        print(json.dumps(dict(model=args.model, data=args.data, samples=n, batch=args.batch,
                              threads=args.threads, seconds=seconds, samples_per_s=rate,
                              accuracy=accuracy, output_name=out_name,
                              output_shape=list(out.shape))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
