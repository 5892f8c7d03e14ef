"""Prints the test accuracy and the histogram of predicted classes (first 2,000 Fashion-MNIST test
images, ONNX Runtime) of each locked model given. Usage: prediction_histogram.py LOCKED.onnx ...
(from the repository root with .venv/bin/python). Used for lock_experiments.md."""
import sys, numpy as np, onnxruntime as ort
d = np.load("tools/data/fmnist_test.npz"); x, y = d["x"][:2000], d["y"][:2000]
for p in sys.argv[1:]:
    s = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
    out = s.run(None, {s.get_inputs()[0].name: x})[0]
    pred = out.argmax(1)
    print(p.split('/')[-2], "acc", (pred == y).mean(), "pred hist", np.bincount(pred, minlength=10).tolist(),
          "logit range", float(out.min()), float(out.max()))
