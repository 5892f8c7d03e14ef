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

Code: this script holds the catalogue, the torchvision and transformers builders and the CLI;
zoo_export.py what every model shares (writers, name map, PyTorch reference, pseudo-labels),
zoo_handbuilt.py the tf2onnx- and Paddle-style graphs.

Deterministic: fixed seeds, single-process export, torch on a fixed thread count, and files written
in a fixed order; the same command gives the same bytes.
"""

import argparse
import fcntl
import hashlib
import json
import os
import sys
import time
import traceback

import numpy as np

from zoo_export import (POOL, SAMPLES, SEED, balanced_pick, center_head, export_torch,
                        finish_entry, map_names, perturb_constant_parameters, reference,
                        torch_reference, torch_setup)
from zoo_handbuilt import make_paddle, make_tf2onnx

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
    """SHA-256 of this script without the sets block, and of the modules it builds with
    (zoo_export.py, zoo_handbuilt.py): what decides the files' contents."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.abspath(__file__)) as f:
        text = f.read()
    start, end = text.index("# --- sets ---"), text.index("# --- end sets ---")
    h = hashlib.sha256((text[:start] + text[end:]).encode())
    for module in ("zoo_export.py", "zoo_handbuilt.py"):
        with open(os.path.join(here, module), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------
# torchvision
# ------------------------------------------------------------------------------------------------
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
