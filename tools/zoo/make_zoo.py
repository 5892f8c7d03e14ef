#!/usr/bin/env python3
"""Exports the model zoo of issue #12: the models other tools produce, for tests/zoo/zoo_models_check.py,
tests/zoo/zoo_gradients_check.cc and tools/bench/zoo_table.py.

Usage:
  make_zoo.py [--out DIR] [--set ci|full] [--only NAME ...] [--ensure] [--list]

DIR (default tools/data/zoo/, git-ignored) receives, per model NAME at opset K (file stem
NAME-opK):
  NAME-opK.onnx      the model. Random init (torch.manual_seed(SEED) right before each
                     constructor), num_classes 10 (BERT: 2 labels), eval mode, batch axis dynamic.
  NAME-opK.npz       the data: one array per graph input, under the input's name, plus `x` when
                     the model has one input; and `y` (int64), the model's own argmax on those
                     samples (pseudo-labels, as a vendor without labels would use). torchvision models:
                     the SAMPLES are picked from POOL random inputs, at most
                     ceil(SAMPLES / classes) per pseudo-label, after BatchNorm statistics are
                     taken on the pool and the final Linear's bias is centred on it (random init
                     puts most inputs in a few classes; see center_head, balanced_pick).
  NAME-opK.ref.npz   the PyTorch reference, only where a torch source exists (every model here):
                     `__out__` (float64 forward of a float64 copy of the torch module), `__loss__`
                     (mean cross-entropy of __out__ against y; for a model ending in Softmax the
                     mean of -log p[y]), and, for every float ONNX initializer or Constant-node
                     weight that maps to a torch parameter, d loss / d parameter (float64) saved
                     under the ONNX name, in the ONNX tensor's shape, and under
                     `__f32err__/NAME` the relative L2 error of PyTorch's own float32 gradient
                     against that float64 one (the float32 noise floor of the model).
  models.txt         one line per model for C++ readers: stem, set, made|failed, ref|noref.
  manifest.json      one entry per model: name, opset, source, set, storage (initializer |
                     constant), inputs, params, input size, the ONNX-name -> torch-name map, the
                     torch-vs-ORT forward check, and `error` for a model that could not be made
                     (for example a torchvision architecture torch.onnx.export refuses).
                     Both lists are rewritten after each model, so that a reader can follow a
                     run (tools/bench/zoo_table.py --follow); only the stamp says they are whole.
  COMPLETE           the stamp: this script's SHA-256, the set and the package versions (torch,
                     torchvision, onnx, onnxruntime, transformers); written last. --ensure
                     returns at once when DIR holds a stamp for this script version, the same
                     package versions and a set that covers the one asked for (full covers ci).
                     An flock on DIR/.lock serializes concurrent runs (the zoo test and the
                     gradient test may start together).

How ONNX names map to torch parameters (recorded per model in manifest.json "names"):
  torchvision / transformers: exported with do_constant_folding=False and
    training=TrainingMode.PRESERVE (the module itself is in eval mode; PRESERVE only keeps the
    exporter from fusing BatchNormalization into Conv), so each parameter stays one initializer
    named by its state_dict key ("layer1.0.conv1.weight"): map "same". An initializer whose name
    is not a state_dict key is matched by value: a unique parameter with identical bytes and
    shape ("value"), or whose transpose is identical ("transposed": the gradient is transposed
    too). Anything else is listed in "unmapped" and has no reference gradient.
  hand-built graphs: the weights are numpy arrays; the ONNX tensor names are chosen here
    (tf2onnx-like "conv2d/Conv2D/ReadVariableOp:0", Paddle-like "conv2d_0.w_0") and the torch
    reference is the same computation written with torch.nn.functional on the same arrays, so the
    map is the identity by construction.

Sets: `ci` (default) is what tests/zoo/zoo_models_check.py runs within the CI budget; `full` adds the
architectures too large for 2 cores in ~10 minutes (the table in manifest.json says which, see
FULL_ONLY). ONNX_CRYPT_ZOO=full makes the tests use the full set.

Deterministic: fixed seeds, single-process export, torch on a fixed thread count, and files written
in a fixed order; the same command gives the same bytes.
"""

import argparse
import copy
import fcntl
import hashlib
import io
import json
import os
import sys
import time
import traceback

import numpy as np
import onnx
import onnx.helper as oh
import onnx.numpy_helper as onh

SEED = 1234
SAMPLES = 16          # samples per data file: pseudo-label accuracy 1.0, lock target 0.12 -> 1 of 16
POOL = 64             # random inputs per torchvision model: BatchNorm calibration, head centring and
                      # the SAMPLES with balanced pseudo-labels (balanced_pick)
OPSETS = (13, 17)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(ROOT, "tools", "data", "zoo")

# torchvision classification families in torchvision 0.14, the smallest variant of each, with the
# smallest square input it accepts (checked: each output is [N, 10]) and constructor arguments.
# (name, input size, kwargs)
TORCHVISION = [
    # AdaptiveAvgPool2d(6) exports only when its input is a multiple of 6: 224 is the smallest
    # such input (6x6 after the third max-pool); at 64 the exporter refuses the model.
    ("alexnet", 224, {}),
    ("convnext_tiny", 32, {}),
    ("densenet121", 32, {}),
    ("efficientnet_b0", 32, {}),
    ("efficientnet_v2_s", 32, {}),
    ("googlenet", 32, {"aux_logits": False, "init_weights": True}),
    ("inception_v3", 75, {"aux_logits": False, "init_weights": True}),  # needs >= 75
    ("mnasnet0_5", 32, {}),
    ("mobilenet_v2", 32, {}),
    ("mobilenet_v3_small", 32, {}),
    ("regnet_x_400mf", 32, {}),
    ("regnet_y_400mf", 32, {}),
    ("resnet18", 32, {}),
    ("resnext50_32x4d", 32, {}),
    ("shufflenet_v2_x0_5", 32, {}),
    ("squeezenet1_0", 32, {}),
    ("squeezenet1_1", 32, {}),
    ("swin_t", 32, {}),
    ("vgg11", 224, {}),                     # AdaptiveAvgPool2d(7) after /32: 224 (as alexnet)
    ("vit_b_16", 32, {"image_size": 32}),   # 2x2 patches of 16
    ("wide_resnet50_2", 32, {}),
]
# --- sets --- (not part of the script version: changing the CI split does not remake the zoo)
# Too large for the CI budget on 2 cores (parameters; a float32 model of 200-520 MB per opset and
# a float64 reference twice that): exported only with --set full.
FULL_ONLY = {"alexnet", "vgg11", "vit_b_16", "wide_resnet50_2"}
# --- end sets ---

BERT_CONFIG = dict(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                   intermediate_size=128, max_position_embeddings=64, type_vocab_size=2,
                   num_labels=2)
BERT_SEQ = 16


def script_version():
    """SHA-256 of this script without the sets block: what decides the files' contents."""
    with open(os.path.abspath(__file__)) as f:
        text = f.read()
    start, end = text.index("# --- sets ---"), text.index("# --- end sets ---")
    return hashlib.sha256((text[:start] + text[end:]).encode()).hexdigest()


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
def torch_setup():
    import torch
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    return torch


def save_npz(path, arrays):
    """np.savez writes zip entries with the current time; write them with a fixed date so that the
    same arrays give the same bytes."""
    import zipfile
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        for key in arrays:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, buf.getvalue())
    os.replace(tmp, path)


def save_model(path, model):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString(deterministic=True))
    os.replace(tmp, path)


def ort_run(model_bytes, feeds):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def float_tensors(model):
    """ONNX name -> numpy array of every float initializer and Constant-node weight."""
    out = {}
    for init in model.graph.initializer:
        if init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
            out[init.name] = onh.to_array(init)
    for node in model.graph.node:
        if node.op_type != "Constant":
            continue
        for a in node.attribute:
            if a.name == "value" and a.t.data_type == onnx.TensorProto.FLOAT:
                out[node.output[0]] = onh.to_array(a.t)
            elif a.name == "value_floats":
                out[node.output[0]] = np.array(a.floats, dtype=np.float32)
    return out


def perturb_constant_parameters(torch, module):
    """Random init leaves many parameters constant (biases 0, norm scales 1). torch.onnx.export
    would then merge equal initializers into one shared tensor fed through Identity nodes, which
    no trained model shows; a small seeded perturbation makes each parameter its own tensor, as
    after training."""
    gen = torch.Generator().manual_seed(SEED + 3)
    with torch.no_grad():
        for _, p in module.named_parameters():
            flat = p.reshape(-1)
            if flat.numel() > 0 and bool((flat == flat[0]).all()):
                p.add_(0.1 * torch.randn(p.shape, generator=gen))


def center_head(torch, module, pool):
    """Random init gives every class its own constant offset in the logits, larger than what the
    input changes (swin_t's argmax over 64 random inputs: 60 of 160 one class), so the model's
    own labels sit on a few classes, which no trained classifier shows. Subtracting the pool's
    mean logit from the bias of the final Linear (exact: nothing follows it) centres them. Only
    where the output is that Linear's (checked); returns whether it did."""
    heads = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    if not heads or heads[-1].bias is None:
        return False
    head = heads[-1]
    with torch.no_grad():
        before = module(pool)
        mean = before.mean(dim=0)
        if head.out_features != before.shape[1]:
            return False
        head.bias -= mean
        after = module(pool)
        if not torch.allclose(after, before - mean, rtol=1e-4, atol=1e-4 * float(before.abs().max())):
            head.bias += mean  # something follows the Linear: leave the model as it was
            return False
    return True


def balanced_pick(labels, n, classes):
    """Indices of n pool samples, in pool order, with at most ceil(n / classes) per pseudo-label
    (filled in pool order when the pool has too few classes), so that a lock's target (chance +
    0.02) is as far from a constant prediction as a trained model's."""
    cap = -(-n // classes)
    counts = [0] * classes
    picked = []
    for i, c in enumerate(labels):
        if len(picked) < n and counts[c] < cap:
            picked.append(i)
            counts[c] += 1
    rest = [i for i in range(len(labels)) if i not in picked]
    return sorted(picked + rest[:n - len(picked)])


def map_names(model, named_params, named_buffers=None):
    """ONNX float tensor name -> (torch name, 'same' | 'value' | 'transposed' | 'buffer').
    Buffers (BatchNorm running statistics) map by name and have no reference gradient."""
    params = {k: v.detach().cpu().numpy() for k, v in named_params.items()}
    buffers = set(named_buffers or {})
    names, unmapped = {}, []
    for onnx_name, arr in float_tensors(model).items():
        if onnx_name in buffers:
            names[onnx_name] = (onnx_name, "buffer")
            continue
        if onnx_name in params and params[onnx_name].shape == arr.shape:
            names[onnx_name] = (onnx_name, "same")
            continue
        same = [k for k, p in params.items() if p.shape == arr.shape and np.array_equal(p, arr)]
        if len(same) == 1:
            names[onnx_name] = (same[0], "value")
            continue
        tr = [k for k, p in params.items()
              if p.ndim == 2 and p.T.shape == arr.shape and np.array_equal(p.T, arr)]
        if len(same) == 0 and len(tr) == 1:
            names[onnx_name] = (tr[0], "transposed")
            continue
        if arr.size >= 2:
            unmapped.append(onnx_name)
    return names, unmapped


def torch_reference(torch, module, feeds_torch, y, softmax_output=False):
    """float64 forward and autograd gradients of the mean cross-entropy against y, by torch
    parameter name: (out, loss, {name: grad})."""
    m64 = copy.deepcopy(module).double().eval()
    # The ONNX file holds each normalization's epsilon as a float32 attribute
    # (0.001 becomes 0.0010000000474974513): the reference computes what the
    # file says. (A channel of tiny variance makes the difference visible in
    # float64: inception_v3's loss moved by 3e-8, its gradients by up to 1e-5.)
    for sub in m64.modules():
        if isinstance(getattr(sub, "eps", None), float):
            sub.eps = float(np.float32(sub.eps))
    params = dict(m64.named_parameters())
    for p in params.values():
        p.requires_grad_(True)
        p.grad = None
    args = [t.double() if t.is_floating_point() else t for t in feeds_torch]
    out = m64(*args)
    if isinstance(out, (tuple, list)):
        out = out[0]
    yt = torch.from_numpy(y)
    if softmax_output:
        loss = -torch.log(out.clamp_min(1e-12)).gather(1, yt[:, None]).mean()
    else:
        loss = torch.nn.functional.cross_entropy(out, yt)
    loss.backward()
    grads = {k: (p.grad.detach().numpy() if p.grad is not None else np.zeros(tuple(p.shape)))
             for k, p in params.items()}
    # The same gradient from PyTorch in float32: how far a correct float32 implementation lands
    # from the float64 one (deep random-init nets: up to ~1e-2 relative, ReLU and max-pool
    # decisions flip), per parameter as ||g32 - g64|| / ||g64||.
    m32 = copy.deepcopy(module).float().eval()
    for p in m32.parameters():
        p.requires_grad_(True)
        p.grad = None
    out32 = m32(*[t.float() if t.is_floating_point() else t for t in feeds_torch])
    if isinstance(out32, (tuple, list)):
        out32 = out32[0]
    if softmax_output:
        loss32 = -torch.log(out32.clamp_min(1e-12)).gather(1, yt[:, None]).mean()
    else:
        loss32 = torch.nn.functional.cross_entropy(out32, yt)
    loss32.backward()
    f32err = {}
    for k, p in m32.named_parameters():
        g32 = (p.grad.detach().numpy().astype(np.float64) if p.grad is not None
               else np.zeros(tuple(p.shape)))
        norm = np.linalg.norm(grads[k])
        f32err[k] = float(np.linalg.norm(g32 - grads[k]) / norm) if norm > 0 else 0.0
    return out.detach().numpy(), loss.item(), grads, f32err


def reference(torch_ref, names):
    """The reference file's arrays: __out__, __loss__ and the gradients under ONNX names."""
    out, loss, grads, f32err = torch_ref
    ref = {"__out__": out, "__loss__": np.array(loss)}
    for onnx_name, (torch_name, how) in sorted(names.items()):
        if how == "buffer" or torch_name not in grads:
            continue  # a buffer, not a parameter
        g = grads[torch_name]
        ref[onnx_name] = g.T.copy() if how == "transposed" else g
        ref["__f32err__/" + onnx_name] = np.array(f32err[torch_name])
    return ref


def op_histogram(model):
    ops = {}
    for n in model.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return dict(sorted(ops.items()))


def param_count(model, storage):
    """Float weights: initializers, or for Constant-node storage the Constant nodes' values."""
    if storage == "initializer":
        return int(sum(onh.to_array(i).size for i in model.graph.initializer
                       if i.data_type == onnx.TensorProto.FLOAT))
    return int(sum(a.size for a in float_tensors(model).values()))


def finish_entry(entry, model, feeds, y, ref, names, unmapped, out_dir, torch_out):
    stem = entry["file"]
    save_model(os.path.join(out_dir, stem + ".onnx"), model)
    data = dict(feeds)
    if len(feeds) == 1:
        data["x"] = next(iter(feeds.values()))
    data["y"] = y
    save_npz(os.path.join(out_dir, stem + ".npz"), data)
    if ref is not None:
        save_npz(os.path.join(out_dir, stem + ".ref.npz"), ref)
        entry["reference"] = stem + ".ref.npz"
    ort_out = ort_run(model.SerializeToString(), feeds)
    entry.update({
        "inputs": [{"name": i.name, "dtype": str(feeds[i.name].dtype),
                    "shape": list(feeds[i.name].shape)} for i in model.graph.input
                   if i.name in feeds],
        "outputs": [o.name for o in model.graph.output],
        "params": param_count(model, entry["storage"]),
        "ops": op_histogram(model),
        "names": {k: list(v) for k, v in sorted(names.items())},
        "unmapped": sorted(unmapped),
        # torch (float32 module) against ONNX Runtime on the data: the export is faithful.
        "torch_vs_ort": float(np.abs(torch_out - ort_out).max()),
        "max_abs_out": float(np.abs(ort_out).max()),
        "label_counts": np.bincount(y, minlength=ort_out.shape[-1]).tolist(),
    })
    if ref is not None:
        # The model's own float32 noise: PyTorch float32 against PyTorch float64, over max |out|.
        # Two correct float32 implementations differ by about twice this, so the eval check's
        # 1e-4 is meaningful only where it is well below (tools/zoo/zoo_check.py says so).
        out64 = ref["__out__"].reshape(torch_out.shape)
        entry["f32_noise"] = float(np.abs(torch_out - out64).max() / np.abs(out64).max())


# ------------------------------------------------------------------------------------------------
# torchvision
# ------------------------------------------------------------------------------------------------
def export_torch(torch, module, args, input_names, dynamic, opset):
    buf = io.BytesIO()
    torch.onnx.export(module, tuple(args), buf, opset_version=opset, input_names=input_names,
                      output_names=["logits"], dynamic_axes=dynamic, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE, export_params=True)
    return onnx.load_from_string(buf.getvalue())


# Per model: what does not depend on the opset (module, data, labels, torch reference), made once
# and used for both exports.
_BUILT = {}


def torchvision_module(torch, name, size, kwargs):
    if name in _BUILT:
        return _BUILT[name]
    _BUILT.clear()
    import torchvision
    torch.manual_seed(SEED)
    module = getattr(torchvision.models, name)(num_classes=10, **kwargs)
    module.eval()
    perturb_constant_parameters(torch, module)
    gen = torch.Generator().manual_seed(SEED + 1)
    pool = torch.randn(POOL, 3, size, size, generator=gen)
    # BatchNorm running statistics from one pass over the pool, with only the BatchNorm modules
    # in train mode (momentum None: the plain batch statistics; dropout and stochastic depth stay
    # off), so that activations have realistic scales (with statistics of other samples only, the
    # 1x1 late stages of a 32x32 input grow to logits ~1e3 in efficientnet_b0).
    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if bns:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        with torch.no_grad():
            module(pool)
        module.eval()
    centered = center_head(torch, module, pool)
    with torch.no_grad():
        pool_out = module(pool).numpy()
    pick = balanced_pick(pool_out.argmax(axis=1), SAMPLES, pool_out.shape[1])
    x = pool[pick]
    with torch.no_grad():
        torch_out = module(x).numpy()
    y = torch_out.argmax(axis=1).astype(np.int64)
    _BUILT[name] = (module, x, y, torch_out, torch_reference(torch, module, [x], y), centered)
    return _BUILT[name]


def make_torchvision(torch, name, size, kwargs, opset, out_dir, entry):
    module, x, y, torch_out, torch_ref, centered = torchvision_module(torch, name, size, kwargs)
    model = export_torch(torch, module, [x[:2]], ["input"],
                         {"input": {0: "N"}, "logits": {0: "N"}}, opset)
    names, unmapped = map_names(model, dict(module.named_parameters()),
                                dict(module.named_buffers()))
    entry["input_size"] = size
    entry["head_centered"] = centered
    finish_entry(entry, model, {"input": x.numpy()}, y, reference(torch_ref, names), names,
                 unmapped, out_dir, torch_out)


# ------------------------------------------------------------------------------------------------
# transformers: a tiny BERT sequence classifier
# ------------------------------------------------------------------------------------------------
def make_bert(torch, opset, out_dir, entry):
    import transformers
    cfg = transformers.BertConfig(**BERT_CONFIG, return_dict=False, torchscript=True,
                                  attn_implementation="eager")
    torch.manual_seed(SEED)
    module = transformers.BertForSequenceClassification(cfg).eval()
    perturb_constant_parameters(torch, module)
    gen = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(1, BERT_CONFIG["vocab_size"], (SAMPLES, BERT_SEQ), generator=gen)
    lengths = torch.randint(BERT_SEQ // 2, BERT_SEQ + 1, (SAMPLES,), generator=gen)
    mask = (torch.arange(BERT_SEQ)[None, :] < lengths[:, None]).to(torch.int64)
    ids = ids * mask  # token 0 ([PAD]) after each sequence's length
    with torch.no_grad():
        torch_out = module(ids, mask)[0].numpy()
    y = torch_out.argmax(axis=1).astype(np.int64)
    model = export_torch(torch, module, [ids[:2], mask[:2]], ["input_ids", "attention_mask"],
                         {"input_ids": {0: "N"}, "attention_mask": {0: "N"},
                          "logits": {0: "N"}}, opset)
    names, unmapped = map_names(model, dict(module.named_parameters()),
                                dict(module.named_buffers()))
    ref = reference(torch_reference(torch, module, [ids, mask], y), names)
    entry["transformers"] = transformers.__version__
    entry["config"] = BERT_CONFIG
    finish_entry(entry, model, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}, y,
                 ref, names, unmapped, out_dir, torch_out)


# ------------------------------------------------------------------------------------------------
# Hand-built graphs
# ------------------------------------------------------------------------------------------------
def weights(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def make_tf2onnx(torch, opset, out_dir, entry):
    """What tf2onnx makes of a small Keras CNN: NHWC float input, Transpose to NCHW, a Cast,
    explicit Pad, Conv with folded batch norm as Mul/Add, ReduceMean for global pooling, MatMul +
    Add for the dense layer, Softmax. Names in TensorFlow's style."""
    F = torch.nn.functional
    rng = np.random.default_rng(SEED)
    H = 16
    w = {
        "conv2d/Conv2D/ReadVariableOp:0": weights(rng, (8, 3, 3, 3), 27),
        "conv2d/BiasAdd/ReadVariableOp:0": (0.1 * rng.standard_normal(8)).astype(np.float32),
        "batch_normalization/mul:0": (1 + 0.1 * rng.standard_normal((1, 8, 1, 1))).astype(np.float32),
        "batch_normalization/sub:0": (0.1 * rng.standard_normal((1, 8, 1, 1))).astype(np.float32),
        "conv2d_1/Conv2D/ReadVariableOp:0": weights(rng, (16, 8, 3, 3), 72),
        "conv2d_1/BiasAdd/ReadVariableOp:0": (0.1 * rng.standard_normal(16)).astype(np.float32),
        "dense/MatMul/ReadVariableOp:0": weights(rng, (16, 10), 16),
        "dense/BiasAdd/ReadVariableOp:0": (0.1 * rng.standard_normal(10)).astype(np.float32),
    }
    pads = np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64)  # NCHW, after the Transpose
    inits = [onh.from_array(v, k) for k, v in w.items()]
    inits.append(onh.from_array(pads, "Pad__6:0"))
    nodes = [
        oh.make_node("Transpose", ["input_1"], ["conv2d__5:0"], perm=[0, 3, 1, 2],
                     name="conv2d__5"),
        oh.make_node("Cast", ["conv2d__5:0"], ["Cast__7:0"], to=onnx.TensorProto.FLOAT,
                     name="Cast__7"),
        oh.make_node("Pad", ["Cast__7:0", "Pad__6:0"], ["Pad__8:0"], mode="constant",
                     name="Pad__8"),
        oh.make_node("Conv", ["Pad__8:0", "conv2d/Conv2D/ReadVariableOp:0",
                              "conv2d/BiasAdd/ReadVariableOp:0"], ["conv2d/BiasAdd:0"],
                     kernel_shape=[3, 3], strides=[1, 1], name="conv2d/Conv2D"),
        oh.make_node("Mul", ["conv2d/BiasAdd:0", "batch_normalization/mul:0"],
                     ["batch_normalization/mul_1:0"], name="batch_normalization/mul_1"),
        oh.make_node("Add", ["batch_normalization/mul_1:0", "batch_normalization/sub:0"],
                     ["batch_normalization/add_1:0"], name="batch_normalization/add_1"),
        oh.make_node("Relu", ["batch_normalization/add_1:0"], ["re_lu/Relu:0"],
                     name="re_lu/Relu"),
        oh.make_node("Conv", ["re_lu/Relu:0", "conv2d_1/Conv2D/ReadVariableOp:0",
                              "conv2d_1/BiasAdd/ReadVariableOp:0"], ["conv2d_1/BiasAdd:0"],
                     kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                     name="conv2d_1/Conv2D"),
        oh.make_node("Relu", ["conv2d_1/BiasAdd:0"], ["re_lu_1/Relu:0"], name="re_lu_1/Relu"),
        oh.make_node("ReduceMean", ["re_lu_1/Relu:0"], ["global_average_pooling2d/Mean:0"],
                     axes=[2, 3], keepdims=0, name="global_average_pooling2d/Mean"),
        oh.make_node("MatMul", ["global_average_pooling2d/Mean:0",
                                "dense/MatMul/ReadVariableOp:0"], ["dense/MatMul:0"],
                     name="dense/MatMul"),
        oh.make_node("Add", ["dense/MatMul:0", "dense/BiasAdd/ReadVariableOp:0"],
                     ["dense/BiasAdd:0"], name="dense/BiasAdd"),
        oh.make_node("Softmax", ["dense/BiasAdd:0"], ["dense"], axis=-1, name="dense/Softmax"),
    ]
    graph = oh.make_graph(
        nodes, "tf2onnx",
        [oh.make_tensor_value_info("input_1", onnx.TensorProto.FLOAT, ["unk__20", H, H, 3])],
        [oh.make_tensor_value_info("dense", onnx.TensorProto.FLOAT, ["unk__21", 10])], inits)
    model = oh.make_model(graph, producer_name="tf2onnx", producer_version="1.9.3",
                          opset_imports=[oh.make_opsetid("", opset)])
    model.ir_version = 7 if opset <= 13 else 8
    onnx.checker.check_model(model)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.ParameterDict()
            self.keys = list(w)
            for i, k in enumerate(self.keys):
                self.p[f"p{i}"] = torch.nn.Parameter(torch.from_numpy(w[k].copy()))

        def forward(self, x):
            p = [self.p[f"p{i}"] for i in range(len(self.keys))]
            h = x.permute(0, 3, 1, 2)
            h = F.pad(h, (1, 1, 1, 1))
            h = F.conv2d(h, p[0], p[1])
            h = F.relu(h * p[2] + p[3])
            h = F.relu(F.conv2d(h, p[4], p[5], stride=2, padding=1))
            h = h.mean(dim=(2, 3))
            return torch.softmax(h @ p[6] + p[7], dim=-1)

    net = Net().eval()
    gen = torch.Generator().manual_seed(SEED + 1)
    x = torch.randn(SAMPLES, H, H, 3, generator=gen)
    with torch.no_grad():
        torch_out = net(x).numpy()
    y = torch_out.argmax(axis=1).astype(np.int64)
    names = {k: (f"p.p{i}", "same") for i, k in enumerate(net.keys)}
    ref = reference(torch_reference(torch, net, [x], y, softmax_output=True), names)
    entry["input_size"] = H
    finish_entry(entry, model, {"input_1": x.numpy()}, y, ref, names, [], out_dir, torch_out)


def make_paddle(torch, opset, out_dir, entry):
    """What paddle2onnx (older releases) makes of a small CNN: every weight a Constant node
    (attribute `value`; one bias as `value_floats`), no initializers; Conv, BatchNormalization,
    Relu, MaxPool, GlobalAveragePool, Flatten, MatMul + Add. Names in Paddle's style."""
    F = torch.nn.functional
    rng = np.random.default_rng(SEED + 7)
    H = 16
    w = {
        "conv2d_0.w_0": weights(rng, (8, 3, 3, 3), 27),
        "conv2d_0.b_0": (0.1 * rng.standard_normal(8)).astype(np.float32),
        "batch_norm_0.w_0": (1 + 0.1 * rng.standard_normal(8)).astype(np.float32),
        "batch_norm_0.b_0": (0.1 * rng.standard_normal(8)).astype(np.float32),
        "batch_norm_0.w_1": (0.1 * rng.standard_normal(8)).astype(np.float32),       # mean
        "batch_norm_0.w_2": (0.5 + rng.random(8)).astype(np.float32),               # variance
        "conv2d_1.w_0": weights(rng, (16, 8, 3, 3), 72),
        "linear_0.w_0": weights(rng, (16, 10), 16),
        "linear_0.b_0": (0.1 * rng.standard_normal(10)).astype(np.float32),
    }
    nodes = []
    for k, v in w.items():
        if k == "linear_0.b_0":
            nodes.append(oh.make_node("Constant", [], [k], value_floats=v.tolist(),
                                      name=f"Constant_{len(nodes)}"))
        else:
            nodes.append(oh.make_node("Constant", [], [k], value=onh.from_array(v, k),
                                      name=f"Constant_{len(nodes)}"))
    nodes += [
        oh.make_node("Conv", ["x", "conv2d_0.w_0", "conv2d_0.b_0"], ["conv2d_0.tmp_1"],
                     kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], group=1,
                     dilations=[1, 1], name="p2o.Conv.0"),
        oh.make_node("BatchNormalization", ["conv2d_0.tmp_1", "batch_norm_0.w_0",
                                            "batch_norm_0.b_0", "batch_norm_0.w_1",
                                            "batch_norm_0.w_2"], ["batch_norm_0.tmp_2"],
                     epsilon=1e-5, momentum=0.9, name="p2o.BatchNormalization.0"),
        oh.make_node("Relu", ["batch_norm_0.tmp_2"], ["relu_0.tmp_0"], name="p2o.Relu.0"),
        oh.make_node("MaxPool", ["relu_0.tmp_0"], ["pool2d_0.tmp_0"], kernel_shape=[2, 2],
                     strides=[2, 2], name="p2o.MaxPool.0"),
        oh.make_node("Conv", ["pool2d_0.tmp_0", "conv2d_1.w_0"], ["conv2d_1.tmp_0"],
                     kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], name="p2o.Conv.1"),
        oh.make_node("Relu", ["conv2d_1.tmp_0"], ["relu_1.tmp_0"], name="p2o.Relu.1"),
        oh.make_node("GlobalAveragePool", ["relu_1.tmp_0"], ["pool2d_1.tmp_0"],
                     name="p2o.GlobalAveragePool.0"),
        oh.make_node("Flatten", ["pool2d_1.tmp_0"], ["flatten_0.tmp_0"], axis=1,
                     name="p2o.Flatten.0"),
        oh.make_node("MatMul", ["flatten_0.tmp_0", "linear_0.w_0"], ["linear_0.tmp_0"],
                     name="p2o.MatMul.0"),
        oh.make_node("Add", ["linear_0.tmp_0", "linear_0.b_0"], ["linear_0.tmp_1"],
                     name="p2o.Add.0"),
    ]
    graph = oh.make_graph(
        nodes, "paddle",
        [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [-1, 3, H, H])],
        [oh.make_tensor_value_info("linear_0.tmp_1", onnx.TensorProto.FLOAT, [-1, 10])])
    model = oh.make_model(graph, producer_name="PaddlePaddle",
                          opset_imports=[oh.make_opsetid("", opset)])
    model.ir_version = 7 if opset <= 13 else 8
    onnx.checker.check_model(model)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.ParameterDict()
            self.keys = list(w)
            for i, k in enumerate(self.keys):
                self.p[f"p{i}"] = torch.nn.Parameter(torch.from_numpy(w[k].copy()))

        def forward(self, x):
            p = [self.p[f"p{i}"] for i in range(len(self.keys))]
            h = F.conv2d(x, p[0], p[1], padding=1)
            h = (h - p[4][None, :, None, None]) / torch.sqrt(p[5][None, :, None, None] + 1e-5)
            h = F.relu(h * p[2][None, :, None, None] + p[3][None, :, None, None])
            h = F.max_pool2d(h, 2, 2)
            h = F.relu(F.conv2d(h, p[6], padding=1))
            h = h.mean(dim=(2, 3))
            return h @ p[7] + p[8]

    net = Net().eval()
    gen = torch.Generator().manual_seed(SEED + 2)
    x = torch.randn(SAMPLES, 3, H, H, generator=gen)
    with torch.no_grad():
        torch_out = net(x).numpy()
    y = torch_out.argmax(axis=1).astype(np.int64)
    names = {k: (f"p.p{i}", "same") for i, k in enumerate(net.keys)}
    ref = reference(torch_reference(torch, net, [x], y), names)
    entry["input_size"] = H
    finish_entry(entry, model, {"x": x.numpy()}, y, ref, names, [], out_dir, torch_out)


# ------------------------------------------------------------------------------------------------
# The zoo
# ------------------------------------------------------------------------------------------------
def catalogue():
    """(name, source, set, storage, builder(torch, opset, out_dir, entry)) in a fixed order:
    the small hand-built graphs and BERT first, then torchvision by name."""
    items = [
        ("tf2onnx_cnn", "onnx.helper (tf2onnx style)", "ci", "initializer", make_tf2onnx),
        ("paddle_cnn", "onnx.helper (Paddle style)", "ci", "constant", make_paddle),
        ("bert_tiny", "transformers", "ci", "initializer", make_bert),
    ]
    for name, size, kwargs in TORCHVISION:
        items.append((name, "torchvision", "full" if name in FULL_ONLY else "ci", "initializer",
                      lambda t, op, d, e, n=name, s=size, k=kwargs:
                      make_torchvision(t, n, s, k, op, d, e)))
    return items


def covers(stamp, want):
    """A full zoo covers any set; a ci zoo only the ci set with the same FULL_ONLY."""
    if stamp.get("set") == "full":
        return True
    return want == "ci" and stamp.get("full_only") == sorted(FULL_ONLY)


def build(out_dir, which, only):
    torch = torch_setup()
    os.makedirs(out_dir, exist_ok=True)
    if not only:  # a whole set: no file of an earlier run may stay behind
        for f in sorted(os.listdir(out_dir)):
            if f.endswith((".onnx", ".npz")) or f in ("manifest.json", "models.txt"):
                os.remove(os.path.join(out_dir, f))
    manifest = []
    for name, source, tier, storage, builder in catalogue():
        if only and name not in only:
            continue
        for opset in OPSETS:
            if which == "ci" and tier != "ci":
                manifest.append({"name": name, "opset": opset, "file": f"{name}-op{opset}",
                                 "source": source, "set": tier, "storage": storage,
                                 "skipped": "in the full set only (--set full)"})
                write_lists(out_dir, manifest)
                continue
            stem = f"{name}-op{opset}"
            entry = {"name": name, "opset": opset, "file": stem, "source": source,
                     "set": tier, "storage": storage}
            for ext in (".onnx", ".npz", ".ref.npz"):
                if os.path.exists(os.path.join(out_dir, stem + ext)):
                    os.remove(os.path.join(out_dir, stem + ext))
            print(f"make_zoo: {stem}", flush=True)
            t0 = time.process_time()
            try:
                builder(torch, opset, out_dir, entry)
            except Exception as e:  # an exporter refusing a model is a result, recorded
                msg = f"{type(e).__name__}: {e}".strip().splitlines()
                entry["error"] = " ".join(msg)[:600]
                print(f"make_zoo: {stem} FAILED: {entry['error']}", flush=True)
                traceback.print_exc(limit=3)
                for ext in (".onnx", ".npz", ".ref.npz"):
                    p = os.path.join(out_dir, stem + ext)
                    if os.path.exists(p):
                        os.remove(p)
            print(f"make_zoo: {stem}: {time.process_time() - t0:.1f} s CPU", flush=True)
            manifest.append(entry)
            write_lists(out_dir, manifest)  # after each model: readers may follow along
    write_lists(out_dir, manifest)
    return manifest


def write_lists(out_dir, manifest):
    """manifest.json, and models.txt, the same list for C++ readers
    (tests/zoo/zoo_gradients_check.cc): stem, set, made|failed|skipped, ref|noref. Each entry's
    set follows the current FULL_ONLY."""
    for e in manifest:
        e["set"] = "full" if e["name"] in FULL_ONLY else "ci"
    with open(os.path.join(out_dir, "manifest.json.tmp"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(os.path.join(out_dir, "manifest.json.tmp"), os.path.join(out_dir, "manifest.json"))
    with open(os.path.join(out_dir, "models.txt.tmp"), "w") as f:
        for e in manifest:
            made = "skipped" if "skipped" in e else "failed" if "error" in e else "made"
            f.write(f"{e['file']}\t{e['set']}\t{made}\t"
                    f"{'ref' if 'reference' in e else 'noref'}\n")
    os.replace(os.path.join(out_dir, "models.txt.tmp"), os.path.join(out_dir, "models.txt"))


def packages():
    """Versions of the packages the zoo is made with (None: not installed). A zoo made without
    transformers (its BERT row then failed) is remade once the package is there."""
    from importlib import metadata
    out = {}
    for name in ("torch", "torchvision", "onnx", "onnxruntime", "transformers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def read_stamp(out_dir):
    try:
        with open(os.path.join(out_dir, "COMPLETE")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--set", choices=["ci", "full"],
                    default=os.environ.get("ONNX_CRYPT_ZOO", "ci"))
    ap.add_argument("--only", nargs="*", help="only these model names (no stamp is written)")
    ap.add_argument("--ensure", action="store_true",
                    help="do nothing when OUT is stamped complete for this script and set")
    ap.add_argument("--list", action="store_true", help="print the catalogue and exit")
    args = ap.parse_args(argv)
    if args.list:
        for name, source, tier, storage, _ in catalogue():
            print(f"{name}\t{source}\t{tier}\t{storage}")
        return 0
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = read_stamp(args.out)
        version = script_version()
        if (args.ensure and not args.only and stamp and stamp.get("version") == version
                and covers(stamp, args.set) and stamp.get("packages") == packages()):
            with open(os.path.join(args.out, "manifest.json")) as f:
                write_lists(args.out, json.load(f))  # the sets as FULL_ONLY has them now
            print(f"make_zoo: {args.out} is complete ({stamp['set']} set, this script version)")
            return 0
        if os.path.exists(os.path.join(args.out, "COMPLETE")):
            os.remove(os.path.join(args.out, "COMPLETE"))
        manifest = build(args.out, args.set, set(args.only or []))
        failed = [f"{e['file']}: {e['error']}" for e in manifest if "error" in e]
        skipped = [e for e in manifest if "skipped" in e]
        if not args.only:
            with open(os.path.join(args.out, "COMPLETE"), "w") as f:
                json.dump({"version": version, "set": args.set, "models": len(manifest),
                           "full_only": sorted(FULL_ONLY), "packages": packages()}, f)
                f.write("\n")
        print(f"make_zoo: {len(manifest) - len(failed) - len(skipped)} of "
              f"{len(manifest) - len(skipped)} models written to {args.out}"
              + (f" ({len(skipped)} of the full set left out)" if skipped else "")
              + "".join(f"\n  not made: {m}" for m in failed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
