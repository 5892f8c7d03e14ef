// Gradient-check cases for the ops-shape part of issue #12 (Expand, Tile,
// Slice, Split, GatherElements, Einsum, Resize, Upsample); see op_check.h.
//
// All of these are linear in their differentiable inputs (Einsum in each
// operand), so finite differences match up to rounding. Resize and Upsample
// are linear in X for fixed scales/sizes: the kinks of linear interpolation
// lie in the coordinates, which the check does not perturb. Versions 18+ of
// Resize and Split have no ONNX node test in libonnx-testdata 1.12, so their
// new attributes are exercised here (and, forward, by the float32/float64
// agreement check of every case).
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

Tensor Floats(const Shape& shape, const std::vector<float>& values) {
  return Tensor::FromVector<float>(shape, values);
}

void AddExpandTileCases(std::vector<OpCase>& cases) {
  cases.push_back(Case("Expand/rank_grows", MakeNode("Expand", 8, 2, 1),
                       {RandomTensor({3, 1}, 301), Int64Tensor({3}, {2, 1, 4})},
                       {0}));
  cases.push_back(
      Case("Expand/shape_smaller_than_input", MakeNode("Expand", 13, 2, 1),
           {RandomTensor({2, 3}, 302), Int64Tensor({2}, {1, 1})}, {0}));
  cases.push_back(
      Case("Expand/both_broadcast", MakeNode("Expand", 13, 2, 1),
           {RandomTensor({1, 3, 1}, 303), Int64Tensor({3}, {2, 1, 2})}, {0}));
  cases.push_back(Case("Tile/2d", MakeNode("Tile", 13, 2, 1),
                       {RandomTensor({2, 3}, 304), Int64Tensor({2}, {2, 2})},
                       {0}));
  cases.push_back(
      Case("Tile/opset6_3d", MakeNode("Tile", 6, 2, 1),
           {RandomTensor({2, 1, 2}, 305), Int64Tensor({3}, {1, 3, 2})}, {0}));
}

void AddSliceSplitCases(std::vector<OpCase>& cases) {
  Node s1 = MakeNode("Slice", 1, 1, 1);
  SetAttr(s1, "starts", std::vector<int64_t>{1, 0});
  SetAttr(s1, "ends", std::vector<int64_t>{3, 100});
  SetAttr(s1, "axes", std::vector<int64_t>{0, 2});
  cases.push_back(
      Case("Slice/opset1_attributes", s1, {RandomTensor({4, 3, 5}, 310)}, {0}));
  cases.push_back(Case("Slice/opset13_negative_step",
                       MakeNode("Slice", 13, 5, 1),
                       {RandomTensor({3, 6}, 311), Int64Tensor({1}, {-1}),
                        Int64Tensor({1}, {INT64_MIN}), Int64Tensor({1}, {1}),
                        Int64Tensor({1}, {-2})},
                       {0}));
  cases.push_back(Case("Slice/opset10_default_axes_clamped",
                       MakeNode("Slice", 10, 3, 1),
                       {RandomTensor({4, 3}, 312), Int64Tensor({2}, {-100, 1}),
                        Int64Tensor({2}, {INT64_MAX, 3})},
                       {0}));
  cases.push_back(Case(
      "Slice/opset11_negative_axis_int32_step2", MakeNode("Slice", 11, 5, 1),
      {RandomTensor({2, 7}, 313), Tensor::FromVector<int32_t>({1}, {1}),
       Tensor::FromVector<int32_t>({1}, {-1}),
       Tensor::FromVector<int32_t>({1}, {-1}),
       Tensor::FromVector<int32_t>({1}, {2})},
      {0}));
  cases.push_back(Case("Slice/opset13_empty_result",
                       MakeNode("Slice", 13, 4, 1),
                       {RandomTensor({3, 2}, 314), Int64Tensor({1}, {2}),
                        Int64Tensor({1}, {1}), Int64Tensor({1}, {0})},
                       {0}));

  Node sp2 = MakeNode("Split", 2, 1, 2);
  SetAttr(sp2, "axis", int64_t{1});
  SetAttr(sp2, "split", std::vector<int64_t>{1, 2});
  cases.push_back(
      Case("Split/opset2_attribute", sp2, {RandomTensor({2, 3, 2}, 320)}, {0}));
  Node sp11 = MakeNode("Split", 11, 1, 3);
  SetAttr(sp11, "axis", int64_t{-1});
  cases.push_back(Case("Split/opset11_equal_negative_axis", sp11,
                       {RandomTensor({2, 6}, 321)}, {0}));
  cases.push_back(Case("Split/opset13_input", MakeNode("Split", 13, 2, 3),
                       {RandomTensor({4, 2}, 322), Int64Tensor({3}, {2, 1, 1})},
                       {0}));
  cases.push_back(Case("Split/opset13_empty_split_is_equal",
                       MakeNode("Split", 13, 2, 2),
                       {RandomTensor({4, 2}, 324), Int64Tensor({0}, {})}, {0}));
  Node sp18 = MakeNode("Split", 18, 1, 3);
  SetAttr(sp18, "axis", int64_t{0});
  SetAttr(sp18, "num_outputs", int64_t{3});
  cases.push_back(Case("Split/opset18_num_outputs_uneven", sp18,
                       {RandomTensor({7, 2}, 323)}, {0}));
}

void AddGatherElementsCases(std::vector<OpCase>& cases) {
  Node g13 = MakeNode("GatherElements", 13, 2, 1);
  SetAttr(g13, "axis", int64_t{1});
  cases.push_back(Case(
      "GatherElements/axis1_repeated_negative", g13,
      {RandomTensor({3, 4}, 330), Int64Tensor({3, 2}, {0, 3, -1, -1, 2, 0})},
      {0}));
  cases.push_back(Case("GatherElements/axis0_int32_narrower",
                       MakeNode("GatherElements", 11, 2, 1),
                       {RandomTensor({3, 3}, 331),
                        Tensor::FromVector<int32_t>({2, 2}, {2, 0, 1, 2})},
                       {0}));
}

void AddEinsumCase(std::vector<OpCase>& cases, const std::string& label,
                   const std::string& equation, std::vector<Tensor> inputs) {
  Node n = MakeNode("Einsum", 12, static_cast<int>(inputs.size()), 1);
  SetAttr(n, "equation", equation);
  std::vector<int> check;
  for (size_t i = 0; i < inputs.size(); ++i)
    check.push_back(static_cast<int>(i));
  cases.push_back(Case("Einsum/" + label, n, std::move(inputs), check));
}

void AddEinsumCases(std::vector<OpCase>& cases) {
  AddEinsumCase(cases, "batch_matmul", "bij,bjk->bik",
                {RandomTensor({2, 3, 4}, 340), RandomTensor({2, 4, 2}, 341)});
  AddEinsumCase(
      cases, "attention_scores", "bhid,bhjd->bhij",
      {RandomTensor({1, 2, 3, 4}, 342), RandomTensor({1, 2, 2, 4}, 343)});
  AddEinsumCase(
      cases, "ellipsis_broadcast", "...ij,...jk->...ik",
      {RandomTensor({2, 1, 2, 3}, 344), RandomTensor({3, 3, 2}, 345)});
  AddEinsumCase(cases, "transpose", "ij->ji", {RandomTensor({2, 3}, 346)});
  AddEinsumCase(cases, "rowwise_dot", "bi,bi->b",
                {RandomTensor({3, 4}, 347), RandomTensor({3, 4}, 348)});
  AddEinsumCase(cases, "diagonal", "ii->i", {RandomTensor({3, 3}, 349)});
  AddEinsumCase(cases, "total_sum", "ij->", {RandomTensor({2, 3}, 350)});
  AddEinsumCase(cases, "implicit_output", "ij, jk",
                {RandomTensor({2, 3}, 351), RandomTensor({3, 2}, 352)});
  AddEinsumCase(cases, "three_operands", "ij,jk,k->i",
                {RandomTensor({2, 3}, 353), RandomTensor({3, 2}, 354),
                 RandomTensor({2}, 355)});
}

// Resize with inputs X, roi, scales, sizes (absent ones marked).
Node ResizeNode(int64_t opset, const std::string& mode,
                const std::string& coordinate_mode,
                const std::vector<int>& absent) {
  Node n = MakeNode("Resize", opset, 4, 1, absent);
  SetAttr(n, "mode", mode);
  if (!coordinate_mode.empty())
    SetAttr(n, "coordinate_transformation_mode", coordinate_mode);
  return n;
}

void AddResizeCases(std::vector<OpCase>& cases) {
  const Tensor none;
  const Tensor x4 = RandomTensor({1, 2, 3, 4}, 360);
  cases.push_back(Case("Resize/linear_half_pixel_up_scales",
                       ResizeNode(13, "linear", "half_pixel", {1, 3}),
                       {x4, none, Floats({4}, {1, 1, 2, 1.5}), none}, {0}));
  cases.push_back(Case("Resize/linear_align_corners_down_sizes",
                       ResizeNode(13, "linear", "align_corners", {1, 2}),
                       {RandomTensor({1, 1, 5, 4}, 361), none, none,
                        Int64Tensor({4}, {1, 1, 3, 3})},
                       {0}));
  cases.push_back(Case("Resize/linear_pytorch_half_pixel_sizes",
                       ResizeNode(13, "linear", "pytorch_half_pixel", {1, 2}),
                       {RandomTensor({1, 1, 4, 3}, 362), none, none,
                        Int64Tensor({4}, {1, 1, 1, 5})},
                       {0}));
  cases.push_back(Case("Resize/linear_asymmetric_opset11_empty_roi",
                       ResizeNode(11, "linear", "asymmetric", {3}),
                       {RandomTensor({2, 3}, 363), Floats({0}, {}),
                        Floats({2}, {2, 0.75}), none},
                       {0}));
  Node crop = ResizeNode(13, "linear", "tf_crop_and_resize", {2});
  SetAttr(crop, "extrapolation_value", 0.5f);
  cases.push_back(Case("Resize/linear_tf_crop_and_resize_extrapolated", crop,
                       {RandomTensor({1, 1, 4, 4}, 364),
                        Floats({8}, {0, 0, -0.2f, 0.3f, 1, 1, 0.8f, 1.3f}),
                        none, Int64Tensor({4}, {1, 1, 3, 3})},
                       {0}));
  cases.push_back(Case("Resize/linear_3d_trilinear",
                       ResizeNode(13, "linear", "", {1, 3}),
                       {RandomTensor({1, 2, 3, 2}, 365), none,
                        Floats({4}, {1, 1.5, 2, 1.5}), none},
                       {0}));
  for (const char* nearest :
       {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
    Node n = ResizeNode(13, "nearest", "half_pixel", {1, 2});
    SetAttr(n, "nearest_mode", std::string(nearest));
    cases.push_back(Case(std::string("Resize/nearest_") + nearest, n,
                         {RandomTensor({1, 1, 3, 4}, 366), none, none,
                          Int64Tensor({4}, {1, 1, 7, 3})},
                         {0}));
  }
  cases.push_back(
      Case("Resize/nearest_tf_half_pixel_for_nn",
           ResizeNode(13, "nearest", "tf_half_pixel_for_nn", {1, 3}),
           {RandomTensor({1, 1, 4, 4}, 367), none,
            Floats({4}, {1, 1, 0.5f, 1.5f}), none},
           {0}));
  Node cubic = ResizeNode(13, "cubic", "half_pixel", {1, 3});
  SetAttr(cubic, "exclude_outside", int64_t{1});
  cases.push_back(Case("Resize/cubic_exclude_outside", cubic,
                       {RandomTensor({1, 1, 4, 4}, 368), none,
                        Floats({4}, {1, 1, 1.5f, 0.75f}), none},
                       {0}));
  cases.push_back(Case(
      "Resize/opset10_nearest", ResizeNode(10, "nearest", "", {}),
      {RandomTensor({1, 1, 2, 3}, 369), Floats({4}, {1, 1, 2, 1.5f})}, {0}));
  cases.back().node.inputs.resize(2);
  cases.back().inputs.resize(2);
  cases.push_back(Case(
      "Resize/opset10_linear_down", ResizeNode(10, "linear", "", {}),
      {RandomTensor({1, 1, 4, 5}, 370), Floats({4}, {1, 1, 0.5f, 0.6f})}, {0}));
  cases.back().node.inputs.resize(2);
  cases.back().inputs.resize(2);
  // Opset 18: axes, keep_aspect_ratio_policy, antialias.
  Node axes = ResizeNode(18, "linear", "half_pixel", {1, 2});
  SetAttr(axes, "axes", std::vector<int64_t>{-1, 2});
  SetAttr(axes, "keep_aspect_ratio_policy", std::string("not_larger"));
  cases.push_back(Case(
      "Resize/opset18_axes_not_larger", axes,
      {RandomTensor({1, 2, 4, 6}, 371), none, none, Int64Tensor({2}, {4, 3})},
      {0}));
  Node smaller = ResizeNode(18, "nearest", "asymmetric", {1, 2});
  SetAttr(smaller, "keep_aspect_ratio_policy", std::string("not_smaller"));
  SetAttr(smaller, "axes", std::vector<int64_t>{2, 3});
  cases.push_back(Case(
      "Resize/opset18_not_smaller", smaller,
      {RandomTensor({1, 1, 2, 4}, 372), none, none, Int64Tensor({2}, {3, 3})},
      {0}));
  Node aa = ResizeNode(18, "linear", "half_pixel", {1, 3});
  SetAttr(aa, "antialias", int64_t{1});
  cases.push_back(Case("Resize/opset18_antialias_linear_down", aa,
                       {RandomTensor({1, 1, 6, 5}, 373), none,
                        Floats({4}, {1, 1, 0.5f, 0.6f}), none},
                       {0}));
  Node aac = ResizeNode(18, "cubic", "half_pixel", {1, 3});
  SetAttr(aac, "antialias", int64_t{1});
  cases.push_back(Case("Resize/opset18_antialias_cubic_down", aac,
                       {RandomTensor({1, 1, 6, 6}, 374), none,
                        Floats({4}, {1, 1, 0.4f, 0.5f}), none},
                       {0}));
  cases.push_back(Case("Resize/opset19_half_pixel_symmetric",
                       ResizeNode(19, "linear", "half_pixel_symmetric", {1, 3}),
                       {RandomTensor({1, 1, 4, 5}, 375), none,
                        Floats({4}, {1, 1, 1.7f, 0.7f}), none},
                       {0}));

  Node up7 = MakeNode("Upsample", 7, 1, 1);
  SetAttr(up7, "mode", std::string("linear"));
  SetAttr(up7, "scales", std::vector<float>{1, 1, 2, 3});
  cases.push_back(Case("Upsample/opset7_linear", up7,
                       {RandomTensor({1, 1, 2, 3}, 380)}, {0}));
  Node up9 = MakeNode("Upsample", 9, 2, 1);
  SetAttr(up9, "mode", std::string("nearest"));
  cases.push_back(
      Case("Upsample/opset9_nearest", up9,
           {RandomTensor({1, 2, 2, 2}, 381), Floats({4}, {1, 1, 3, 2})}, {0}));
}

}  // namespace

void AddShape2Cases(std::vector<OpCase>& cases) {
  AddExpandTileCases(cases);
  AddSliceSplitCases(cases);
  AddGatherElementsCases(cases);
  AddEinsumCases(cases);
  AddResizeCases(cases);
}

}  // namespace onnx_crypt::testing
