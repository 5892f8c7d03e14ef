"""Hostile inputs to the onnx-crypt command line (issue #15).

Every case builds its inputs by code in a folder of its own (crafted ONNX models, .npz files,
keys; truncations and bit flips of real ones; FIFOs, devices, directories and symlinks where
files are expected), runs one CLI command there and asserts:
  - the exit status (0 success, 1 failure, 2 usage error: tools/cli/commands.h), never a
    signal, never a hang (a timeout per case), never a runaway allocation (the child's RSS is
    watched and its peak measured), no sanitizer report on stderr;
  - that stderr names the file, tensor, node or flag at fault;
  - that every input is unchanged (every file in the case folder and in the shared fixtures
    is hashed before and after) and, for a failure, that nothing new exists afterwards (no
    output, no half-written file, no `*.tmp.*`); for a success, exactly the expected outputs.

The cases are a table (CASES, built below by group); each has a group, a name, argv, the
expected exit status, substrings stderr must contain, and the outputs that must be absent
(or, on success, present). Some cases specify behaviour being built in other branches; their
`pending` tag names the feature (listed in the summary printed at the end).

Environment: ONNX_CRYPT_CLI (the binary; default $ONNX_CRYPT_BUILD_DIR/tools/onnx-crypt),
ONNX_CRYPT_ROOT, ONNX_CRYPT_TEST_TIMEOUT_SCALE (multiplies the timeouts; default 1, or 4 for a
sanitized binary, found by its __asan/__ubsan symbols; the short timeout of cases that may block
on a FIFO or device grows at most 2x), ONNX_CRYPT_HOSTILE_RSS_MB (the RSS at which a child is
killed; default 1024, or 2048 for a sanitized binary), ONNX_CRYPT_HOSTILE_JOBS (cases run in
parallel, default 4), ONNX_CRYPT_HOSTILE_ONLY (a regex on "group/name" to run a subset),
ONNX_CRYPT_HOSTILE_VERBOSE=1 (one line per case in the summary: status, time, peak RSS and the
last line of stderr). The runner is in hostile_harness.py, the builders in hostile_craft.py.
"""
import concurrent.futures
import os
import pathlib
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_craft as craft  # noqa: E402
from hostile_harness import (  # noqa: E402
    CLI, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, JOBS, LENET, LENET_BYTES, MB, ONLY, OWNER,
    PENDING, QUICK, SANITIZED, SCALE, TIMEOUT_S, VERBOSE, Case, Fixtures, run_case)


# ============================================================================ cases
CASES = []


def add(group, name, argv, code, **kw):
    for k in ("err", "absent", "outputs", "out", "not_err", "keeps"):
        if isinstance(kw.get(k), str):
            kw[k] = (kw[k],)
    CASES.append(Case(group, name, list(argv), code, **kw))


def writes(name, data):
    """A setup writing bytes (or what a callable of fx returns) to d/name."""
    def setup(d, fx):
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        craft.write(d / name, data(fx) if callable(data) else data)
    return setup


def model_setup(name, build):
    def setup(d, fx):
        craft.save_model(build() if callable(build) else build, d / name)
    return setup


def npz_setup(name, **arrays):
    def setup(d, fx):
        np.savez(d / name, **arrays)
    return setup


def chain(*setups):
    def setup(d, fx):
        for s in setups:
            s(d, fx)
    return setup



def mkdirs(*names):
    def setup(d, fx):
        for n in names:
            (d / n).mkdir(parents=True, exist_ok=True)
    return setup


def mode_is(path, mode):
    def check(d, res):
        if res.code != EXIT_OK:
            return []
        got = stat.S_IMODE(os.stat(d / path).st_mode)
        return [] if got == mode else [f"{path} has mode {oct(got)}, expected {oct(mode)}"]
    return check


def cli_in(d, *args):
    r = subprocess.run([CLI] + [str(a) for a in args], cwd=d, capture_output=True, text=True,
                       timeout=TIMEOUT_S * SCALE)
    if r.returncode != 0:
        raise RuntimeError(f"setup command {args}: {r.stderr.strip()}")


# ------------------------------------------------------------------- group: usage
def usage_cases():
    g = "usage"
    ev = ["eval", "{lenet}", "--data", "{data}"]
    lock = ["lock", "{lenet}", "--data", "{data}", "-o", "o.onnx", "--key", "o.key"]
    batch = ["lock-batch", "{lenet}", "--data", "{data}", "--output-dir", "out"]
    lock_out = ("o.onnx", "o.key")
    # --threads 100000 used to reach libgomp, which crashed (SIGSEGV) creating the threads.
    for flag, value in (("--threads", "-5"), ("--threads", "abc"), ("--threads", "99999999999"),
                        ("--threads", "100000"), ("--threads", "2147483647"),
                        ("--batch-size", "0"), ("--batch-size", "-1"), ("--batch-size", "x"),
                        ("--device", "gpu9"), ("--device", "")):
        add(g, f"eval {flag} {value!r}", ev + [flag, value], EXIT_USAGE, err=flag)
    add(g, "eval unknown flag", ev + ["--bogus"], EXIT_USAGE, err="--bogus")
    add(g, "eval --data without a value", ["eval", "{lenet}", "--data"], EXIT_USAGE, err="--data")
    add(g, "eval without --data", ["eval", "{lenet}"], EXIT_USAGE, err="--data")
    add(g, "eval two models", ["eval", "{lenet}", "{lenet}", "--data", "{data}"], EXIT_USAGE,
        err="one MODEL")
    add(g, "eval --json=1", ev + ["--json=1"], EXIT_USAGE, err="--json")
    for flag, value in (("--target-accuracy", "nan"), ("--target-accuracy", "inf"),
                        ("--target-accuracy", "-0.1"), ("--target-accuracy", "1.5"),
                        ("--max-values", "0"), ("--max-values", "-1"),
                        ("--max-values", str(1 << 40)), ("--values-per-round", "0"),
                        ("--candidates", "0"), ("--seed", "abc"), ("--stealth-quantile", "0"),
                        ("--stealth-quantile", "2"), ("--stealth-quantile", "nan"),
                        ("--repair-target", "nan"), ("--repair-target", "2"),
                        ("--threads", "-5"), ("--threads", "5000"), ("--device", "gpu9")):
        add(g, f"lock {flag} {value}", lock + [flag, value], EXIT_USAGE, err=flag,
            absent=lock_out)
    add(g, "lock without -o", ["lock", "{lenet}", "--data", "{data}", "--key", "o.key"],
        EXIT_USAGE, err="-o", absent="o.key")
    add(g, "lock without --key", ["lock", "{lenet}", "--data", "{data}", "-o", "o.onnx"],
        EXIT_USAGE, err="--key", absent="o.onnx")
    for flag, value in (("--variants", "0"), ("--variants", "x"), ("--device", "gpu9"),
                        ("--threads", "-5"), ("--threads", "100000"),
                        ("--target-accuracy", "nan")):
        add(g, f"lock-batch {flag} {value}", batch + [flag, value], EXIT_USAGE, err=flag,
            absent="out")
    add(g, "lock-batch without --output-dir", ["lock-batch", "{lenet}", "--data", "{data}"],
        EXIT_USAGE, err="--output-dir")
    add(g, "lock-batch without models", ["lock-batch", "--data", "{data}", "--output-dir", "out"],
        EXIT_USAGE, err="model", absent="out")
    add(g, "unlock without -o", ["unlock", "{locked}", "--key", "{key}"], EXIT_USAGE, err="-o")
    add(g, "unlock without --key", ["unlock", "{locked}", "-o", "u.onnx"], EXIT_USAGE,
        err="--key", absent="u.onnx")
    add(g, "key without a file", ["key"], EXIT_USAGE, err="KEY")
    add(g, "key with two files", ["key", "{key}", "{okey}"], EXIT_USAGE, err="KEY")
    add(g, "key --values=1", ["key", "{key}", "--values=1"], EXIT_USAGE, err="--values")
    add(g, "verify with two files", ["verify", "{lenet}", "{locked}"], EXIT_USAGE, err="verify")
    add(g, "info --device gpu9", ["info", "{lenet}", "--device", "gpu9"], EXIT_USAGE,
        err="--device")
    add(g, "attack unknown kind", ["attack", "melt", "{locked}", "--eval-data", "{data}"],
        (EXIT_USAGE,), err="melt")
    for value in ("-5", "100000"):
        add(g, f"attack --threads {value}", ["attack", "prune", "{locked}", "--eval-data",
                                             "{data}", "--threads", value], EXIT_USAGE,
            err="--threads")
    add(g, "unknown command", ["frobnicate"], EXIT_USAGE, err="frobnicate")
    add(g, "no command", [], EXIT_USAGE, err="usage")
    for value in ("12Q", "-5", "", "1.5.3G"):
        add(g, f"--max-memory {value!r}", ["info", "{lenet}", "--max-memory", value], EXIT_USAGE,
            err="--max-memory")


# ------------------------------------------------------------------- group: files
# Where a file is expected: what to give instead, and which commands read it.
POSITIONS = {
    "info MODEL": (lambda p: ["info", p], ()),
    "eval MODEL": (lambda p: ["eval", p, "--data", "{data}"], ()),
    "eval --data": (lambda p: ["eval", "{lenet}", "--data", p], ()),
    "lock MODEL": (lambda p: ["lock", p, "--data", "{data}", "-o", "o.onnx", "--key", "o.key"]
                   + QUICK, ("o.onnx", "o.key")),
    "lock --data": (lambda p: ["lock", "{lenet}", "--data", p, "-o", "o.onnx", "--key", "o.key"]
                    + QUICK, ("o.onnx", "o.key")),
    "unlock LOCKED": (lambda p: ["unlock", p, "--key", "{key}", "-o", "u.onnx"], ("u.onnx",)),
    "unlock --key": (lambda p: ["unlock", "{locked}", "--key", p, "-o", "u.onnx"], ("u.onnx",)),
    "key KEY": (lambda p: ["key", p], ()),
    "verify ORIGINAL": (lambda p: ["verify", p, "{locked}", "{key}"], ()),
    "verify LOCKED": (lambda p: ["verify", "{lenet}", p, "{key}"], ()),
    "verify KEY": (lambda p: ["verify", "{lenet}", "{locked}", p], ()),
    "lock-batch MODEL": (lambda p: ["lock-batch", p, "--data", "{data}", "--output-dir", "out"]
                         + QUICK, None),
    "lock-batch --list": (lambda p: ["lock-batch", "--list", p, "--data", "{data}",
                                     "--output-dir", "out"] + QUICK, None),
    "lock-batch --data": (lambda p: ["lock-batch", "{lenet}", "--data", p, "--output-dir", "out"]
                          + QUICK, None),
    "attack LOCKED": (lambda p: ["attack", "prune", p, "--eval-data", "{data}"], ()),
    "attack --eval-data": (lambda p: ["attack", "prune", "{locked}", "--eval-data", p], ()),
}
# What each position reads when it is given a good file (for the symlink-to-regular cases).
GOOD = {"info MODEL": "lenet", "eval MODEL": "lenet", "eval --data": "data",
        "lock MODEL": "lenet", "lock --data": "data", "unlock LOCKED": "locked",
        "unlock --key": "key", "key KEY": "key", "verify ORIGINAL": "lenet",
        "verify LOCKED": "locked", "verify KEY": "key", "lock-batch MODEL": "lenet",
        "lock-batch --list": "list", "lock-batch --data": "data", "attack LOCKED": "locked",
        "attack --eval-data": "data"}


def special(kind, name):
    def setup(d, fx):
        (d / "out").mkdir()  # lock-batch's output folder exists beforehand
        p = d / name
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "fifo-link":
            os.mkfifo(d / "real.fifo")
            os.symlink("real.fifo", p)
        elif kind == "dir":
            p.mkdir()
        elif kind == "zero-link":
            os.symlink("/dev/zero", p)
        elif kind == "dangling":
            os.symlink("does-not-exist", p)
        elif kind == "missing":
            pass
        elif kind.startswith("link:"):
            os.symlink(getattr(fx, kind[5:]), p)
        else:
            raise ValueError(kind)
    return setup


def file_cases():
    g = "files"
    zero_at = {"info MODEL", "eval --data", "unlock --key", "key KEY", "lock-batch --list",
               "verify KEY", "lock MODEL", "attack --eval-data"}
    for pos, (argv, outs) in POSITIONS.items():
        batch = outs is None
        stem = "in"
        kinds = ["fifo", "dir", "missing"]
        if pos in zero_at:
            kinds.append("zero-link")
        if pos in ("eval --data", "key KEY"):
            kinds.append("fifo-link")
        if pos in ("info MODEL", "eval --data", "unlock --key"):
            kinds.append("dangling")
        for kind in kinds:
            name = f"{stem}.{kind}"
            hang = kind in ("fifo", "fifo-link", "zero-link")
            pending = "regular-files" if kind in ("fifo", "fifo-link", "zero-link") else ""
            absent = (outs or ()) + (("out/in-0.onnx", "out/in-0.key", "out/lenet-0.onnx",
                                      "out/lenet-0.key") if batch else ())
            add(g, f"{pos} is a {kind}", argv(name), EXIT_FAILURE, err=name, absent=absent,
                setup=special(kind, name), hang=hang, pending=pending)
        # A path given on the command line may be a symlink to a regular file.
        good = GOOD[pos]
        name = f"in.{good}-link"
        if batch:
            outputs = ("out/lenet-0.onnx", "out/lenet-0.key") if pos != "lock-batch MODEL" else \
                ("out/in-0.onnx", "out/in-0.key")
        else:
            outputs = outs
        add(g, f"{pos} is a symlink to a regular file", argv(name), EXIT_OK, outputs=outputs,
            setup=special(f"link:{good}", name))
    # A model named in --list that is a FIFO: that item fails, by name, without a hang.
    def fifo_listed(d, fx):
        (d / "out").mkdir()
        os.mkfifo(d / "m.onnx")
        (d / "list.txt").write_text(f"{d / 'm.onnx'}\n")
    add(g, "lock-batch --list names a FIFO model", ["lock-batch", "--list", "list.txt", "--data",
        "{data}", "--output-dir", "out"] + QUICK, EXIT_FAILURE, err="m.onnx",
        absent=("out/m-0.onnx", "out/m-0.key"), setup=fifo_listed, hang=True,
        pending="regular-files")
    # Devices named directly.
    for pos in ("info MODEL", "eval --data", "key KEY", "lock-batch --list", "unlock --key"):
        argv, outs = POSITIONS[pos]
        add(g, f"{pos} is /dev/null", argv("/dev/null"), EXIT_FAILURE, err="/dev/null",
            absent=outs or (), setup=mkdirs("out"),
            pending="regular-files" if pos == "lock-batch --list" else "")
    for pos in ("key KEY", "eval --data"):
        argv, outs = POSITIONS[pos]
        add(g, f"{pos} is /dev/zero", argv("/dev/zero"), EXIT_FAILURE, err="/dev/zero",
            absent=outs or (), hang=True, pending="regular-files")


# ---------------------------------------------------------------- group: extdata
SECRET_W = craft.weights((3, 4), 7).tobytes()   # 48 bytes: a valid W, so reading it "works"
SECRET_16 = b"TOP-SECRET-16-B!"                  # 16 bytes: a valid 'extra' float[4]


def ext_setup(layout):
    """d/m/model.onnx (the Gemm classifier, W external) and d/outside/ with secrets."""
    def setup(d, fx):
        m, outside = d / "m", d / "outside"
        m.mkdir()
        outside.mkdir()
        craft.write(outside / "secret.bin", SECRET_W)
        craft.write(outside / "secret16.bin", SECRET_16)
        (d / "o").mkdir()
        location, extra = "w.bin", None
        model, w = craft.external_gemm()
        if layout == "ok":
            craft.write(m / "w.bin", w)
        elif layout == "file-link":
            os.symlink("../outside/secret.bin", m / "w.bin")
        elif layout == "abs-file-link":
            os.symlink(outside / "secret.bin", m / "w.bin")
        elif layout == "dir-link":
            os.symlink("../outside", m / "data")
            location = "data/secret.bin"
        elif layout == "extra-link":
            craft.write(m / "w.bin", w)
            os.symlink("../outside/secret16.bin", m / "extra.bin")
            extra = "extra.bin"
        elif layout == "inner-link":
            craft.write(m / "w.bin", w)
            os.symlink("w.bin", m / "alias.bin")
            location = "alias.bin"
        elif layout == "inner-dir-link":
            (m / "weights").mkdir()
            craft.write(m / "weights" / "w.bin", w)
            os.symlink("weights", m / "data")
            location = "data/w.bin"
        elif layout == "dotdot":
            location = "../outside/secret.bin"
        elif layout == "dotdot-inner":
            (m / "sub").mkdir()
            location = "sub/../../outside/secret.bin"
        elif layout == "absolute":
            location = str(outside / "secret.bin")
        elif layout == "fifo":
            os.mkfifo(m / "w.bin")
        elif layout == "zero-link":
            os.symlink("/dev/zero", m / "w.bin")
        elif layout == "dir":
            (m / "w.bin").mkdir()
        elif layout == "missing":
            pass
        elif layout == "short":
            craft.write(m / "w.bin", w[:20])
        elif layout in ("offset", "nul", "empty", "dot"):
            craft.write(m / "w.bin", w)
            location = {"offset": "w.bin", "nul": "w\0.bin", "empty": "", "dot": "."}[layout]
        else:
            raise ValueError(layout)
        model, _ = craft.external_gemm(location, extra)
        if layout == "offset":
            for e in model.graph.initializer[0].external_data:
                if e.key == "offset":
                    e.value = str(1 << 62)
        craft.save_model(model, m / "model.onnx")
    return setup


def ext_cases():
    g = "extdata"
    info = ["info", "m/model.onnx"]
    ev = ["eval", "m/model.onnx", "--data", "{gdata}"]
    lock = ["lock", "m/model.onnx", "--data", "{gdata}", "-o", "o/l.onnx", "--key", "o/k.key"] \
        + QUICK
    lock_out = ("o/l.onnx", "o/k.key", "o/w.bin", "o/data", "o/extra.bin")
    add(g, "regular external file: info", info, EXIT_OK, setup=ext_setup("ok"))
    add(g, "regular external file: eval", ev, EXIT_OK, setup=ext_setup("ok"))
    add(g, "regular external file: lock writes model, data and key", lock, EXIT_OK,
        outputs=("o/l.onnx", "o/w.bin", "o/k.key"), setup=ext_setup("ok"))

    def locked_ext(d, fx):
        ext_setup("ok")(d, fx)
        cli_in(d, "lock", "m/model.onnx", "--data", fx.gdata, "-o", "o/l.onnx", "--key",
               "o/k.key", *QUICK)
        (d / "u").mkdir()
    add(g, "regular external file: unlock restores model and data", ["unlock", "o/l.onnx",
        "--key", "o/k.key", "-o", "u/model.onnx"], EXIT_OK,
        outputs=("u/model.onnx", "u/w.bin"), setup=locked_ext,
        check=lambda d, r: [] if craft.read(d / "u/w.bin") == craft.read(d / "m/w.bin")
        else ["u/w.bin differs from the original m/w.bin"])
    for layout, what, tensor, loc in (
            ("file-link", "a symlinked file pointing outside", "W", "w.bin"),
            ("abs-file-link", "an absolute symlink pointing outside", "W", "w.bin"),
            ("dir-link", "in a symlinked folder pointing outside", "W", "data/secret.bin"),
            ("extra-link", "an extra tensor symlinked to a secret", "extra", "extra.bin")):
        for cmd, argv, absent in (("info", info, ()), ("eval", ev, ()),
                                  ("lock", lock, lock_out)):
            add(g, f"{what}: {cmd}", argv, EXIT_FAILURE, err=(tensor, loc), absent=absent,
                setup=ext_setup(layout), pending="ext-containment")
    add(g, "an extra tensor symlinked to a secret: lock-batch",
        ["lock-batch", "m/model.onnx", "--data", "{gdata}", "--output-dir", "o"] + QUICK,
        EXIT_FAILURE, err=("extra", "extra.bin"),
        absent=("o/model-0.onnx", "o/model-0.key", "o/extra.bin", "o/w.bin"),
        setup=ext_setup("extra-link"), pending="ext-containment")
    for layout, tensor_loc in (("dotdot", "../outside/secret.bin"),
                               ("dotdot-inner", "sub/../../outside/secret.bin"),
                               ("absolute", "secret.bin")):
        for cmd, argv, absent in (("info", info, ()), ("lock", lock, lock_out)):
            add(g, f"location {layout}: {cmd}", argv, EXIT_FAILURE, err=("W", tensor_loc),
                absent=absent, setup=ext_setup(layout))
    for layout in ("inner-link", "inner-dir-link"):
        add(g, f"symlink inside the folder ({layout}): info", info, EXIT_OK,
            setup=ext_setup(layout))
        add(g, f"symlink inside the folder ({layout}): eval", ev, EXIT_OK,
            setup=ext_setup(layout))
    for layout, pending, hang in (("fifo", "regular-files", True),
                                  ("zero-link", "regular-files", True),
                                  ("dir", "", False), ("missing", "", False),
                                  ("short", "", False), ("offset", "", False),
                                  ("nul", "", False), ("empty", "", False), ("dot", "", False)):
        add(g, f"external data {layout}: info", info, EXIT_FAILURE, err="W",
            setup=ext_setup(layout), pending=pending, hang=hang)
    add(g, "external data fifo: lock", lock, EXIT_FAILURE, err=("W", "w.bin"), absent=lock_out,
        setup=ext_setup("fifo"), pending="regular-files", hang=True)

    # A locked model whose external data file was replaced by a symlink to an identical copy
    # outside its folder: unlock and verify must not read it.
    def relinked(d, fx):
        locked_ext(d, fx)
        shutil.copyfile(d / "o/w.bin", d / "outside/copy.bin")
        os.remove(d / "o/w.bin")
        os.symlink("../outside/copy.bin", d / "o/w.bin")
    add(g, "locked external data symlinked outside: unlock",
        ["unlock", "o/l.onnx", "--key", "o/k.key", "-o", "u/model.onnx"], EXIT_FAILURE,
        err=("W", "w.bin"), absent=("u/model.onnx", "u/w.bin"), setup=relinked,
        pending="ext-containment")
    add(g, "locked external data symlinked outside: verify",
        ["verify", "m/model.onnx", "o/l.onnx", "o/k.key"], EXIT_FAILURE, err=("W", "w.bin"),
        setup=relinked, pending="ext-containment")


# ----------------------------------------------------------------- group: models
def model_cases():
    g = "models"
    gx, gy = craft.gemm_data()
    win = [("Conv", "strides", [0, 0]), ("MaxPool", "strides", [0, 0]),
           ("AveragePool", "strides", [0, 0]), ("Conv", "dilations", [0, 0]),
           ("MaxPool", "kernel_shape", [0, 0]), ("Conv", "pads", [-1, 0, 0, 0]),
           ("Conv", "strides", [1 << 40, 1]), ("MaxPool", "dilations", [0, 1])]
    for op, attr, values in win:
        add(g, f"{op} {attr}={values}: info", ["info", "m.onnx"], EXIT_FAILURE,
            err=("'bad'", attr),
            setup=model_setup("m.onnx", craft.window_model(op, **{attr: values})))
    add(g, "Conv group=0: info", ["info", "m.onnx"], EXIT_FAILURE, err=("'bad'", "group"),
        setup=model_setup("m.onnx", craft.window_model("Conv", group=0)))
    x5 = np.ones((2, 1, 5, 5), np.float32)
    for op in ("Conv", "MaxPool"):
        add(g, f"{op} strides=[0,0]: eval", ["eval", "m.onnx", "--data", "x.npz"], EXIT_FAILURE,
            err=("'bad'", "strides"),
            setup=chain(model_setup("m.onnx", craft.window_model(op, strides=[0, 0])),
                        npz_setup("x.npz", x=x5)))
    gdata = npz_setup("g.npz", x=gx, y=gy)
    for pads, what in (([0, 0, 0, 1 << 40], "2^40"), ([0, 1 << 62, 0, 1 << 62], "2^62 twice")):
        add(g, f"Pad by {what}: eval", ["eval", "m.onnx", "--data", "g.npz"], EXIT_FAILURE,
            err="'pad'", setup=chain(model_setup("m.onnx", craft.pad_model(pads)), gdata))
    big = (1 << 60) + 49
    x784 = npz_setup("r.npz", x=np.ones((1, 784), np.float32))
    for shape in ([big, 16], [big, 16, -1], [-2, 392]):
        add(g, f"Reshape to {shape} then Transpose: eval", ["eval", "m.onnx", "--data", "r.npz"],
            EXIT_FAILURE, err="'reshape'",
            setup=chain(model_setup("m.onnx", craft.reshape_transpose_model(shape)), x784))

    T = "hostile_T"  # the checker words it "tensor name: hostile_T", ours "'hostile_T'"

    def with_init(tensor):
        def build():
            m = craft.gemm_classifier()
            m.graph.initializer.append(tensor)
            return m
        return build
    for name, tensor in (
            ("dims overflow int64", craft.raw_initializer(T, TensorProto.FLOAT,
                                                          [1 << 62, 8], b"\0" * 4)),
            ("negative dims", craft.raw_initializer(T, TensorProto.FLOAT, [-2, 3], b"\0" * 24)),
            ("raw_data too short", craft.raw_initializer(T, TensorProto.FLOAT, [4, 4], b"\0" * 60)),
            ("raw_data too long", craft.raw_initializer(T, TensorProto.FLOAT, [2], b"\0" * 12)),
            ("claims 64 GiB, holds nothing", craft.raw_initializer(T, TensorProto.FLOAT,
                                                                    [1 << 34], b"")),
            ("no data_type", craft.raw_initializer(T, 0, [2], b"\0" * 8)),
            ("unknown data_type 77", craft.raw_initializer(T, 77, [2], b"\0" * 8)),
            ("float_data count mismatch", _float_data(T, [3], [1.0]))):
        add(g, f"initializer {name}: info", ["info", "m.onnx"], EXIT_FAILURE, err=T,
            setup=model_setup("m.onnx", with_init(tensor)))
    add(g, "string initializer: info", ["info", "m.onnx"], EXIT_FAILURE, err="'S'",
        setup=model_setup("m.onnx", with_init(helper.make_tensor("S", TensorProto.STRING, [1],
                                                                  [b"a"]))))

    def retyped(dtype):
        def build():
            m = craft.gemm_classifier()
            w = numpy_helper.to_array(m.graph.initializer[0])
            m.graph.initializer[0].CopyFrom(numpy_helper.from_array(w.astype(dtype), "W"))
            return m
        return build
    # (A float16 weight is computed in float32 like every float16 tensor,
    # engine/narrow_floats.h, so a float16 W beside a float32 x runs.)
    for dtype in (np.int8, np.float64, np.int64):
        add(g, f"Gemm weight of {np.dtype(dtype).name}: eval",
            ["eval", "m.onnx", "--data", "g.npz"],
            EXIT_FAILURE, err=("fc",), setup=chain(model_setup("m.onnx", retyped(dtype)), gdata))

    def int_input():
        m = craft.gemm_classifier()
        m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64
        return m
    add(g, "model input declared int64: eval", ["eval", "m.onnx", "--data", "g.npz"],
        EXIT_FAILURE, err="x", setup=chain(model_setup("m.onnx", int_input), gdata))
    add(g, "data shape does not fit the model: eval", ["eval", "{lenet}", "--data", "g.npz"],
        EXIT_FAILURE, err="input", setup=gdata)

    def unknown_op(domain=""):
        def build():
            fc = helper.make_node("Gemm", ["x", "W", "b"], ["l"], name="fc", transB=1)
            foo = helper.make_node("Frobnicate", ["l"], ["logits"], name="foo", domain=domain)
            m = craft.gemm_classifier()
            del m.graph.node[:]
            m.graph.node.extend([fc, foo])
            if domain:
                m.opset_import.append(helper.make_opsetid(domain, 1))
            return m
        return build
    add(g, "unknown op: info", ["info", "m.onnx"], EXIT_FAILURE, err="foo",
        setup=model_setup("m.onnx", unknown_op()))
    add(g, "op of a custom domain: info lists it", ["info", "m.onnx"], EXIT_OK, out="foo",
        setup=model_setup("m.onnx", unknown_op("com.example")))
    add(g, "unknown op: eval", ["eval", "m.onnx", "--data", "g.npz"], EXIT_FAILURE,
        err="foo", setup=chain(model_setup("m.onnx", unknown_op()), gdata))
    add(g, "op of a custom domain: eval", ["eval", "m.onnx", "--data", "g.npz"], EXIT_FAILURE,
        err="foo", setup=chain(model_setup("m.onnx", unknown_op("com.example")), gdata))

    def if_model():
        branch = lambda v: helper.make_graph(  # noqa: E731
            [helper.make_node("Constant", [], ["o"], value=helper.make_tensor(
                "c", TensorProto.FLOAT, [1], [v]))], "b", [], [craft.symbolic_info("o", 1)])
        node = helper.make_node("If", ["c"], ["y"], name="branchy", then_branch=branch(1.0),
                                else_branch=branch(0.0))
        return craft.make_model([node], [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                                [craft.symbolic_info("y", 1)])
    add(g, "If with subgraphs: info", ["info", "m.onnx"], EXIT_FAILURE, err="branchy",
        setup=model_setup("m.onnx", if_model))

    def cycle():
        nodes = [helper.make_node("Relu", ["x", "b2"], ["a"], name="r1"),
                 helper.make_node("Add", ["a", "x"], ["b2"], name="r2"),
                 helper.make_node("Identity", ["b2"], ["y"], name="out")]
        return craft.make_model(nodes, [craft.float_info("x", ["N", 4])],
                                [craft.float_info("y", ["N", 4])])
    add(g, "a cycle: info", ["info", "m.onnx"], EXIT_FAILURE, err="m.onnx",
        setup=model_setup("m.onnx", cycle))

    def twice():
        m = craft.gemm_classifier()
        m.graph.initializer.append(numpy_helper.from_array(np.zeros(3, np.float32), "b"))
        return m
    add(g, "two initializers of one name: info", ["info", "m.onnx"], EXIT_FAILURE, err="'b'",
        setup=model_setup("m.onnx", twice))

    def undefined_input():
        m = craft.gemm_classifier()
        m.graph.node[0].input[1] = "nowhere"
        return m
    add(g, "node reads an undefined value: info", ["info", "m.onnx"], EXIT_FAILURE,
        err="nowhere", setup=model_setup("m.onnx", undefined_input))

    # 100000 nodes in a chain: no recursion deep enough to overflow the stack; listed in
    # reverse (not topologically sorted) they are refused by name.
    def relu_chain(reverse):
        def build():
            n = 100000
            nodes = [helper.make_node("Relu", ["x" if i == 0 else f"v{i - 1}"],
                                      [f"v{i}" if i < n - 1 else "y"], name=f"r{i}")
                     for i in range(n)]
            return craft.make_model(nodes[::-1] if reverse else nodes,
                                    [craft.float_info("x", ["N", 4])],
                                    [craft.float_info("y", ["N", 4])])
        return build
    gx4 = npz_setup("g4.npz", x=gx, y=gy)
    add(g, "a chain of 100000 nodes: eval", ["eval", "m.onnx", "--data", "g4.npz"], EXIT_OK,
        setup=chain(model_setup("m.onnx", relu_chain(False)), gx4))
    add(g, "a chain of 100000 nodes in reverse order: eval",
        ["eval", "m.onnx", "--data", "g4.npz"], EXIT_FAILURE, err="r99999",
        setup=chain(model_setup("m.onnx", relu_chain(True)), gx4))

    def no_graph():
        m = onnx.ModelProto()
        m.ir_version = 8
        m.opset_import.append(helper.make_opsetid("", 13))
        return m
    add(g, "no graph: info", ["info", "m.onnx"], EXIT_FAILURE, err="m.onnx",
        setup=model_setup("m.onnx", no_graph))


    rng = np.random.default_rng(5)
    for name, data in (("random bytes", rng.bytes(4096)), ("empty file", b""),
                       ("a text file", b"hello, I am not a model\n")):
        add(g, f"{name} as a model: info", ["info", "m.onnx"], EXIT_FAILURE, err="m.onnx",
            setup=writes("m.onnx", data))
    add(g, "an npz as a model: info", ["info", "{data}"], EXIT_FAILURE, err="d64.npz")
    add(g, "a key as a model: eval", ["eval", "{key}", "--data", "{data}"], EXIT_FAILURE,
        err="lenet.key")
    n = LENET_BYTES
    for cut in (1, 16, 1000, n // 2, n - 100, n - 1):
        add(g, f"lenet5 truncated to {cut} bytes: info", ["info", "m.onnx"], EXIT_FAILURE,
            err="m.onnx", setup=writes("m.onnx", lambda fx, c=cut: craft.read(fx.lenet)[:c]))
    add(g, "lenet5 truncated to 2/3: lock", ["lock", "m.onnx", "--data", "{data}", "-o", "o.onnx",
        "--key", "o.key"] + QUICK, EXIT_FAILURE, err="m.onnx", absent=("o.onnx", "o.key"),
        setup=writes("m.onnx", lambda fx: craft.read(fx.lenet)[:2 * n // 3]))
    # A flipped bit may land in a weight (a valid model) or in the structure (an error): either
    # is fine, a signal, a hang or an unnamed error is not.
    for bit in craft.spread(64 * 8, 6, 1) + craft.spread(n * 8, 10, 2):
        add(g, f"lenet5 bit {bit} flipped: eval", ["eval", "m.onnx", "--data", "{data}"],
            (EXIT_OK, EXIT_FAILURE), err="m.onnx",
            setup=writes("m.onnx", lambda fx, b=bit: craft.bit_flipped(craft.read(fx.lenet), b)))

    # The memory budget (--max-memory): a 64 MiB initializer (refused naming the tensor, or
    # the file that holds it when the file is refused first), and an op whose output would
    # take 64 MiB (refused naming the node).
    big_model = model_setup("big.onnx", lambda: craft.big_matmul_model(4 * MB))
    big_err = (("'W'", "big.onnx"), "--max-memory")
    add(g, "64 MiB initializer under --max-memory 16M: info",
        ["info", "big.onnx", "--max-memory", "16M"], EXIT_FAILURE, err=big_err,
        setup=big_model, pending="memory-budget")
    add(g, "64 MiB initializer under --max-memory 16M: eval",
        ["eval", "big.onnx", "--data", "g.npz", "--max-memory", "16M"], EXIT_FAILURE,
        err=big_err, setup=chain(big_model, gdata), pending="memory-budget")
    add(g, "64 MiB initializer under --max-memory=16M: lock",
        ["lock", "big.onnx", "--data", "g.npz", "-o", "o.onnx", "--key", "o.key",
         "--max-memory=16M"] + QUICK, EXIT_FAILURE, err=big_err, absent=("o.onnx", "o.key"),
        setup=chain(big_model, gdata), pending="memory-budget")
    pad_big = chain(model_setup("pad.onnx", craft.pad_model([0, 0, 0, 16 * MB])),
                    npz_setup("p.npz", x=np.ones((1, 4), np.float32), y=np.zeros(1, np.int64)))
    add(g, "Pad output of 64 MiB under --max-memory 16M: eval",
        ["eval", "pad.onnx", "--data", "p.npz", "--max-memory", "16M"], EXIT_FAILURE,
        err=("'pad'", "--max-memory"), setup=pad_big, pending="memory-budget")
    add(g, "Pad output of 64 MiB without --max-memory: eval",
        ["eval", "pad.onnx", "--data", "p.npz"], EXIT_OK, setup=pad_big)
    add(g, "64 MiB initializer without --max-memory: info", ["info", "big.onnx"], EXIT_OK,
        setup=big_model)
    add(g, "64 MiB initializer under --max-memory 8G: info",
        ["info", "big.onnx", "--max-memory", "8G"], EXIT_OK, setup=big_model,
        pending="memory-budget")


def _float_data(name, dims, values):
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
    t.float_data.extend(values)
    return t


# ------------------------------------------------------------------- group: data
def data_cases():
    g = "data"
    ev = lambda f: ["eval", "{lenet}", "--data", f]  # noqa: E731
    lock = lambda f: (  # noqa: E731
        ["lock", "{lenet}", "--data", f, "-o", "o.onnx", "--key", "o.key"] + QUICK)
    x = np.zeros((4, 1, 28, 28), np.float32)
    y = np.arange(4, dtype=np.int64)
    bad = {
        "x float64": dict(x=x.astype(np.float64), y=y),
        "x int32": dict(x=x.astype(np.int32), y=y),
        "x a scalar": dict(x=np.float32(1.0)),
        "x big-endian": dict(x=x.astype(">f4"), y=y),
        "x Fortran order": dict(x=np.asfortranarray(np.zeros((4, 784), np.float32))),
        "x structured dtype": dict(x=np.zeros(4, dtype=[("a", "<f4"), ("b", "<f4")])),
        "x complex": dict(x=x.astype(np.complex64)),
        "x a unicode string": dict(x=np.array(["abc", "de"])),
        "y float32": dict(x=x, y=y.astype(np.float32)),
        "y two-dimensional": dict(x=x, y=y.reshape(2, 2)),
        "y of the wrong length": dict(x=x, y=y[:3]),
        "y int16": dict(x=x, y=y.astype(np.int16)),
    }
    for name, arrays in bad.items():
        array = name.split()[0]
        add(g, f"{name}: eval", ev("bad.npz"), EXIT_FAILURE, err=("bad.npz", f"'{array}'"),
            setup=npz_setup("bad.npz", **arrays))
    add(g, "no array x: eval", ev("bad.npz"), EXIT_FAILURE, err=("bad.npz", "'x'"),
        setup=npz_setup("bad.npz", y=y))
    add(g, "x float64: lock", lock("bad.npz"), EXIT_FAILURE, err=("bad.npz", "'x'"),
        absent=("o.onnx", "o.key"), setup=npz_setup("bad.npz", x=x.astype(np.float64)))
    # Pickled Python objects: refused by name, never unpickled.
    for array, arrays in (("x", dict(x=np.array([{"a": 1}] * 4, dtype=object))),
                          ("y", dict(x=x, y=np.array([1, "two", 3.0, None], dtype=object)))):
        add(g, f"{array} holds pickled objects: eval", ev("obj.npz"), EXIT_FAILURE,
            err=("obj.npz", f"'{array}'", "pickle"), setup=npz_setup("obj.npz", **arrays))
    add(g, "x holds pickled objects: lock", lock("obj.npz"), EXIT_FAILURE,
        err=("obj.npz", "'x'", "pickle"), absent=("o.onnx", "o.key"),
        setup=npz_setup("obj.npz", x=np.array([[1.5], [2]], dtype=object)))
    # Zero samples: an error that says so (not "no labels y", which is there).
    for with_y in (True, False):
        arrays = dict(x=np.zeros((0, 1, 28, 28), np.float32))
        if with_y:
            arrays["y"] = np.zeros(0, np.int64)
        what = "with" if with_y else "without"
        add(g, f"zero samples {what} y: eval", ev("empty.npz"), EXIT_FAILURE,
            err=("empty.npz", "no samples"), not_err="no labels",
            setup=npz_setup("empty.npz", **arrays))
    add(g, "zero samples: lock", lock("empty.npz"), EXIT_FAILURE, err=("empty.npz", "no samples"),
        absent=("o.onnx", "o.key"),
        setup=npz_setup("empty.npz", x=np.zeros((0, 1, 28, 28), np.float32)))
    add(g, "zero samples: lock-batch", ["lock-batch", "{lenet}", "--data", "empty.npz",
        "--output-dir", "out"] + QUICK, EXIT_FAILURE, err=("empty.npz", "no samples"),
        absent=("out/lenet-0.onnx", "out/lenet-0.key"),
        setup=chain(mkdirs("out"), npz_setup("empty.npz", x=np.zeros((0, 1, 28, 28), np.float32))))
    # Labels outside the model's classes.
    for label in (99, -1):
        yy = np.full(64, label, np.int64)
        add(g, f"label {label}: eval", ev("lab.npz"), EXIT_FAILURE, err=("lab.npz", str(label)),
            setup=lambda d, fx, yy=yy: np.savez(d / "lab.npz", x=np.load(fx.data)["x"], y=yy))
        add(g, f"label {label}: lock", lock("lab.npz"), EXIT_FAILURE, err=str(label),
            absent=("o.onnx", "o.key"),
            setup=lambda d, fx, yy=yy: np.savez(d / "lab.npz", x=np.load(fx.data)["x"], y=yy))
    add(g, "NaN samples: lock", lock("nan.npz"), (EXIT_OK, EXIT_FAILURE),
        outputs=("o.onnx", "o.key"),
        setup=npz_setup("nan.npz", x=np.full((16, 1, 28, 28), np.nan, np.float32)))
    add(g, "compressed npz: eval", ev("c.npz"), EXIT_OK,
        setup=lambda d, fx: np.savez_compressed(d / "c.npz", **np.load(fx.data)))
    add(g, "extra arrays beside x and y: eval", ev("e.npz"), EXIT_OK,
        setup=lambda d, fx: np.savez(d / "e.npz", z=np.zeros(3), **np.load(fx.data)))

    # Hand-made .npy headers and zip archives.
    f4 = lambda shape: (  # noqa: E731
        "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (shape,))
    body = np.zeros((4, 1, 28, 28), np.float32).tobytes()
    entries = {
        "bad magic": [("x.npy", b"\x93NUMPZ" + craft.npy_bytes(f4((4, 1, 28, 28)), body)[6:])],
        "npy version 4": [("x.npy", craft.npy_bytes(f4((4, 1, 28, 28)), body, (4, 0)))],
        "header not a dict": [("x.npy", craft.npy_bytes("[1, 2, 3]", body))],
        "header without shape": [("x.npy", craft.npy_bytes(
            "{'descr': '<f4', 'fortran_order': False, }", body))],
        "negative shape": [("x.npy", craft.npy_bytes(f4("(-4, 1, 28, 28)"), body))],
        "shape of 2^62 x 2^62": [("x.npy", craft.npy_bytes(f4((1 << 62, 1 << 62)), body))],
        "header length past the end": [("x.npy", craft.npy_bytes(f4((4,)))[:8] + b"\xff\xff")],
        "body shorter than the shape": [("x.npy", craft.npy_bytes(f4((4, 1, 28, 28)), body[:-4]))],
        "body longer than the shape": [("x.npy", craft.npy_bytes(f4((4, 1, 28, 28)),
                                                                 body + b"1234"))],
        "shape claims 256 GiB": [("x.npy", craft.npy_bytes(f4((1 << 36, 1)), body))],
        "an entry that is not .npy": [("x.npy", craft.npy_bytes(f4((4, 1, 28, 28)), body)),
                                      ("notes.txt", b"hello")],
        "x.npy twice": [("x.npy", craft.npy_bytes(f4((4, 1, 28, 28)), body)),
                        ("x.npy", craft.npy_bytes(f4((4, 1, 28, 28)), body))],
        "only a folder": [("x/", b"")],
    }
    for name, ents in entries.items():
        def setup(d, fx, ents=ents):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
                craft.npz_of_entries(d / "h.npz", ents)
        add(g, f"{name}: eval", ev("h.npz"), EXIT_FAILURE, err="h.npz", setup=setup,
            max_rss_mb=512)

    # Truncations and bit flips of a real .npz.
    for cut in (0, 1, 30, 100, "half", -22, -1):
        def setup(d, fx, cut=cut):
            data = craft.read(fx.data)
            c = len(data) // 2 if cut == "half" else (cut if cut >= 0 else len(data) + cut)
            craft.write(d / "t.npz", data[:c])
        add(g, f"npz truncated ({cut}): eval", ev("t.npz"), EXIT_FAILURE, err="t.npz", setup=setup)

    def flip_in_x_data(k):
        def setup(d, fx):
            import zipfile
            data = craft.read(fx.data)
            with zipfile.ZipFile(fx.data) as z:
                info = z.getinfo("x.npy")
            start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 128
            pos = start + craft.spread(info.file_size - 128, 4, 9)[k]
            craft.write(d / "f.npz", craft.bit_flipped(data, pos * 8 + k))
        return setup
    for k in range(4):
        add(g, f"npz with a flipped bit in x's data #{k}: eval", ev("f.npz"), EXIT_FAILURE,
            err="f.npz", setup=flip_in_x_data(k))
    for bit in craft.spread(200 * 8, 6, 4):
        add(g, f"npz bit {bit} flipped: eval", ev("f.npz"), (EXIT_OK, EXIT_FAILURE), err="f.npz",
            setup=lambda d, fx, b=bit: craft.write(d / "f.npz",
                                                   craft.bit_flipped(craft.read(fx.data), b)))

    # Sizes: a small file that would allocate gigabytes. (1) The zip entry claims 3.3 GB
    # uncompressed but its deflate data holds 3.3 MB: nothing near the claim may be allocated.
    # (2) It really inflates to 3.3 GB, but the .npy header inside says 4 samples (12.5 KB):
    # reading past header + 12.5 KB is pointless. (3) It inflates to 3.3 GB, as its header
    # says, over the budget given.
    add(g, "3 MB npz claiming 3.3 GB uncompressed: eval", ev("claim.npz"), EXIT_FAILURE,
        err="claim.npz", max_rss_mb=1024,
        setup=lambda d, fx: craft.overclaiming_npz(d / "claim.npz", 3300, 3300 * MB),
        pending="memory-budget")
    add(g, "3 MB npz inflating to 3.3 GB, header says 4 samples: eval", ev("bomb.npz"),
        EXIT_FAILURE, err="bomb.npz", max_rss_mb=1024,
        setup=lambda d, fx: craft.deflate_bomb_npz(d / "bomb.npz", (4, 1, 28, 28), 3300),
        pending="memory-budget")
    add(g, "3 MB npz inflating to 3.3 GB under --max-memory 256M: eval",
        ev("bomb.npz") + ["--max-memory", "256M"], EXIT_FAILURE,
        err=("bomb.npz", "--max-memory"), max_rss_mb=1024,
        setup=lambda d, fx: craft.deflate_bomb_npz(d / "bomb.npz", (1 << 20, 1, 28, 28), 3136),
        pending="memory-budget")
    add(g, "32 MiB of x under --max-memory 16M: eval",
        ["eval", "{lenet}", "--data", "x32.npz", "--max-memory", "16M"], EXIT_FAILURE,
        err=("x32.npz", "--max-memory"),
        setup=npz_setup("x32.npz", x=np.zeros((10700, 1, 28, 28), np.float32)),
        pending="memory-budget")
    add(g, "a model given as --data: eval", ev("{lenet}"), EXIT_FAILURE, err="lenet.onnx")
    add(g, "an encrypted zip entry: eval", ev("enc.npz"), EXIT_FAILURE, err="enc.npz",
        setup=lambda d, fx: craft.write(d / "enc.npz", _encrypted_flag(craft.read(fx.data))))


def _encrypted_flag(data):
    """The zip with general-purpose bit 0 (encrypted) set in every header."""
    out = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = out.find(sig)
        while i >= 0:
            out[i + off] |= 1
            i = out.find(sig, i + 4)
    return bytes(out)


# ------------------------------------------------------------------- group: keys
def crafted(edit, version=1, magic=b"onnx-crypt-key"):
    """A setup writing d/k.key: the fixture key with `edit(key)` applied, re-encoded with a
    correct checksum."""
    def setup(d, fx):
        key = fx.codec.decode(craft.read(fx.key))
        edit(key)
        craft.write(d / "k.key", fx.codec.encode(key, magic=magic, version=version))
    return setup


def key_cases():
    g = "keys"
    unlock = ["unlock", "{locked}", "--key", "k.key", "-o", "u.onnx"]
    for cut in (0, 1, 14, "half", -1):
        def setup(d, fx, cut=cut):
            data = craft.read(fx.key)
            c = len(data) // 2 if cut == "half" else (cut if cut >= 0 else len(data) + cut)
            craft.write(d / "k.key", data[:c])
        add(g, f"key truncated ({cut}): unlock", unlock, EXIT_FAILURE, err="k.key",
            absent="u.onnx", setup=setup)
        add(g, f"key truncated ({cut}): key", ["key", "k.key"], EXIT_FAILURE, err="k.key",
            setup=setup)
        add(g, f"key truncated ({cut}): verify", ["verify", "{lenet}", "{locked}", "k.key"],
            EXIT_FAILURE, err="k.key", setup=setup)
    key_bits = 8 * 410  # spread over the first 410 bytes: the fixture key is about that long
    for i, bit in enumerate(craft.spread(key_bits, 24, 11)):
        setup = lambda d, fx, b=bit: craft.write(  # noqa: E731
            d / "k.key", craft.bit_flipped(craft.read(fx.key), b % (8 * len(craft.read(fx.key)))))
        add(g, f"key bit {bit} flipped: key", ["key", "k.key"], EXIT_FAILURE, err="k.key",
            setup=setup)
        if i % 3 == 0:
            add(g, f"key bit {bit} flipped: unlock", unlock, EXIT_FAILURE, err="k.key",
                absent="u.onnx", setup=setup)

    def fp_missing(k):
        k.tensors[0].name = "no_such_tensor"
        for v in k.values:
            v.tensor = "no_such_tensor"

    def duplicate(k):
        k.values.add().CopyFrom(k.values[0])

    def set_(field, value, i=0, where="values"):
        def edit(k):
            setattr(getattr(k, where)[i], field, value)
        return edit

    def clear_values(k):
        del k.values[:]

    def dims(values):
        def edit(k):
            del k.tensors[0].dims[:]
            k.tensors[0].dims.extend(values)
        return edit

    def model_fp(k):
        k.model_sha256_locked = b"a" * 32

    tensor = "fc3.weight"
    for name, setup, err in (
            ("fingerprint names a tensor the model lacks", crafted(fp_missing), "no_such_tensor"),
            ("value index past the tensor", crafted(set_("index", 10 ** 9)), tensor),
            ("negative value index", crafted(set_("index", -1)), tensor),
            ("value bytes of the wrong size", crafted(set_("original", b"\0" * 3)), tensor),
            ("a value twice", crafted(duplicate), tensor),
            ("fingerprint dims overflow", crafted(dims([1 << 62, 8])), tensor),
            ("fingerprint dims negative", crafted(dims([-10, 84])), tensor),
            ("unknown data_type", crafted(set_("data_type", 99, where="tensors")), tensor),
            ("short tensor fingerprint", crafted(set_("sha256_original", b"x", where="tensors")),
             tensor),
            ("no values", crafted(clear_values), "no locked values"),
            ("locked value differs from the model", crafted(set_("locked", b"\1\2\3\4")),
             tensor),
            ("original value changed", crafted(set_("original", b"\1\2\3\4")), tensor),
            ("model fingerprint of another model", crafted(model_fp), "does not match"),
            ("format version 2", crafted(lambda k: None, version=2), "version 2"),
            ("wrong magic", crafted(lambda k: None, magic=b"onnx-crypt-kez"),
             "not an onnx-crypt key"),
            ("another lock's key", lambda d, fx: shutil.copyfile(fx.okey, d / "k.key"),
             "does not match"),
            ("a model as the key", lambda d, fx: shutil.copyfile(fx.lenet, d / "k.key"), "k.key"),
            ("an npz as the key", lambda d, fx: shutil.copyfile(fx.data, d / "k.key"), "k.key")):
        add(g, f"{name}: unlock", unlock, EXIT_FAILURE, err=err, absent="u.onnx", setup=setup)
    for name, setup, err in (
            ("checksum zeroed", lambda d, fx: craft.write(d / "k.key", _zero_checksum(fx)),
             "checksum"),
            ("format version 2", crafted(lambda k: None, version=2), "version 2"),
            ("a value twice", crafted(duplicate), tensor)):
        add(g, f"{name}: key", ["key", "k.key"], EXIT_FAILURE, err=("k.key", err), setup=setup)
    add(g, "another lock's key: verify", ["verify", "{lenet}", "{locked}", "{okey}"],
        EXIT_FAILURE, err="does not match")
    add(g, "the right key: verify", ["verify", "{lenet}", "{locked}", "{key}"], EXIT_OK)
    add(g, "the right key: unlock restores lenet5 bit for bit",
        ["unlock", "{locked}", "--key", "{key}", "-o", "u.onnx"], EXIT_OK, outputs="u.onnx",
        check=lambda d, r: [] if craft.read(d / "u.onnx") == craft.read(LENET) else
        ["u.onnx differs from lenet5.onnx"])
    add(g, "key --values: float32 key", ["key", "{key}", "--values"], EXIT_OK,
        out=("fc3.weight[", " -> "))

    # Keys of other element types: `key --values` shows the values as what they are.
    for dtype, locked, changes, shown in (
            (np.int8, [1, -7, -3, 7], {1: 5}, "T[1]: 5 -> -7"),
            (np.uint8, [200, 1], {0: 3}, "T[0]: 3 -> 200"),
            (np.int32, [-3, 9], {0: 123456}, "T[0]: 123456 -> -3"),
            (np.int64, [-(1 << 40), 1], {0: 1 << 40}, "T[0]: 1099511627776 -> -1099511627776"),
            (np.float16, [-2.0, 1.0], {0: 0.5}, "T[0]: 0.5 -> -2"),
            (np.float64, [-3.5, 0.0], {0: 0.25}, "T[0]: 0.25 -> -3.5")):
        def setup(d, fx, dtype=dtype, locked=locked, changes=changes):
            model = craft.typed_model(dtype, locked)
            key, original = craft.typed_key(fx.codec, model, "T", changes)
            craft.save_model(model, d / "locked.onnx")
            craft.save_model(original, d / "orig.onnx")
            craft.write(d / "k.key", key)
        name = np.dtype(dtype).name
        add(g, f"key --values: {name} key", ["key", "k.key", "--values"], EXIT_OK,
            out=(shown, f"T {name}["), setup=setup)
        if dtype in (np.int8, np.float16):
            add(g, f"{name} key unlocks bit for bit: verify",
                ["verify", "orig.onnx", "locked.onnx", "k.key"], EXIT_OK, setup=setup)


def _zero_checksum(fx):
    f = fx.codec.KeyFile()
    f.ParseFromString(craft.read(fx.key))
    f.payload_sha256 = b"\0" * 32
    return f.SerializeToString()


# -------------------------------------------------------------- group: integrity
def tampered(edit):
    def setup(d, fx):
        m = onnx.load(str(fx.locked))
        edit(m)
        craft.save_model(m, d / "t.onnx")
    return setup


def node(m, name):
    return next(n for n in m.graph.node if n.name == name)


def integrity_cases():
    g = "integrity"
    unlock = ["unlock", "t.onnx", "--key", "{key}", "-o", "u.onnx"]

    def relu_to_sigmoid(m):
        node(m, "/Relu").op_type = "Sigmoid"

    def attribute(m):
        a = next(a for a in node(m, "/fc3/Gemm").attribute if a.name == "alpha")
        a.f = 2.0

    def add_node(m):
        node(m, "/MaxPool").input[0] = "/id"
        i = list(m.graph.node).index(node(m, "/MaxPool"))
        m.graph.node.insert(i, helper.make_node("Neg", ["/Relu_output_0"], ["/id"], name="/neg"))

    def remove_node(m):
        node(m, "/fc3/Gemm").input[0] = "/fc2/Gemm_output_0"
        m.graph.node.remove(node(m, "/Relu_3"))

    def input_shape(m):
        dim = m.graph.input[0].type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = 1

    def opset(m):
        m.opset_import[0].version = 14

    def rename_output(m):
        node(m, "/fc3/Gemm").output[0] = "scores"
        m.graph.output[0].name = "scores"

    def reorder_inputs(m):
        n = node(m, "/fc1/Gemm")
        a = next(a for a in n.attribute if a.name == "transB")
        a.i = 0

    def unlocked_init(m):
        t = next(t for t in m.graph.initializer if t.name == "fc1.bias")
        arr = numpy_helper.to_array(t).copy()
        arr[0] += 1.0
        t.CopyFrom(numpy_helper.from_array(arr, "fc1.bias"))

    def locked_tensor(m):
        t = next(t for t in m.graph.initializer if t.name == "fc3.weight")
        arr = numpy_helper.to_array(t).copy()
        arr[0, 0] += 1.0
        t.CopyFrom(numpy_helper.from_array(arr, "fc3.weight"))

    for name, edit, pending in (
            ("Relu -> Sigmoid", relu_to_sigmoid, "graph-integrity"),
            ("Gemm alpha 1 -> 2", attribute, "graph-integrity"),
            ("Gemm transB 1 -> 0", reorder_inputs, "graph-integrity"),
            ("a node added", add_node, "graph-integrity"),
            ("a node removed", remove_node, "graph-integrity"),
            ("input batch dim fixed to 1", input_shape, "graph-integrity"),
            ("opset 13 -> 14", opset, "graph-integrity"),
            ("output renamed", rename_output, "graph-integrity"),
            ("an unlocked initializer changed", unlocked_init, ""),
            ("another value of a locked tensor changed", locked_tensor, "")):
        add(g, f"{name}: unlock", unlock, EXIT_FAILURE, err="t.onnx", absent="u.onnx",
            setup=tampered(edit), pending=pending)
    add(g, "Relu -> Sigmoid: verify", ["verify", "{lenet}", "t.onnx", "{key}"], EXIT_FAILURE,
        err=(("t.onnx", "lenet.onnx"),), setup=tampered(relu_to_sigmoid))
    add(g, "untouched copy: unlock", unlock, EXIT_OK, outputs="u.onnx",
        setup=tampered(lambda m: None))
    # Bit flips of the locked model: an error, or (a flip in text the key does not cover) a
    # success; never a signal or a half-written output.
    n = LENET_BYTES  # the locked model stores its tensors as lenet5 does: the same size
    for bit in craft.spread(n * 8, 8, 13):
        add(g, f"locked model bit {bit} flipped: unlock", unlock, (EXIT_OK, EXIT_FAILURE),
            err="t.onnx", outputs="u.onnx",
            setup=lambda d, fx, b=bit: craft.write(
                d / "t.onnx", craft.bit_flipped(craft.read(fx.locked),
                                                b % (8 * fx.locked.stat().st_size))))


# ---------------------------------------------------------------- group: outputs
def output_cases():
    g = "outputs"
    lock = lambda o, k, model="{lenet}", data="{data}": (  # noqa: E731
        ["lock", model, "--data", data, "-o", o, "--key", k] + QUICK)
    add(g, "lock --key into a missing folder", lock("o.onnx", "nodir/k.key"), EXIT_FAILURE,
        err="nodir", absent=("o.onnx", "nodir"))
    add(g, "lock -o into a missing folder", lock("nodir/o.onnx", "k.key"), EXIT_FAILURE,
        err="nodir", absent=("k.key", "nodir"))
    add(g, "lock --key is a directory", lock("o.onnx", "kdir"), EXIT_FAILURE, err="kdir",
        absent="o.onnx", setup=mkdirs("kdir"))
    add(g, "lock -o is a directory", lock("odir", "k.key"), EXIT_FAILURE, err="odir",
        absent="k.key", setup=mkdirs("odir"))

    def copy_inputs(d, fx):
        shutil.copyfile(fx.lenet, d / "m.onnx")
        shutil.copyfile(fx.data, d / "d.npz")
    for name, o, k in (("-o is the model", "m.onnx", "k.key"),
                       ("--key is the model", "o.onnx", "m.onnx"),
                       ("-o is the data", "d.npz", "k.key"),
                       ("--key is the data", "o.onnx", "d.npz"),
                       ("-o and --key are one file", "o.onnx", "o.onnx"),
                       ("-o is a symlink to the model", "alias.onnx", "k.key"),
                       ("-o names the model through ./", "./sub/../m.onnx", "k.key")):
        def setup(d, fx):
            copy_inputs(d, fx)
            os.symlink("m.onnx", d / "alias.onnx")
            (d / "sub").mkdir()
        add(g, f"lock {name}", lock(o, k, "m.onnx", "d.npz"), EXIT_FAILURE,
            err=("refus" if "one file" not in name else "different"),
            absent=tuple(p for p in ("o.onnx", "k.key") if p not in (o, k)), setup=setup)
    add(g, "lock writes both outputs", lock("o.onnx", "o.key"), EXIT_OK,
        outputs=("o.onnx", "o.key"))
    add(g, "lock writes the key with mode 0600", lock("o.onnx", "o.key"), EXIT_OK,
        outputs=("o.onnx", "o.key"), check=mode_is("o.key", 0o600), pending="key-mode")
    batch = lambda *models, out="out", extra=(): (  # noqa: E731
        ["lock-batch", *models, "--data", "{data}", "--output-dir", out] + QUICK + list(extra))
    add(g, "lock-batch writes both outputs of every variant, keys 0600",
        batch("{lenet}", extra=["--variants", "2"]), EXIT_OK,
        outputs=("out/lenet-0.onnx", "out/lenet-0.key", "out/lenet-1.onnx", "out/lenet-1.key"),
        check=lambda d, r: mode_is("out/lenet-0.key", 0o600)(d, r) +
        mode_is("out/lenet-1.key", 0o600)(d, r), pending="key-mode")

    def good_and_bad(d, fx):
        shutil.copyfile(fx.lenet, d / "good.onnx")
        craft.save_model(craft.window_model("Conv", strides=[0, 0]), d / "bad.onnx")
    add(g, "lock-batch with one hostile model: the good one is written, the bad one not",
        batch("good.onnx", "bad.onnx"), EXIT_FAILURE, err=("bad.onnx", "'bad'"),
        keeps=("out/good-0.onnx", "out/good-0.key"), absent=("out/bad-0.onnx", "out/bad-0.key"),
        setup=good_and_bad)
    # A folder in the way of an output: the item fails, its other file is not left behind,
    # and the folder (not the tool's to remove) is still there.
    add(g, "lock-batch: NAME-0.key is a directory", batch("{lenet}"), EXIT_FAILURE,
        err="lenet-0.key", absent="out/lenet-0.onnx", setup=mkdirs("out/lenet-0.key"),
        pending="batch-outputs")
    add(g, "lock-batch: NAME-0.onnx is a directory", batch("{lenet}"), EXIT_FAILURE,
        err="lenet-0.onnx", absent="out/lenet-0.key", setup=mkdirs("out/lenet-0.onnx"),
        pending="batch-outputs")
    add(g, "lock-batch: --output-dir is a file", batch("{lenet}", out="f"), EXIT_FAILURE,
        err="f", setup=writes("f", b"not a folder"))

    def same_stem(d, fx):
        (d / "a").mkdir()
        (d / "b").mkdir()
        shutil.copyfile(fx.lenet, d / "a/m.onnx")
        shutil.copyfile(fx.lenet, d / "b/m.onnx")
    add(g, "lock-batch: two models of one name", batch("a/m.onnx", "b/m.onnx"), EXIT_FAILURE,
        err="b/m.onnx", setup=same_stem, keeps=("out/m-0.onnx", "out/m-0.key"))
    unlock = lambda o: ["unlock", "{locked}", "--key", "{key}", "-o", o]  # noqa: E731
    add(g, "unlock -o into a missing folder", unlock("nodir/u.onnx"), EXIT_FAILURE, err="nodir",
        absent="nodir")
    add(g, "unlock -o is a directory", unlock("udir"), EXIT_FAILURE, err="udir",
        setup=mkdirs("udir"))

    def local_lock(d, fx):
        shutil.copyfile(fx.locked, d / "l.onnx")
        shutil.copyfile(fx.key, d / "k.key")
    add(g, "unlock -o is the locked model", ["unlock", "l.onnx", "--key", "k.key", "-o", "l.onnx"],
        EXIT_FAILURE, err="l.onnx", setup=local_lock)
    add(g, "unlock -o is the key", ["unlock", "l.onnx", "--key", "k.key", "-o", "k.key"],
        EXIT_FAILURE, err="k.key", setup=local_lock)
    ev = ["eval", "m.onnx", "--data", "d.npz", "--dump-outputs"]
    add(g, "eval --dump-outputs into a missing folder", ev + ["nodir/o.npz"], EXIT_FAILURE,
        err="nodir", setup=copy_inputs)
    add(g, "eval --dump-outputs is the model", ev + ["m.onnx"], EXIT_FAILURE, err="m.onnx",
        setup=copy_inputs)
    add(g, "eval --dump-outputs is the data", ev + ["d.npz"], EXIT_FAILURE, err="d.npz",
        setup=copy_inputs)
    add(g, "eval --dump-outputs writes its file", ev + ["o.npz"], EXIT_OK, outputs="o.npz",
        setup=copy_inputs)
    att = ["attack", "prune", "l.onnx", "--eval-data", "d.npz", "-o"]

    def attack_inputs(d, fx):
        local_lock(d, fx)
        shutil.copyfile(fx.data, d / "d.npz")
    for name, o in (("the locked model", "l.onnx"), ("the eval data", "d.npz")):
        add(g, f"attack -o is {name}", att + [o], EXIT_FAILURE, err=o, setup=attack_inputs)
    add(g, "attack -o is the training data",
        ["attack", "repair", "l.onnx", "--data", "d.npz", "--eval-data", "{data}", "-o", "d.npz"],
        EXIT_FAILURE, err="d.npz", setup=attack_inputs)
    add(g, "attack -o is the key",
        ["attack", "outliers", "l.onnx", "--key", "k.key", "--eval-data", "d.npz", "-o", "k.key"],
        EXIT_FAILURE, err="k.key", setup=attack_inputs)
    add(g, "attack -o writes its model", att + ["a.onnx"], EXIT_OK, outputs="a.onnx",
        setup=attack_inputs)


# ------------------------------------------------------------- group: passphrase
def passphrase_cases():
    g = "passphrase"
    lock = ["lock", "{lenet}", "--data", "{data}", "-o", "o.onnx", "--key", "o.key"] + QUICK
    outs = ("o.onnx", "o.key")
    add(g, "lock --passphrase-file missing", lock + ["--passphrase-file", "nope.txt"],
        EXIT_FAILURE, err="nope.txt", absent=outs, pending="passphrase")
    add(g, "lock --passphrase-file is a FIFO", lock + ["--passphrase-file", "p.fifo"],
        EXIT_FAILURE, err="p.fifo", absent=outs, pending="passphrase", hang=True,
        setup=lambda d, fx: os.mkfifo(d / "p.fifo"))
    add(g, "lock --passphrase-file is a directory", lock + ["--passphrase-file", "pdir"],
        EXIT_FAILURE, err="pdir", absent=outs, pending="passphrase", setup=mkdirs("pdir"))

    def need_wrapped(d, fx):
        if not fx.passphrase_ok:
            raise RuntimeError("lock --passphrase-file did not make a wrapped key")
        (d / "wrong.txt").write_text("Tr0ub4dor&3\n")
    unlock = ["unlock", "{plocked}", "--key", "{pkey}", "-o", "u.onnx"]
    add(g, "unlock a wrapped key with the wrong passphrase",
        unlock + ["--passphrase-file", "wrong.txt"], EXIT_FAILURE, err="passphrase",
        absent="u.onnx", setup=need_wrapped, pending="passphrase")
    add(g, "unlock a wrapped key without a passphrase", unlock, EXIT_FAILURE, err="passphrase",
        absent="u.onnx", setup=need_wrapped, pending="passphrase")
    add(g, "unlock a wrapped key with its passphrase", unlock + ["--passphrase-file", "{passfile}"],
        EXIT_OK, outputs="u.onnx", setup=need_wrapped, pending="passphrase")


for build in (usage_cases, file_cases, ext_cases, model_cases, data_cases, key_cases,
              integrity_cases, output_cases, passphrase_cases):
    build()
GROUPS = list(dict.fromkeys(c.group for c in CASES))


# ============================================================================= test
class HostileCliTest(unittest.TestCase):
    """One test per group; all cases run (in parallel) in setUpClass."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="hostile_cli_test.")
        root = pathlib.Path(cls.tmp.name)
        cls.fx = Fixtures(root / "fixtures")
        cls.fx.build()
        cls.repo_before = {p: craft.sha256_file(p) for p in (LENET, OWNER)}
        work = root / "cases"
        work.mkdir()
        cls.cases = [c for c in CASES if not ONLY or re.search(ONLY, c.label)]
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as pool:
            futures = [pool.submit(run_case, c, i, work, cls.fx) for i, c in enumerate(cls.cases)]
            cls.results = [f.result() for f in futures]
        cls.seconds = time.monotonic() - t0

    @classmethod
    def tearDownClass(cls):
        lines = [f"hostile-input suite: {len(cls.cases)} cases in {cls.seconds:.1f} s "
                 f"({'sanitized' if SANITIZED else 'release'} binary {CLI}, timeout scale {SCALE})"]
        lines.append(f"  {'group':<11} {'cases':>5} {'pass':>5} {'fail':>5}  "
                     "failing pending features")
        total_fail = 0
        for group in GROUPS:
            rs = [(c, r) for c, r in zip(cls.cases, cls.results) if c.group == group]
            if not rs:
                continue
            fails = [(c, r) for c, r in rs if r.problems]
            total_fail += len(fails)
            tags = sorted({c.pending or "-" for c, _ in fails})
            lines.append(f"  {group:<11} {len(rs):>5} {len(rs) - len(fails):>5} {len(fails):>5}  "
                         f"{', '.join(tags)}")
        lines.append(f"  {'total':<11} {len(cls.cases):>5} {len(cls.cases) - total_fail:>5} "
                     f"{total_fail:>5}")
        pend = sorted({c.pending for c, r in zip(cls.cases, cls.results)
                       if c.pending and r.problems})
        for tag in pend:
            n = sum(1 for c, r in zip(cls.cases, cls.results) if c.pending == tag and r.problems)
            lines.append(f"  pending {tag} ({PENDING[tag]}): {n} failing")
        slow = sorted(zip(cls.results, cls.cases), key=lambda rc: -rc[0].seconds)[:3]
        lines.append("  slowest: " + "; ".join(f"{c.label} {r.seconds:.1f} s" for r, c in slow))
        if VERBOSE:
            for c, r in zip(cls.cases, cls.results):
                first = (r.stderr.strip().splitlines() or [""])[-1][:160]
                lines.append(f"  {'FAIL' if r.problems else 'ok  '} {c.label} -> {r.code} "
                             f"({r.seconds:.2f} s, {r.peak_rss_mb:.0f} MB) {first}")
        print("\n" + "\n".join(lines), file=sys.stderr)
        cls.tmp.cleanup()

    def test_repository_inputs_unchanged(self):
        for path, digest in self.repo_before.items():
            self.assertEqual(craft.sha256_file(path), digest, f"{path} was changed")

    def test_case_count(self):
        if not ONLY:
            self.assertGreaterEqual(len(self.cases), 136)


def _group_test(group):
    def test(self):
        ran = 0
        for case, res in zip(self.cases, self.results):
            if case.group != group:
                continue
            ran += 1
            with self.subTest(case=case.label, pending=case.pending or None):
                if res.problems:
                    self.fail("\n  ".join([case.label] + res.problems))
        if ran == 0:
            self.skipTest(f"no {group} case matches ONNX_CRYPT_HOSTILE_ONLY")
    test.__name__ = f"test_{group}"
    test.__doc__ = f"the {group} cases"
    return test


for _group in GROUPS:
    setattr(HostileCliTest, f"test_{_group}", _group_test(_group))


if __name__ == "__main__":
    unittest.main()
