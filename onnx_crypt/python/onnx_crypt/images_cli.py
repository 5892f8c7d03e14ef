"""The command line of onnx_crypt.images (argparse): its options, messages and exit status.

    python -m onnx_crypt.images FOLDER -o OWNER.npz --preset imagenet [--per-class 26]
    python path/to/onnx_crypt/images.py FOLDER -o OWNER.npz ...     (the same, by path)

Both run images.py, whose main() calls main() here; images.py does the work (folder_to_npz) and
its docstring states each option's meaning. Exit status: 0 written, 1 the data is at fault (the
message names the file), 2 a usage error, found before any file is read.

Like images.py, this imports neither the compiled module nor the package's __init__ when
images.py is run by path.
"""

import argparse
import json
import sys

if __package__:  # onnx_crypt.images_cli, also under python -m onnx_crypt.images
    from . import images
else:  # python path/to/images.py: images.py's folder is sys.path[0]
    import images

__all__ = ["main"]


def _parse_wh(text):
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or WxH, not {text!r}")
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        return tuple(values)
    raise argparse.ArgumentTypeError(f"expected N or WxH, not {text!r}")


def _parse_floats(text):
    try:
        return tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, not {text!r}")


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m onnx_crypt.images",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Turns a folder of images into the .npz data file onnx-crypt reads (x: float32, batch\n"
            "first; y: int64 labels). FOLDER holds one subfolder per class (labels 0, 1, ... in\n"
            "sorted folder order) or, without subfolders, unlabeled images. Files are read in\n"
            "sorted order. Each image: convert to RGB or L, resize, center crop, divide by\n"
            "--scale, subtract --mean and divide by --std, reorder channels, lay out.\n"
            "The module docstring (help(onnx_crypt.images)) states each step and its torchvision\n"
            "equivalent."),
        epilog=(
            "presets (options given as well replace the preset's):\n"
            "  imagenet       --resize 256 --crop 224 --mean 0.485,0.456,0.406\n"
            "                 --std 0.229,0.224,0.225 --channels RGB --layout NCHW\n"
            "  fashion-mnist  --size 28 --channels L --layout NCHW --mean 0.2860 --std 0.3530\n"
            "                 (the normalization of the bundled models in tools/models;\n"
            "                 add --mean 0 --std 1 for plain [0, 1] pixels)\n"
            "\n"
            "examples:\n"
            "  python -m onnx_crypt.images photos/ -o owner.npz --preset imagenet --per-class 26\n"
            "  python -m onnx_crypt.images scans/ -o owner.npz --size 64x48 --channels L\n"
            "  onnx-crypt lock model.onnx --data owner.npz -o locked.onnx --key model.key\n"
            "\n"
            "exit status: 0 written, 1 the data is at fault (the message names the file),\n"
            "2 a usage error."))
    p.add_argument("folder", metavar="FOLDER", help="the folder of images")
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz",
                   help="the .npz file to write (atomically; never one of the inputs)")
    p.add_argument("--preset", choices=sorted(images.PRESETS), help="a set of the options below")
    g = p.add_argument_group("geometry (bilinear)")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--size", type=_parse_wh, metavar="N|WxH",
                   help="resize to exactly W x H (N: N x N); the aspect ratio is not kept")
    x.add_argument("--resize", type=int, metavar="N",
                   help="resize the shorter side to N, keeping the aspect ratio")
    g.add_argument("--crop", type=_parse_wh, metavar="N|WxH",
                   help="then center crop to W x H (N: N x N)")
    v = p.add_argument_group("values")
    v.add_argument("--scale", type=float, metavar="S",
                   help="divide the pixels (0..255) by S first (default 255: [0, 1])")
    v.add_argument("--mean", type=_parse_floats, metavar="M[,M,M]",
                   help="subtract, per channel in RGB order (one value: every channel)")
    v.add_argument("--std", type=_parse_floats, metavar="S[,S,S]",
                   help="then divide, per channel in RGB order")
    v.add_argument("--channels", type=str.upper, choices=images.CHANNELS,
                   help="RGB (default), BGR (reversed after normalizing) or L (grayscale)")
    v.add_argument("--layout", type=str.upper, choices=images.LAYOUTS,
                   help="NCHW (default) or NHWC")
    v.add_argument("--exif-transpose", action="store_true",
                   help="apply the EXIF orientation (default: ignore it, as torchvision does)")
    s = p.add_argument_group("which images")
    lab = s.add_mutually_exclusive_group()
    lab.add_argument("--labeled", dest="labeled", action="store_true", default=None,
                     help="FOLDER holds one subfolder per class (default when it has subfolders)")
    lab.add_argument("--unlabeled", dest="labeled", action="store_false",
                     help="every image below FOLDER, without labels (no y)")
    s.add_argument("--extensions", metavar="EXT[,EXT]",
                   default=",".join(images.DEFAULT_EXTENSIONS),
                   help="image file endings, case-insensitive (default: %(default)s)")
    s.add_argument("--per-class", type=int, metavar="K",
                   help="keep K images of each class, chosen by a seeded shuffle")
    s.add_argument("--limit", type=int, metavar="N",
                   help="keep at most N images in all, chosen by a seeded shuffle")
    s.add_argument("--seed", type=int, default=0, help="the seed of that choice (default 0)")
    p.add_argument("--compress", action="store_true", help="deflate the arrays")
    p.add_argument("--json", action="store_true",
                   help="print the summary as one JSON object (without the file list)")
    return p


def _print_summary(summary, out):
    shape = ", ".join(str(d) for d in summary["x_shape"])
    n = summary["samples"]
    line = f"wrote {summary['output']}: x float32 [{shape}]"
    if summary["labeled"]:
        line += f", y int64 [{n}], {len(summary['class_names'])} classes"
    else:
        line += ", no labels"
    print(line, file=out)
    if summary["labeled"]:
        print("label  samples  class", file=out)
        for i, (name, count) in enumerate(zip(summary["class_names"], summary["class_counts"])):
            print(f"{i:5d}  {count:7d}  {name}", file=out)
    print(f"as torchvision: {summary['torchvision']}", file=out)
    if summary["skipped_files"]:
        print(f"skipped {summary['skipped_files']} files that are not images", file=out)


def main(argv=None):
    """The command line; returns the exit status (0 written, 1 data error, 2 usage error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    options = dict(preset=args.preset, size=args.size, resize=args.resize, crop=args.crop,
                   mean=args.mean, std=args.std, channels=args.channels, layout=args.layout,
                   scale=args.scale, labeled=args.labeled, extensions=args.extensions,
                   limit=args.limit, per_class=args.per_class, seed=args.seed,
                   exif_transpose=args.exif_transpose)
    try:  # the options alone: a usage error (2), before any file is read
        images._resolve_options(args.preset, args.size, args.resize, args.crop, args.mean,
                                args.std, args.channels, args.layout, args.scale)
        images._normalized_extensions(args.extensions)
        for name in ("per_class", "limit"):
            if options[name] is not None:
                images._positive_int(options[name], "--" + name.replace("_", "-"))
        if args.per_class is not None and args.labeled is False:
            raise ValueError("--per-class needs labeled data, not --unlabeled")
    except ValueError as e:
        parser.error(str(e))
    try:
        summary = images.folder_to_npz(args.folder, args.output, compress=args.compress, **options)
    except (images.ImageFolderError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for name in summary["short_classes"]:
        count = summary["class_counts"][summary["class_names"].index(name)]
        print(f"note: class {name!r} has {count} images, fewer than --per-class "
              f"{args.per_class}", file=sys.stderr)
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "files"}))
    else:
        _print_summary(summary, sys.stdout)
    return 0
