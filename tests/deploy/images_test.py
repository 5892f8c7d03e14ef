"""onnx_crypt/python/onnx_crypt/images.py: a folder of images -> the .npz the onnx-crypt CLI reads.

The module is loaded from its file (importlib), so this test needs neither the compiled module
nor the package's __init__. Images are made here with Pillow (PNG, JPEG, BMP, TIFF; RGB, RGBA,
grayscale, palette; several sizes; a nested folder). The oracle is torchvision: ImageFolder with
Resize, CenterCrop, ToTensor and Normalize on the same files must give the same file order, labels
and arrays (to float32 rounding). The Fashion-MNIST preset must give back the arrays of
tools/data/fmnist_test.npz from those images written as PNGs, and the bundled LeNet-5 must score
on the .npz through `onnx-crypt eval` ($ONNX_CRYPT_CLI, default build/tools/onnx-crypt).
The command line (images_cli.py) runs as `python images.py` by path, which imports images_cli.py
from beside it: neither the compiled module nor __init__ is imported there either.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image
from torchvision import datasets
from torchvision import transforms as T

ROOT = os.environ.get("ONNX_CRYPT_ROOT",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("ONNX_CRYPT_BUILD_DIR", os.path.join(ROOT, "build"))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(BUILD, "tools", "onnx-crypt"))
IMAGES_PY = os.path.join(ROOT, "onnx_crypt", "python", "onnx_crypt", "images.py")
MODEL = os.path.join(ROOT, "tools", "models", "lenet5.onnx")
FMNIST_TEST = os.path.join(ROOT, "tools", "data", "fmnist_test.npz")

_spec = importlib.util.spec_from_file_location("onnx_crypt_images_under_test", IMAGES_PY)
images = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = images  # dataclasses look their module up
_spec.loader.exec_module(images)

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
TOL = 1e-6  # the same float32 operations in the same order: equal in practice


def noise(rng, w, h, channels=3):
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def save(path, array, mode=None, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    im = Image.fromarray(array)
    if mode is not None:
        im = im.convert(mode)
    im.save(path, **kwargs)


def pil_loader(mode):
    def load(path):
        with Image.open(path) as im:
            return im.convert(mode)
    return load


def not_hidden(path):
    return not os.path.basename(path).startswith(".")


def image_folder(root, transform, mode="RGB"):
    """torchvision's ImageFolder over root: (paths, labels, classes, x as one array)."""
    ds = datasets.ImageFolder(root, transform=transform, loader=pil_loader(mode),
                              is_valid_file=lambda p: not_hidden(p) and
                              p.lower().endswith(datasets.folder.IMG_EXTENSIONS))
    x = torch.stack([ds[i][0] for i in range(len(ds))]).numpy()
    return [p for p, _ in ds.samples], [t for _, t in ds.samples], ds.classes, x


def run_images(*args):
    return subprocess.run([sys.executable, IMAGES_PY, *args], capture_output=True, text=True)


class ImagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        rng = np.random.default_rng(16)
        # Labeled: 3 classes, mixed formats, modes and sizes, one nested folder, one text file.
        cls.lab = os.path.join(d, "lab")
        save(os.path.join(cls.lab, "bird", "a.png"), noise(rng, 40, 30))
        save(os.path.join(cls.lab, "bird", "b.jpg"), noise(rng, 33, 47), quality=90)
        save(os.path.join(cls.lab, "bird", "c.png"), noise(rng, 50, 50, 1))  # grayscale
        save(os.path.join(cls.lab, "cat", "x.png"), noise(rng, 45, 32, 4))  # RGBA
        save(os.path.join(cls.lab, "cat", "sub", "y.png"), noise(rng, 30, 60))
        save(os.path.join(cls.lab, "cat", "sub-2", "w.bmp"), noise(rng, 27, 27))
        save(os.path.join(cls.lab, "cat", "z.tiff"), noise(rng, 64, 20))
        save(os.path.join(cls.lab, "dog", "p.PNG"), noise(rng, 36, 36), mode="P")  # palette
        save(os.path.join(cls.lab, "dog", "q.jpeg"), noise(rng, 29, 41, 1), quality=85)
        with open(os.path.join(cls.lab, "dog", "notes.txt"), "w") as f:
            f.write("not an image\n")
        # Unlabeled, all 32x24; alone in its parent, which ImageFolder sees as one class.
        cls.flat = os.path.join(d, "flat_parent", "flat")
        for name in ("b.png", "a.jpg", "c.png"):
            save(os.path.join(cls.flat, name), noise(rng, 32, 24))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def folder(self, name):
        path = os.path.join(self.dir, name)
        os.makedirs(path)
        return path

    # --- against torchvision -------------------------------------------------------------------

    def test_labeled_folder_matches_torchvision_image_folder(self):
        # Crop offsets (w - 19) / 2 and (h - 15) / 2 fall on halves for some images: Python's
        # rounding, as in torchvision's CenterCrop.
        x, y, classes = images.folder_to_arrays(self.lab, resize=24, crop=(19, 15), mean=MEAN,
                                                std=STD)
        paths, labels, tv_classes, want = image_folder(
            self.lab, T.Compose([T.Resize(24), T.CenterCrop((15, 19)), T.ToTensor(),
                                 T.Normalize(MEAN, STD)]))
        self.assertEqual(classes, ["bird", "cat", "dog"])
        self.assertEqual(classes, tv_classes)
        self.assertEqual(images.list_images(self.lab)[0], paths)
        self.assertEqual(y.dtype, np.int64)
        self.assertEqual(y.tolist(), labels)
        self.assertEqual(x.dtype, np.float32)
        self.assertEqual(x.shape, (9, 3, 15, 19))
        np.testing.assert_allclose(x, want, rtol=0, atol=TOL)

    def test_grayscale_exact_size_matches_torchvision(self):
        x, y, _ = images.folder_to_arrays(self.lab, size=(20, 12), channels="L")
        _, labels, _, want = image_folder(
            self.lab, T.Compose([T.Resize((12, 20)), T.ToTensor()]), mode="L")
        self.assertEqual(x.shape, (9, 1, 12, 20))
        self.assertEqual(y.tolist(), labels)
        np.testing.assert_allclose(x, want, rtol=0, atol=TOL)
        self.assertGreaterEqual(x.min(), 0.0)
        self.assertLessEqual(x.max(), 1.0)

    def test_square_size_and_scale(self):
        x, _, _ = images.folder_to_arrays(self.lab, size=16, scale=1.0)
        _, _, _, want = image_folder(self.lab, T.Compose([T.Resize((16, 16)), T.ToTensor()]))
        self.assertEqual(x.shape, (9, 3, 16, 16))
        np.testing.assert_allclose(x, want * 255, rtol=0, atol=1e-4)
        np.testing.assert_array_equal(x, np.round(x))  # whole pixel values

    def test_imagenet_preset_matches_torchvision(self):
        x, y, classes = images.folder_to_arrays(self.flat, preset="imagenet")
        paths, _, _, want = image_folder(
            os.path.dirname(self.flat),
            T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(MEAN, STD)]))
        self.assertIsNone(y)
        self.assertEqual(classes, [])
        self.assertEqual(images.list_images(self.flat)[0], paths)
        self.assertEqual(x.shape, (3, 3, 224, 224))
        np.testing.assert_allclose(x, want, rtol=0, atol=TOL)

    # --- layouts, channel order ----------------------------------------------------------------

    def test_nhwc_is_nchw_transposed(self):
        common = dict(resize=20, crop=16, mean=MEAN, std=STD)
        nchw, _, _ = images.folder_to_arrays(self.lab, **common)
        nhwc, _, _ = images.folder_to_arrays(self.lab, layout="NHWC", **common)
        self.assertEqual(nhwc.shape, (9, 16, 16, 3))
        np.testing.assert_array_equal(nhwc, nchw.transpose(0, 2, 3, 1))
        gray, _, _ = images.folder_to_arrays(self.lab, size=8, channels="L", layout="nhwc")
        self.assertEqual(gray.shape, (9, 8, 8, 1))

    def test_bgr_reverses_channels_after_rgb_normalization(self):
        common = dict(resize=20, crop=16, mean=MEAN, std=STD)
        rgb, _, _ = images.folder_to_arrays(self.lab, **common)
        bgr, _, _ = images.folder_to_arrays(self.lab, channels="BGR", **common)
        np.testing.assert_array_equal(bgr, rgb[:, ::-1])
        bgr_nhwc, _, _ = images.folder_to_arrays(self.lab, channels="bgr", layout="NHWC",
                                                 **common)
        np.testing.assert_array_equal(bgr_nhwc, rgb[:, ::-1].transpose(0, 2, 3, 1))

    def test_one_mean_for_every_channel(self):
        one, _, _ = images.folder_to_arrays(self.flat, mean=0.5, std=0.25)
        three, _, _ = images.folder_to_arrays(self.flat, mean=(0.5,) * 3, std=[0.25] * 3)
        np.testing.assert_array_equal(one, three)
        plain, _, _ = images.folder_to_arrays(self.flat)
        np.testing.assert_allclose(one, (plain - 0.5) / 0.25, rtol=0, atol=TOL)

    def test_exif_orientation_only_when_asked(self):
        root = self.folder("exif")
        exif = Image.Exif()
        exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
        path = os.path.join(root, "turned.jpg")
        Image.fromarray(noise(np.random.default_rng(6), 30, 20)).save(path, exif=exif)
        x, _, _ = images.folder_to_arrays(root)
        self.assertEqual(x.shape, (1, 3, 20, 30))  # as stored, like torchvision
        turned, _, _ = images.folder_to_arrays(root, exif_transpose=True)
        self.assertEqual(turned.shape, (1, 3, 30, 20))
        np.testing.assert_array_equal(turned[0], np.rot90(x[0], k=-1, axes=(1, 2)))

    # --- which files ---------------------------------------------------------------------------

    def test_unlabeled(self):
        x, y, classes = images.folder_to_arrays(self.flat)  # no subfolders: unlabeled
        self.assertIsNone(y)
        self.assertEqual(classes, [])
        self.assertEqual(x.shape, (3, 3, 24, 32))
        with Image.open(os.path.join(self.flat, "a.jpg")) as im:
            first = np.asarray(im.convert("RGB"), np.float32).transpose(2, 0, 1) / 255
        np.testing.assert_array_equal(x[0], first)  # a.jpg sorts first
        # labeled=False on a class folder: every image, the same order, no labels.
        lab_x, lab_y, _ = images.folder_to_arrays(self.lab, size=8)
        all_x, all_y, all_classes = images.folder_to_arrays(self.lab, size=8, labeled=False)
        self.assertIsNone(all_y)
        self.assertEqual(all_classes, [])
        np.testing.assert_array_equal(all_x, lab_x)

    def test_hidden_and_other_files_are_skipped(self):
        root = self.folder("hidden")
        rng = np.random.default_rng(1)
        save(os.path.join(root, "a", "1.png"), noise(rng, 8, 8))
        save(os.path.join(root, "a", ".2.png"), noise(rng, 8, 8))
        save(os.path.join(root, "a", ".cache", "3.png"), noise(rng, 8, 8))
        save(os.path.join(root, ".ipynb_checkpoints", "4.png"), noise(rng, 8, 8))
        save(os.path.join(root, "b", "5.JPG"), noise(rng, 8, 8))
        with open(os.path.join(root, "b", "6.txt"), "w") as f:
            f.write("x")
        with open(os.path.join(root, "README"), "w") as f:
            f.write("x")
        paths, labels, classes = images.list_images(root)
        self.assertEqual(classes, ["a", "b"])
        self.assertEqual([os.path.relpath(p, root) for p in paths],
                         [os.path.join("a", "1.png"), os.path.join("b", "5.JPG")])
        self.assertEqual(labels, [0, 1])
        summary = images.folder_to_npz(root, os.path.join(self.dir, "hidden.npz"))
        self.assertEqual(summary["skipped_files"], 2)
        paths, _, _ = images.list_images(root, labeled=False, extensions="png")
        self.assertEqual(paths, [os.path.join(root, "a", "1.png")])
        with self.assertRaisesRegex(images.ImageFolderError, "b: class folder without images"):
            images.list_images(root, extensions=".png")

    def test_per_class_and_limit_are_seeded_and_stable(self):
        full_x, full_y, _ = images.folder_to_arrays(self.lab, size=8)
        full_paths = images.list_images(self.lab)[0]
        out = os.path.join(self.dir, "per_class.npz")
        picks = set()
        for seed in range(6):
            s = images.folder_to_npz(self.lab, out, size=8, per_class=2, seed=seed)
            again = images.folder_to_npz(self.lab, out, size=8, per_class=2, seed=seed)
            self.assertEqual(s["files"], again["files"])
            self.assertEqual(s["class_counts"], [2, 2, 2])
            self.assertEqual(s["short_classes"], [])
            rows = [full_paths.index(os.path.join(self.lab, f)) for f in s["files"]]
            self.assertEqual(rows, sorted(rows))  # kept in folder order
            with np.load(out) as d:
                np.testing.assert_array_equal(d["x"], full_x[rows])
                np.testing.assert_array_equal(d["y"], full_y[rows])
            picks.add(tuple(s["files"]))
        self.assertGreater(len(picks), 1)  # the seed matters
        # More than a class holds: all of it, and the summary says which classes fell short.
        s = images.folder_to_npz(self.lab, out, size=8, per_class=3)
        self.assertEqual(s["class_counts"], [3, 3, 2])
        self.assertEqual(s["short_classes"], ["dog"])
        x, y, _ = images.folder_to_arrays(self.lab, size=8, limit=4, seed=3)
        self.assertEqual(x.shape[0], 4)
        x5, y5, _ = images.folder_to_arrays(self.lab, size=8, per_class=2, limit=5)
        self.assertEqual(len(y5), 5)
        x_all, _, _ = images.folder_to_arrays(self.lab, size=8, limit=100)
        np.testing.assert_array_equal(x_all, full_x)
        with self.assertRaisesRegex(ValueError, "labeled"):
            images.folder_to_arrays(self.flat, per_class=1)

    # --- errors --------------------------------------------------------------------------------

    def assert_data_error(self, pattern, *args, **kwargs):
        with self.assertRaises(images.ImageFolderError) as ctx:
            images.folder_to_arrays(*args, **kwargs)
        self.assertRegex(str(ctx.exception), pattern)
        return str(ctx.exception)

    def test_corrupt_and_truncated_images_are_named(self):
        root = self.folder("corrupt")
        rng = np.random.default_rng(2)
        save(os.path.join(root, "good.png"), noise(rng, 8, 8))
        bad = os.path.join(root, "bad.png")
        with open(bad, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n this is not a png")
        self.assert_data_error(f"^{bad}: not a readable image", root)
        os.remove(bad)
        cut = os.path.join(root, "cut.jpg")
        save(cut, noise(rng, 64, 64), quality=95)
        with open(cut, "rb") as f:
            data = f.read()
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2])
        self.assert_data_error(f"^{cut}: not a readable image", root)

    def test_empty_folders(self):
        empty = self.folder("empty")
        self.assert_data_error(f"^{empty}: no images", empty)
        with open(os.path.join(empty, "a.txt"), "w") as f:
            f.write("x")
        self.assert_data_error("no images .* 1 other files skipped", empty)
        classes = self.folder("empty_class")
        save(os.path.join(classes, "a", "1.png"), noise(np.random.default_rng(3), 8, 8))
        os.makedirs(os.path.join(classes, "b"))
        self.assert_data_error(f"^{os.path.join(classes, 'b')}: class folder without images",
                               classes)
        self.assert_data_error("no class subfolders", self.flat, labeled=True)
        with self.assertRaises(FileNotFoundError):
            images.folder_to_arrays(os.path.join(self.dir, "missing"))

    def test_image_beside_class_folders(self):
        root = self.folder("loose")
        rng = np.random.default_rng(4)
        save(os.path.join(root, "a", "1.png"), noise(rng, 8, 8))
        save(os.path.join(root, "stray.png"), noise(rng, 8, 8))
        self.assert_data_error(f"^{os.path.join(root, 'stray.png')}: an image directly", root)
        _, y, _ = images.folder_to_arrays(root, labeled=False)
        self.assertIsNone(y)

    def test_mixed_sizes(self):
        message = self.assert_data_error("different sizes need size= or resize=", self.lab)
        self.assertIn(os.path.join(self.lab, "bird", "a.png"), message)  # the first image
        self.assertIn(os.path.join(self.lab, "bird", "b.jpg"), message)  # the one that differs
        self.assertIn("33x47", message)
        self.assert_data_error("different sizes", self.lab, resize=20)  # aspect ratios differ
        x, _, _ = images.folder_to_arrays(self.lab, crop=10)  # a fixed crop evens them out
        self.assertEqual(x.shape, (9, 3, 10, 10))

    def test_crop_larger_than_image(self):
        self.assert_data_error(f"^{os.path.join(self.flat, 'a.jpg')}: crop 40x20 is larger",
                               self.flat, crop=(40, 20))

    def test_bad_options(self):
        cases = [
            (dict(mean=(0.5, 0.5), std=STD), "mean has 2 values; channels RGB needs 1 or 3"),
            (dict(mean=MEAN, std=STD, channels="L"), "channels L needs 1"),
            (dict(mean=MEAN, std=(0.2, 0.2)), "std has 2 values"),
            (dict(mean=0.5, std=0), "std must not be 0"),
            (dict(mean=0.5), "mean and std together"),
            (dict(size=8, resize=8), "not both"),
            (dict(size=(8, 8, 8)), "size must be N or"),
            (dict(crop=0), "crop must be a positive integer"),
            (dict(channels="RGBA"), "channels must be one of"),
            (dict(layout="CHW"), "layout must be one of"),
            (dict(scale=0), "scale must be a positive"),
            (dict(preset="cifar"), "unknown preset"),
            (dict(limit=0), "limit must be a positive"),
        ]
        for kwargs, pattern in cases:
            with self.subTest(**{k: str(v) for k, v in kwargs.items()}):
                with self.assertRaisesRegex(ValueError, pattern) as ctx:
                    images.folder_to_arrays(self.flat, **kwargs)
                self.assertNotIsInstance(ctx.exception, images.ImageFolderError)

    def test_preset_options_are_replaced_by_given_ones(self):
        x, _, _ = images.folder_to_arrays(self.flat, preset="imagenet", size=(40, 30), crop=20)
        self.assertEqual(x.shape, (3, 3, 20, 20))
        x, _, _ = images.folder_to_arrays(self.flat, preset="fashion-mnist", mean=0, std=1)
        self.assertEqual(x.shape, (3, 1, 28, 28))
        self.assertGreaterEqual(x.min(), 0.0)
        self.assertLessEqual(x.max(), 1.0)
        self.assertIn("T.Resize((28, 28))", images.torchvision_equivalent(preset="fashion-mnist"))

    # --- the .npz file -------------------------------------------------------------------------

    def test_npz_holds_x_and_y_and_is_written_atomically(self):
        out = os.path.join(self.folder("out"), "data.npz")
        summary = images.folder_to_npz(self.lab, out, resize=20, crop=16)
        x, y, classes = images.folder_to_arrays(self.lab, resize=20, crop=16)
        with np.load(out) as d:
            self.assertEqual(sorted(d.files), ["x", "y"])
            np.testing.assert_array_equal(d["x"], x)
            np.testing.assert_array_equal(d["y"], y)
            self.assertEqual(d["x"].dtype, np.float32)
            self.assertEqual(d["y"].dtype, np.int64)
        self.assertEqual(summary["class_names"], classes)
        self.assertEqual(summary["class_counts"], [3, 4, 2])
        self.assertEqual(summary["samples"], 9)
        self.assertEqual(summary["x_shape"], [9, 3, 16, 16])
        self.assertEqual(summary["skipped_files"], 1)
        self.assertEqual(len(summary["files"]), 9)
        self.assertEqual(os.listdir(os.path.dirname(out)), ["data.npz"])  # no temporary left
        with open(out, "rb") as f:
            first = f.read()
        images.folder_to_npz(self.lab, out, resize=20, crop=16)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), first)  # the same bytes again
        # A failure leaves the existing output as it was and no temporary behind.
        with self.assertRaises(images.ImageFolderError):
            images.folder_to_npz(self.lab, out)  # mixed sizes
        with open(out, "rb") as f:
            self.assertEqual(f.read(), first)
        self.assertEqual(os.listdir(os.path.dirname(out)), ["data.npz"])
        # Unlabeled: x only. Compressed: the same arrays.
        flat_out = os.path.join(os.path.dirname(out), "flat.npz")
        images.folder_to_npz(self.flat, flat_out, compress=True)
        with np.load(flat_out) as d:
            self.assertEqual(d.files, ["x"])
            np.testing.assert_array_equal(d["x"], images.folder_to_arrays(self.flat)[0])

    def test_output_that_is_an_input_is_refused(self):
        root = self.folder("self")
        target = os.path.join(root, "a.png")
        save(target, noise(np.random.default_rng(5), 8, 8))
        with open(target, "rb") as f:
            before = f.read()
        with self.assertRaisesRegex(images.ImageFolderError, "one of the input images"):
            images.folder_to_npz(root, target)
        with open(target, "rb") as f:
            self.assertEqual(f.read(), before)
        with self.assertRaisesRegex(images.ImageFolderError, "is a folder"):
            images.folder_to_npz(root, root)
        with self.assertRaisesRegex(images.ImageFolderError, "does not exist"):
            images.folder_to_npz(root, os.path.join(self.dir, "nowhere", "x.npz"))

    # --- the command line ----------------------------------------------------------------------

    def test_cli_help(self):
        r = run_images("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for text in ("FOLDER", "--preset", "imagenet", "fashion-mnist", "--per-class",
                     "--layout", "exit status"):
            self.assertIn(text, r.stdout)

    def test_cli_writes_and_reports(self):
        out = os.path.join(self.dir, "cli.npz")
        r = run_images(self.lab, "-o", out, "--resize", "24", "--crop", "19x15", "--mean",
                       ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD)))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 classes", r.stdout)
        self.assertRegex(r.stdout, r"\n\s+0\s+3\s+bird\n\s+1\s+4\s+cat\n\s+2\s+2\s+dog\n")
        x, y, _ = images.folder_to_arrays(self.lab, resize=24, crop=(19, 15), mean=MEAN, std=STD)
        with np.load(out) as d:
            np.testing.assert_array_equal(d["x"], x)
            np.testing.assert_array_equal(d["y"], y)
        r = run_images(self.lab, "-o", out, "--size", "8", "--per-class", "1", "--layout",
                       "nhwc", "--channels", "bgr", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(summary["class_names"], ["bird", "cat", "dog"])
        self.assertEqual(summary["x_shape"], [3, 8, 8, 3])
        self.assertNotIn("files", summary)

    def test_cli_failures(self):
        out = os.path.join(self.dir, "cli_fail.npz")
        r = run_images(self.lab, "-o", out)  # mixed sizes: the data is at fault
        self.assertEqual(r.returncode, 1)
        self.assertIn(os.path.join(self.lab, "bird", "b.jpg"), r.stderr)
        self.assertFalse(os.path.exists(out))
        r = run_images(os.path.join(self.dir, "missing"), "-o", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such folder", r.stderr)
        usage = [
            [self.flat, "-o", out, "--mean", "0.5,0.5", "--std", "1"],
            [self.flat, "-o", out, "--mean", "a,b"],
            [self.flat, "-o", out, "--size", "8", "--resize", "8"],
            [self.flat, "-o", out, "--channels", "RGBA"],
            [self.flat, "-o", out, "--per-class", "0"],
            [self.flat],  # no -o
        ]
        for args in usage:
            with self.subTest(args=args[1:]):
                r = run_images(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("usage:", r.stderr)
        self.assertFalse(os.path.exists(out))

    # --- the onnx-crypt CLI reads it -----------------------------------------------------------

    def test_fashion_mnist_pngs_round_trip_and_evaluate(self):
        for path, step in ((CLI, "build the onnx-crypt target (tools/build.sh)"),
                           (MODEL, "run tools/train_models.py"),
                           (FMNIST_TEST, "run tools/setup.sh")):
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path} is missing: {step}")
        with np.load(FMNIST_TEST) as d:
            x_all, y_all = d["x"], d["y"]
        # 12 test images of each class, as 28x28 grayscale PNGs in class folders 0..9.
        rows = np.concatenate([np.flatnonzero(y_all == c)[:12] for c in range(10)])
        pixels = np.rint((x_all[rows, 0] * np.float32(0.3530) + np.float32(0.2860)) * 255)
        root = self.folder("fmnist")
        for row, p in zip(rows, pixels.astype(np.uint8)):
            save(os.path.join(root, str(y_all[row]), f"{row:05d}.png"), p)
        out = os.path.join(self.dir, "fmnist.npz")
        r = run_images(root, "-o", out, "--preset", "fashion-mnist")
        self.assertEqual(r.returncode, 0, r.stderr)
        with np.load(out) as d:
            self.assertEqual(d["x"].shape, (120, 1, 28, 28))
            np.testing.assert_allclose(d["x"], x_all[rows], rtol=0, atol=TOL)
            np.testing.assert_array_equal(d["y"], y_all[rows])
        r = subprocess.run([CLI, "eval", MODEL, "--data", out, "--json"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        result = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(result["samples"], 120)
        self.assertGreater(result["accuracy"], 0.8)  # the model's own preprocessing
        # Unlabeled and compressed: the CLI reads it too.
        r = run_images(root, "-o", out, "--preset", "fashion-mnist", "--unlabeled", "--compress",
                       "--limit", "16")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([CLI, "eval", MODEL, "--data", out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
