#!/usr/bin/env python3
"""Trains the bundled Fashion-MNIST models and exports them to ONNX in tools/models/.

Models (see MODELS.md, written by this script, for parameters and accuracies):
  lenet5.onnx        LeNet-5-style CNN; opset 13.
  resnet_small.onnx  ResNet-style CNN with residual Adds; BatchNorm trained, then folded into the
                     convolutions by the exporter (eval mode + constant folding); opset 13.
  bn_cnn.onnx        CNN whose graph keeps BatchNormalization nodes (exported with
                     TrainingMode.PRESERVE and the model in eval mode, no constant folding), with
                     LeakyRelu, AveragePool, GlobalAveragePool and Dropout; opset 11.
  mlp_softmax.onnx   MLP 784-256-128-10 ending in Softmax (output "probs"); opset 9.
  wide_10m.onnx      small CNN stem + wide FC layers 3136-2560-1024-10 (10.7M parameters); opset 13.
  rgb32/resnet18_fmnist.onnx  torchvision's resnet18 (num_classes=10, 11.2M parameters) at 32x32
                     with three channels; BatchNorm folded; opset 13. In a subfolder, since its
                     input form differs from the others' (below).

Every model but resnet18_fmnist takes input "input" float32 [batch, 1, 28, 28], normalized as in
tools/make_data.py: x = (pixel / 255 - 0.2860) / 0.3530. resnet18_fmnist takes "input" float32
[batch, 3, 32, 32]: the same normalized image resized to 32x32 (bilinear, half-pixel centers) and
copied into the three channels, which is make_data.to_rgb32 (tools/data/fmnist_rgb32_*.npz hold
the test and owner images in this form). The resize and the channel copy are done in the data
pipeline, not in the graph, so the model is plain torchvision resnet18 (Conv, Relu, MaxPool, Add,
GlobalAveragePool, Flatten, Gemm) and takes what any 3-channel 32x32 pipeline produces. The batch
axis is dynamic. Outputs are named "logits" (or "probs" for mlp_softmax).

About Dropout in bn_cnn: torch's exporter removes eval-mode dropout from the graph (it is the
identity at inference). So that the model exercises the ONNX Dropout op, this script inserts a
Dropout node (opset-11 form, `ratio` attribute, no mask output) where nn.Dropout sits, in front of
the classifier's Gemm. At inference ONNX Dropout is the identity, so the model computes exactly
what the PyTorch model computes in eval mode; the PyTorch/ONNX Runtime accuracy check confirms it.

Training is on the CPU with 1 thread by default (see THREADS), seeded (torch.manual_seed,
deterministic algorithms, a seeded shuffling generator), with Adam and a one-cycle learning-rate
schedule, on all 60,000 training images; evaluation is on all 10,000 test images, once in PyTorch
and once with ONNX Runtime on the exported file. Files are written to a temporary name and
renamed into place.

Usage: train_models.py [--models lenet5,resnet_small,...] [--data DIR] [--out DIR] [--seed S]
                       [--threads N]
Needs tools/data/fmnist_{train,test}.npz (tools/make_data.py). Writes tools/models/*.onnx (and
tools/models/rgb32/*.onnx), tools/models/models.json (machine-readable results) and
tools/models/MODELS.md.
"""

import argparse
import io
import json
import os
import sys
import time

import numpy as np
import onnx
import onnx.helper
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

import make_data  # tools/make_data.py: the 3 x 32 x 32 input form (to_rgb32)

HERE = os.path.dirname(os.path.abspath(__file__))
# One intra-op thread: the weights are then bit-reproducible, and on the project's shared 2-core
# machine one thread trains faster than two OpenMP threads competing with other work (measured
# 20 ms vs 86 ms per LeNet step under load). --threads changes it.
THREADS = 1
BATCH = 128
EVAL_BATCH = 1000
# resnet18_fmnist: about 0.36 CPU s per step of 128 with 1 thread (170 CPU s per epoch), but wall
# time on the shared 2-core machine was up to 10x that under load, hence only 2 epochs.
EPOCHS_RESNET18 = 2


# ------------------------------------------------------------------------------------------------
# Architectures
# ------------------------------------------------------------------------------------------------
class LeNet5(nn.Module):
    """conv5x5(6, pad 2)-relu-maxpool2-conv5x5(16)-relu-maxpool2-flatten-fc120-relu-fc84-relu-
    fc10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """conv3x3-bn-relu-conv3x3-bn, plus the shortcut (1x1 stride-s conv + bn when the shape
    changes), then Add and relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = x if self.proj is None else self.proj(x)
        return F.relu(y + shortcut)


class ResNetSmall(nn.Module):
    """stem conv3x3(16)-bn-relu; stages of 2 basic blocks with 16/32/64 channels at 28/14/7
    pixels (stages 2 and 3 start with stride 2 and a 1x1 projection); global average pool; fc10."""

    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            blocks += [BasicBlock(cin, w, 1 if i == 0 else 2), BasicBlock(w, w, 1)]
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class BnCnn(nn.Module):
    """[conv3x3-bn-leakyrelu] x2 - avgpool2 - [conv3x3-bn-leakyrelu] x2 - avgpool2 -
    conv3x3-bn-leakyrelu - global avgpool - flatten - dropout(0.2) - fc10."""

    def __init__(self):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                    nn.LeakyReLU(0.1)]

        self.features = nn.Sequential(
            *block(1, 16), *block(16, 16), nn.AvgPool2d(2, count_include_pad=False),
            *block(16, 32), *block(32, 32), nn.AvgPool2d(2, count_include_pad=False),
            *block(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(self.dropout(self.features(x)))


class Mlp(nn.Module):
    """flatten - [fc - relu]* - fc10, optionally followed by softmax."""

    def __init__(self, hidden, softmax=False):
        super().__init__()
        layers, cin = [nn.Flatten()], 28 * 28
        for h in hidden:
            layers += [nn.Linear(cin, h), nn.ReLU()]
            cin = h
        layers.append(nn.Linear(cin, 10))
        if softmax:
            layers.append(nn.Softmax(dim=1))
        self.net = nn.Sequential(*layers)
        self.softmax = softmax

    def forward(self, x):
        return self.net(x)


class WideCnn(nn.Module):
    """conv3x3(32)-relu-maxpool2-conv3x3(64)-relu-maxpool2-flatten(3136)-fc2560-relu-fc1024-relu-
    fc10: a small convolutional stem in front of wide fully connected layers (10.7M parameters,
    almost all in the two large Gemms)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 2560)
        self.fc2 = nn.Linear(2560, 1024)
        self.fc3 = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


# name -> settings. `logits_fn` turns the model output into logits for the training loss.
MODELS = {
    "lenet5": dict(make=LeNet5, arch="LeNet-5: conv5x5(6,pad2)-relu-maxpool-conv5x5(16)-relu-"
                   "maxpool-fc120-relu-fc84-relu-fc10", opset=13, epochs=6, lr=3e-3, wd=0.0,
                   output="logits", export="eval_folded"),
    "resnet_small": dict(make=ResNetSmall, arch="ResNet: stem conv3x3(16), 3 stages x 2 basic "
                         "blocks (16/32/64 ch, stride-2 + 1x1 projection), GAP, fc10; BN folded",
                         opset=13, epochs=3, lr=4e-3, wd=1e-4, output="logits",
                         export="eval_folded"),
    "bn_cnn": dict(make=BnCnn, arch="CNN: 5 x [conv3x3-BatchNorm-LeakyRelu] (16,16,32,32,64 ch), "
                   "2 AveragePool, GlobalAveragePool, Dropout, fc10; BN kept", opset=11,
                   epochs=3, lr=4e-3, wd=1e-4, output="logits", export="keep_bn"),
    "mlp_softmax": dict(make=lambda: Mlp([256, 128], softmax=True),
                        arch="MLP 784-256-128-10 + Softmax", opset=9, epochs=6, lr=2e-3, wd=0.0,
                        output="probs", export="eval_folded"),
    "wide_10m": dict(make=WideCnn, arch="CNN stem conv3x3(32)-relu-maxpool-conv3x3(64)-relu-"
                     "maxpool, then fc 3136-2560-1024-10 (wide Gemms)",
                     opset=13, epochs=2, lr=1.5e-3, wd=0.0, output="logits",
                     export="eval_folded", batch=256),
    # torchvision's resnet18 unchanged (7x7 stride-2 stem and max pool, so the 32x32 input is 8x8
    # after the stem and 1x1 in the last stage). Input form "rgb32": see the module doc. Written
    # to tools/models/rgb32/, so that the tools and tests that take every tools/models/*.onnx
    # with the 1x28x28 data files do not pick it up.
    "resnet18_fmnist": dict(make=lambda: torchvision.models.resnet18(num_classes=10),
                            arch="torchvision resnet18 (num_classes=10) at 3x32x32; BN folded",
                            opset=13, epochs=EPOCHS_RESNET18, lr=2e-3, wd=1e-4, output="logits",
                            export="eval_folded", input="rgb32", subdir="rgb32"),
}

# The input shape of each form, batch first.
INPUT_SHAPES = {"gray28": (1, 28, 28), "rgb32": (3, 32, 32)}


# ------------------------------------------------------------------------------------------------
# Training and evaluation
# ------------------------------------------------------------------------------------------------
def load_npz(path):
    d = np.load(path)
    return torch.from_numpy(d["x"]), torch.from_numpy(d["y"])


def logits_of(model, x):
    # A model ending in softmax is trained on the activations in front of it (cross-entropy of
    # those logits = -log of the softmax probability of the label, computed stably).
    if getattr(model, "softmax", False):
        return model.net[:-1](x)
    return model(x)


def input_form(x, form):
    """The [N, 1, 28, 28] normalized images in the model's input form. For rgb32 the values are
    make_data.to_rgb32's (the files tools/data/fmnist_rgb32_*.npz), held as one resized channel
    expanded to three without a copy (indexing a batch copies it). The resize is checked against
    torch's own bilinear interpolation (F.interpolate, align_corners=False)."""
    if form == "gray28":
        return x
    if form == "rgb32":
        one = torch.from_numpy(make_data.to_rgb32(x.numpy(), channels=1))
        ref = F.interpolate(x[:1000], size=(32, 32), mode="bilinear", align_corners=False)
        diff = float((ref - one[:1000]).abs().max())
        if diff > 1e-5:
            raise RuntimeError(f"make_data.to_rgb32 differs from F.interpolate by {diff:.2e}")
        return one.expand(-1, 3, -1, -1)
    raise ValueError(f"unknown input form {form!r}")


def train(model, cfg, x, y, seed):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["wd"])
    batch = cfg.get("batch", BATCH)
    steps_per_epoch = (len(x) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], epochs=cfg["epochs"],
                                                steps_per_epoch=steps_per_epoch)
    for epoch in range(cfg["epochs"]):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total, t0 = 0.0, time.time()
        for i in range(steps_per_epoch):
            idx = perm[i * batch:(i + 1) * batch]
            loss = F.cross_entropy(logits_of(model, x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            if steps_per_epoch >= 400 and (i + 1) % 100 == 0:  # long epochs: a line per 100 steps
                print(f"    step {i + 1}/{steps_per_epoch}: loss {loss.item():.4f} "
                      f"({time.time() - t0:.0f} s)", flush=True)
        print(f"  epoch {epoch + 1}/{cfg['epochs']}: loss {total / len(x):.4f} "
              f"({time.time() - t0:.1f} s)", flush=True)


@torch.no_grad()
def torch_outputs(model, x):
    model.eval()
    return torch.cat([model(x[i:i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)]).numpy()


def ort_outputs(model_bytes, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + EVAL_BATCH]})[0]
                           for i in range(0, len(x), EVAL_BATCH)])


# ------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------
def insert_dropout_before_classifier(model_proto, ratio):
    """Routes the input of the last Gemm through an ONNX Dropout node (see the module doc)."""
    graph = model_proto.graph
    gemms = [i for i, n in enumerate(graph.node) if n.op_type == "Gemm"]
    if not gemms:
        raise RuntimeError("no Gemm node to put the Dropout in front of")
    pos = gemms[-1]
    gemm = graph.node[pos]
    out = "/dropout/Dropout_output_0"
    drop = onnx.helper.make_node("Dropout", [gemm.input[0]], [out], name="/dropout/Dropout",
                                 ratio=float(ratio))
    gemm.input[0] = out
    graph.node.insert(pos, drop)


def export(model, name, cfg):
    """Exports to ONNX bytes (deterministic for the same weights)."""
    model.eval()
    f = io.BytesIO()
    keep_bn = cfg["export"] == "keep_bn"
    torch.onnx.export(
        model, torch.zeros(1, *INPUT_SHAPES[cfg.get("input", "gray28")]), f,
        opset_version=cfg["opset"],
        input_names=["input"], output_names=[cfg["output"]],
        dynamic_axes={"input": {0: "batch"}, cfg["output"]: {0: "batch"}},
        # PRESERVE with the model in eval mode exports BatchNormalization in inference form
        # without fusing it into the convolution; EVAL + constant folding fuses it.
        training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL,
        do_constant_folding=not keep_bn)
    proto = onnx.load_from_string(f.getvalue())
    if keep_bn:
        insert_dropout_before_classifier(proto, model.dropout.p)
    proto.doc_string = f"onnx-crypt bundled model {name}: {cfg['arch']}"
    onnx.checker.check_model(proto)
    ops = sorted({n.op_type for n in proto.graph.node})
    if keep_bn and "BatchNormalization" not in ops:
        raise RuntimeError(f"{name}: BatchNormalization nodes were not kept: {ops}")
    if not keep_bn and "BatchNormalization" in ops:
        raise RuntimeError(f"{name}: BatchNormalization nodes were not folded: {ops}")
    return proto.SerializeToString(), ops


def write_atomic(path, data):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_models_md(path, results):
    lines = [
        "# Bundled models",
        "",
        "Fashion-MNIST classifiers trained and exported by `tools/train_models.py` (PyTorch "
        f"{torch.__version__.split('+')[0]} on the CPU, seeded).",
        "Input `input`: float32 [batch, 1, 28, 28], x = (pixel / 255 - 0.2860) / 0.3530 "
        "(see `tools/make_data.py`); `resnet18_fmnist`: float32 [batch, 3, 32, 32], the same "
        "image resized to 32x32 (bilinear, half-pixel centers) in all three channels "
        "(`make_data.to_rgb32`, `tools/data/fmnist_rgb32_*.npz`).",
        "Accuracy is on all 10,000 test images, once in PyTorch and once with ONNX Runtime "
        f"{ort.__version__} on the exported file. `max |diff|` is the largest absolute difference "
        "between the two runtimes' outputs.",
        "",
        "| file | architecture | params | opset | ONNX ops | output | PyTorch acc | ORT acc "
        "| max \\|diff\\| | epochs | threads | train s (wall) | train CPU s | size |",
        "|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in MODELS:
        if name not in results:
            continue
        r = results[name]
        lines.append(
            f"| {r['file']} | {r['arch']} | {r['params']:,} | {r['opset']} | {', '.join(r['ops'])} "
            f"| {r['output']} | {100 * r['torch_acc']:.2f} % | {100 * r['ort_acc']:.2f} % "
            f"| {r['max_abs_diff']:.1e} | {r['epochs']} | {r['threads']} "
            f"| {r['train_seconds']:.0f} "
            f"| {r['train_cpu_seconds']:.0f} "
            f"| {r['bytes'] / 1e6:.2f} MB |")
    total = sum(r["train_seconds"] for r in results.values())
    total_cpu = sum(r["train_cpu_seconds"] for r in results.values())
    lines += [
        "",
        f"Total training time: {total:.0f} s wall, {total_cpu:.0f} s CPU (wall time grows when "
        "other work shares the machine's 2 cores).",
        "",
        "Notes:",
        "- `resnet_small`: BatchNorm is folded into the convolutions by the "
        "exporter (eval mode, constant folding), so the graphs hold no BatchNormalization node.",
        "- `bn_cnn`: exported with `TrainingMode.PRESERVE`, model in eval mode, no constant "
        "folding, so BatchNormalization nodes (inference form) stay in the graph. torch's exporter "
        "drops eval-mode dropout; `train_models.py` inserts an ONNX Dropout node (identity at "
        "inference) before the classifier so the op is exercised.",
        "- `mlp_softmax`: ends in Softmax; its output is probabilities.",
        "- `resnet18_fmnist`: `torchvision.models.resnet18(num_classes=10)` unchanged, BatchNorm "
        "folded by the exporter; the resize to 32x32 and the copy to three channels happen in "
        "the data pipeline (`tools/make_data.py`), not in the graph.",
        "",
    ]
    write_atomic(path, "\n".join(lines).encode())


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--out", default=os.path.join(HERE, "models"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=THREADS, help="torch intra-op threads")
    args = ap.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    for n in names:
        if n not in MODELS:
            ap.error(f"unknown model {n!r}; known: {', '.join(MODELS)}")

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    x_tr28, y_tr = load_npz(os.path.join(args.data, "fmnist_train.npz"))
    x_te28, y_te = load_npz(os.path.join(args.data, "fmnist_test.npz"))
    y_te_np = y_te.numpy()

    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(args.out, "models.json")
    results = {}
    if os.path.exists(json_path):
        with open(json_path) as f:
            results = json.load(f)

    t_all = time.time()
    for name in names:
        cfg = MODELS[name]
        print(f"== {name}: {cfg['arch']}", flush=True)
        form = cfg.get("input", "gray28")
        x_tr, x_te = input_form(x_tr28, form), input_form(x_te28, form)
        torch.manual_seed(args.seed)
        model = cfg["make"]()
        params = sum(p.numel() for p in model.parameters())
        print(f"  {params:,} parameters", flush=True)
        t0, c0 = time.time(), time.process_time()
        train(model, cfg, x_tr, y_tr, args.seed)
        # Wall time depends on what else the machine runs; CPU time (all threads) less so.
        train_seconds, train_cpu_seconds = time.time() - t0, time.process_time() - c0

        out_t = torch_outputs(model, x_te)
        data, ops = export(model, name, cfg)
        data2, _ = export(model, name, cfg)
        if data != data2:
            raise RuntimeError(f"{name}: two exports of the same weights differ")
        out_o = ort_outputs(data, np.ascontiguousarray(x_te.numpy()))
        acc_t = float((out_t.argmax(1) == y_te_np).mean())
        acc_o = float((out_o.argmax(1) == y_te_np).mean())
        diff = float(np.abs(out_t - out_o).max())
        print(f"  trained in {train_seconds:.1f} s ({train_cpu_seconds:.0f} CPU s); test accuracy "
              f"PyTorch {100 * acc_t:.2f} %, ONNX Runtime {100 * acc_o:.2f} %, "
              f"max |diff| {diff:.2e}; "
              f"ops {ops}", flush=True)
        if abs(acc_t - acc_o) > 2e-4 or diff > 1e-3:
            raise RuntimeError(f"{name}: PyTorch and ONNX Runtime disagree")

        rel = os.path.join(cfg.get("subdir", ""), name + ".onnx")
        path = os.path.join(args.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, data)
        results[name] = dict(file=rel, arch=cfg["arch"], params=params,
                             opset=cfg["opset"], ops=ops, output=cfg["output"],
                             torch_acc=acc_t, ort_acc=acc_o, max_abs_diff=diff,
                             epochs=cfg["epochs"], threads=args.threads,
                             train_seconds=round(train_seconds, 1),
                             train_cpu_seconds=round(train_cpu_seconds, 1),
                             bytes=len(data))
        # Results are saved after each model so that a partial run keeps the others' rows.
        write_atomic(json_path, (json.dumps({k: results[k] for k in MODELS if k in results},
                                            indent=1) + "\n").encode())
        write_models_md(os.path.join(args.out, "MODELS.md"), results)
        print(f"  wrote {path} ({len(data) / 1e6:.2f} MB)", flush=True)

    total_train = sum(results[n]["train_seconds"] for n in names)
    print(f"total training time {total_train:.0f} s; whole run {time.time() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
