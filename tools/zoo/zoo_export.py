"""The parts of the model zoo (tools/zoo/make_zoo.py) that every model shares: the fixed seed and
sample counts, byte-stable writers (npz, ONNX), the ONNX Runtime check, the name map from ONNX
tensors to torch parameters, the PyTorch float64 reference (forward, loss, gradients, and the
float32 noise of both), the balanced pseudo-labels, and finish_entry, which writes a model's
files and its manifest entry. make_zoo.py's docstring says what the files hold.
"""

import copy
import io
import os

import numpy as np
import onnx
import onnx.numpy_helper as onh

SEED = 1234
SAMPLES = 16          # samples per data file: pseudo-label accuracy 1.0, lock target 0.12 -> 1 of 16
POOL = 64             # random inputs per torchvision model: BatchNorm calibration, head centring and
                      # the SAMPLES with balanced pseudo-labels (balanced_pick)


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


def export_torch(torch, module, args, input_names, dynamic, opset):
    buf = io.BytesIO()
    torch.onnx.export(module, tuple(args), buf, opset_version=opset, input_names=input_names,
                      output_names=["logits"], dynamic_axes=dynamic, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE, export_params=True)
    return onnx.load_from_string(buf.getvalue())
