"""Builders of hostile inputs for tests/cli/hostile_cli_test.py.

Everything is made by code: small ONNX models (onnx.helper), .npz files (numpy, and zip
archives assembled by hand where numpy would refuse to write the hostile form), truncations
and bit flips of real files, and onnx-crypt keys re-encoded with a chosen payload (the schema
is read from onnx_crypt/key/key.proto, so the tests follow the real format).
"""
import hashlib
import re
import struct
import zipfile
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


# --------------------------------------------------------------------------- models

def save_model(model, path):
    """Writes `model` as is: no checker, no conversion (hostile models must stay hostile)."""
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def make_model(nodes, inputs, outputs, initializers=(), opset=OPSET, name="hostile"):
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs),
                              initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=8, producer_name="hostile_cli_test")


def float_info(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def symbolic_info(name, rank):
    """A float tensor of `rank` symbolic dimensions (the checker wants a shape)."""
    return float_info(name, [f"{name}{i}" for i in range(rank)])


def weights(shape, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 0.5).astype(np.float32)


def gemm_classifier(features=4, classes=3, w=None, b=None):
    """x float[N, features] -> Gemm 'fc' (W [classes, features], transB) -> logits [N, classes]."""
    w = weights((classes, features), 1) if w is None else w
    b = weights((classes,), 2) if b is None else b
    node = helper.make_node("Gemm", ["x", "W", "b"], ["logits"], name="fc", transB=1)
    return make_model([node], [float_info("x", ["N", features])],
                      [float_info("logits", ["N", classes])],
                      [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")])


def window_model(op, **attrs):
    """x float[1, 1, 5, 5] -> OP node 'bad' (a Conv with W [1, 1, 3, 3]; pools with
    kernel_shape [3, 3] unless given) -> y."""
    inputs, inits = ["x"], []
    if op == "Conv":
        inputs.append("W")
        inits.append(numpy_helper.from_array(np.full((1, 1, 3, 3), 0.5, np.float32), "W"))
    elif "kernel_shape" not in attrs:
        attrs["kernel_shape"] = [3, 3]
    node = helper.make_node(op, inputs, ["y"], name="bad", **attrs)
    return make_model([node], [float_info("x", [1, 1, 5, 5])], [symbolic_info("y", 4)], inits)


def pad_model(pads):
    """x float[N, 4] -> Pad node 'pad' (constant pads) -> y."""
    node = helper.make_node("Pad", ["x", "pads"], ["y"], name="pad")
    return make_model([node], [float_info("x", ["N", 4])], [symbolic_info("y", 2)],
                      [numpy_helper.from_array(np.array(pads, np.int64), "pads")])


def reshape_transpose_model(shape):
    """x float[1, 784] -> Reshape node 'reshape' (constant shape) -> Transpose 'transpose' -> y."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
             helper.make_node("Transpose", ["r"], ["y"], name="transpose")]
    return make_model(nodes, [float_info("x", [1, 784])], [symbolic_info("y", len(shape))],
                      [numpy_helper.from_array(np.array(shape, np.int64), "shape")])


def raw_initializer(name, data_type, dims, raw):
    t = TensorProto()
    t.name = name
    t.data_type = data_type
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def external_initializer(name, shape, location, offset=0, length=None, data_type=TensorProto.FLOAT):
    """A tensor whose data lies in file `location` (relative to the model's folder)."""
    t = TensorProto()
    t.name = name
    t.data_type = data_type
    t.dims.extend(shape)
    t.data_location = TensorProto.EXTERNAL
    n = int(np.prod(shape)) * 4 if length is None else length
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(n))):
        entry = t.external_data.add()
        entry.key = key
        entry.value = value
    return t


def external_gemm(location="w.bin", extra_location=None, extra_shape=(4,)):
    """The Gemm classifier with W [3, 4] in external file `location`; with `extra_location`
    also an unused initializer 'extra' stored there."""
    model = gemm_classifier()
    inits = model.graph.initializer
    w = numpy_helper.to_array(inits[0])
    del inits[0]
    inits.insert(0, external_initializer("W", w.shape, location))
    if extra_location is not None:
        inits.append(external_initializer("extra", extra_shape, extra_location))
    return model, w.tobytes()


def big_matmul_model(columns):
    """x float[N, 4] -> MatMul node 'mm' with W float[4, columns] -> y: W holds 16*columns bytes."""
    w = np.zeros((4, columns), np.float32)
    w[0, :] = 1.0
    node = helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")
    return make_model([node], [float_info("x", ["N", 4])], [float_info("y", ["N", columns])],
                      [numpy_helper.from_array(w, "W")])


# ----------------------------------------------------------------------------- data

def save_npz(path, **arrays):
    np.savez(path, **arrays)


def gemm_data(n=8, features=4, seed=3, classes=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    y = (np.arange(n) % classes).astype(np.int64)
    return x, y


def npy_bytes(header, body=b"", version=(1, 0)):
    """A .npy image with a verbatim header dict text (padded as numpy pads it)."""
    text = header.encode("latin1")
    if version[0] == 1:
        prefix = 10
        total = (prefix + len(text) + 1 + 63) // 64 * 64
        text = text + b" " * (total - prefix - len(text) - 1) + b"\n"
        head = b"\x93NUMPY" + bytes(version) + struct.pack("<H", len(text))
    else:
        prefix = 12
        total = (prefix + len(text) + 1 + 63) // 64 * 64
        text = text + b" " * (total - prefix - len(text) - 1) + b"\n"
        head = b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(text))
    return head + text + body


def npz_of_entries(path, entries, compress=False):
    """A zip of (name, bytes) entries, as np.savez would lay it out."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in entries:
            z.writestr(name, data)


def _gf2_times(mat, vec):
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def crc32_combine(crc1, crc2, len2):
    """zlib's crc32_combine: the CRC-32 of A+B from crc(A), crc(B) and len(B)."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << i for i in range(31)]
    even = [_gf2_times(odd, odd[i]) for i in range(32)]
    odd = [_gf2_times(even, even[i]) for i in range(32)]
    while True:
        even = [_gf2_times(odd, odd[i]) for i in range(32)]
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = [_gf2_times(even, even[i]) for i in range(32)]
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def deflate_bomb_npz(path, header_shape, body_mib):
    """An .npz whose 'x.npy' claims float32 `header_shape` and holds `body_mib` MiB of zeros
    after its header, deflated (about 1000:1): a few MB on disk that inflate to gigabytes.
    Built from one compressed MiB repeated (each piece ends with a full flush, so it is a
    self-contained run of deflate blocks), with the exact CRC-32 and sizes."""
    header = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }"
                       % (tuple(header_shape),))
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(header) + comp.flush(zlib.Z_FULL_FLUSH)
    mib = bytes(MIB)
    piece = comp.compress(mib) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = comp.flush(zlib.Z_FINISH)
    data = head + piece * body_mib + tail
    size = len(header) + body_mib * MIB
    crc_mib = zlib.crc32(mib)
    crc = zlib.crc32(header)
    # crc(header + k MiB) by doubling.
    block_crc, block_len, k = crc_mib, MIB, body_mib
    while k:
        if k & 1:
            crc = crc32_combine(crc, block_crc, block_len)
        block_crc = crc32_combine(block_crc, block_crc, block_len)
        block_len *= 2
        k >>= 1
    if size >= 1 << 32:
        raise ValueError("deflate_bomb_npz writes no ZIP64 records: keep it under 4 GiB")
    name = b"x.npy"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data),
                        size, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                          len(data), size, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(data), 0)
    with open(path, "wb") as f:
        f.write(local + data + central + end)


def overclaiming_npz(path, real_kib, claimed_bytes):
    """An .npz whose 'x.npy' entry claims `claimed_bytes` uncompressed while its deflate data
    (stored blocks of random bytes, so as large as what it holds) holds only `real_kib` KiB:
    within deflate's 1032:1 ratio, so only the inflate itself finds the lie."""
    rng = np.random.default_rng(17)
    header = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }"
                       % (claimed_bytes // 4))
    claimed_bytes = len(header) + claimed_bytes // 4 * 4  # what the header itself describes
    body = header + rng.bytes(real_kib * 1024)
    comp = zlib.compressobj(0, zlib.DEFLATED, -15)
    data = comp.compress(body) + comp.flush()
    name = b"x.npy"
    crc = zlib.crc32(body)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data),
                        claimed_bytes, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                          len(data), claimed_bytes, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(data), 0)
    with open(path, "wb") as f:
        f.write(local + data + central + end)


MIB = 1 << 20


# ------------------------------------------------------------------- bytes of files

def truncated(data, n):
    return data[:n]


def bit_flipped(data, bit):
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def spread(n, count, seed):
    """`count` distinct positions in [0, n), seeded, sorted."""
    rng = np.random.default_rng(seed)
    return sorted(int(v) for v in rng.choice(n, size=min(count, n), replace=False))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- keys

_SCALARS = {
    "double": 1, "float": 2, "int64": 3, "uint64": 4, "int32": 5, "bool": 8, "string": 9,
    "bytes": 12, "uint32": 13,
}


class KeyCodec:
    """Reads and writes onnx-crypt key files with the schema of onnx_crypt/key/key.proto
    (parsed here: its messages are flat, scalar or message-typed, optionally repeated)."""

    def __init__(self, proto_path):
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        with open(proto_path) as f:
            text = re.sub(r"//[^\n]*", "", f.read())
        package = re.search(r"package\s+([\w.]+)\s*;", text).group(1)
        fdp = descriptor_pb2.FileDescriptorProto(name="hostile_key_schema.proto",
                                                 package=package, syntax="proto3")
        names = re.findall(r"message\s+(\w+)\s*\{", text)
        for m in re.finditer(r"message\s+(\w+)\s*\{(.*?)\}", text, re.S):
            msg = fdp.message_type.add(name=m.group(1))
            for f in re.finditer(r"(repeated\s+)?(\w+)\s+(\w+)\s*=\s*(\d+)\s*;", m.group(2)):
                field = msg.field.add(name=f.group(3), number=int(f.group(4)))
                field.label = 3 if f.group(1) else 1
                if f.group(2) in _SCALARS:
                    field.type = _SCALARS[f.group(2)]
                elif f.group(2) in names:
                    field.type = 11
                    field.type_name = f".{package}.{f.group(2)}"
                else:
                    raise ValueError(f"key.proto: unknown field type {f.group(2)}")
        pool = descriptor_pool.DescriptorPool()
        pool.Add(fdp)
        self.KeyFile = message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{package}.KeyFile"))
        self.LockKey = message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{package}.LockKey"))

    def decode(self, data):
        """The LockKey of a key file's bytes (no checks)."""
        f = self.KeyFile()
        f.ParseFromString(data)
        key = self.LockKey()
        key.ParseFromString(f.payload)
        return key

    def encode(self, key, magic=b"onnx-crypt-key", version=1):
        """A key file holding `key`, with a correct checksum."""
        f = self.KeyFile()
        f.magic = magic
        f.format_version = version
        f.payload = key.SerializeToString(deterministic=True)
        f.payload_sha256 = hashlib.sha256(f.payload).digest()
        return f.SerializeToString(deterministic=True)


def sha256(data):
    return hashlib.sha256(data).digest()


def tensor_sha256(arr):
    return sha256(np.ascontiguousarray(arr).tobytes())


def initializers_sha256(model):
    """GraphInitializersSha256 of onnx_crypt/key/key.cc: over every initializer (name,
    dtype, dims, bytes) in file order, lengths and numbers as little-endian u64."""
    h = hashlib.sha256()
    u64 = lambda v: struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)  # noqa: E731
    for t in model.graph.initializer:
        arr = numpy_helper.to_array(t)
        data = np.ascontiguousarray(arr).tobytes()
        name = t.name.encode()
        h.update(u64(len(name)) + name + u64(t.data_type) + u64(len(t.dims)))
        for d in t.dims:
            h.update(u64(d))
        h.update(u64(len(data)) + data)
    return h.digest()


def typed_key(codec, model, tensor, changes, round_=1):
    """A key for `model` (already the locked one) that restores `changes` {index: original}
    in initializer `tensor` of any dtype: fingerprints computed as onnx-crypt computes them.
    Returns (key_bytes, original_model)."""
    original = onnx.ModelProto()
    original.CopyFrom(model)
    init = next(t for t in original.graph.initializer if t.name == tensor)
    locked_arr = numpy_helper.to_array(init).copy()
    orig_arr = locked_arr.copy().reshape(-1)
    for index, value in changes.items():
        orig_arr[index] = value
    orig_arr = orig_arr.reshape(locked_arr.shape)
    init.CopyFrom(numpy_helper.from_array(orig_arr, tensor))
    key = codec.LockKey()
    key.tool_version = "hostile_cli_test"
    key.options.max_values = len(changes)
    key.options.device = "cpu"
    key.seed = 0
    flat_locked = locked_arr.reshape(-1)
    for index in changes:
        v = key.values.add()
        v.tensor = tensor
        v.index = index
        v.original = orig_arr.reshape(-1)[index:index + 1].tobytes()
        v.locked = flat_locked[index:index + 1].tobytes()
        v.round = round_
    fp = key.tensors.add()
    fp.name = tensor
    fp.data_type = init.data_type
    fp.dims.extend(init.dims)
    fp.sha256_original = tensor_sha256(orig_arr)
    fp.sha256_locked = tensor_sha256(locked_arr)
    key.model_sha256_original = initializers_sha256(original)
    key.model_sha256_locked = initializers_sha256(model)
    key.total_parameters = int(locked_arr.size)
    key.stop_reason = "budget"
    return codec.encode(key), original


def typed_model(dtype, values):
    """x float[N, 4] -> Identity 'out' -> y, plus an unused initializer 'T' of `dtype` holding
    `values` (a model only for keys of non-float32 tensors)."""
    node = helper.make_node("Identity", ["x"], ["y"], name="out")
    return make_model([node], [float_info("x", ["N", 4])], [float_info("y", ["N", 4])],
                      [numpy_helper.from_array(np.array(values, dtype), "T")])
