#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer harnesses (tests/fuzz/) from the bundled files.

Output, under OUT (default build-asan/fuzz-seeds; regenerated, never committed):
  model_loader/    the bundled models (tools/models/*.onnx under 2 MB; wide_10m is left out) and
                   ONNX's node-test models (/usr/share/libonnx-testdata/data/node/*/model.onnx,
                   Debian package libonnx-testdata, installed by tools/setup.sh)
  external_data/   the bundled models whose weights fit in 256 KiB and a few node-test models,
                   with their initializers and Constant tensors moved to external data, in
                   fuzz_external_data.cc's layout (u32 model length, u32 data file size, the
                   model, the first bytes of the data file), with the data at "weights.bin",
                   "sub/weights.bin" or "./weights.bin", in one block or with gaps
  key_parser/      keys of lenet5 locked by the CLI (seeds 0 and 1) and of bn_cnn, each once as
                   a whole key file (mode byte 0) and once as its payload (mode byte 1), plus
                   lenet5.locked.onnx beside the folder: the model fuzz_key_parser applies keys to
  npz_reader/      tests/data/fixtures/* and small subsets (1-3 samples) of tools/data/*.npz,
                   written by numpy's savez, savez_compressed and save

Locking takes a few seconds per key (longer with a sanitized CLI); the keys are kept when they
exist (--force makes them again).

Usage: make_fuzz_corpus.py --cli build/tools/onnx-crypt [--out DIR] [--force]
"""

import argparse
import pathlib
import shutil
import struct
import subprocess
import sys

import numpy as np
import onnx
import onnx.numpy_helper

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "tools" / "models"
DATA = ROOT / "tools" / "data"
FIXTURES = ROOT / "tests" / "data" / "fixtures"
NODE_TESTS = pathlib.Path("/usr/share/libonnx-testdata/data/node")
MAX_MODEL_BYTES = 2 << 20
MAX_EXTERNAL_FILE = 1 << 18  # fuzz_external_data.cc's kMaxDataFile
# Node-test models also converted to external data: a few with initializers or Constant tensors.
EXTERNAL_NODE_TESTS = ["test_constant", "test_gemm_default_matrix_bias", "test_conv_with_strides_padding",
                       "test_batchnorm_example", "test_reshape_reduced_dims", "test_gather_0"]


def bundled_models():
    return sorted(p for p in MODELS.glob("*.onnx") if p.stat().st_size <= MAX_MODEL_BYTES)


def reset(folder):
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def model_loader_seeds(out):
    folder = reset(out / "model_loader")
    for path in bundled_models():
        shutil.copyfile(path, folder / path.name)
    for model in sorted(NODE_TESTS.glob("*/model.onnx")):
        shutil.copyfile(model, folder / f"{model.parent.name}.onnx")
    return folder


def tensors_of(model):
    """Every TensorProto of the main graph that can hold data: initializers and tensor attributes."""
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                tensors.append(attr.t)
    return tensors


def to_external(model, location, gap):
    """Moves every tensor's bytes into one data file at `location` (with `gap` bytes between
    tensors); returns the data file's contents."""
    data = bytearray()
    for t in tensors_of(model):
        if t.data_type == onnx.TensorProto.STRING:
            continue
        raw = onnx.numpy_helper.to_array(t).tobytes()
        for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data",
                      "uint64_data"):
            t.ClearField(field)
        del t.external_data[:]
        data += bytes(gap)
        offset = len(data)
        data += raw
        t.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", str(offset)),
                           ("length", str(len(raw)))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
    return bytes(data)


def pack_external(model_bytes, data, head=64):
    """fuzz_external_data.cc's input: the data file is stood in for by its first `head` bytes,
    repeated to its size (the values do not matter to the resolver, the ranges do)."""
    return struct.pack("<II", len(model_bytes), len(data)) + model_bytes + data[:head]


def external_data_seeds(out):
    folder = reset(out / "external_data")
    sources = bundled_models() + [NODE_TESTS / n / "model.onnx" for n in EXTERNAL_NODE_TESTS]
    for path in sources:
        if not path.exists():
            continue
        stem = path.stem if path.parent == MODELS else path.parent.name
        for i, (location, gap) in enumerate((("weights.bin", 0), ("sub/weights.bin", 16),
                                             ("./weights.bin", 3))):
            model = onnx.load(str(path))
            data = to_external(model, location, gap)
            if not data or len(data) >= MAX_EXTERNAL_FILE:
                break
            (folder / f"{stem}_{i}").write_bytes(pack_external(model.SerializeToString(), data))
    return folder


def lock(cli, model, seed, max_values, locked, key):
    cmd = [cli, "lock", str(model), "--data", str(DATA / "fmnist_owner256.npz"), "-o", str(locked),
           "--key", str(key), "--seed", str(seed), "--max-values", str(max_values), "--threads",
           "1"]
    print("[fuzz-corpus]", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def varint(buf, pos):
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def key_payload(key_file):
    """Field 3 (payload) of a KeyFile (onnx_crypt/key/key.proto), read from the wire format."""
    pos = 0
    while pos < len(key_file):
        tag, pos = varint(key_file, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            _, pos = varint(key_file, pos)
        elif wire == 2:
            n, pos = varint(key_file, pos)
            if field == 3:
                return key_file[pos:pos + n]
            pos += n
        else:
            raise ValueError(f"unexpected wire type {wire} in a key file")
    raise ValueError("key file without a payload")


def key_parser_seeds(out, cli, force):
    keys = out / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    jobs = [("lenet5", 0, 16, out / "lenet5.locked.onnx"), ("lenet5", 1, 4, keys / "lenet5_s1.onnx"),
            ("bn_cnn", 0, 8, keys / "bn_cnn.onnx")]
    for name, seed, max_values, locked in jobs:
        key = keys / f"{name}_s{seed}.key"
        if force or not key.exists() or not locked.exists():
            lock(cli, MODELS / f"{name}.onnx", seed, max_values, locked, key)
    folder = reset(out / "key_parser")
    for key in sorted(keys.glob("*.key")):
        data = key.read_bytes()
        (folder / f"{key.stem}_file").write_bytes(b"\x00" + data)
        (folder / f"{key.stem}_payload").write_bytes(b"\x01" + key_payload(data))
    return folder


def npz_reader_seeds(out):
    folder = reset(out / "npz_reader")
    for path in sorted(FIXTURES.iterdir()):
        shutil.copyfile(path, folder / path.name)
    for name, n in (("fmnist_owner256", 2), ("fmnist_test", 1), ("fmnist_train1pct", 3)):
        with np.load(DATA / f"{name}.npz") as f:
            arrays = {k: f[k][:n] for k in f.files}
        np.savez(folder / f"{name}_{n}.npz", **arrays)
        np.savez_compressed(folder / f"{name}_{n}_compressed.npz", **arrays)
        np.save(folder / f"{name}_{n}_x.npy", arrays["x"])
    np.savez(folder / "scalars.npz", s=np.float32(1.5), e=np.zeros((0, 3), np.int64),
             b=np.array([True, False]), u=np.arange(5, dtype=np.uint8))
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cli", required=True, help="onnx-crypt binary used to lock the models")
    parser.add_argument("--out", default=str(ROOT / "build-asan" / "fuzz-seeds"))
    parser.add_argument("--force", action="store_true", help="lock the models again")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for folder in (model_loader_seeds(out), external_data_seeds(out),
                   key_parser_seeds(out, args.cli, args.force), npz_reader_seeds(out)):
        files = list(folder.iterdir())
        size = sum(p.stat().st_size for p in files)
        print(f"[fuzz-corpus] {folder}: {len(files)} seeds, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
