"""The inputs of tools/attack_torch.py: the attacker's data files (.npz with x and y), and the
ground truth of a lock (which positions were changed, and their original values), read from the
key or from the original model. The truth is used only to report how many locked values an attack
touched; no attack reads it. The key is decoded here by a small protobuf wire-format reader of our
own, so that the suite shares no code with onnx-crypt.
"""

import hashlib

import numpy as np
import torch


class AttackError(Exception):
    """A bad argument or input file; the message names it."""


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------
def load_npz(path, limit=None, need_y=True):
    try:
        d = np.load(path)
    except (OSError, ValueError) as e:
        raise AttackError(f"{path}: cannot read as .npz: {e}") from e
    if "x" not in d or (need_y and "y" not in d):
        raise AttackError(f"{path}: needs arrays x and y (has {sorted(d.files)})")
    x = np.ascontiguousarray(d["x"][:limit], dtype=np.float32)
    y = d["y"][:limit].astype(np.int64) if "y" in d else None
    if y is not None and len(y) != len(x):
        raise AttackError(f"{path}: x has {len(x)} rows but y has {len(y)}")
    return torch.from_numpy(x), (torch.from_numpy(y) if y is not None else None)


def _varint(buf, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(buf):
    """Protobuf wire format -> [(field number, value)] (varints as int, length-delimited as
    bytes). Written here so that reading a key shares no code with onnx-crypt."""
    out, pos = [], 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            v, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("truncated field")
            v, pos = bytes(buf[pos:pos + n]), pos + n
        elif wire == 1:
            v, pos = bytes(buf[pos:pos + 8]), pos + 8
        elif wire == 5:
            v, pos = bytes(buf[pos:pos + 4]), pos + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.append((num, v))
    return out


def read_key(path):
    """[(tensor, flat index, original bytes, locked bytes)] from a plain onnx-crypt key
    (onnx_crypt/key/key.proto: KeyFile.payload = LockKey, LockKey.values = LockedValue)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        top = dict(_fields(data))
    except (OSError, ValueError) as e:
        raise AttackError(f"{path}: cannot read the key: {e}") from e
    if top.get(1) == b"onnx-crypt-wrapped-key":
        raise AttackError(f"{path}: the key is wrapped with a passphrase; pass --original "
                          "or an unwrapped key")
    if top.get(1) != b"onnx-crypt-key" or 3 not in top:
        raise AttackError(f"{path}: not an onnx-crypt key")
    if hashlib.sha256(top[3]).digest() != top.get(4):
        raise AttackError(f"{path}: the key's payload checksum does not match")
    values = []
    for num, v in _fields(top[3]):
        if num == 4:
            f = {}
            for n2, v2 in _fields(v):
                f[n2] = v2
            values.append((f.get(1, b"").decode(), int(f.get(2, 0)), f.get(3, b""),
                           f.get(4, b"")))
    return values


def truth_from_key(key_values, locked):
    """{tensor: {flat index: original value}} from the key, checked against LOCKED."""
    truth = {}
    for name, idx, orig, lock in key_values:
        if name not in locked.torch_names:
            raise AttackError(f"the key names tensor '{name}', which the model does not have")
        dt = locked.onnx_dtypes[name]
        arr = locked.tensor(name).detach().numpy().reshape(-1).astype(dt)
        if np.frombuffer(lock, dtype=dt)[0].tobytes() != arr[idx].tobytes():
            raise AttackError(f"the key's locked value of {name}[{idx}] is not in the model "
                              "(a key for another model?)")
        truth.setdefault(name, {})[idx] = np.frombuffer(orig, dtype=dt)[0]
    return truth


def truth_from_original(original, locked):
    """{tensor: {flat index: original value}} where the float initializers differ in bits."""
    truth = {}
    for name in locked.float_names:
        if name not in original.torch_names:
            raise AttackError(f"the original model has no initializer '{name}'")
        a = original.tensor(name).detach().numpy().reshape(-1)
        b = locked.tensor(name).detach().numpy().reshape(-1)
        if a.shape != b.shape:
            raise AttackError(f"'{name}' has shape {a.shape} in the original, {b.shape} locked")
        diff = np.nonzero(a.view(np.uint32) != b.view(np.uint32))[0]
        if len(diff):
            truth[name] = {int(i): a[i] for i in diff}
    return truth
