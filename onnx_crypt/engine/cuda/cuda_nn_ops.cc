// Neural-network CUDA ops. Semantics are those of the CPU files of the same
// names; window geometry comes from the same code (ops/cpu/pool_util.h).
//
// MaxPool always runs the gather kernels of cuda/pool.cu: cuDNN does not say
// which of several equal maxima receives the gradient, and the gradients that
// decide a key must not depend on that; the kernel takes the first maximum as
// the CPU reference does, and also serves ceil_mode, dilations and the Indices
// output. AveragePool uses cuDNN pooling when cuDNN can express the node
// (symmetric pads, no dilation, no ceil_mode) and the same kernels otherwise.
// GlobalAveragePool is a fixed-order mean (ReduceToShape). BatchNormalization
// (inference) is y = a[c] x + b[c] with a, b from the parameters in double;
// dscale and dB are per-channel fixed-order sums. Softmax and LogSoftmax use
// cuDNN softmax (accurate / log) over [outer, n, inner] as channels.
#include <climits>
#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "cuda/kernels.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cuda/cuda_ops.h"
#include "onnx_crypt/ops/batch_norm_checks.h"
#include "onnx_crypt/ops/cpu/pool_util.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cuda {

namespace {

using cpu::kMaxSpatialRank;
using cpu::WindowGeometry;

// ============================== pools ==============================

absl::StatusOr<WindowGeometry> PoolGeometryOf(const Node& node,
                                              const DValue& x) {
  OC_ASSIGN_OR_RETURN(std::vector<int64_t> kernel,
                      cpu::PoolKernelShape(node, x.shape));
  return cpu::MakeWindowGeometry(node, x.shape, kernel,
                                 node.GetInt("ceil_mode", 0) != 0);
}

PoolGeometry ToKernelGeometry(const WindowGeometry& g) {
  PoolGeometry p;
  p.planes = g.batch * g.channels;
  for (int i = 0; i < kMaxSpatialRank; ++i) {
    p.in[i] = g.in[i];
    p.out[i] = g.out[i];
    p.kernel[i] = g.kernel[i];
    p.stride[i] = g.stride[i];
    p.dilation[i] = g.dilation[i];
    p.pad_begin[i] = g.pad_begin[i];
    p.pad_end[i] = g.pad_end[i];
  }
  return p;
}

struct MaxPoolContext : OpContext {
  std::shared_ptr<DeviceBuffer> argmax;  // int64 per output element
};

absl::Status MaxPoolFwd(CudaContext& cx, const Node& node,
                        const DValueRefs& inputs, std::vector<DValue>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const WindowGeometry g, PoolGeometryOf(node, x));
  const Shape y_shape = g.OutputShape(g.channels);
  auto context = std::make_unique<MaxPoolContext>();
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(y_shape));
  OC_ASSIGN_OR_RETURN(
      context->argmax,
      cx.NewBytes(static_cast<size_t>(std::max<int64_t>(1, y.numel())) *
                  sizeof(int64_t)));
  const PoolGeometry pg = ToKernelGeometry(g);
  OC_CUDA_RETURN_IF_ERROR(
      MaxPoolForward(pg, x.data(), y.mutable_data(),
                     context->argmax->as<int64_t>(), cx.stream()),
      node.Describe(), ": MaxPoolForward");
  outputs[0] = std::move(y);
  if (outputs.size() > 1 && node.outputs.size() > 1 &&
      !node.outputs[1].empty()) {
    // Indices: the argmax as a flat index into X, the spatial part in
    // row-major (storage_order 0) or column-major (1) order.
    const int64_t storage_order = node.GetInt("storage_order", 0);
    if (storage_order != 0 && storage_order != 1) {
      return CudaNodeError(
          node,
          absl::StrCat("storage_order must be 0 or 1, got ", storage_order));
    }
    Tensor indices(DType::kInt64, y_shape);
    if (indices.nbytes() > 0) {
      OC_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(indices.mutable_raw(), context->argmax->data(),
                          indices.nbytes(), cudaMemcpyDeviceToHost,
                          cx.stream()),
          node.Describe(), ": cudaMemcpyAsync (indices)");
      OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(cx.stream()),
                              node.Describe(), ": cudaStreamSynchronize");
    }
    if (storage_order == 1) {
      const int64_t in_size = g.InSize();
      for (int64_t& flat : indices.mutable_span<int64_t>()) {
        if (flat < 0) continue;
        const int64_t nc = flat / in_size, rest = flat % in_size;
        const int64_t iw = rest % g.in[2], ih = (rest / g.in[2]) % g.in[1];
        const int64_t id = rest / (g.in[2] * g.in[1]);
        flat = nc * in_size + id + g.in[0] * (ih + g.in[1] * iw);
      }
    }
    outputs[1].dtype = DType::kInt64;
    outputs[1].shape = y_shape;
    outputs[1].host = std::move(indices);
  }
  *ctx = std::move(context);
  return absl::OkStatus();
}

absl::Status MaxPoolBwd(CudaContext& cx, const Node& node,
                        const DValueRefs& inputs, const DValueRefs& outputs,
                        const DValueRefs& grad_outputs, const OpContext* ctx,
                        const std::vector<bool>& need_grad,
                        std::vector<DValue>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const WindowGeometry g, PoolGeometryOf(node, x));
  const PoolGeometry pg = ToKernelGeometry(g);
  const Shape y_shape = g.OutputShape(g.channels);
  if (grad_outputs[0] == nullptr || !grad_outputs[0]->defined()) {
    OC_ASSIGN_OR_RETURN(grad_inputs[0], cx.Zeros(x.shape));
    return absl::OkStatus();
  }
  const DValue& dy = *grad_outputs[0];
  std::shared_ptr<DeviceBuffer> argmax;
  if (const auto* c = dynamic_cast<const MaxPoolContext*>(ctx); c != nullptr) {
    argmax = c->argmax;
  } else {
    OC_ASSIGN_OR_RETURN(DValue scratch, cx.NewFloat(y_shape));
    OC_ASSIGN_OR_RETURN(
        argmax, cx.NewBytes(static_cast<size_t>(
                                std::max<int64_t>(1, NumElements(y_shape))) *
                            sizeof(int64_t)));
    OC_CUDA_RETURN_IF_ERROR(MaxPoolForward(pg, x.data(), scratch.mutable_data(),
                                           argmax->as<int64_t>(), cx.stream()),
                            node.Describe(), ": MaxPoolForward");
  }
  OC_ASSIGN_OR_RETURN(DValue dx, cx.NewFloat(x.shape));
  OC_CUDA_RETURN_IF_ERROR(MaxPoolBackward(pg, dy.data(), argmax->as<int64_t>(),
                                          dx.mutable_data(), cx.stream()),
                          node.Describe(), ": MaxPoolBackward");
  grad_inputs[0] = std::move(dx);
  return absl::OkStatus();
}

// cuDNN average pooling for nodes it expresses exactly: no ceil_mode, no
// dilation, symmetric pads.
struct CudnnPool {
  PoolingDescriptor pool_desc;
  TensorDescriptor x_desc, y_desc;
};

absl::StatusOr<bool> MakeCudnnAveragePool(const Node& node,
                                          const WindowGeometry& g,
                                          bool include_pad, CudnnPool* out) {
  if (node.GetInt("ceil_mode", 0) != 0) return false;
  const int ns = std::max(2, g.spatial_rank);
  const int first = kMaxSpatialRank - ns;
  std::vector<int> window, pads, strides, x_dims, y_dims;
  OC_ASSIGN_OR_RETURN(int n, ToInt(node, g.batch));
  OC_ASSIGN_OR_RETURN(int c, ToInt(node, g.channels));
  x_dims = {n, c};
  y_dims = {n, c};
  for (int i = first; i < kMaxSpatialRank; ++i) {
    if (g.dilation[i] != 1 || g.pad_begin[i] != g.pad_end[i]) return false;
    if (g.pad_begin[i] >= g.kernel[i]) return false;  // cuDNN rejects it
    OC_ASSIGN_OR_RETURN(int k, ToInt(node, g.kernel[i]));
    OC_ASSIGN_OR_RETURN(int p, ToInt(node, g.pad_begin[i]));
    OC_ASSIGN_OR_RETURN(int s, ToInt(node, g.stride[i]));
    OC_ASSIGN_OR_RETURN(int in, ToInt(node, g.in[i]));
    OC_ASSIGN_OR_RETURN(int o, ToInt(node, g.out[i]));
    window.push_back(k);
    pads.push_back(p);
    strides.push_back(s);
    x_dims.push_back(in);
    y_dims.push_back(o);
  }
  OC_ASSIGN_OR_RETURN(out->pool_desc, CreateAveragePoolingDescriptor(
                                          include_pad, window, pads, strides));
  OC_ASSIGN_OR_RETURN(out->x_desc, CreateTensorDescriptor(x_dims));
  OC_ASSIGN_OR_RETURN(out->y_desc, CreateTensorDescriptor(y_dims));
  std::vector<int> cudnn_out(y_dims.size());
  if (cudnnGetPoolingNdForwardOutputDim(out->pool_desc.get(), out->x_desc.get(),
                                        static_cast<int>(cudnn_out.size()),
                                        cudnn_out.data()) !=
          CUDNN_STATUS_SUCCESS ||
      cudnn_out != y_dims) {
    return false;  // the kernels handle it
  }
  return true;
}

absl::Status AveragePoolFwd(CudaContext& cx, const Node& node,
                            const DValueRefs& inputs,
                            std::vector<DValue>& outputs,
                            std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const WindowGeometry g, PoolGeometryOf(node, x));
  const bool include_pad = node.GetInt("count_include_pad", 0) != 0;
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(g.OutputShape(g.channels)));
  CudnnPool pool;
  OC_ASSIGN_OR_RETURN(const bool use_cudnn,
                      MakeCudnnAveragePool(node, g, include_pad, &pool));
  if (use_cudnn) {
    const float one = 1.0f, zero = 0.0f;
    OC_CUDNN_RETURN_IF_ERROR(
        cudnnPoolingForward(cx.cudnn(), pool.pool_desc.get(), &one,
                            pool.x_desc.get(), x.data(), &zero,
                            pool.y_desc.get(), y.mutable_data()),
        node.Describe(), ": cudnnPoolingForward");
  } else {
    OC_CUDA_RETURN_IF_ERROR(
        AveragePoolForward(ToKernelGeometry(g), include_pad, x.data(),
                           y.mutable_data(), cx.stream()),
        node.Describe(), ": AveragePoolForward");
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status AveragePoolBwd(CudaContext& cx, const Node& node,
                            const DValueRefs& inputs, const DValueRefs& outputs,
                            const DValueRefs& grad_outputs,
                            const OpContext* ctx,
                            const std::vector<bool>& need_grad,
                            std::vector<DValue>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const WindowGeometry g, PoolGeometryOf(node, x));
  const bool include_pad = node.GetInt("count_include_pad", 0) != 0;
  if (grad_outputs[0] == nullptr || !grad_outputs[0]->defined()) {
    OC_ASSIGN_OR_RETURN(grad_inputs[0], cx.Zeros(x.shape));
    return absl::OkStatus();
  }
  const DValue& dy = *grad_outputs[0];
  OC_ASSIGN_OR_RETURN(DValue dx, cx.NewFloat(x.shape));
  CudnnPool pool;
  OC_ASSIGN_OR_RETURN(const bool use_cudnn,
                      MakeCudnnAveragePool(node, g, include_pad, &pool));
  if (use_cudnn) {
    const float one = 1.0f, zero = 0.0f;
    OC_CUDNN_RETURN_IF_ERROR(
        cudnnPoolingBackward(
            cx.cudnn(), pool.pool_desc.get(), &one, pool.y_desc.get(),
            outputs[0]->data(), pool.y_desc.get(), dy.data(), pool.x_desc.get(),
            x.data(), &zero, pool.x_desc.get(), dx.mutable_data()),
        node.Describe(), ": cudnnPoolingBackward");
  } else {
    OC_CUDA_RETURN_IF_ERROR(
        AveragePoolBackward(ToKernelGeometry(g), include_pad, dy.data(),
                            dx.mutable_data(), cx.stream()),
        node.Describe(), ": AveragePoolBackward");
  }
  grad_inputs[0] = std::move(dx);
  return absl::OkStatus();
}

// Y[n, c] = mean of X[n, c, ...];  dX[n, c, i] = dY[n, c] / S.
absl::Status GlobalAveragePoolFwd(CudaContext& cx, const Node& node,
                                  const DValueRefs& inputs,
                                  std::vector<DValue>& outputs,
                                  std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  if (x.shape.size() < 2) {
    return CudaNodeError(node, absl::StrCat("input ", ShapeToString(x.shape),
                                            " must be N x C x spatial dims"));
  }
  Shape y_shape = x.shape;
  int64_t size = 1;
  for (size_t i = 2; i < y_shape.size(); ++i) {
    size *= y_shape[i];
    y_shape[i] = 1;
  }
  if (size == 0) {
    OC_ASSIGN_OR_RETURN(outputs[0], cx.Zeros(y_shape));
    return absl::OkStatus();
  }
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(y_shape));
  OC_CUDA_RETURN_IF_ERROR(
      ReduceToShape(x.data(), x.shape.data(), static_cast<int>(x.shape.size()),
                    y.mutable_data(), y_shape.data(),
                    static_cast<int>(y_shape.size()),
                    1.0 / static_cast<double>(size), cx.stream()),
      node.Describe(), ": ReduceToShape");
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status GlobalAveragePoolBwd(CudaContext& cx, const Node& node,
                                  const DValueRefs& inputs,
                                  const DValueRefs& outputs,
                                  const DValueRefs& grad_outputs,
                                  const OpContext* ctx,
                                  const std::vector<bool>& need_grad,
                                  std::vector<DValue>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const DValue& x = *inputs[0];
  int64_t size = 1;
  for (size_t i = 2; i < x.shape.size(); ++i) size *= x.shape[i];
  if (grad_outputs[0] == nullptr || !grad_outputs[0]->defined() || size == 0) {
    OC_ASSIGN_OR_RETURN(grad_inputs[0], cx.Zeros(x.shape));
    return absl::OkStatus();
  }
  const DValue& dy = *grad_outputs[0];
  OC_ASSIGN_OR_RETURN(DValue dx, cx.NewFloat(x.shape));
  OC_CUDA_RETURN_IF_ERROR(
      BroadcastTo(
          dy.data(), dy.shape.data(), static_cast<int>(dy.shape.size()),
          dx.mutable_data(), x.shape.data(), static_cast<int>(x.shape.size()),
          static_cast<float>(1.0 / static_cast<double>(size)), cx.stream()),
      node.Describe(), ": BroadcastTo");
  grad_inputs[0] = std::move(dx);
  return absl::OkStatus();
}

// ============================== BatchNormalization
// ==============================

struct BnSetup {
  int64_t batch = 0, channels = 0, inner = 0;
};

struct BnContext : OpContext {
  std::shared_ptr<DeviceBuffer>
      coef;  // a[C], b[C] (float), inv_std[C] (double)
};

absl::StatusOr<BnSetup> MakeBnSetup(const Node& node,
                                    const DValueRefs& inputs) {
  std::vector<InputType> types;
  for (const DValue* v : inputs) types.push_back({v->dtype, v->shape});
  OC_ASSIGN_OR_RETURN(const BatchNormGeometry g, CheckBatchNorm(node, types));
  for (size_t i = 0; i < 5; ++i)
    OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, i));
  BnSetup s;
  s.batch = g.batch;
  s.channels = g.channels;
  s.inner = g.inner;
  return s;
}

absl::StatusOr<std::shared_ptr<DeviceBuffer>> BnCoefficients(
    CudaContext& cx, const Node& node, const DValueRefs& inputs,
    const BnSetup& s) {
  const int64_t c = std::max<int64_t>(1, s.channels);
  OC_ASSIGN_OR_RETURN(std::shared_ptr<DeviceBuffer> coef,
                      cx.NewBytes(static_cast<size_t>(c) *
                                  (2 * sizeof(float) + sizeof(double))));
  float* a = coef->as<float>();
  double* inv_std = reinterpret_cast<double*>(a + 2 * c);
  OC_CUDA_RETURN_IF_ERROR(
      BatchNormCoefficients(
          inputs[1]->data(), inputs[2]->data(), inputs[3]->data(),
          inputs[4]->data(),
          static_cast<double>(node.GetFloat("epsilon", 1e-5f)), s.channels, a,
          a + c, inv_std, cx.stream()),
      node.Describe(), ": BatchNormCoefficients");
  return coef;
}

absl::Status BatchNormFwd(CudaContext& cx, const Node& node,
                          const DValueRefs& inputs,
                          std::vector<DValue>& outputs,
                          std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const BnSetup s, MakeBnSetup(node, inputs));
  auto context = std::make_unique<BnContext>();
  OC_ASSIGN_OR_RETURN(context->coef, BnCoefficients(cx, node, inputs, s));
  const int64_t c = std::max<int64_t>(1, s.channels);
  const float* a = context->coef->as<float>();
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(x.shape));
  OC_CUDA_RETURN_IF_ERROR(
      ChannelAffine(x.data(), a, a + c, s.channels, s.inner, y.mutable_data(),
                    x.numel(), cx.stream()),
      node.Describe(), ": ChannelAffine");
  outputs[0] = std::move(y);
  *ctx = std::move(context);
  return absl::OkStatus();
}

absl::Status BatchNormBwd(CudaContext& cx, const Node& node,
                          const DValueRefs& inputs, const DValueRefs& outputs,
                          const DValueRefs& grad_outputs, const OpContext* ctx,
                          const std::vector<bool>& need_grad,
                          std::vector<DValue>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const BnSetup s, MakeBnSetup(node, inputs));
  const DValue& x = *inputs[0];
  std::shared_ptr<DeviceBuffer> coef;
  if (const auto* c = dynamic_cast<const BnContext*>(ctx); c != nullptr) {
    coef = c->coef;
  } else {
    OC_ASSIGN_OR_RETURN(coef, BnCoefficients(cx, node, inputs, s));
  }
  const int64_t c = std::max<int64_t>(1, s.channels);
  const float* a = coef->as<float>();
  const double* inv_std = reinterpret_cast<const double*>(a + 2 * c);
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], x.shape));
  const std::string where = node.Describe();
  if (need_grad[0]) {
    OC_ASSIGN_OR_RETURN(DValue dx, cx.NewFloat(x.shape));
    OC_CUDA_RETURN_IF_ERROR(
        ChannelAffine(dy.data(), a, nullptr, s.channels, s.inner,
                      dx.mutable_data(), x.numel(), cx.stream()),
        where, ": ChannelAffine");
    grad_inputs[0] = std::move(dx);
  }
  const bool need_scale = need_grad.size() > 1 && need_grad[1];
  const bool need_bias = need_grad.size() > 2 && need_grad[2];
  if (need_scale || need_bias) {
    DValue dscale, dbias;
    if (need_scale) {
      OC_ASSIGN_OR_RETURN(dscale, cx.NewFloat(inputs[1]->shape));
    }
    if (need_bias) {
      OC_ASSIGN_OR_RETURN(dbias, cx.NewFloat(inputs[2]->shape));
    }
    OC_CUDA_RETURN_IF_ERROR(
        BatchNormParamGrad(
            x.data(), dy.data(), inputs[3]->data(), inv_std, s.batch,
            s.channels, s.inner, need_scale ? dscale.mutable_data() : nullptr,
            need_bias ? dbias.mutable_data() : nullptr, cx.stream()),
        where, ": BatchNormParamGrad");
    if (need_scale) grad_inputs[1] = std::move(dscale);
    if (need_bias) grad_inputs[2] = std::move(dbias);
  }
  return absl::OkStatus();
}

// ============================== Softmax, LogSoftmax
// ==============================

// [outer, n, inner] as a cuDNN tensor (outer, n, inner, 1) normalized over its
// channels; before opset 13 the input is coerced to 2-D at `axis`.
absl::StatusOr<TensorDescriptor> SoftmaxDescriptor(const Node& node,
                                                   const Shape& shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  const bool coerce_2d = node.opset < 13;
  OC_ASSIGN_OR_RETURN(
      const int64_t axis,
      cpu::NormalizeAxis(node.GetInt("axis", coerce_2d ? 1 : -1), rank, node));
  int64_t outer = 1, n = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= shape[d];
  if (coerce_2d) {
    for (int64_t d = axis; d < rank; ++d) n *= shape[d];
  } else {
    n = shape[axis];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= shape[d];
  }
  OC_ASSIGN_OR_RETURN(int o, ToInt(node, outer));
  OC_ASSIGN_OR_RETURN(int c, ToInt(node, n));
  OC_ASSIGN_OR_RETURN(int i, ToInt(node, inner));
  return CreateTensorDescriptor({o, c, i, 1});
}

template <cudnnSoftmaxAlgorithm_t kAlgo>
absl::Status SoftmaxFwd(CudaContext& cx, const Node& node,
                        const DValueRefs& inputs, std::vector<DValue>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(x.shape));
  if (x.numel() > 0) {
    OC_ASSIGN_OR_RETURN(const TensorDescriptor desc,
                        SoftmaxDescriptor(node, x.shape));
    const float one = 1.0f, zero = 0.0f;
    OC_CUDNN_RETURN_IF_ERROR(
        cudnnSoftmaxForward(cx.cudnn(), kAlgo, CUDNN_SOFTMAX_MODE_CHANNEL, &one,
                            desc.get(), x.data(), &zero, desc.get(),
                            y.mutable_data()),
        node.Describe(), ": cudnnSoftmaxForward");
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

template <cudnnSoftmaxAlgorithm_t kAlgo>
absl::Status SoftmaxBwd(CudaContext& cx, const Node& node,
                        const DValueRefs& inputs, const DValueRefs& outputs,
                        const DValueRefs& grad_outputs, const OpContext* ctx,
                        const std::vector<bool>& need_grad,
                        std::vector<DValue>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const DValue& y = *outputs[0];
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], y.shape));
  OC_ASSIGN_OR_RETURN(DValue dx, cx.NewFloat(y.shape));
  if (y.numel() > 0) {
    OC_ASSIGN_OR_RETURN(const TensorDescriptor desc,
                        SoftmaxDescriptor(node, y.shape));
    const float one = 1.0f, zero = 0.0f;
    OC_CUDNN_RETURN_IF_ERROR(
        cudnnSoftmaxBackward(cx.cudnn(), kAlgo, CUDNN_SOFTMAX_MODE_CHANNEL,
                             &one, desc.get(), y.data(), desc.get(), dy.data(),
                             &zero, desc.get(), dx.mutable_data()),
        node.Describe(), ": cudnnSoftmaxBackward");
  }
  grad_inputs[0] = std::move(dx);
  return absl::OkStatus();
}

}  // namespace

void AddCudaNnOps(std::vector<CudaKernel>& ops) {
  ops.push_back(Def("MaxPool", 7, 18, &MaxPoolFwd, &MaxPoolBwd));
  ops.push_back(Def("AveragePool", 7, 18, &AveragePoolFwd, &AveragePoolBwd));
  ops.push_back(Def("GlobalAveragePool", 1, 18, &GlobalAveragePoolFwd,
                    &GlobalAveragePoolBwd));
  ops.push_back(Def("BatchNormalization", 7, 18, &BatchNormFwd, &BatchNormBwd));
  ops.push_back(Def("Softmax", 1, 1000, &SoftmaxFwd<CUDNN_SOFTMAX_ACCURATE>,
                    &SoftmaxBwd<CUDNN_SOFTMAX_ACCURATE>));
  ops.push_back(Def("LogSoftmax", 1, 1000, &SoftmaxFwd<CUDNN_SOFTMAX_LOG>,
                    &SoftmaxBwd<CUDNN_SOFTMAX_LOG>));
}

}  // namespace onnx_crypt::cuda
