#!/usr/bin/env python3
"""Turns Debian's Fashion-MNIST IDX files into the .npz arrays the project's tools and tests use.

Input : /usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
        (Debian package dataset-fashion-mnist).
Output: tools/data/ (gitignored), each file holding
          x   float32 [N, 1, 28, 28]   normalized pixels (formula below)
          y   int64   [N]              class label 0..9
          idx int64   [N]              row of each sample in its source IDX file
        fmnist_test.npz        all 10,000 test images
        fmnist_train.npz       all 60,000 training images
        fmnist_owner256.npz    256 training images (the model owner's data), stratified:
                               26 of classes 0..5, 25 of classes 6..9
        fmnist_train1pct.npz   600 labelled training images (60 per class), disjoint from owner256
        fmnist_train5pct.npz   3,000 labelled training images (300 per class), disjoint from
                               owner256; a superset of train1pct
        fmnist_rgb32_test.npz      the 10,000 test images in the 3 x 32 x 32 form (below)
        fmnist_rgb32_owner256.npz  the 256 owner images in the 3 x 32 x 32 form

Normalization (the same constants are used by tools/train_models.py, so every model expects it):
    x = (pixel / 255 - MEAN) / STD,   MEAN = 0.2860, STD = 0.3530
(the mean and standard deviation of the training pixels scaled to [0, 1]).

The 3 x 32 x 32 form (x float32 [N, 3, 32, 32], for models such as torchvision's resnet18 that
want three channels; see to_rgb32): the normalized 28 x 28 image is resized to 32 x 32 by
bilinear interpolation with half-pixel centers (source coordinate (o + 0.5) * 28 / 32 - 0.5,
clamped to [0, 27]; the same as torch F.interpolate(mode="bilinear", align_corners=False) and
ONNX Resize mode "linear" with "half_pixel"), then copied into all three channels. Resizing
after normalizing gives the same values as normalizing after resizing (the weights of each
output pixel sum to 1), up to float rounding.

The subsets are drawn with numpy's PCG64 generator from fixed seeds, and the .npz files are written
with fixed zip timestamps, so two runs produce the same bytes. Each file is written to a temporary
name and renamed into place.

Usage: make_data.py [--src DIR] [--out DIR]
"""

import argparse
import gzip
import io
import os
import struct
import sys
import zipfile

import numpy as np

MEAN = 0.2860
STD = 0.3530
NUM_CLASSES = 10
SUBSET_SEED = 20240601  # fixed: changing it changes every subset file

DEFAULT_SRC = "/usr/share/datasets/fashion-mnist"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def read_idx(path):
    """Reads a gzipped IDX file (big-endian header: magic, dims) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte element type
        raise ValueError(f"{path}: unsupported IDX magic {magic:#x}")
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {dims} bytes of data, found {body.size}")
    return body.reshape(dims)


def normalize(images_u8):
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28] with x = (p/255 - MEAN) / STD."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x[:, None, :, :].astype(np.float32)


def bilinear_matrix(n_in, n_out):
    """[n_out, n_in] float64 weights of 1-D linear interpolation with half-pixel centers."""
    w = np.zeros((n_out, n_in), dtype=np.float64)
    for o in range(n_out):
        src = min(max((o + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1.0)
        i0 = int(np.floor(src))
        i1 = min(i0 + 1, n_in - 1)
        frac = src - i0
        w[o, i0] += 1.0 - frac
        w[o, i1] += frac
    return w


def to_rgb32(x, channels=3):
    """float32 [N, 1, 28, 28] normalized -> float32 [N, channels, 32, 32]: bilinear resize
    (half-pixel centers, computed in float64, rounded once to float32), channel repeated.
    channels=1 returns the resized single channel (train_models.py repeats it per batch)."""
    if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected [N, 1, 28, 28], got {x.shape}")
    r = bilinear_matrix(28, 32)
    out = np.empty((x.shape[0], 1, 32, 32), dtype=np.float32)
    for i in range(0, x.shape[0], 5000):  # chunks keep the float64 temporaries small
        out[i:i + 5000, 0] = (r @ x[i:i + 5000, 0].astype(np.float64) @ r.T).astype(np.float32)
    return np.repeat(out, channels, axis=1) if channels > 1 else out


def save_npz_atomic(path, **arrays):
    """Writes an uncompressed .npz readable by np.load, byte-for-byte deterministic.

    np.savez stamps each member with the current time; here every member gets a fixed date.
    """
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name in sorted(arrays):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]),
                                          allow_pickle=False)
                info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def stratified_pick(labels, counts, rng, exclude=None):
    """Picks counts[c] indices of class c (sorted), skipping those in `exclude`."""
    picked = []
    for c in range(NUM_CLASSES):
        pool = np.flatnonzero(labels == c)
        if exclude is not None:
            pool = np.setdiff1d(pool, exclude, assume_unique=True)
        picked.append(rng.permutation(pool)[:counts[c]])
    return np.sort(np.concatenate(picked)).astype(np.int64)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=DEFAULT_SRC, help="folder with the IDX .gz files")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default tools/data)")
    args = ap.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    sets = {}
    for split, n in (("train", 60000), ("t10k", 10000)):
        images = read_idx(os.path.join(args.src, f"{split}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(args.src, f"{split}-labels-idx1-ubyte.gz"))
        if images.shape != (n, 28, 28) or labels.shape != (n,):
            raise ValueError(f"{split}: unexpected shapes {images.shape} {labels.shape}")
        sets[split] = (normalize(images), labels.astype(np.int64))

    x_tr, y_tr = sets["train"]
    x_te, y_te = sets["t10k"]
    rng = np.random.Generator(np.random.PCG64(SUBSET_SEED))
    owner = stratified_pick(y_tr, [26] * 6 + [25] * 4, rng)
    # 5 % first, then 1 % as a subset of it, both disjoint from the owner's samples.
    pct5 = stratified_pick(y_tr, [300] * NUM_CLASSES, rng, exclude=owner)
    pct1 = np.sort(np.concatenate(
        [rng.permutation(pct5[y_tr[pct5] == c])[:60] for c in range(NUM_CLASSES)])).astype(np.int64)
    assert len(owner) == 256 and len(pct1) == 600 and len(pct5) == 3000
    assert not np.intersect1d(owner, pct5).size and np.isin(pct1, pct5).all()

    outputs = {
        "fmnist_test": (x_te, y_te, np.arange(len(y_te), dtype=np.int64)),
        "fmnist_train": (x_tr, y_tr, np.arange(len(y_tr), dtype=np.int64)),
        "fmnist_owner256": (x_tr[owner], y_tr[owner], owner),
        "fmnist_train1pct": (x_tr[pct1], y_tr[pct1], pct1),
        "fmnist_train5pct": (x_tr[pct5], y_tr[pct5], pct5),
        "fmnist_rgb32_test": (to_rgb32(x_te), y_te, np.arange(len(y_te), dtype=np.int64)),
        "fmnist_rgb32_owner256": (to_rgb32(x_tr[owner]), y_tr[owner], owner),
    }
    for name, (x, y, idx) in outputs.items():
        path = os.path.join(args.out, name + ".npz")
        save_npz_atomic(path, x=x, y=y, idx=idx)
        counts = np.bincount(y, minlength=NUM_CLASSES)
        print(f"wrote {path}: x {x.shape} {x.dtype}, y per class {counts.tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
