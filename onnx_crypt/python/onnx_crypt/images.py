"""A folder of images -> the .npz data file that onnx-crypt reads (x float32, batch first; y int64).

    python -m onnx_crypt.images FOLDER -o OWNER.npz --preset imagenet [--per-class 26]

    x, y, class_names = folder_to_arrays("photos/", preset="imagenet")
    summary = folder_to_npz("photos/", "owner.npz", preset="imagenet", per_class=26)

This module needs only the standard library, numpy and Pillow (Debian: python3-pil); it does not
load the compiled onnx_crypt module, so it also runs where that is not built.

Which files, in which order
    Labeled folder (one subfolder per class; the default when FOLDER has subfolders): the classes
    are the subfolders in sorted name order, and class i gets label i, as in
    torchvision.datasets.ImageFolder's class_to_idx. The images of a class are all the files below
    its subfolder with an image extension, ordered as ImageFolder orders them: folders by their
    path (sorted), the files of one folder by name. An image directly in FOLDER, or a class
    subfolder without images, is an error.
    Unlabeled folder (no subfolders, or labeled=False): every image below FOLDER, in the same
    order; y is None.
    Extensions are matched case-insensitively; the default list is ImageFolder's (.jpg .jpeg .png
    .ppm .bmp .pgm .tif .tiff .webp). Other files are skipped and counted. Unlike ImageFolder,
    hidden files and folders (names starting with '.', e.g. .ipynb_checkpoints, macOS ._x.jpg) are
    skipped, and symbolic links to folders are not followed below the top level (no cycles; a
    class folder itself may be a link).
    Names are sorted as Python sorts str (by code point), so the order does not depend on the
    file system or the locale.

Choosing a subset (deterministic)
    per_class=K keeps K images of each class (all of a class that has fewer; the summary says
    so), limit=N then keeps N images in all. Both choose by a seeded shuffle: the images are
    ranked by SHA-256 of "<seed>:<path relative to FOLDER, '/'-separated>", and the first K (or N)
    in that ranking are kept; the kept images stay in the order above. The ranking is written
    out here rather than taken from random.shuffle because Python does not promise shuffle's
    sequence across versions; this one is the same everywhere, and adding or removing a file
    does not reorder the others.

Preprocessing of each image, in this order
    1. Decode with Pillow (the first frame of a multi-frame file). With exif_transpose=True, the
       EXIF orientation is applied first (ImageOps.exif_transpose); by default it is ignored, as
       torchvision ignores it.
    2. Convert with Image.convert to "RGB" (channels "RGB" or "BGR") or "L" (channels "L"):
       alpha is dropped (not composited), palettes are expanded, grayscale is repeated in three
       channels, and RGB -> L is Pillow's ITU-R 601-2 luma, L = (299 R + 587 G + 114 B) / 1000.
       16-bit images are clipped to 0..255 by this conversion, not rescaled.
    3. Geometry (bilinear resampling, Pillow's, which filters when it shrinks):
         size=(W, H), or size=N for N x N: resize to exactly W x H; the aspect ratio is not kept.
         resize=N: the shorter side becomes N and the longer side int(N * longer / shorter)
           (truncated); the aspect ratio is kept. Exclusive with size.
         crop=(W, H), or crop=N for N x N: then a center crop, the box's left edge at
           int(round((width - W) / 2)) and its top at int(round((height - H) / 2)) (Python's
           round, halves to even). A crop larger than the image is an error (torchvision pads).
       Every image must come out of step 3 with the same width and height (always so with size,
       or with a crop that each image can hold), or it is an error naming two files that differ.
    4. x = pixel / scale (scale=255: values in [0, 1]).
    5. With mean and std: x = (x - mean[c]) / std[c]. Both have 1 value (for every channel) or
       one per channel, given in RGB order even for channels "BGR".
    6. channels "BGR": the channel order is reversed (after step 5).
    7. layout "NCHW": each sample is [C, H, W]; "NHWC": [H, W, C]. C is 3, or 1 for "L".
    x is float32 [N, C, H, W] or [N, H, W, C]; y is int64 [N].

    Decoding and resampling are Pillow's: the same Pillow build gives the same arrays, but
    another Pillow or libjpeg version may decode a JPEG slightly differently.

The same in torchvision (checked against torchvision 0.14 with Pillow 9.4 by
tests/deploy/images_test.py, which finds the arrays equal bit for bit)
    resize=256, crop=224, mean=m, std=s, channels "RGB", layout "NCHW" is
        datasets.ImageFolder(FOLDER, transform=T.Compose([
            T.Resize(256),                   # PIL input: bilinear, antialiased
            T.CenterCrop(224),
            T.ToTensor(),                    # = scale 255
            T.Normalize(m, s)]))             # loader: Image.open(path).convert("RGB")
    size=(W, H)            T.Resize((H, W))  (torchvision takes height first; this module and
                           the command line take width first, as Pillow does: --size WxH)
    crop=(W, H)            T.CenterCrop((H, W))
    channels "L"           the loader converts with .convert("L") instead of .convert("RGB")
    channels "BGR"         T.Lambda(lambda t: t.flip(0)) after Normalize
    layout "NHWC"          T.Lambda(lambda t: t.permute(1, 2, 0)) at the end
    scale other than 255   T.ToTensor() then T.Lambda(lambda t: t * 255 / scale) (equal to
                           rounding, not bit for bit; this module divides once)
    torchvision_equivalent(**options) writes this out for a given set of options.

Presets (PRESETS; options given as well replace the preset's, and size or resize replaces both
of the preset's size and resize)
    "imagenet"       resize=256, crop=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                     channels "RGB", layout "NCHW": torchvision's ImageNet classifiers.
    "fashion-mnist"  size=28 (28 x 28), channels "L", layout "NCHW", scale 255, mean=0.2860,
                     std=0.3530: the normalization every bundled model (tools/models) was trained
                     with (tools/make_data.py). Add mean=0, std=1 (--mean 0 --std 1) for
                     plain [0, 1] pixels.

The .npz file (folder_to_npz) holds exactly x and, for a labeled folder, y. The class names are
not stored in it: the onnx-crypt reader parses every array of an .npz, and a numpy string array
is a dtype it refuses; they are in the returned summary and printed by the command line, label
by label. The file is written to a temporary file in the output's folder and renamed over the
output only when complete; an output that is one of the input images is refused. Zip entries
have a fixed date, so the same inputs give the same bytes.

Errors: ImageFolderError (a ValueError) for the data (an unreadable or corrupt image, an empty
folder, images that differ in size, a crop too large), naming the file; ValueError for bad
options (a mean of the wrong length, size with resize); FileNotFoundError for a missing folder.
The command line exits 0 on success, 1 when the data is at fault, 2 on a usage error.
"""

import dataclasses
import hashlib
import math
import os
import sys

import numpy as np
from PIL import Image, ImageOps

if __package__:  # onnx_crypt.images
    from . import images_npz as _npz
else:  # loaded by file path (python images.py, or importlib): the sibling file, by path too
    import importlib.util as _util

    _spec = _util.spec_from_file_location(
        "onnx_crypt_images_npz", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                              "images_npz.py"))
    _npz = _util.module_from_spec(_spec)
    _spec.loader.exec_module(_npz)

ImageFolderError = _npz.ImageFolderError
ImageFolderError.__module__ = __name__  # raised and documented as this module's

__all__ = [
    "DEFAULT_EXTENSIONS",
    "ImageFolderError",
    "PRESETS",
    "folder_to_arrays",
    "folder_to_npz",
    "list_images",
    "main",
    "torchvision_equivalent",
]

# torchvision.datasets.folder.IMG_EXTENSIONS, so that the same files count as images.
DEFAULT_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

PRESETS = {
    "imagenet": dict(resize=256, crop=224, mean=(0.485, 0.456, 0.406),
                     std=(0.229, 0.224, 0.225), channels="RGB", layout="NCHW", scale=255.0),
    "fashion-mnist": dict(size=28, channels="L", layout="NCHW", scale=255.0,
                          mean=(0.2860,), std=(0.3530,)),
}

CHANNELS = ("RGB", "BGR", "L")
LAYOUTS = ("NCHW", "NHWC")

_BILINEAR = getattr(Image, "Resampling", Image).BILINEAR
@dataclasses.dataclass(frozen=True)
class _Options:
    size: tuple = None      # (W, H) or None
    resize: int = None
    crop: tuple = None      # (W, H) or None
    mean: tuple = None      # floats, 1 or C of them, RGB order
    std: tuple = None
    channels: str = "RGB"
    layout: str = "NCHW"
    scale: float = 255.0
    exif_transpose: bool = False

    @property
    def num_channels(self):
        return 1 if self.channels == "L" else 3


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, not {value!r}")
    return int(value)


def _width_height(value, what):
    """N -> (N, N); (W, H) -> (W, H); None -> None."""
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{what} must be N or (width, height), not {value!r}")
        return (_positive_int(value[0], f"{what} width"), _positive_int(value[1], f"{what} height"))
    n = _positive_int(value, what)
    return (n, n)


def _floats(value, what):
    if value is None:
        return None
    if isinstance(value, (int, float, np.number)):
        value = (value,)
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number or a sequence of numbers, not {value!r}")
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{what} must be finite numbers, not {value!r}")
    return values


def _resolve_options(preset=None, size=None, resize=None, crop=None, mean=None, std=None,
                     channels=None, layout=None, scale=None, exif_transpose=False):
    """Merges the preset with the options given (not None) and checks them; ValueError if bad."""
    merged = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
        merged.update(PRESETS[preset])
    if size is not None or resize is not None:  # the geometry given replaces the preset's
        merged.pop("size", None)
        merged.pop("resize", None)
    given = dict(size=size, resize=resize, crop=crop, mean=mean, std=std, channels=channels,
                 layout=layout, scale=scale)
    merged.update({k: v for k, v in given.items() if v is not None})

    if merged.get("size") is not None and merged.get("resize") is not None:
        raise ValueError("give size (an exact width x height) or resize (the shorter side), "
                         "not both")
    opts = _Options(
        size=_width_height(merged.get("size"), "size"),
        resize=(None if merged.get("resize") is None
                else _positive_int(merged["resize"], "resize")),
        crop=_width_height(merged.get("crop"), "crop"),
        mean=_floats(merged.get("mean"), "mean"),
        std=_floats(merged.get("std"), "std"),
        channels=str(merged.get("channels", "RGB")).upper(),
        layout=str(merged.get("layout", "NCHW")).upper(),
        scale=float(merged.get("scale", 255.0)),
        exif_transpose=bool(exif_transpose),
    )
    if opts.channels not in CHANNELS:
        raise ValueError(f"channels must be one of {', '.join(CHANNELS)}, not {opts.channels!r}")
    if opts.layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {opts.layout!r}")
    if not (math.isfinite(opts.scale) and opts.scale > 0):
        raise ValueError(f"scale must be a positive number, not {opts.scale!r}")
    if (opts.mean is None) != (opts.std is None):
        raise ValueError("give mean and std together")
    if opts.mean is not None:
        c = opts.num_channels
        for name, values in (("mean", opts.mean), ("std", opts.std)):
            if len(values) not in (1, c):
                raise ValueError(
                    f"{name} has {len(values)} values; channels {opts.channels} needs 1 or {c}")
        if any(s == 0 for s in opts.std):
            raise ValueError(f"std must not be 0: {opts.std}")
    return opts


def _normalized_extensions(extensions):
    if isinstance(extensions, str):
        extensions = extensions.split(",")
    out = []
    for e in extensions:
        e = e.strip().lower()
        if e:
            out.append(e if e.startswith(".") else "." + e)
    if not out:
        raise ValueError("extensions is empty")
    return tuple(out)


def _walk_images(top, extensions):
    """Images below `top`, ImageFolder's order: folders by sorted path, files by name.

    Returns (paths, skipped): hidden entries are left out, files of other extensions counted.
    """
    found, skipped = [], 0

    def fail(error):
        raise ImageFolderError(f"{error.filename}: cannot list the folder: {error.strerror}")

    walk = []
    for root, dirs, files in os.walk(top, onerror=fail):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        walk.append((root, files))
    walk.sort(key=lambda item: item[0])
    for root, files in walk:
        for name in sorted(files):
            if name.startswith("."):
                continue
            if name.lower().endswith(extensions):
                found.append(os.path.join(root, name))
            else:
                skipped += 1
    return found, skipped


def _scan(folder, labeled, extensions):
    """-> (paths, labels or None, class_names, skipped)."""
    if not os.path.isdir(folder):
        if not os.path.exists(folder):
            raise FileNotFoundError(f"{folder}: no such folder")
        raise ImageFolderError(f"{folder}: not a folder")
    extensions = _normalized_extensions(extensions)
    try:
        entries = sorted(os.listdir(folder))
    except OSError as e:
        raise ImageFolderError(f"{folder}: cannot list the folder: {e.strerror}")
    visible = [e for e in entries if not e.startswith(".")]
    subdirs = [e for e in visible if os.path.isdir(os.path.join(folder, e))]
    if labeled is None:
        labeled = bool(subdirs)
    ext_text = " ".join(extensions)

    if not labeled:
        paths, skipped = _walk_images(folder, extensions)
        if not paths:
            raise ImageFolderError(f"{folder}: no images (files ending in {ext_text}; "
                                   f"{skipped} other files skipped)")
        return paths, None, [], skipped

    if not subdirs:
        raise ImageFolderError(f"{folder}: no class subfolders (labeled=True needs one folder of "
                               "images per class)")
    loose = [e for e in visible if e not in subdirs and e.lower().endswith(extensions)]
    if loose:
        raise ImageFolderError(
            f"{os.path.join(folder, loose[0])}: an image directly in a class-per-subfolder "
            f"folder ({len(loose)} such); move it into a class folder, or pass labeled=False "
            "(--unlabeled) to read every image without labels")
    paths, labels, skipped = [], [], sum(
        1 for e in visible if e not in subdirs)
    for index, name in enumerate(subdirs):
        class_paths, class_skipped = _walk_images(os.path.join(folder, name), extensions)
        if not class_paths:
            raise ImageFolderError(f"{os.path.join(folder, name)}: class folder without images "
                                   f"(files ending in {ext_text})")
        paths += class_paths
        labels += [index] * len(class_paths)
        skipped += class_skipped
    return paths, labels, subdirs, skipped


def _rank_key(seed, folder, path):
    rel = os.path.relpath(path, folder).replace(os.sep, "/")
    return hashlib.sha256(f"{seed}:{rel}".encode("utf-8", "surrogateescape")).digest()


def _select(folder, paths, labels, per_class, limit, seed):
    """Indices of the kept images (ascending), chosen by the seeded ranking."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, not {seed!r}")
    keep = list(range(len(paths)))

    def first_ranked(indices, n):
        ranked = sorted(indices, key=lambda i: _rank_key(seed, folder, paths[i]))
        return sorted(ranked[:n])

    if per_class is not None:
        per_class = _positive_int(per_class, "per_class")
        if labels is None:
            raise ValueError("per_class needs a labeled folder (one subfolder per class)")
        by_class = {}
        for i in keep:
            by_class.setdefault(labels[i], []).append(i)
        keep = sorted(i for members in by_class.values() for i in first_ranked(members, per_class))
    if limit is not None:
        limit = _positive_int(limit, "limit")
        if len(keep) > limit:
            keep = first_ranked(keep, limit)
    return keep


def _load(path, opts):
    """Steps 1-3 of the module docstring: a PIL image of the final size and mode."""
    mode = "L" if opts.channels == "L" else "RGB"
    try:
        with Image.open(path) as im:
            im.load()  # decode now, so that a corrupt or truncated file fails here, by name
            if opts.exif_transpose:
                im = ImageOps.exif_transpose(im)
            im = im.convert(mode)
    except Image.DecompressionBombError as e:
        raise ImageFolderError(f"{path}: refused by Pillow: {e}")
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageFolderError(f"{path}: not a readable image: {e}")
    original = im.size
    w, h = im.size
    if opts.size is not None:
        target = opts.size
    elif opts.resize is not None:
        n = opts.resize
        if w <= h:
            target = (n, int(n * h / w))
        else:
            target = (int(n * w / h), n)
    else:
        target = (w, h)
    if target != (w, h):
        im = im.resize(target, _BILINEAR)
        w, h = target
    if opts.crop is not None:
        cw, ch = opts.crop
        if cw > w or ch > h:
            raise ImageFolderError(
                f"{path}: crop {cw}x{ch} is larger than the image ({original[0]}x{original[1]}, "
                f"{w}x{h} after resizing); resize it first (resize=, --resize)")
        left = int(round((w - cw) / 2.0))
        top = int(round((h - ch) / 2.0))
        im = im.crop((left, top, left + cw, top + ch))
    return im, original


def _to_array(im, opts):
    """Steps 4-7: one float32 sample, [C, H, W] or [H, W, C]."""
    a = np.asarray(im, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    x = a.astype(np.float32) / np.float32(opts.scale)
    if opts.mean is not None:
        x = (x - np.asarray(opts.mean, np.float32)) / np.asarray(opts.std, np.float32)
    if opts.channels == "BGR":
        x = x[:, :, ::-1]
    if opts.layout == "NCHW":
        x = x.transpose(2, 0, 1)
    return x


@dataclasses.dataclass
class _Result:
    x: np.ndarray
    y: np.ndarray
    class_names: list
    paths: list
    skipped: int
    opts: _Options


def _build(folder, *, preset=None, size=None, resize=None, crop=None, mean=None, std=None,
           channels=None, layout=None, scale=None, labeled=None, extensions=DEFAULT_EXTENSIONS,
           limit=None, per_class=None, seed=0, exif_transpose=False, _before_decode=None):
    opts = _resolve_options(preset, size, resize, crop, mean, std, channels, layout, scale,
                            exif_transpose)
    folder = os.fspath(folder)
    paths, labels, class_names, skipped = _scan(folder, labeled, extensions)
    keep = _select(folder, paths, labels, per_class, limit, seed)
    paths = [paths[i] for i in keep]
    if _before_decode is not None:
        _before_decode(paths)
    x = None
    first = None
    for i, path in enumerate(paths):
        im, original = _load(path, opts)
        sample = _to_array(im, opts)
        if first is None:
            first = (path, original, im.size)
            x = np.empty((len(paths),) + sample.shape, np.float32)
        elif im.size != first[2]:
            raise ImageFolderError(
                f"{path}: {_size_text(original, im.size)}, but {first[0]} is "
                f"{_size_text(first[1], first[2])}; images of different sizes need size= or "
                "resize= (--size WxH, --resize N; with crop=, --crop, for a fixed center)")
        x[i] = sample
    y = None if labels is None else np.asarray([labels[i] for i in keep], np.int64)
    return _Result(x, y, list(class_names), paths, skipped, opts)


def _size_text(original, final):
    if original == final:
        return f"{final[0]}x{final[1]}"
    return f"{final[0]}x{final[1]} (from {original[0]}x{original[1]})"


def list_images(folder, *, labeled=None, extensions=DEFAULT_EXTENSIONS):
    """The images folder_to_arrays would read, in its order: (paths, labels or None, class_names).

    Nothing is decoded. Raises as folder_to_arrays does for the folder itself.
    """
    paths, labels, class_names, _ = _scan(os.fspath(folder), labeled, extensions)
    return paths, labels, list(class_names)


def folder_to_arrays(folder, *, preset=None, size=None, resize=None, crop=None, mean=None,
                     std=None, channels=None, layout=None, scale=None, labeled=None,
                     extensions=DEFAULT_EXTENSIONS, limit=None, per_class=None, seed=0,
                     exif_transpose=False):
    """Reads a folder of images into (x, y, class_names); see the module docstring for details.

    folder          a class-per-subfolder folder, or a folder of unlabeled images.
    preset          "imagenet" or "fashion-mnist" (PRESETS); the options below replace its values.
    size            N or (W, H): resize to exactly W x H (bilinear).
    resize          N: resize the shorter side to N (bilinear, aspect kept). Not with size.
    crop            N or (W, H): center crop after resizing.
    mean, std       1 value or one per channel (RGB order): x = (pixel / scale - mean) / std.
    channels        "RGB" (default), "BGR" or "L" (grayscale, 1 channel).
    layout          "NCHW" (default) or "NHWC".
    scale           pixels are divided by it first (default 255.0: [0, 1]).
    labeled         None: labeled when the folder has subfolders; True or False to say so.
    extensions      file name endings that are images (case-insensitive).
    per_class       keep K images per class (seeded), limit: then keep N in all (seeded).
    seed            the seed of that choice (default 0).
    exif_transpose  apply the EXIF orientation (default False, like torchvision).

    Returns x (float32, [N, C, H, W] or [N, H, W, C]), y (int64 [N], label i = class_names[i];
    None for an unlabeled folder) and class_names (sorted subfolder names; [] when unlabeled).
    Raises ImageFolderError naming the file for bad data, ValueError for bad options,
    FileNotFoundError when the folder does not exist.
    """
    r = _build(folder, preset=preset, size=size, resize=resize, crop=crop, mean=mean, std=std,
               channels=channels, layout=layout, scale=scale, labeled=labeled,
               extensions=extensions, limit=limit, per_class=per_class, seed=seed,
               exif_transpose=exif_transpose)
    return r.x, r.y, r.class_names


def folder_to_npz(folder, output, *, compress=False, **options):
    """folder_to_arrays(folder, **options), written to `output` as an .npz (x, and y if labeled).

    compress=True deflates the arrays (the onnx-crypt reader accepts both). The write is atomic
    (a temporary file in output's folder, then os.replace); on any error nothing is written and
    an existing output is left as it was. An output that is an input image is refused
    (ImageFolderError) before anything is decoded.

    Returns a summary dict: folder, output, samples, x_shape, labeled, class_names and
    class_counts (label i = class_names[i]), skipped_files (files that are not images), options
    (the resolved preprocessing), torchvision (the equivalent transform, as text), short_classes
    (classes with fewer than per_class images) and files (the images read, relative to folder,
    in the order of the rows of x).
    """
    folder = os.fspath(folder)
    holder = {}

    def check(paths):
        holder["out"] = _npz.check_output(output, paths)

    r = _build(folder, _before_decode=check, **options)
    arrays = {"x": r.x}
    if r.y is not None:
        arrays["y"] = r.y
    _npz.write_npz(holder["out"], arrays, compress)
    return _npz.summary(folder, output, r, options.get("per_class"))


def torchvision_equivalent(**options):
    """The torchvision loader and transform that give the same arrays as these options, as text."""
    return _npz.torchvision_text(_resolve_options(**options))


# --- command line: images_cli.py ----------------------------------------------------------------

def main(argv=None):
    """The command line; returns the exit status (0 written, 1 data error, 2 usage error)."""
    if __package__:  # onnx_crypt.images, also under python -m onnx_crypt.images
        from . import images_cli
    else:  # python path/to/images.py: this folder is sys.path[0]
        import images_cli
    return images_cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
