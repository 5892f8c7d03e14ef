"""Single-node test cases for the ops-shape kernels with onnxruntime as the oracle.

Writes tests/data/ort_shape_ops/<case>/ in the layout of ONNX's node tests (model.onnx,
test_data_set_0/input_N.pb, output_N.pb), plus node.txt for cases of opset >= 18: the loader's
libonnx 1.12 checker does not know those schemas, so tests/conformance/ort_shape_ops_test.cc
builds their node from node.txt instead of reading model.onnx.

Needs the onnx package (Debian python3-onnx: /usr/bin/python3) to write protobufs and the project
venv's onnxruntime to compute outputs; run tools/ort_cases/make_shape_cases.sh.
Phases: `build DIR` (onnx), `run DIR` (onnxruntime), `finish DIR` (onnx).

Left out on purpose (onnxruntime differs from the ONNX reference and the ONNX node tests, which
the kernels follow): align_corners with a non-integral scale * n (onnxruntime uses the integer
output length), keep_aspect_ratio_policy with negative axes (onnxruntime ignores the resize).
"""
import glob
import json
import os
import shutil
import sys

import numpy as np

CASES = []


def cases():
    rng = np.random.default_rng(12)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def S(*v):
        return np.array(v, dtype=np.float32)

    def I(*v):
        return np.array(v, dtype=np.int64)

    def add(name, op, opset, inputs, attrs=None, n_out=1):
        CASES.append(dict(name=name, op=op, opset=opset, inputs=inputs, attrs=attrs or {},
                          n_out=n_out))

    x = f32(1, 2, 4, 5)
    add("r10_nearest_up", "Resize", 10, [("X", x), ("s", S(1, 1, 2, 3))], {"mode": "nearest"})
    add("r10_nearest_down", "Resize", 10, [("X", x), ("s", S(1, 1, 0.5, 0.6))],
        {"mode": "nearest"})
    add("r10_nearest_frac", "Resize", 10, [("X", x), ("s", S(1, 1, 1.7, 2.5))],
        {"mode": "nearest"})
    add("r10_linear_up", "Resize", 10, [("X", x), ("s", S(1, 1, 2, 1.5))], {"mode": "linear"})
    add("r10_linear_down", "Resize", 10, [("X", x), ("s", S(1, 1, 0.5, 0.6))],
        {"mode": "linear"})
    add("u7_nearest", "Upsample", 7, [("X", x)], {"mode": "nearest", "scales": [1.0, 1.0, 2.0, 3.0]})
    add("u7_linear", "Upsample", 7, [("X", x)], {"mode": "linear", "scales": [1.0, 1.0, 2.0, 1.5]})
    add("u9_nearest_frac", "Upsample", 9, [("X", x), ("s", S(1, 1, 1.5, 2.5))],
        {"mode": "nearest"})
    add("r11_linear_asymmetric_scales", "Resize", 11, [("X", x), ("roi", S()), ("s", S(1, 1, 2, 2.5))],
        {"mode": "linear", "coordinate_transformation_mode": "asymmetric"})
    for cm in ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]:
        add(f"r11_linear_{cm}_sizes", "Resize", 11,
            [("X", x), ("roi", S()), ("s", S()), ("sz", I(1, 2, 7, 3))],
            {"mode": "linear", "coordinate_transformation_mode": cm})
    for cm in ["half_pixel", "pytorch_half_pixel", "asymmetric"]:
        add(f"r13_cubic_{cm}", "Resize", 13, [("X", x), ("roi", None), ("s", S(1, 1, 1.5, 0.6))],
            {"mode": "cubic", "coordinate_transformation_mode": cm})
    add("r13_cubic_align_corners_sizes", "Resize", 13,
        [("X", x), ("roi", None), ("s", None), ("sz", I(1, 2, 6, 3))],
        {"mode": "cubic", "coordinate_transformation_mode": "align_corners"})
    for nm in ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]:
        for cm in ["half_pixel", "tf_half_pixel_for_nn", "align_corners", "asymmetric"]:
            add(f"r13_nearest_{nm}_{cm}", "Resize", 13,
                [("X", x), ("roi", None), ("s", None), ("sz", I(1, 2, 7, 3))],
                {"mode": "nearest", "nearest_mode": nm, "coordinate_transformation_mode": cm})
    add("r13_crop_and_resize_scales", "Resize", 13,
        [("X", x), ("roi", S(0, 0, 0.2, -0.1, 1, 1, 0.9, 1.2)), ("s", S(1, 1, 0.75, 0.8))],
        {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
         "extrapolation_value": 2.5})
    add("r13_cubic_exclude_outside", "Resize", 13, [("X", x), ("roi", None), ("s", S(1, 1, 1.3, 0.7))],
        {"mode": "cubic", "exclude_outside": 1, "cubic_coeff_a": -0.5})
    add("r18_axes_sizes", "Resize", 18, [("X", x), ("roi", None), ("s", None), ("sz", I(3, 8))],
        {"mode": "linear", "axes": [3, 2]})
    add("r18_not_larger", "Resize", 18, [("X", x), ("roi", None), ("s", None), ("sz", I(7, 7))],
        {"mode": "linear", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"})
    add("r18_not_smaller", "Resize", 18, [("X", x), ("roi", None), ("s", None), ("sz", I(7, 7))],
        {"mode": "nearest", "axes": [2, 3], "keep_aspect_ratio_policy": "not_smaller"})
    add("r18_antialias_linear", "Resize", 18, [("X", f32(1, 1, 9, 8)), ("roi", None), ("s", S(1, 1, 0.4, 0.6))],
        {"mode": "linear", "antialias": 1})
    add("r18_antialias_cubic", "Resize", 18, [("X", f32(1, 1, 9, 8)), ("roi", None), ("s", S(1, 1, 0.4, 0.6))],
        {"mode": "cubic", "antialias": 1})
    add("r18_antialias_linear_sizes", "Resize", 18,
        [("X", f32(1, 1, 9, 8)), ("roi", None), ("s", None), ("sz", I(1, 1, 3, 5))],
        {"mode": "linear", "antialias": 1})
    add("r19_half_pixel_symmetric_linear", "Resize", 19, [("X", x), ("roi", None), ("s", S(1, 1, 1.7, 0.7))],
        {"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"})
    add("r19_half_pixel_symmetric_nearest", "Resize", 19, [("X", x), ("roi", None), ("s", S(1, 1, 1.7, 0.7))],
        {"mode": "nearest", "coordinate_transformation_mode": "half_pixel_symmetric"})
    add("split18_num_outputs", "Split", 18, [("X", f32(7, 2))], {"num_outputs": 3, "axis": 0}, n_out=3)
    add("split13_input", "Split", 13, [("X", f32(2, 6)), ("sp", I(1, 2, 3))], {"axis": -1}, n_out=3)
    add("split11_equal", "Split", 11, [("X", f32(2, 6))], {"axis": 1}, n_out=3)
    add("slice13_negative_steps", "Slice", 13,
        [("X", f32(4, 6)), ("st", I(-1, 5)), ("en", I(-9223372036854775807, 0)), ("ax", I(1, 0)),
         ("stp", I(-2, -3))])
    add("slice13_int64_data", "Slice", 13, [("X", rng.integers(-9, 9, (5,)).astype(np.int64)),
                                            ("st", I(1)), ("en", I(100))])
    add("slice1_attributes", "Slice", 1, [("X", f32(4, 6))],
        {"starts": [1, -3], "ends": [100, -1], "axes": [0, 1]})
    add("expand_int64", "Expand", 13, [("X", I(3, 1, 4).reshape(3, 1)), ("sh", I(2, 1, 4))])
    add("expand8_float", "Expand", 8, [("X", f32(1, 3, 1)), ("sh", I(2, 1, 1, 4))])
    add("tile_int64", "Tile", 13, [("X", I(1, 2, 3, 4).reshape(2, 2)), ("r", I(2, 3))])
    add("range_int64", "Range", 11, [("a", np.array(10, np.int64)), ("b", np.array(-3, np.int64)),
                                     ("c", np.array(-4, np.int64))])
    add("range_float", "Range", 11, [("a", np.array(0.5, np.float32)), ("b", np.array(2.2, np.float32)),
                                     ("c", np.array(0.3, np.float32))])
    add("size", "Size", 13, [("X", f32(2, 3, 4))])
    add("gather_elements_negative", "GatherElements", 13,
        [("X", f32(3, 4)), ("i", I(0, -1, 2, 3, -4, 1).reshape(3, 2))], {"axis": 1})
    einsum = [("batch_matmul", "bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
              ("attention", "bhid,bhjd->bhij", [(1, 2, 3, 4), (1, 2, 5, 4)]),
              ("ellipsis_matmul", "...ij,...jk->...ik", [(2, 1, 2, 3), (1, 3, 3, 2)]),
              ("transpose", "ij->ji", [(2, 3)]),
              ("rowwise_dot", "bi,bi->b", [(3, 4), (3, 4)]),
              ("diagonal", "ii->i", [(3, 3)]),
              ("implicit", "ij,jk", [(2, 3), (3, 4)]),
              ("batch_diagonal", "...ii->...i", [(2, 3, 3)])]
    for name, eq, shapes in einsum:
        add(f"einsum_{name}", "Einsum", 12, [(f"in{k}", f32(*s)) for k, s in enumerate(shapes)],
            {"equation": eq})
    return CASES


def build(out):
    from onnx import helper, numpy_helper
    if os.path.isdir(out):
        shutil.rmtree(out)
    for c in cases():
        d = os.path.join(out, c["name"])
        os.makedirs(os.path.join(d, "test_data_set_0"))
        names = [n if a is not None else "" for n, a in c["inputs"]]
        outs = [f"y{i}" for i in range(c["n_out"])]
        node = helper.make_node(c["op"], names, outs, **c["attrs"])
        ins = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype)
                                             if hasattr(helper, "np_dtype_to_tensor_dtype")
                                             else numpy_helper.from_array(a).data_type, a.shape)
               for n, a in c["inputs"] if a is not None]
        graph = helper.make_graph([node], c["name"], ins,
                                  [helper.make_empty_tensor_value_info(o) for o in outs])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", c["opset"])])
        model.ir_version = 8
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(model.SerializeToString())
        k = 0
        for n, a in c["inputs"]:
            if a is None:
                continue
            with open(os.path.join(d, "test_data_set_0", f"input_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(a, n).SerializeToString())
            np.save(os.path.join(d, f"in{k}.npy"), a)
            k += 1
        if c["opset"] >= 18:
            with open(os.path.join(d, "node.txt"), "w") as f:
                f.write(f"op {c['op']} {c['opset']}\n")
                f.write("inputs " + " ".join(n if n else "-" for n in names) + "\n")
                f.write(f"outputs {len(outs)}\n")
                for key, v in sorted(c["attrs"].items()):
                    if isinstance(v, str):
                        f.write(f"string {key} {v}\n")
                    elif isinstance(v, int):
                        f.write(f"int {key} {v}\n")
                    elif isinstance(v, float):
                        f.write(f"float {key} {v!r}\n")
                    else:
                        f.write(f"ints {key} " + " ".join(str(i) for i in v) + "\n")


def run(out):
    import onnxruntime as ort
    for d in sorted(glob.glob(os.path.join(out, "*"))):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.log_severity_level = 3
        sess = ort.InferenceSession(os.path.join(d, "model.onnx"), opts,
                                    providers=["CPUExecutionProvider"])
        feeds = {i.name: np.load(os.path.join(d, f"in{k}.npy"))
                 for k, i in enumerate(sess.get_inputs())}
        for k, o in enumerate(sess.run(None, feeds)):
            np.save(os.path.join(d, f"out{k}.npy"), o)


def finish(out):
    import onnx
    from onnx import helper, numpy_helper
    for d in sorted(glob.glob(os.path.join(out, "*"))):
        model = onnx.load(os.path.join(d, "model.onnx"))
        for k, o in enumerate(model.graph.output):
            a = np.load(os.path.join(d, f"out{k}.npy"))
            t = numpy_helper.from_array(a, o.name)
            o.CopyFrom(helper.make_tensor_value_info(o.name, t.data_type, a.shape))
            with open(os.path.join(d, "test_data_set_0", f"output_{k}.pb"), "wb") as f:
                f.write(t.SerializeToString())
        onnx.save(model, os.path.join(d, "model.onnx"))
        for p in glob.glob(os.path.join(d, "*.npy")):
            os.remove(p)


if __name__ == "__main__":
    {"build": build, "run": run, "finish": finish}[sys.argv[1]](sys.argv[2])
