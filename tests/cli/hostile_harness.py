"""The runner of tests/cli/hostile_cli_test.py: what a case is, the shared fixtures, and how
one case runs (a timeout, an RSS watchdog, snapshots of every input before and after).

The environment variables that steer it are described in hostile_cli_test.py.
"""
import dataclasses
import os
import pathlib
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import numpy as np

import hostile_craft as craft

ROOT = pathlib.Path(os.environ.get(
    "ONNX_CRYPT_ROOT", pathlib.Path(__file__).resolve().parent.parent.parent))
BUILD = pathlib.Path(os.environ.get("ONNX_CRYPT_BUILD_DIR", ROOT / "build"))
CLI = os.environ.get("ONNX_CRYPT_CLI", str(BUILD / "tools" / "onnx-crypt"))
LENET = ROOT / "tools" / "models" / "lenet5.onnx"
OWNER = ROOT / "tools" / "data" / "fmnist_owner256.npz"
KEY_PROTO = ROOT / "onnx_crypt" / "key" / "key.proto"
# Where cuts and flips go (setUpClass says so when the model is missing).
LENET_BYTES = LENET.stat().st_size if LENET.exists() else 1 << 18

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2  # tools/cli/commands.h


def _sanitized(path):
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError:
        return False
    return b"__asan_init" in data or b"__ubsan_handle" in data or b"__tsan_init" in data


SANITIZED = _sanitized(CLI)
SCALE = float(os.environ.get("ONNX_CRYPT_TEST_TIMEOUT_SCALE", "4" if SANITIZED else "1"))
RSS_LIMIT_MB = float(os.environ.get("ONNX_CRYPT_HOSTILE_RSS_MB", "2048" if SANITIZED else "1024"))
JOBS = int(os.environ.get("ONNX_CRYPT_HOSTILE_JOBS", "4"))
ONLY = os.environ.get("ONNX_CRYPT_HOSTILE_ONLY", "")
VERBOSE = os.environ.get("ONNX_CRYPT_HOSTILE_VERBOSE", "") not in ("", "0")
TIMEOUT_S = 60.0          # any case: a correct CLI answers in seconds
HANG_TIMEOUT_S = 10.0     # FIFOs and devices: refused at once, or it hangs (scaled at most 2x)
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer")

# A lock that is quick and always changes values.
# Some lock, fast: the fast loop (the hardened default would warn that its budget stopped it).
QUICK = ["--fast", "--max-values", "2", "--target-accuracy", "0", "--threads", "1"]
MB = 1 << 20

# Features being built elsewhere; cases that specify them carry one of these tags.
PENDING = {
    "regular-files": "every opened file must be a regular file (FIFO/device/dir refused)",
    "ext-containment": "external data must resolve inside the model's folder (symlinks)",
    "memory-budget": "sizes checked before allocation; --max-memory",
    "graph-integrity": "unlock refuses a locked model whose graph was changed",
    "key-mode": "key files written with mode 0600",
    "batch-outputs": "lock-batch writes both files of an item or neither, removing only its own",
    "passphrase": "--passphrase-file wrapped keys (optional)",
}


@dataclasses.dataclass
class Case:
    group: str
    name: str
    argv: list                  # templates: {lenet} {data} ... (Fixtures); paths relative to
                                # the case folder
    code: object                # expected exit status, or a tuple of allowed ones
    err: tuple = ()             # substrings stderr must contain (case-insensitive); a tuple
                                # among them: any one of its alternatives
    absent: tuple = ()          # paths (case folder) that must not exist afterwards
    outputs: tuple = ()         # paths (case folder) a success must create, and nothing else
    setup: object = None        # setup(d: Path, fx: Fixtures) builds the inputs
    out: tuple = ()             # substrings stdout must contain
    not_err: tuple = ()         # substrings neither stdout nor stderr may contain
    check: object = None        # check(d, result) -> list of problems
    pending: str = ""           # a PENDING tag: the feature this case specifies
    hang: bool = False          # may block on a FIFO/device: the short timeout
    max_rss_mb: float = 0       # when set: the child's peak RSS must stay below this
    keeps: tuple = ()           # outputs that must exist whatever the exit status (lock-batch)

    @property
    def label(self):
        return f"{self.group}/{self.name}"


@dataclasses.dataclass
class Result:
    code: int = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0
    peak_rss_mb: float = 0
    timed_out: bool = False
    runaway: bool = False
    problems: list = dataclasses.field(default_factory=list)


class Fixtures:
    """Shared inputs, made once: a copy of lenet5, 64 owner samples, a lock of them and its key,
    another lock's key, a tiny Gemm classifier and its data."""

    def __init__(self, root):
        self.dir = root
        self.lenet = root / "lenet.onnx"
        self.data = root / "d64.npz"
        self.locked = root / "locked.onnx"
        self.key = root / "lenet.key"
        self.other_locked = root / "other.onnx"
        self.okey = root / "other.key"
        self.gemm = root / "gemm.onnx"
        self.gdata = root / "gdata.npz"
        self.list = root / "models.txt"
        self.passfile = root / "pass.txt"
        self.plocked = root / "plocked.onnx"
        self.pkey = root / "p.key"
        self.passphrase_ok = False

    def names(self):
        return {k: str(v) for k, v in vars(self).items() if isinstance(v, pathlib.Path)}

    def build(self):
        for path, step in ((LENET, "tools/train_models.py"), (OWNER, "tools/setup.sh")):
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: run {step}")
        if not os.access(CLI, os.X_OK):
            raise FileNotFoundError(f"the CLI {CLI} is missing: build it (tools/build.sh)")
        self.dir.mkdir(parents=True)
        shutil.copyfile(LENET, self.lenet)
        owner = np.load(OWNER)
        np.savez(self.data, x=owner["x"][:64], y=owner["y"][:64])
        x, y = craft.gemm_data()
        np.savez(self.gdata, x=x, y=y)
        craft.save_model(craft.gemm_classifier(), self.gemm)
        self.list.write_text(f"# one model\n{self.lenet}\n")
        self._cli("lock", self.lenet, "--data", self.data, "-o", self.locked, "--key", self.key,
                  "--fast", "--max-values", "4", "--target-accuracy", "0", "--threads", "1")
        self._cli("lock", self.lenet, "--data", self.data, "-o", self.other_locked, "--key",
                  self.okey, "--fast", "--max-values", "2", "--target-accuracy", "0",
                  "--threads", "1")
        self.passfile.write_text("correct horse battery staple\n")
        r = subprocess.run([CLI, "lock", str(self.lenet), "--data", str(self.data), "-o",
                            str(self.plocked), "--key", str(self.pkey), "--passphrase-file",
                            str(self.passfile)] + QUICK, capture_output=True,
                           timeout=TIMEOUT_S * SCALE)
        self.passphrase_ok = r.returncode == 0
        self.codec = craft.KeyCodec(KEY_PROTO)

    def _cli(self, *args):
        r = subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True,
                           timeout=TIMEOUT_S * SCALE)
        if r.returncode != 0:
            raise RuntimeError(f"fixture command {args} failed: {r.stderr}")


# ------------------------------------------------------------------------ snapshots

def snapshot(root):
    """Every entry below `root` (symlinks not followed): kind and content."""
    out = {}
    root = pathlib.Path(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = pathlib.Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", craft.sha256_file(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = ("fifo",)
            else:
                out[rel] = ("other", st.st_mode)
    return out


def diff_snapshots(before, after, allowed_new, where):
    problems = []
    for rel, entry in before.items():
        if rel not in after:
            problems.append(f"input {where}{rel} was removed")
        elif after[rel] != entry:
            problems.append(f"input {where}{rel} was changed")
    for rel in sorted(set(after) - set(before)):
        if rel in allowed_new or any(rel == str(pathlib.Path(a).parent) or
                                     a.startswith(rel + "/") for a in allowed_new):
            continue
        problems.append(f"{where}{rel} was left behind")
    return problems


# --------------------------------------------------------------------------- runner

def _memory_kb(pid):
    """(VmRSS, VmHWM) of a live process, in KiB. (wait4's ru_maxrss would include the RSS of
    this Python process at fork time, so the peak is polled here instead.)"""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, hwm


def run_cli(argv, cwd, timeout):
    """Runs the CLI with a timeout and an RSS watchdog; measures its peak RSS (polled)."""
    res = Result()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        proc = subprocess.Popen([CLI] + argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, start_new_session=True)
        limit_kb = RSS_LIMIT_MB * 1024
        peak_kb = 0
        while True:
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                break
            rss, hwm = _memory_kb(proc.pid)
            peak_kb = max(peak_kb, rss, hwm)
            if rss > limit_kb:
                res.runaway = True
            elif time.monotonic() - t0 > timeout:
                res.timed_out = True
            if res.runaway or res.timed_out:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                pid, status = os.waitpid(proc.pid, 0)
                break
            time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)
        res.code = proc.returncode
        res.seconds = time.monotonic() - t0
        res.peak_rss_mb = peak_kb / 1024.0
        out.seek(0)
        err.seek(0)
        res.stdout = out.read().decode("utf-8", "replace")
        res.stderr = err.read().decode("utf-8", "replace")
    return res


def run_case(case, index, work, fx):
    d = work / f"{index:03d}-{re.sub(r'[^A-Za-z0-9]+', '-', case.name)[:60]}"
    d.mkdir()
    names = fx.names()
    fmt = lambda s: str(s).format(**names)  # noqa: E731
    try:
        if case.setup is not None:
            case.setup(d, fx)
    except Exception as e:  # a setup that cannot build its input is a failed case
        return Result(problems=[f"setup failed: {type(e).__name__}: {e}"])
    argv = [fmt(a) for a in case.argv]
    before, before_fx = snapshot(d), snapshot(fx.dir)
    res = run_cli(argv, d, HANG_TIMEOUT_S * min(SCALE, 2) if case.hang else TIMEOUT_S * SCALE)
    p = res.problems
    if res.timed_out:
        p.append(f"hung: killed after {res.seconds:.0f} s")
    elif res.runaway:
        p.append(f"ran away with memory: killed above {RSS_LIMIT_MB:.0f} MB RSS")
    elif res.code < 0:
        p.append(f"killed by signal {signal.Signals(-res.code).name}")
    for mark in SANITIZER_MARKS:
        if mark in res.stderr:
            p.append(f"sanitizer report: {mark}")
    allowed = case.code if isinstance(case.code, tuple) else (case.code,)
    if not (res.timed_out or res.runaway) and res.code not in allowed:
        p.append(f"exit status {res.code}, expected {case.code}")
    succeeded = res.code == EXIT_OK
    if not succeeded and not res.timed_out and not res.runaway:
        low = res.stderr.lower()
        for s in case.err:
            options = s if isinstance(s, tuple) else (s,)
            if not any(fmt(o).lower() in low for o in options):
                p.append(f"stderr does not name {' or '.join(repr(fmt(o)) for o in options)}")
    for s in case.out:
        if fmt(s) not in res.stdout:
            p.append(f"stdout lacks {fmt(s)!r}")
    for s in case.not_err:
        if fmt(s).lower() in (res.stderr + res.stdout).lower():
            p.append(f"output says {fmt(s)!r}")
    if case.max_rss_mb and res.peak_rss_mb > case.max_rss_mb * (3 if SANITIZED else 1):
        p.append(f"peak RSS {res.peak_rss_mb:.0f} MB, expected below {case.max_rss_mb:.0f} MB")
    after, after_fx = snapshot(d), snapshot(fx.dir)
    outputs = (tuple(case.outputs) if succeeded else ()) + tuple(case.keeps)
    p += diff_snapshots(before, after, outputs, "")
    p += diff_snapshots(before_fx, after_fx, (), "fixtures/")
    for o in (tuple(case.outputs) if succeeded else ()) + tuple(case.keeps):
        if not (d / o).exists():
            p.append(f"output {o} is missing")
    for a in case.absent:
        if os.path.lexists(d / a) and a not in before and not any(a in q for q in p):
            p.append(f"{a} exists afterwards")
    for rel in after:
        if ".tmp." in pathlib.Path(rel).name and rel not in before:
            p.append(f"temporary file {rel} left behind")
    if case.check is not None and not res.timed_out and not res.runaway:
        try:
            p += case.check(d, res)
        except Exception as e:
            p.append(f"check failed: {type(e).__name__}: {e}")
    if p:
        p.append(f"argv: {' '.join(argv)}")
        tail = res.stderr.strip().splitlines()[-3:]
        if tail:
            p.append("stderr: " + " | ".join(tail))
    return res
