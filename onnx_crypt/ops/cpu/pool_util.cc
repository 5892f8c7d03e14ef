// Window geometry (formulas in pool_util.h).
#include "onnx_crypt/ops/cpu/pool_util.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cpu {

namespace {

// ceil(a / b) for b > 0, written so that no intermediate overflows.
int64_t CeilDiv(int64_t a, int64_t b) {
  return a >= 0 ? a / b + (a % b != 0 ? 1 : 0) : -((-a) / b);
}

// Attribute `key` with one value per spatial dim (or `count` values),
// `fallback` when absent.
absl::StatusOr<std::vector<int64_t>> IntsOfLength(const Node& node,
                                                  const std::string& key,
                                                  size_t count,
                                                  int64_t fallback) {
  if (!node.HasAttr(key)) return std::vector<int64_t>(count, fallback);
  std::vector<int64_t> values = node.GetInts(key, {});
  if (values.size() != count) {
    return NodeError(node,
                     absl::StrCat("attribute ", key, " has ", values.size(),
                                  " values, expected ", count));
  }
  return values;
}

}  // namespace

Shape WindowGeometry::OutputShape(int64_t out_channels) const {
  Shape shape = {batch, out_channels};
  for (int i = kMaxSpatialRank - spatial_rank; i < kMaxSpatialRank; ++i)
    shape.push_back(out[i]);
  return shape;
}

absl::StatusOr<WindowGeometry> MakeWindowGeometry(
    const Node& node, const Shape& x_shape,
    const std::vector<int64_t>& kernel_shape, bool ceil_mode) {
  const int64_t rank = static_cast<int64_t>(x_shape.size());
  if (rank < 3) {
    return NodeError(
        node,
        absl::StrCat("input of shape ", ShapeToString(x_shape),
                     " needs at least one spatial dimension (N x C x D...)"));
  }
  const size_t k = static_cast<size_t>(rank - 2);
  if (k > static_cast<size_t>(kMaxSpatialRank)) {
    return absl::UnimplementedError(absl::StrCat(
        node.Describe(), ": ", k, " spatial dimensions (at most 3 supported)"));
  }
  if (kernel_shape.size() != k) {
    return NodeError(
        node, absl::StrCat("kernel shape [", absl::StrJoin(kernel_shape, ", "),
                           "] does not match input of shape ",
                           ShapeToString(x_shape)));
  }
  OC_ASSIGN_OR_RETURN(std::vector<int64_t> strides,
                      IntsOfLength(node, "strides", k, 1));
  OC_ASSIGN_OR_RETURN(std::vector<int64_t> dilations,
                      IntsOfLength(node, "dilations", k, 1));
  const std::string auto_pad = node.GetString("auto_pad", "NOTSET");
  std::vector<int64_t> pads(2 * k, 0);
  if (auto_pad == "NOTSET") {
    OC_ASSIGN_OR_RETURN(pads, IntsOfLength(node, "pads", 2 * k, 0));
  } else if (auto_pad != "VALID" && auto_pad != "SAME_UPPER" &&
             auto_pad != "SAME_LOWER") {
    return NodeError(node, absl::StrCat("unknown auto_pad '", auto_pad, "'"));
  }

  WindowGeometry g;
  g.spatial_rank = static_cast<int>(k);
  g.batch = x_shape[0];
  g.channels = x_shape[1];
  for (size_t i = 0; i < k; ++i) {
    const int slot =
        kMaxSpatialRank - static_cast<int>(k) + static_cast<int>(i);
    const int64_t in = x_shape[2 + i];
    const int64_t kernel = kernel_shape[i];
    const int64_t stride = strides[i];
    const int64_t dilation = dilations[i];
    if (kernel < 1 || stride < 1 || dilation < 1 || pads[i] < 0 ||
        pads[i + k] < 0) {
      return NodeError(
          node,
          absl::StrCat("spatial dim ", i, ": kernel ", kernel, ", stride ",
                       stride, ", dilation ", dilation, ", pads ", pads[i], "/",
                       pads[i + k], " are not all valid"));
    }
    // Every sum and product below is checked: the attributes come from the
    // model, and a hostile one could make them wrap.
    const auto overflow = [&] {
      return NodeError(
          node,
          absl::StrCat("spatial dim ", i, ": kernel ", kernel, ", stride ",
                       stride, ", dilation ", dilation, ", pads ", pads[i], "/",
                       pads[i + k], " overflow the window arithmetic"));
    };
    if (in < 0) {
      return NodeError(node,
                       absl::StrCat("input of shape ", ShapeToString(x_shape),
                                    " has a negative dimension"));
    }
    int64_t effective = 0;  // (kernel - 1) * dilation + 1
    if (!CheckedMul(kernel - 1, dilation, &effective) ||
        !CheckedAdd(effective, 1, &effective)) {
      return overflow();
    }
    int64_t pad_begin = pads[i];
    int64_t pad_end = pads[i + k];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t target = CeilDiv(in, stride);
      int64_t total = 0;  // (target - 1) * stride + effective - in
      if (!CheckedMul(target - 1, stride, &total) ||
          !CheckedAdd(total, effective - in, &total)) {
        return overflow();
      }
      total = std::max<int64_t>(0, total);
      pad_begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pad_end = total - pad_begin;
    }
    int64_t span = 0;  // in + pad_begin + pad_end - effective
    if (!CheckedAdd(in, pad_begin, &span) ||
        !CheckedAdd(span, pad_end, &span)) {
      return overflow();
    }
    span -= effective;  // both non-negative: cannot overflow
    if (span < 0) {
      return NodeError(
          node,
          absl::StrCat("spatial dim ", i, " of size ", in, " with pads ",
                       pad_begin, "/", pad_end,
                       " is smaller than the effective kernel ", effective));
    }
    int64_t out = (ceil_mode ? CeilDiv(span, stride) : span / stride) + 1;
    if (ceil_mode && out > 1 && (out - 1) * stride >= in + pad_begin) --out;
    g.in[slot] = in;
    g.out[slot] = out;
    g.kernel[slot] = kernel;
    g.stride[slot] = stride;
    g.dilation[slot] = dilation;
    g.pad_begin[slot] = pad_begin;
    g.pad_end[slot] = pad_end;
  }
  // Kernels allocate N x C x out (and im2col buffers of kernel x out per
  // channel): refuse geometries whose sizes do not fit the tensor budget
  // before any of them is computed or allocated.
  absl::Status size_ok =
      CheckTensorSize(DType::kFloat64, g.OutputShape(g.channels));
  if (size_ok.ok()) {
    size_ok = CheckedNumElements({g.channels, g.kernel[0], g.kernel[1],
                                  g.kernel[2], g.out[0], g.out[1], g.out[2]})
                  .status();
  }
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  return g;
}

absl::StatusOr<std::vector<int64_t>> PoolKernelShape(const Node& node,
                                                     const Shape& x_shape) {
  if (!node.HasAttr("kernel_shape"))
    return NodeError(node, "missing attribute kernel_shape");
  std::vector<int64_t> kernel = node.GetInts("kernel_shape", {});
  if (x_shape.size() < 3 || kernel.size() != x_shape.size() - 2) {
    return NodeError(node, absl::StrCat("kernel_shape has ", kernel.size(),
                                        " values for an input of shape ",
                                        ShapeToString(x_shape)));
  }
  return kernel;
}

std::vector<DimWindow> DimWindows(const WindowGeometry& g, int dim) {
  const int64_t in = g.in[dim], kernel = g.kernel[dim], stride = g.stride[dim];
  const int64_t dilation = g.dilation[dim];
  std::vector<DimWindow> windows(static_cast<size_t>(g.out[dim]));
  for (int64_t o = 0; o < g.out[dim]; ++o) {
    DimWindow& w = windows[static_cast<size_t>(o)];
    w.start = o * stride - g.pad_begin[dim];
    // Tap j is inside when 0 <= start + j * dilation < limit.
    w.k_begin = w.start < 0 ? std::min(kernel, CeilDiv(-w.start, dilation)) : 0;
    w.k_end =
        std::clamp<int64_t>(CeilDiv(in - w.start, dilation), w.k_begin, kernel);
    w.k_end_padded = std::clamp<int64_t>(
        CeilDiv(in + g.pad_end[dim] - w.start, dilation), 0, kernel);
  }
  return windows;
}

}  // namespace onnx_crypt::cpu
