"""The .npz side of onnx_crypt.images: the output check, the atomic deterministic writer, the
summary of a written folder and the torchvision text of the options (split from images.py, which
holds the reading and preprocessing of images and re-exports ImageFolderError from here).

Standard library and numpy only, like images.py; loaded by images.py as its sibling (a package
import, or by file path when images.py itself was loaded by path).
"""

import os
import secrets
import zipfile

import numpy as np

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same arrays give the same bytes


class ImageFolderError(ValueError):
    """The images cannot become a data set; the message names the file or folder."""


def check_output(output, paths):
    out = os.path.abspath(os.fspath(output))
    parent = os.path.dirname(out)
    if os.path.isdir(out):
        raise ImageFolderError(f"{output}: is a folder; name the .npz file to write")
    if not os.path.isdir(parent):
        raise ImageFolderError(f"{output}: the folder {parent} does not exist")
    real = os.path.realpath(out)
    if os.path.exists(out):
        for p in paths:
            if os.path.realpath(p) == real:
                raise ImageFolderError(f"{output}: is one of the input images; refusing to "
                                       "overwrite it")
    return out


def write_npz(path, arrays, compress):
    """Writes arrays to path through a temporary file in the same folder and os.replace."""
    folder, base = os.path.split(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(
        os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any new file
            break
        except FileExistsError:
            continue
    else:
        raise ImageFolderError(f"{path}: cannot create a temporary file in {folder}")
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=method) as zf:
                for name in sorted(arrays):
                    info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_DATE)
                    info.compress_type = method
                    info.external_attr = 0o644 << 16
                    array = np.ascontiguousarray(arrays[name])
                    # force_zip64: the size is not known before streaming (numpy does the same).
                    with zf.open(info, "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def summary(folder, output, r, per_class):
    counts = ([int(n) for n in np.bincount(r.y, minlength=len(r.class_names))]
              if r.y is not None else [])
    o = r.opts
    summary = {
        "folder": os.fspath(folder),
        "output": None if output is None else os.fspath(output),
        "samples": int(r.x.shape[0]),
        "x_shape": list(r.x.shape),
        "labeled": r.y is not None,
        "class_names": r.class_names,
        "class_counts": counts,
        "skipped_files": r.skipped,
        "options": {
            "size": list(o.size) if o.size else None,
            "resize": o.resize,
            "crop": list(o.crop) if o.crop else None,
            "mean": list(o.mean) if o.mean else None,
            "std": list(o.std) if o.std else None,
            "channels": o.channels,
            "layout": o.layout,
            "scale": o.scale,
            "exif_transpose": o.exif_transpose,
        },
        "torchvision": torchvision_text(o),
        "short_classes": ([name for name, n in zip(r.class_names, counts) if n < per_class]
                          if per_class is not None and r.y is not None else []),
        "files": [os.path.relpath(p, folder) for p in r.paths],
    }
    return summary


def torchvision_text(o):
    steps = []
    if o.exif_transpose:
        steps.append("T.Lambda(ImageOps.exif_transpose)")
    if o.size is not None:
        steps.append(f"T.Resize(({o.size[1]}, {o.size[0]}))")
    elif o.resize is not None:
        steps.append(f"T.Resize({o.resize})")
    if o.crop is not None:
        steps.append(f"T.CenterCrop(({o.crop[1]}, {o.crop[0]}))")
    steps.append("T.ToTensor()")
    if o.scale != 255.0:
        steps.append(f"T.Lambda(lambda t: t * 255 / {o.scale!r})")
    if o.mean is not None:
        steps.append(f"T.Normalize({list(o.mean)}, {list(o.std)})")
    if o.channels == "BGR":
        steps.append("T.Lambda(lambda t: t.flip(0))")
    if o.layout == "NHWC":
        steps.append("T.Lambda(lambda t: t.permute(1, 2, 0))")
    mode = "L" if o.channels == "L" else "RGB"
    return (f"loader: Image.open(path).convert({mode!r}); transform: "
            f"T.Compose([{', '.join(steps)}])")
