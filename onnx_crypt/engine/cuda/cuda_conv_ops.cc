// Conv on the GPU. Semantics are those of ops/cpu/conv.cc; window geometry
// comes from the same code (ops/cpu/pool_util.h).
//
// Conv (cuDNN): Y = conv(X, W) + B per group; dX = backward data, dW =
// backward filter, dB = dY summed over N and space. Only deterministic
// algorithms are tried, in order (forward IMPLICIT_PRECOMP_GEMM, IMPLICIT_GEMM,
// GEMM; backward data and filter ALGO_1; then FFT_TILING and
// WINOGRAD_NONFUSED as fallbacks), the first one cuDNN accepts is used, and
// the descriptors ask for plain FMA math (no TF32). 1-D convs run
// as 2-D with a unit height. cuDNN pads symmetrically only, so asymmetric pads
// (explicit or SAME_*) are applied by a zero-padding copy of X first and dX is
// cropped back from the gradient of that copy.
#include <climits>
#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "cuda/kernels.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cuda/cuda_ops.h"
#include "onnx_crypt/ops/cpu/pool_util.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cuda {

namespace {

using cpu::kMaxSpatialRank;
using cpu::WindowGeometry;

// ============================== Conv ==============================

// Runs run_fn(algo, workspace, bytes) with the first algorithm of `algos` that
// cuDNN accepts (size_fn(algo, &bytes) succeeds and the call is not
// NOT_SUPPORTED): the choice depends only on the shapes, so it is the same on
// every call. Unimplemented naming the node when no listed algorithm works.
template <typename Algo, typename SizeFn, typename RunFn>
absl::Status RunFirstSupported(CudaContext& cx, const Node& node,
                               const char* what,
                               std::initializer_list<Algo> algos,
                               SizeFn size_fn, RunFn run_fn) {
  cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
  for (Algo algo : algos) {
    size_t bytes = 0;
    last = size_fn(algo, &bytes);
    if (last != CUDNN_STATUS_SUCCESS) continue;
    OC_ASSIGN_OR_RETURN(void* ws, cx.Workspace(bytes));
    last = run_fn(algo, ws, bytes);
    if (last != CUDNN_STATUS_NOT_SUPPORTED) break;
  }
  if (last == CUDNN_STATUS_NOT_SUPPORTED) {
    return absl::UnimplementedError(
        absl::StrCat(node.Describe(), ": no deterministic cuDNN algorithm ",
                     "supports this convolution (", what, ")"));
  }
  return CudnnStatus(last, absl::StrCat(node.Describe(), ": ", what));
}

struct ConvSetup {
  WindowGeometry g;
  int64_t group = 1;
  int64_t out_channels = 0;
  bool explicit_pad = false;       // X is padded by a copy (asymmetric pads)
  Shape padded_shape;              // X's shape after that copy
  std::vector<int64_t> pad_begin;  // per dimension of X, for the copy
  Shape y_shape;
  TensorDescriptor x_desc, y_desc;
  FilterDescriptor w_desc;
  ConvolutionDescriptor conv_desc;
};

absl::StatusOr<ConvSetup> MakeConvSetup(const Node& node, const DValue& x,
                                        const DValue& w, const DValue* b) {
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (rank < 3 || w.shape.size() != x.shape.size()) {
    return CudaNodeError(node, absl::StrCat("X ", ShapeToString(x.shape),
                                            " and W ", ShapeToString(w.shape),
                                            " must have the same rank >= 3"));
  }
  ConvSetup s;
  s.group = node.GetInt("group", 1);
  const int64_t in_channels = x.shape[1];
  s.out_channels = w.shape[0];
  if (s.group < 1 || in_channels % s.group != 0 ||
      s.out_channels % s.group != 0 || w.shape[1] * s.group != in_channels) {
    return CudaNodeError(node,
                         absl::StrCat("group ", s.group, " does not fit X ",
                                      ShapeToString(x.shape), " and W ",
                                      ShapeToString(w.shape)));
  }
  const std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  if (node.HasAttr("kernel_shape") &&
      node.GetInts("kernel_shape", {}) != kernel) {
    return CudaNodeError(node, "kernel_shape does not match W");
  }
  if (b != nullptr && b->defined() && b->numel() != s.out_channels) {
    return CudaNodeError(
        node, absl::StrCat("B must have ", s.out_channels, " elements"));
  }
  OC_ASSIGN_OR_RETURN(
      s.g, cpu::MakeWindowGeometry(node, x.shape, kernel, /*ceil_mode=*/false));
  const WindowGeometry& g = s.g;
  const int ns = std::max(2, g.spatial_rank);  // cuDNN wants >= 2 spatial dims
  const int first = kMaxSpatialRank - ns;
  for (int i = first; i < kMaxSpatialRank; ++i)
    s.explicit_pad |= g.pad_begin[i] != g.pad_end[i];
  s.padded_shape = x.shape;
  s.pad_begin.assign(x.shape.size(), 0);
  if (s.explicit_pad) {
    for (int i = 0; i < g.spatial_rank; ++i) {
      const int slot = kMaxSpatialRank - g.spatial_rank + i;
      s.padded_shape[2 + i] += g.pad_begin[slot] + g.pad_end[slot];
      s.pad_begin[2 + i] = g.pad_begin[slot];
    }
  }
  s.y_shape = g.OutputShape(s.out_channels);

  std::vector<int> x_dims, w_dims, y_dims, pads, strides, dilations;
  OC_ASSIGN_OR_RETURN(int n, ToInt(node, g.batch));
  OC_ASSIGN_OR_RETURN(int c, ToInt(node, in_channels));
  OC_ASSIGN_OR_RETURN(int m, ToInt(node, s.out_channels));
  OC_ASSIGN_OR_RETURN(int cg, ToInt(node, w.shape[1]));
  x_dims = {n, c};
  w_dims = {m, cg};
  y_dims = {n, m};
  for (int i = first; i < kMaxSpatialRank; ++i) {
    const int64_t in =
        g.in[i] + (s.explicit_pad ? g.pad_begin[i] + g.pad_end[i] : 0);
    OC_ASSIGN_OR_RETURN(int in_i, ToInt(node, in));
    OC_ASSIGN_OR_RETURN(int k_i, ToInt(node, g.kernel[i]));
    OC_ASSIGN_OR_RETURN(int out_i, ToInt(node, g.out[i]));
    OC_ASSIGN_OR_RETURN(int pad_i,
                        ToInt(node, s.explicit_pad ? 0 : g.pad_begin[i]));
    OC_ASSIGN_OR_RETURN(int stride_i, ToInt(node, g.stride[i]));
    OC_ASSIGN_OR_RETURN(int dil_i, ToInt(node, g.dilation[i]));
    x_dims.push_back(in_i);
    w_dims.push_back(k_i);
    y_dims.push_back(out_i);
    pads.push_back(pad_i);
    strides.push_back(stride_i);
    dilations.push_back(dil_i);
  }
  const std::string where = node.Describe();
  OC_ASSIGN_OR_RETURN(s.x_desc, CreateTensorDescriptor(x_dims));
  OC_ASSIGN_OR_RETURN(s.y_desc, CreateTensorDescriptor(y_dims));
  OC_ASSIGN_OR_RETURN(s.w_desc, CreateFilterDescriptor(w_dims));
  OC_ASSIGN_OR_RETURN(s.conv_desc,
                      CreateConvolutionDescriptor(pads, strides, dilations,
                                                  static_cast<int>(s.group)));
  std::vector<int> cudnn_out(y_dims.size());
  OC_CUDNN_RETURN_IF_ERROR(
      cudnnGetConvolutionNdForwardOutputDim(
          s.conv_desc.get(), s.x_desc.get(), s.w_desc.get(),
          static_cast<int>(cudnn_out.size()), cudnn_out.data()),
      where, ": cudnnGetConvolutionNdForwardOutputDim");
  if (cudnn_out != y_dims) {
    return absl::InternalError(
        absl::StrCat(where, ": cuDNN's output shape differs from ONNX's ",
                     ShapeToString(s.y_shape)));
  }
  return s;
}

struct ConvContext : OpContext {
  DValue x_used;  // X as cuDNN read it (the padded copy when explicit_pad)
};

absl::StatusOr<DValue> PaddedInput(CudaContext& cx, const Node& node,
                                   const ConvSetup& s, const DValue& x) {
  if (!s.explicit_pad) return x;
  OC_ASSIGN_OR_RETURN(DValue padded, cx.NewFloat(s.padded_shape));
  OC_CUDA_RETURN_IF_ERROR(
      PadForward(x.data(), x.shape.data(), static_cast<int>(x.shape.size()),
                 s.pad_begin.data(), s.padded_shape.data(), PadMode::kConstant,
                 0.0f, padded.mutable_data(), cx.stream()),
      node.Describe(), ": PadForward");
  return padded;
}

absl::Status ConvFwd(CudaContext& cx, const Node& node,
                     const DValueRefs& inputs, std::vector<DValue>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 1));
  const bool has_b = HasInput(inputs, 2);
  if (has_b) OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 2));
  const DValue& x = *inputs[0];
  const DValue& w = *inputs[1];
  OC_ASSIGN_OR_RETURN(ConvSetup s,
                      MakeConvSetup(node, x, w, has_b ? inputs[2] : nullptr));
  auto context = std::make_unique<ConvContext>();
  OC_ASSIGN_OR_RETURN(context->x_used, PaddedInput(cx, node, s, x));
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(s.y_shape));
  const std::string where = node.Describe();
  const float one = 1.0f, zero = 0.0f;
  // All forward algorithms are deterministic; the GEMM-based ones round like
  // a plain dot product, the FFT/Winograd ones are fallbacks.
  OC_RETURN_IF_ERROR(RunFirstSupported<cudnnConvolutionFwdAlgo_t>(
      cx, node, "cudnnConvolutionForward",
      {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
       CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
       CUDNN_CONVOLUTION_FWD_ALGO_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,
       CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED},
      [&](cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(
            cx.cudnn(), s.x_desc.get(), s.w_desc.get(), s.conv_desc.get(),
            s.y_desc.get(), algo, bytes);
      },
      [&](cudnnConvolutionFwdAlgo_t algo, void* ws, size_t bytes) {
        return cudnnConvolutionForward(
            cx.cudnn(), &one, s.x_desc.get(), context->x_used.data(),
            s.w_desc.get(), w.data(), s.conv_desc.get(), algo, ws, bytes, &zero,
            s.y_desc.get(), y.mutable_data());
      }));
  if (has_b) {
    const int64_t out_size = s.g.OutSize();
    OC_CUDA_RETURN_IF_ERROR(
        ChannelAffine(y.data(), nullptr, inputs[2]->data(), s.out_channels,
                      out_size, y.mutable_data(), y.numel(), cx.stream()),
        where, ": ChannelAffine (bias)");
  }
  outputs[0] = std::move(y);
  *ctx = std::move(context);
  return absl::OkStatus();
}

absl::Status ConvBwd(CudaContext& cx, const Node& node,
                     const DValueRefs& inputs, const DValueRefs& outputs,
                     const DValueRefs& grad_outputs, const OpContext* ctx,
                     const std::vector<bool>& need_grad,
                     std::vector<DValue>& grad_inputs) {
  const DValue& x = *inputs[0];
  const DValue& w = *inputs[1];
  const bool has_b = HasInput(inputs, 2);
  OC_ASSIGN_OR_RETURN(ConvSetup s,
                      MakeConvSetup(node, x, w, has_b ? inputs[2] : nullptr));
  const bool need_dx = !need_grad.empty() && need_grad[0];
  const bool need_dw = need_grad.size() > 1 && need_grad[1];
  const bool need_db = has_b && need_grad.size() > 2 && need_grad[2];
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], s.y_shape));
  const std::string where = node.Describe();
  const float one = 1.0f, zero = 0.0f;
  if (need_db) {
    Shape per_channel(s.y_shape.size(), 1);
    per_channel[1] = s.out_channels;
    OC_ASSIGN_OR_RETURN(DValue db, ReduceTo(cx, node, dy, per_channel));
    grad_inputs[2] = db.Reshaped(inputs[2]->shape);
  }
  if (need_dw) {
    DValue x_used;
    const auto* c = dynamic_cast<const ConvContext*>(ctx);
    if (c != nullptr && c->x_used.defined()) {
      x_used = c->x_used;
    } else {
      OC_ASSIGN_OR_RETURN(x_used, PaddedInput(cx, node, s, x));
    }
    OC_ASSIGN_OR_RETURN(DValue dw, cx.NewFloat(w.shape));
    // ALGO_0 and ALGO_3 are non-deterministic (they accumulate with atomics).
    OC_RETURN_IF_ERROR(RunFirstSupported<cudnnConvolutionBwdFilterAlgo_t>(
        cx, node, "cudnnConvolutionBackwardFilter",
        {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
         CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING,
         CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED},
        [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
          return cudnnGetConvolutionBackwardFilterWorkspaceSize(
              cx.cudnn(), s.x_desc.get(), s.y_desc.get(), s.conv_desc.get(),
              s.w_desc.get(), algo, bytes);
        },
        [&](cudnnConvolutionBwdFilterAlgo_t algo, void* ws, size_t bytes) {
          return cudnnConvolutionBackwardFilter(
              cx.cudnn(), &one, s.x_desc.get(), x_used.data(), s.y_desc.get(),
              dy.data(), s.conv_desc.get(), algo, ws, bytes, &zero,
              s.w_desc.get(), dw.mutable_data());
        }));
    grad_inputs[1] = std::move(dw);
  }
  if (need_dx) {
    OC_ASSIGN_OR_RETURN(DValue dx_used, cx.NewFloat(s.padded_shape));
    // ALGO_0 is non-deterministic (it accumulates with atomics).
    OC_RETURN_IF_ERROR(RunFirstSupported<cudnnConvolutionBwdDataAlgo_t>(
        cx, node, "cudnnConvolutionBackwardData",
        {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
         CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
         CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED},
        [&](cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
          return cudnnGetConvolutionBackwardDataWorkspaceSize(
              cx.cudnn(), s.w_desc.get(), s.y_desc.get(), s.conv_desc.get(),
              s.x_desc.get(), algo, bytes);
        },
        [&](cudnnConvolutionBwdDataAlgo_t algo, void* ws, size_t bytes) {
          return cudnnConvolutionBackwardData(
              cx.cudnn(), &one, s.w_desc.get(), w.data(), s.y_desc.get(),
              dy.data(), s.conv_desc.get(), algo, ws, bytes, &zero,
              s.x_desc.get(), dx_used.mutable_data());
        }));
    if (!s.explicit_pad) {
      grad_inputs[0] = std::move(dx_used);
    } else {
      // Crop the gradient of the padded copy back to X (a Pad with negative
      // begins).
      std::vector<int64_t> crop(s.pad_begin.size());
      for (size_t d = 0; d < crop.size(); ++d) crop[d] = -s.pad_begin[d];
      OC_ASSIGN_OR_RETURN(DValue dx, cx.NewFloat(x.shape));
      OC_CUDA_RETURN_IF_ERROR(
          PadForward(dx_used.data(), s.padded_shape.data(),
                     static_cast<int>(s.padded_shape.size()), crop.data(),
                     x.shape.data(), PadMode::kConstant, 0.0f,
                     dx.mutable_data(), cx.stream()),
          where, ": PadForward (crop)");
      grad_inputs[0] = std::move(dx);
    }
  }
  return absl::OkStatus();
}

}  // namespace

void AddCudaConvOps(std::vector<CudaKernel>& ops) {
  ops.push_back(Def("Conv", 7, 18, &ConvFwd, &ConvBwd));
}

}  // namespace onnx_crypt::cuda
