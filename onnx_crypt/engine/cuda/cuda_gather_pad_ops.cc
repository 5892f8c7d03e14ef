// Gather and Pad on the GPU, with the semantics of ops/cpu/gather.cc and
// ops/cpu/pad.cc: Gather takes float data and host indices (dx by an ordered
// gather-sum); Pad is constant / edge / reflect (dx one dimension at a time).
#include <cstring>

#include "absl/strings/str_cat.h"
#include "cuda/kernels.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cuda/cuda_ops.h"
#include "onnx_crypt/ops/cpu/util.h"
#include "onnx_crypt/ops/registry.h"

namespace onnx_crypt::cuda {

namespace {

// --- Gather: data [outer, n, inner], indices flattened to m entries ---

struct GatherPlan {
  int64_t outer = 1, n = 1, inner = 1, m = 0;
  std::vector<int64_t> index;  // made non-negative
  Shape out_shape;
};

struct GatherContext : OpContext {
  std::shared_ptr<DeviceBuffer> index;
};

absl::StatusOr<GatherPlan> MakeGatherPlan(const Node& node,
                                          const DValueRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  if (!HasInput(inputs, 1)) return CudaNodeError(node, "input 1 is missing");
  const DValue& data = *inputs[0];
  const DValue& indices = *inputs[1];
  if (indices.dtype != DType::kInt64 && indices.dtype != DType::kInt32) {
    return CudaNodeError(node,
                         absl::StrCat("indices must be int32 or int64, got ",
                                      DTypeName(indices.dtype)));
  }
  const int64_t rank = static_cast<int64_t>(data.shape.size());
  if (rank == 0) return CudaNodeError(node, "data must have rank >= 1");
  GatherPlan p;
  OC_ASSIGN_OR_RETURN(const int64_t axis,
                      cpu::NormalizeAxis(node.GetInt("axis", 0), rank, node));
  for (int64_t d = 0; d < axis; ++d) {
    p.outer *= data.shape[d];
    p.out_shape.push_back(data.shape[d]);
  }
  p.n = data.shape[axis];
  for (int64_t d : indices.shape) p.out_shape.push_back(d);
  for (int64_t d = axis + 1; d < rank; ++d) {
    p.inner *= data.shape[d];
    p.out_shape.push_back(data.shape[d]);
  }
  OC_ASSIGN_OR_RETURN(p.index, ReadInts(node, indices));
  for (int64_t& i : p.index) {
    if (i < -p.n || i >= p.n) {
      return CudaNodeError(
          node, absl::StrCat("index ", i, " is out of range for axis ", axis,
                             " of size ", p.n));
    }
    if (i < 0) i += p.n;
  }
  p.m = static_cast<int64_t>(p.index.size());
  return p;
}

absl::Status GatherFwd(CudaContext& cx, const Node& node,
                       const DValueRefs& inputs, std::vector<DValue>& outputs,
                       std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const GatherPlan p, MakeGatherPlan(node, inputs));
  auto context = std::make_unique<GatherContext>();
  OC_ASSIGN_OR_RETURN(context->index, cx.UploadInt64(p.index));
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(p.out_shape));
  OC_CUDA_RETURN_IF_ERROR(
      Gather(inputs[0]->data(), context->index->as<int64_t>(), p.outer, p.n,
             p.m, p.inner, y.mutable_data(), cx.stream()),
      node.Describe(), ": Gather");
  outputs[0] = std::move(y);
  *ctx = std::move(context);
  return absl::OkStatus();
}

absl::Status GatherBwd(CudaContext& cx, const Node& node,
                       const DValueRefs& inputs, const DValueRefs& outputs,
                       const DValueRefs& grad_outputs, const OpContext* ctx,
                       const std::vector<bool>& need_grad,
                       std::vector<DValue>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  OC_ASSIGN_OR_RETURN(const GatherPlan p, MakeGatherPlan(node, inputs));
  std::shared_ptr<DeviceBuffer> index;
  if (const auto* c = dynamic_cast<const GatherContext*>(ctx); c != nullptr) {
    index = c->index;
  } else {
    OC_ASSIGN_OR_RETURN(index, cx.UploadInt64(p.index));
  }
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], p.out_shape));
  OC_ASSIGN_OR_RETURN(DValue dx, cx.NewFloat(inputs[0]->shape));
  OC_CUDA_RETURN_IF_ERROR(
      GatherGrad(dy.data(), index->as<int64_t>(), p.outer, p.n, p.m, p.inner,
                 dx.mutable_data(), cx.stream()),
      node.Describe(), ": GatherGrad");
  grad_inputs[0] = std::move(dx);
  return absl::OkStatus();
}

// --- Pad ---

struct PadPlan {
  PadMode mode = PadMode::kConstant;
  std::vector<int64_t> begin;
  Shape out_shape;
  float value = 0.0f;
};

absl::StatusOr<PadPlan> MakePadPlan(CudaContext& cx, const Node& node,
                                    const DValueRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (rank > kMaxRank) {
    return absl::UnimplementedError(
        absl::StrCat(node.Describe(), ": rank ", rank,
                     " is above the CUDA limit ", kMaxRank));
  }
  PadPlan p;
  const std::string mode = node.GetString("mode", "constant");
  if (mode == "constant") {
    p.mode = PadMode::kConstant;
  } else if (mode == "edge") {
    p.mode = PadMode::kEdge;
  } else if (mode == "reflect") {
    p.mode = PadMode::kReflect;
  } else {
    return absl::UnimplementedError(absl::StrCat(
        node.Describe(), ": pad mode '", mode, "' is not supported"));
  }
  std::vector<int64_t> pads, axes;
  if (node.opset < 11) {
    if (!node.HasAttr("pads"))
      return CudaNodeError(node, "attribute 'pads' is required");
    pads = node.GetInts("pads", {});
    p.value = node.GetFloat("value", 0.0f);
  } else {
    if (!HasInput(inputs, 1)) return CudaNodeError(node, "input 1 is missing");
    OC_ASSIGN_OR_RETURN(pads, ReadInts(node, *inputs[1]));
    if (HasInput(inputs, 2)) {
      OC_ASSIGN_OR_RETURN(const double v, ReadScalar(cx, node, *inputs[2]));
      p.value = static_cast<float>(v);
    }
    if (node.opset >= 18 && HasInput(inputs, 3)) {
      OC_ASSIGN_OR_RETURN(axes, ReadInts(node, *inputs[3]));
    }
  }
  if (axes.empty()) {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  const int64_t k = static_cast<int64_t>(axes.size());
  if (static_cast<int64_t>(pads.size()) != 2 * k) {
    return CudaNodeError(node, absl::StrCat("pads has ", pads.size(),
                                            " entries, expected ", 2 * k));
  }
  p.begin.assign(static_cast<size_t>(rank), 0);
  std::vector<int64_t> end(static_cast<size_t>(rank), 0);
  for (int64_t j = 0; j < k; ++j) {
    OC_ASSIGN_OR_RETURN(const int64_t d,
                        cpu::NormalizeAxis(axes[j], rank, node));
    p.begin[d] = pads[j];
    end[d] = pads[k + j];
  }
  for (int64_t d = 0; d < rank; ++d) {
    int64_t size = 0;
    if (!CheckedAdd(x.shape[d], p.begin[d], &size) ||
        !CheckedAdd(size, end[d], &size)) {
      return CudaNodeError(
          node, absl::StrCat("pads ", p.begin[d], "/", end[d], " of dimension ",
                             d, " overflow"));
    }
    if (size < 0) {
      return CudaNodeError(
          node, absl::StrCat("pads crop more than dimension ", d, " holds"));
    }
    if (p.mode != PadMode::kConstant && x.shape[d] == 0 && size > 0) {
      return CudaNodeError(
          node, absl::StrCat("cannot ", mode, "-pad the empty dimension ", d));
    }
    p.out_shape.push_back(size);
  }
  const absl::Status size_ok = CheckTensorSize(x.dtype, p.out_shape);
  if (!size_ok.ok()) return CudaNodeError(node, size_ok.message());
  return p;
}

absl::Status PadFwd(CudaContext& cx, const Node& node, const DValueRefs& inputs,
                    std::vector<DValue>& outputs,
                    std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const PadPlan p, MakePadPlan(cx, node, inputs));
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(p.out_shape));
  OC_CUDA_RETURN_IF_ERROR(
      PadForward(x.data(), x.shape.data(), static_cast<int>(x.shape.size()),
                 p.begin.data(), p.out_shape.data(), p.mode, p.value,
                 y.mutable_data(), cx.stream()),
      node.Describe(), ": PadForward");
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status PadBwd(CudaContext& cx, const Node& node, const DValueRefs& inputs,
                    const DValueRefs& outputs, const DValueRefs& grad_outputs,
                    const OpContext* ctx, const std::vector<bool>& need_grad,
                    std::vector<DValue>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  OC_ASSIGN_OR_RETURN(const PadPlan p, MakePadPlan(cx, node, inputs));
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(DValue g, GradOrZeros(cx, grad_outputs[0], p.out_shape));
  // The map is a product over dimensions: undo it one dimension at a time.
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  Shape cur = p.out_shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (cur[d] == x.shape[d] && p.begin[d] == 0) continue;
    Shape next = cur;
    next[d] = x.shape[d];
    int64_t outer = 1, inner = 1;
    for (int64_t e = 0; e < d; ++e) outer *= cur[e];
    for (int64_t e = d + 1; e < rank; ++e) inner *= cur[e];
    OC_ASSIGN_OR_RETURN(DValue dx, cx.NewFloat(next));
    OC_CUDA_RETURN_IF_ERROR(
        PadGradDim(g.data(), outer, cur[d], x.shape[d], inner, p.begin[d],
                   p.mode, dx.mutable_data(), cx.stream()),
        node.Describe(), ": PadGradDim");
    g = std::move(dx);
    cur = std::move(next);
  }
  grad_inputs[0] = g.Reshaped(x.shape);
  return absl::OkStatus();
}

}  // namespace

void AddCudaGatherPadOps(std::vector<CudaKernel>& ops) {
  ops.push_back(Def("Gather", 1, 1000, &GatherFwd, &GatherBwd));
  ops.push_back(Def("Pad", 2, 1000, &PadFwd, &PadBwd));
}

}  // namespace onnx_crypt::cuda
