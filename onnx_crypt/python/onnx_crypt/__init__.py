"""onnx-crypt: lock ONNX models with adversarial parameter perturbations, and
unlock them exactly, in memory, for ONNX Runtime.

    import onnx_crypt, onnxruntime
    result = onnx_crypt.lock("model.onnx", "owner.npz")       # or numpy arrays
    open("locked.onnx", "wb").write(result.locked_model)
    open("model.key", "wb").write(result.key)
    session = onnxruntime.InferenceSession(
        onnx_crypt.unlock_to_bytes(result.locked_model, result.key))

Functions: lock, lock_batch, unlock, unlock_to_bytes, unlock_tensors, verify,
describe_key, set_max_memory, max_memory; onnx_crypt.images turns a folder of
images into owner samples. Model and key arguments are bytes or a path.
Errors raise onnx_crypt.Error (a RuntimeError) or a subclass:
InvalidArgumentError and DataLossError (also ValueError), NotFoundError (also
FileNotFoundError), UnimplementedError (also NotImplementedError); `.code`
holds the status code name. Long calls release the GIL; Ctrl-C stops a lock
at the end of its current round (KeyboardInterrupt), leaving nothing written.
"""
import os as _os
import sys as _sys
import time as _time
import warnings as _warnings
from typing import Any as _Any, Callable as _Callable, Dict as _Dict, List as _List
from typing import Optional as _Optional, Tuple as _Tuple, Union as _Union


def _cores_free() -> bool:
    """Whether every core this process may use is free of other processes' runnable threads
    (the least of three looks at /proc/stat's procs_running, a millisecond apart). The CLI's
    rule (CoresFreeForThreads in onnx_crypt/base/openblas_env.cc) with --threads at its
    default, all cores: at import the thread count of later calls is unknown."""
    try:
        cores = len(_os.sched_getaffinity(0))
        least = None
        for look in range(3):
            if look:
                _time.sleep(0.001)
            with open("/proc/stat") as f:
                running = next(int(line.split()[1]) for line in f
                               if line.startswith("procs_running"))
            least = running - 1 if least is None else min(least, running - 1)
        return least + cores <= cores  # others + threads (all cores) <= cores
    except (OSError, StopIteration, ValueError, AttributeError):
        return False


# Kernel runtime settings, made before the extension loads oneDNN's OpenMP (the CLI makes
# the same choice by re-executing itself; openblas_env.cc measures why): OpenMP workers spin
# briefly between parallel regions (GOMP_SPINCOUNT=300000) when the cores are free, and sleep
# (OMP_WAIT_POLICY=PASSIVE) when other processes keep them busy. A value the caller set is
# kept; speed changes, results do not. The fast float32 kernels (oneDNN) choose their
# instruction set themselves, so no OPENBLAS_CORETYPE is needed.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    if _cores_free():
        _os.environ["GOMP_SPINCOUNT"] = "300000"
    else:
        _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import numpy as _np

from . import _core
from ._core import (  # noqa: F401
    DataLossError,
    Error,
    InvalidArgumentError,
    NotFoundError,
    UnimplementedError,
    describe_key,
    max_memory,
    set_max_memory,
    unlock,
    unlock_tensors,
    unlock_to_bytes,
    verify,
)

__version__ = "0.2.0"
__all__ = [
    "lock", "lock_batch", "LockResult", "BatchItem", "unlock", "unlock_to_bytes",
    "unlock_tensors", "verify", "describe_key", "set_max_memory", "max_memory",
    "Error", "InvalidArgumentError", "DataLossError", "NotFoundError", "UnimplementedError",
]

# The lock loop's defaults (onnx_crypt/lock/locker.h), as the CLI states them.
_DEFAULT_MAX_VALUES = 1024
_DEFAULT_VALUES_PER_ROUND = 4
_DEFAULT_CANDIDATES = 16


class _Fields:
    """Attribute access to the dict `_fields()` returns."""

    __slots__ = ()

    def __getattr__(self, name):
        if name.startswith("_") or name in type(self).__slots__:
            raise AttributeError(name)  # not set yet (copy, pickle)
        try:
            return self._fields()[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        return sorted(set(self.__slots__) | set(self._fields()))


class LockResult(_Fields):
    """What `lock` returns.

    locked_model (bytes): the locked ONNX model. key (bytes): the key that
    restores it (wrapped when a passphrase was given). summary (dict): every
    field below, plus `changes` (one dict per locked value: tensor, index,
    original, locked, round) and `eligible` (the lockable tensors).
    Attributes: locked_values, total_parameters, locked_percent, num_classes,
    sample_accuracy_before, sample_accuracy_after, target_accuracy,
    loss_before, loss_after, rounds, stop_reason ("target" or "budget"),
    seconds, device, seed, harden, reset_zero_accuracy,
    reset_median_accuracy, repair_accuracy, repair_target (hardened lock
    only; -1 otherwise), warning ("" or why the hardened lock may be
    repairable: the RuntimeWarning `lock` raised), changes, eligible.
    For code written against the older API it also unpacks as
    `locked_model, key, summary = onnx_crypt.lock(...)` (and indexes as
    that tuple).
    """

    __slots__ = ("locked_model", "key", "summary")

    def __init__(self, locked_model: bytes, key: bytes, summary: dict):
        self.locked_model = locked_model
        self.key = key
        self.summary = summary

    def _fields(self):
        return self.summary

    def __iter__(self):
        return iter((self.locked_model, self.key, self.summary))

    def __getitem__(self, i):
        return (self.locked_model, self.key, self.summary)[i]

    def __len__(self):
        return 3

    def save(self, locked_path, key_path) -> None:
        """Writes the locked model and the key (owner-only) to two files,
        each atomically (temporary file in the same folder, then rename)."""
        _write_atomically(locked_path, self.locked_model, 0o644)
        _write_atomically(key_path, self.key, 0o600)

    def __repr__(self):
        return (f"LockResult(locked_values={self.locked_values}, "
                f"sample_accuracy {self.sample_accuracy_before:.4f} -> "
                f"{self.sample_accuracy_after:.4f}, stop_reason={self.stop_reason!r}, "
                f"seconds={self.seconds:.2f})")


class BatchItem(_Fields):
    """One (model, variant) of `lock_batch`: model, variant, locked_path,
    key_path, ok (bool), error (str or None), seconds, locked_values,
    sample_accuracy_before, sample_accuracy_after, stop_reason,
    repair_accuracy, repair_target, warning (as LockResult's)."""

    __slots__ = ("_d",)

    def __init__(self, d: dict):
        self._d = d

    def _fields(self):
        return self._d

    def as_dict(self) -> dict:
        return dict(self._d)

    def __repr__(self):
        state = "ok" if self.ok else f"FAILED: {self.error}"
        return f"BatchItem({self.locked_path}: {state})"


def _write_atomically(path, data: bytes, mode: int) -> None:
    path = _os.fspath(path)
    folder = _os.path.dirname(_os.path.abspath(path))
    tmp = _os.path.join(folder, f".{_os.path.basename(path)}.tmp.{_os.getpid()}")
    fd = _os.open(tmp, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, mode)
    try:
        with _os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            _os.fsync(f.fileno())
        _os.replace(tmp, path)
    except BaseException:
        if _os.path.exists(tmp):
            _os.unlink(tmp)
        raise


# ---------------------------------------------------------------- owner samples

def _split_dict(d: dict, where: str):
    """(x, y) from a dict of arrays: the model inputs by name plus an optional
    'y' (or 'labels'); x is the one array, or a dict when there are several."""
    arrays = dict(d)
    y = arrays.pop("y", None)
    if y is None:
        y = arrays.pop("labels", None)
    if not arrays:
        raise ValueError(f"{where}: no input array (only labels)")
    x = {str(k): _np.asarray(v) for k, v in arrays.items()}
    if len(x) == 1:
        (x,) = x.values()
    return x, (None if y is None else _np.asarray(y))


def _batches(data):
    """Yields (x, y or None) from an iterable of batches or an ONNX Runtime
    calibration data reader (get_next() until None)."""
    if hasattr(data, "get_next"):
        while True:
            batch = data.get_next()
            if batch is None:
                return
            yield _one_batch(batch)
    else:
        for batch in data:
            yield _one_batch(batch)


def _one_batch(batch):
    if isinstance(batch, dict):
        return _split_dict(batch, "a batch")
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return _np.asarray(batch[0]), _np.asarray(batch[1])
    return _np.asarray(batch), None


def _owner_samples(data, labels):
    """(data for the extension, labels): a path stays a path; arrays, dicts,
    iterables of batches and calibration data readers become (x, y)."""
    if isinstance(data, (str, _os.PathLike)):
        return data, labels
    if isinstance(data, _np.ndarray):
        return data, labels
    if isinstance(data, dict):
        x, y = _split_dict(data, "data")
        if labels is not None and y is not None:
            raise ValueError("labels given twice: as labels= and as data['y']")
        return x, (labels if y is None else y)
    if hasattr(data, "get_next") or hasattr(data, "__iter__"):
        xs, ys = [], []
        for x, y in _batches(data):
            xs.append(x)
            ys.append(y)
        if not xs:
            raise ValueError("data: the iterable of batches is empty")
        with_labels = [y is not None for y in ys]
        if any(with_labels) and not all(with_labels):
            raise ValueError("data: some batches have labels and others do not")
        if isinstance(xs[0], dict):
            if any(not isinstance(b, dict) or b.keys() != xs[0].keys() for b in xs):
                raise ValueError("data: the batches do not all hold the same input arrays")
            x = {k: _np.concatenate([b[k] for b in xs], axis=0) for k in xs[0]}
        else:
            x = _np.concatenate(xs, axis=0)
        y = _np.concatenate(ys, axis=0) if all(with_labels) else None
        if labels is not None and y is not None:
            raise ValueError("labels given twice: as labels= and in the batches")
        return x, (labels if y is None else y)
    raise TypeError(
        "data must be an .npz path, a numpy array, a dict of arrays, an iterable of "
        f"batches or a calibration data reader, not {type(data).__name__}")


# ---------------------------------------------------------------- progress

class _Bar:
    """A progress line on stderr: redrawn in place on a terminal, one line per
    update otherwise."""

    def __init__(self, label: str):
        self.label = label
        self.start = _time.monotonic()
        self.tty = _sys.stderr.isatty()
        self.shown = False
        self.fraction = 0.0

    def update(self, fraction: float, status: str) -> None:
        self.fraction = max(self.fraction, min(1.0, max(0.0, fraction)))
        elapsed = _time.monotonic() - self.start
        eta = (elapsed / self.fraction - elapsed) if self.fraction > 0.02 else None
        eta_text = "ETA --" if eta is None else f"ETA {eta:5.1f} s"
        if self.tty:
            width = 24
            done = int(round(self.fraction * width))
            line = (f"\r{self.label} [{'#' * done}{'.' * (width - done)}] "
                    f"{100 * self.fraction:3.0f}% {status} {eta_text}")
            _sys.stderr.write(line + "\x1b[K")
        else:
            _sys.stderr.write(f"{self.label}: {status} ({elapsed:.1f} s)\n")
        _sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.tty and self.shown:
            _sys.stderr.write("\n")
            _sys.stderr.flush()


def _lock_progress(progress):
    """The callback for the extension, and the bar to close (or None)."""
    if progress is None or progress is False:
        return None, None
    if callable(progress):
        return progress, None
    if progress is not True:
        raise TypeError("progress must be None, True or a callable")
    bar = _Bar("lock")

    def update(info):
        # "fraction": the CLI's estimate (LockFraction in onnx_crypt/lock/locker.h).
        bar.update(info["fraction"], f"round {info['round']}, {info['locked']} values, "
                                     f"accuracy {info['sample_accuracy']:.4f}")

    return update, bar


_Model = _Union[bytes, bytearray, memoryview, str, _os.PathLike]
_Progress = _Union[None, bool, _Callable[[_Dict[str, _Any]], None]]


def _warn_if_repairable(summary: _Dict[str, _Any], what: str = "") -> None:
    """Warns (RuntimeWarning) with the summary's "warning": set when a hardened lock stopped
    at its budget, or ran out of candidates, before its own simulated saliency repair failed
    (the library's RepairShortfallWarning, which `onnx-crypt lock` prints on stderr).
    `what` names the item (lock_batch)."""
    why = summary.get("warning")
    if why:
        _warnings.warn(f"{what}: {why}" if what else why, RuntimeWarning, stacklevel=3)


def _check_loop_options(harden: bool, stealth_quantile: float,
                        repair_target: _Optional[float]) -> None:
    """The fast loop has no stealth quantile or repair target: refuse them, as the CLI does."""
    if not harden and (stealth_quantile != 0.999 or repair_target is not None):
        raise ValueError("stealth_quantile and repair_target set the hardened lock; they have "
                         "no meaning with harden=False (the fast loop)")


def lock(model: _Model, data: _Any, labels: _Any = None, *,
         max_values: int = _DEFAULT_MAX_VALUES,
         target_accuracy: _Optional[float] = None, seed: int = 0, include_bias: bool = False,
         device: str = "cpu", threads: int = 0,
         values_per_round: int = _DEFAULT_VALUES_PER_ROUND,
         candidates: int = _DEFAULT_CANDIDATES, harden: bool = True,
         stealth_quantile: float = 0.999, repair_target: _Optional[float] = None,
         passphrase: _Union[None, str, bytes] = None,
         progress: _Progress = None, output: _Optional[str] = None) -> LockResult:
    """Locks a model with a few owner samples; returns a LockResult.

    model: the model's bytes or a path (no external data in memory; lock a
        model with external data with `onnx-crypt lock`).
    data: the owner samples: a path to an .npz (x, or one array per model
        input by input name; optional y); a numpy array x (batch first) with
        `labels`; a dict {input name: array, ..., 'y': labels} (one array per
        model input: a text classifier's input_ids and attention_mask, say);
        an iterable of batches (arrays, (x, y) tuples or dicts); or an ONNX
        Runtime calibration data reader (get_next() until None). Without
        labels, the model's own predictions are the labels.
    labels: integer labels, one per sample, when data is an array.
    max_values: the budget of locked values (default 1024, a safety limit).
    target_accuracy: the owner-sample accuracy the locked model must reach
        (default None: chance + 0.02); the fast loop stops there, the hardened
        one goes on until its simulated repair fails too.
    seed: the seed of the locked values; the same inputs and seed give
        byte-identical results.
    include_bias: biases and BatchNormalization scale/shift are eligible too.
    device: "cpu", "cuda" or "auto".
    threads: CPU threads for the engine and its kernels (0: all cores).
    values_per_round, candidates: at most this many values locked per round,
        out of at most this many first-order candidates (defaults 4 and 16).
    harden: True (the default): the hardened lock (`onnx-crypt lock`):
        locked values inside the bulk of the weight distribution (below
        stealth_quantile of |w| and the z-scores), resets to 0 or the median
        leave the model broken, and it locks until a simulated saliency
        repair stays at or below repair_target (default None: chance + 0.05)
        or max_values are locked. False: the fast loop (`onnx-crypt lock
        --fast`), which a saliency repair removes.
    passphrase: str or bytes; the key comes wrapped with it (scrypt +
        AES-256-GCM, a fresh salt each call).
    progress: None; True for a progress bar on stderr; or a callable that gets
        a dict (round, locked, sample_accuracy, loss, sample_accuracy_before,
        target_accuracy; reset_accuracy, repair_accuracy, repair_target for the
        hardened lock, -1 otherwise; fraction, the bar's estimate of the share
        done) after each round.
    output: the name of the classification output when the model has several
        (default None: the first); logits [N, C] and [N, 1, C] both work.

    The GIL is released while locking; Ctrl-C raises KeyboardInterrupt at the
    end of the current round. Errors raise onnx_crypt.Error subclasses.
    """
    _check_loop_options(harden, stealth_quantile, repair_target)
    x, y = _owner_samples(data, labels)
    callback, bar = _lock_progress(progress)
    try:
        locked, key, summary = _core.lock(
            model, x, y, max_values=max_values,
            target_accuracy=-1.0 if target_accuracy is None else target_accuracy,
            seed=seed, include_bias=include_bias, device=device,
            values_per_round=values_per_round, candidates=candidates, threads=threads,
            harden=harden, stealth_quantile=stealth_quantile,
            repair_target=-1.0 if repair_target is None else repair_target,
            passphrase=passphrase, progress=callback, output=output or "")
    finally:
        if bar is not None:
            bar.close()
    _warn_if_repairable(summary)
    return LockResult(locked, key, summary)


def lock_batch(models: _List[_Union[str, _os.PathLike]], data: _Union[str, _os.PathLike],
               output_dir: _Union[str, _os.PathLike], *, variants: int = 1,
               shard: _Optional[_Tuple[int, int]] = None,
               max_values: int = _DEFAULT_MAX_VALUES,
               target_accuracy: _Optional[float] = None, seed: int = 0,
               include_bias: bool = False, device: str = "cpu", threads: int = 0,
               values_per_round: int = _DEFAULT_VALUES_PER_ROUND,
               candidates: int = _DEFAULT_CANDIDATES, harden: bool = True,
               stealth_quantile: float = 0.999, repair_target: _Optional[float] = None,
               passphrase: _Union[None, str, bytes] = None,
               progress: _Progress = None,
               output: _Optional[str] = None) -> _List["BatchItem"]:
    """Locks many models, `variants` times each, as `onnx-crypt lock-batch`.

    models: model paths. data: the .npz path of the owner samples.
    output_dir: receives NAME-i.onnx and NAME-i.key for model NAME.onnx and
        variant i (variant i locks with seed + i; several variants lock
        different positions, so each key unlocks only its own variant).
    shard: None, or (index, count): only the index-th of count equal slices
        of the items (models x variants), named as without sharding, so count
        processes together write exactly one unsharded run's files.
    max_values, target_accuracy, seed, include_bias, device, threads,
    values_per_round, candidates, harden, stealth_quantile, repair_target,
    passphrase, output: the lock options, as for `lock` (the passphrase wraps
    every key). progress: True for a bar, or a
    callable that gets a dict per finished item (done, total, model, variant,
    ok, error, ...). Returns a list of BatchItem; a failed item (ok False,
    error set) leaves none of its files behind and does not stop the batch.
    """
    _check_loop_options(harden, stealth_quantile, repair_target)
    index, count = (0, 1) if shard is None else shard
    bar = None
    callback = progress if callable(progress) else None
    if progress is True:
        bar = _Bar("lock-batch")

        def callback(info):
            state = "ok" if info["ok"] else "FAILED"
            bar.update(info["done"] / max(1, info["total"]),
                       f"{info['done']}/{info['total']} {_os.path.basename(info['locked_path'])} {state}")
    try:
        items = _core.lock_batch(
            [_os.fspath(m) for m in models], data, output_dir, variants=variants,
            shard_index=index, shard_count=count, max_values=max_values,
            target_accuracy=-1.0 if target_accuracy is None else target_accuracy,
            seed=seed, include_bias=include_bias, device=device,
            values_per_round=values_per_round, candidates=candidates, threads=threads,
            harden=harden, stealth_quantile=stealth_quantile,
            repair_target=-1.0 if repair_target is None else repair_target,
            passphrase=passphrase, progress=callback, output=output or "")
    finally:
        if bar is not None:
            bar.close()
    for d in items:
        if d["ok"]:
            _warn_if_repairable(d, d["locked_path"])
    return [BatchItem(d) for d in items]
