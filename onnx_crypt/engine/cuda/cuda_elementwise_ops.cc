// Elementwise CUDA ops (formulas in cuda/elementwise.cu and in the CPU files
// they mirror): Add, Sub, Mul, Div with numpy broadcasting; Relu, LeakyRelu,
// Sigmoid, Tanh, Clip, HardSigmoid, HardSwish; Dropout (inference) and
// Identity, which alias their input. Binary gradients are formed at every
// broadcast element and summed back to each operand's shape (ReduceTo).
#include <limits>

#include "absl/strings/str_cat.h"
#include "cuda/kernels.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cuda/cuda_ops.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cuda {

namespace {

// --- binary ---

template <BinaryKind kKind>
absl::Status BinaryFwd(CudaContext& cx, const Node& node,
                       const DValueRefs& inputs, std::vector<DValue>& outputs,
                       std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 1));
  const DValue& a = *inputs[0];
  const DValue& b = *inputs[1];
  OC_ASSIGN_OR_RETURN(const Shape out_shape,
                      cpu::BroadcastShapes(a.shape, b.shape, node));
  OC_ASSIGN_OR_RETURN(outputs[0], cx.NewFloat(out_shape));
  OC_CUDA_RETURN_IF_ERROR(
      BinaryForward(kKind, a.data(), a.shape.data(),
                    static_cast<int>(a.shape.size()), b.data(), b.shape.data(),
                    static_cast<int>(b.shape.size()), outputs[0].mutable_data(),
                    out_shape.data(), static_cast<int>(out_shape.size()),
                    cx.stream()),
      node.Describe(), ": BinaryForward");
  return absl::OkStatus();
}

template <BinaryKind kKind>
absl::Status BinaryBwd(CudaContext& cx, const Node& node,
                       const DValueRefs& inputs, const DValueRefs& outputs,
                       const DValueRefs& grad_outputs, const OpContext* ctx,
                       const std::vector<bool>& need_grad,
                       std::vector<DValue>& grad_inputs) {
  const DValue& a = *inputs[0];
  const DValue& b = *inputs[1];
  OC_ASSIGN_OR_RETURN(const DValue dc,
                      GradOrZeros(cx, grad_outputs[0], outputs[0]->shape));
  for (int j = 0; j < 2; ++j) {
    if (j >= static_cast<int>(need_grad.size()) || !need_grad[j]) continue;
    const Shape& target = j == 0 ? a.shape : b.shape;
    // d(a + b) and d(a - b)/da are 1: the gradient is dc summed down.
    const bool unit =
        kKind == BinaryKind::kAdd || (kKind == BinaryKind::kSub && j == 0);
    if (unit) {
      OC_ASSIGN_OR_RETURN(grad_inputs[j], ReduceTo(cx, node, dc, target));
      continue;
    }
    OC_ASSIGN_OR_RETURN(DValue full, cx.NewFloat(dc.shape));
    OC_CUDA_RETURN_IF_ERROR(
        BinaryGradFull(kKind, j, a.data(), a.shape.data(),
                       static_cast<int>(a.shape.size()), b.data(),
                       b.shape.data(), static_cast<int>(b.shape.size()),
                       dc.data(), full.mutable_data(), dc.shape.data(),
                       static_cast<int>(dc.shape.size()), cx.stream()),
        node.Describe(), ": BinaryGradFull");
    OC_ASSIGN_OR_RETURN(grad_inputs[j], ReduceTo(cx, node, full, target));
  }
  return absl::OkStatus();
}

// --- unary ---

// The kernel parameters of a unary node (Clip reads its bounds from
// attributes before opset 11 and from optional inputs 1, 2 after).
absl::StatusOr<UnaryParams> ReadUnaryParams(const CudaContext& cx,
                                            UnaryKind kind, const Node& node,
                                            const DValueRefs& inputs) {
  UnaryParams p;
  switch (kind) {
    case UnaryKind::kLeakyRelu:
      p.alpha = node.GetFloat("alpha", 0.01f);
      break;
    case UnaryKind::kHardSigmoid:
      p.alpha = node.GetFloat("alpha", 0.2f);
      p.beta = node.GetFloat("beta", 0.5f);
      break;
    case UnaryKind::kClip: {
      p.lo = -std::numeric_limits<double>::infinity();
      p.hi = std::numeric_limits<double>::infinity();
      if (node.opset < 11) {
        if (node.HasAttr("min")) p.lo = node.GetFloat("min", 0.0f);
        if (node.HasAttr("max")) p.hi = node.GetFloat("max", 0.0f);
        break;
      }
      for (size_t i = 1; i <= 2; ++i) {
        if (!HasInput(inputs, i)) continue;
        if (inputs[i]->dtype != inputs[0]->dtype) {
          return CudaNodeError(
              node, absl::StrCat(i == 1 ? "min" : "max", " has type ",
                                 DTypeName(inputs[i]->dtype), ", input has ",
                                 DTypeName(inputs[0]->dtype)));
        }
        OC_ASSIGN_OR_RETURN(const double v, ReadScalar(cx, node, *inputs[i]));
        (i == 1 ? p.lo : p.hi) = v;
      }
      break;
    }
    default:
      break;
  }
  return p;
}

template <UnaryKind kKind>
absl::Status UnaryFwd(CudaContext& cx, const Node& node,
                      const DValueRefs& inputs, std::vector<DValue>& outputs,
                      std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const UnaryParams p,
                      ReadUnaryParams(cx, kKind, node, inputs));
  OC_ASSIGN_OR_RETURN(outputs[0], cx.NewFloat(x.shape));
  OC_CUDA_RETURN_IF_ERROR(
      UnaryForward(kKind, p, x.data(), outputs[0].mutable_data(), x.numel(),
                   cx.stream()),
      node.Describe(), ": UnaryForward");
  return absl::OkStatus();
}

template <UnaryKind kKind>
absl::Status UnaryBwd(CudaContext& cx, const Node& node,
                      const DValueRefs& inputs, const DValueRefs& outputs,
                      const DValueRefs& grad_outputs, const OpContext* ctx,
                      const std::vector<bool>& need_grad,
                      std::vector<DValue>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const DValue& x = *inputs[0];
  const DValue& y = *outputs[0];
  OC_ASSIGN_OR_RETURN(const UnaryParams p,
                      ReadUnaryParams(cx, kKind, node, inputs));
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], y.shape));
  OC_ASSIGN_OR_RETURN(grad_inputs[0], cx.NewFloat(x.shape));
  OC_CUDA_RETURN_IF_ERROR(
      UnaryBackward(kKind, p, x.data(), y.data(), dy.data(),
                    grad_inputs[0].mutable_data(), x.numel(), cx.stream()),
      node.Describe(), ": UnaryBackward");
  return absl::OkStatus();
}

// --- identity-like ---

// dx = dy viewed in x's shape (Identity, Dropout).
absl::Status PassThroughBwd(CudaContext& cx, const Node& node,
                            const DValueRefs& inputs, const DValueRefs& outputs,
                            const DValueRefs& grad_outputs,
                            const OpContext* ctx,
                            const std::vector<bool>& need_grad,
                            std::vector<DValue>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], x.shape));
  if (dy.numel() != x.numel()) {
    return CudaNodeError(
        node, absl::StrCat("gradient of shape ", ShapeToString(dy.shape),
                           " does not match input ", ShapeToString(x.shape)));
  }
  grad_inputs[0] = dy.Reshaped(x.shape);
  return absl::OkStatus();
}

absl::Status IdentityFwd(CudaContext& cx, const Node& node,
                         const DValueRefs& inputs, std::vector<DValue>& outputs,
                         std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  outputs[0] = *inputs[0];
  return absl::OkStatus();
}

// Dropout at inference: y = x; the optional mask is all "kept" (ones of x's
// type before opset 10, bool true after). training_mode = true is rejected as
// on the CPU.
absl::Status DropoutFwd(CudaContext& cx, const Node& node,
                        const DValueRefs& inputs, std::vector<DValue>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  if (node.opset >= 12 && HasInput(inputs, 2)) {
    OC_ASSIGN_OR_RETURN(const double training,
                        ReadScalar(cx, node, *inputs[2]));
    if (training != 0.0) {
      return absl::UnimplementedError(absl::StrCat(
          node.Describe(),
          ": training_mode = true is not supported (inference only)"));
    }
  }
  outputs[0] = x;
  if (outputs.size() > 1 && node.outputs.size() > 1 &&
      !node.outputs[1].empty()) {
    if (node.opset < 10) {
      OC_ASSIGN_OR_RETURN(outputs[1], cx.NewFloat(x.shape));
      OC_CUDA_RETURN_IF_ERROR(
          Fill(outputs[1].mutable_data(), 1.0f, x.numel(), cx.stream()),
          node.Describe(), ": Fill");
    } else {
      Tensor mask(DType::kBool, x.shape);
      bool* p = mask.mutable_data<bool>();
      for (int64_t i = 0; i < mask.numel(); ++i) p[i] = true;
      outputs[1].dtype = DType::kBool;
      outputs[1].shape = x.shape;
      outputs[1].host = std::move(mask);
    }
  }
  return absl::OkStatus();
}

template <UnaryKind kKind>
CudaKernel Unary(const char* op_type, int since, int until = 1000) {
  return Def(op_type, since, until, &UnaryFwd<kKind>, &UnaryBwd<kKind>);
}

template <BinaryKind kKind>
CudaKernel Binary(const char* op_type) {
  return Def(op_type, 7, 1000, &BinaryFwd<kKind>, &BinaryBwd<kKind>);
}

}  // namespace

void AddCudaElementwiseOps(std::vector<CudaKernel>& ops) {
  ops.push_back(Binary<BinaryKind::kAdd>("Add"));
  ops.push_back(Binary<BinaryKind::kSub>("Sub"));
  ops.push_back(Binary<BinaryKind::kMul>("Mul"));
  ops.push_back(Binary<BinaryKind::kDiv>("Div"));
  ops.push_back(Unary<UnaryKind::kRelu>("Relu", 6));
  ops.push_back(Unary<UnaryKind::kLeakyRelu>("LeakyRelu", 6));
  ops.push_back(Unary<UnaryKind::kSigmoid>("Sigmoid", 6));
  ops.push_back(Unary<UnaryKind::kTanh>("Tanh", 6));
  ops.push_back(Unary<UnaryKind::kClip>("Clip", 6));
  ops.push_back(Unary<UnaryKind::kHardSigmoid>("HardSigmoid", 6));
  ops.push_back(Unary<UnaryKind::kHardSwish>("HardSwish", 14));
  ops.push_back(Def("Dropout", 7, 1000, &DropoutFwd, &PassThroughBwd));
  ops.push_back(Def("Identity", 1, 1000, &IdentityFwd, &PassThroughBwd));
}

}  // namespace onnx_crypt::cuda
