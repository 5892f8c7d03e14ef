// The Conv chains of conv_fused.h: recognising them by op type and
// attributes, and turning the steps after Conv into one oneDNN epilogue.
// Why fuse: at batch 256 the element-wise steps after a Conv each stream its
// output through memory once more (and the Conv already reorders it out of
// oneDNN's blocked layout); as post-ops they act on the values while they are
// in registers.
#include "onnx_crypt/ops/cpu/conv_fused.h"

#include <atomic>
#include <string>

#include "onnx_crypt/base/status.h"

namespace onnx_crypt::cpu {

namespace {

std::atomic<int64_t> fused_chains{0};
std::atomic<int64_t> channels_last_chains{0};

bool Is(const Node* node, const char* type) {
  return node != nullptr && node->domain.empty() && node->op_type == type;
}

// BatchNormalization in inference form, with one output.
bool IsInferenceBatchNorm(const Node* node) {
  return Is(node, "BatchNormalization") && node->outputs.size() == 1 &&
         node->inputs.size() == 5 && node->GetInt("training_mode", 0) == 0 &&
         node->GetInt("spatial", 1) == 1;
}

}  // namespace

size_t ConvChainLength(const std::vector<const Node*>& nodes) {
  if (nodes.empty() || !Is(nodes[0], "Conv")) return 1;
  size_t n = 1;
  auto at = [&](size_t i) { return i < nodes.size() ? nodes[i] : nullptr; };
  if (IsInferenceBatchNorm(at(n))) ++n;
  if (Is(at(n), "Add") && at(n)->inputs.size() == 2) ++n;
  if (Is(at(n), "Relu") || Is(at(n), "LeakyRelu")) ++n;
  if ((Is(at(n), "MaxPool") && at(n)->outputs.size() == 1) ||
      Is(at(n), "AveragePool") || Is(at(n), "GlobalAveragePool")) {
    ++n;
  }
  return n;
}

absl::StatusOr<bool> ForwardConvChain(const std::vector<const Node*>& nodes,
                                      const std::vector<TensorRefs>& inputs,
                                      const ChainLayouts& layouts, Tensor* y,
                                      bool* y_nhwc) {
  if (nodes.empty() || inputs.size() != nodes.size()) return false;
  if (inputs[0].empty() || inputs[0][0] == nullptr) return false;
  const bool four_d = inputs[0][0]->shape().size() == 4;
  if (nodes.size() == 1 && !layouts.x_nhwc && !layouts.y_nhwc) return false;
  ConvEpilogue epilogue;
  epilogue.x_nhwc = layouts.x_nhwc;
  epilogue.y_nhwc = layouts.y_nhwc && four_d;
  // BatchNormalization's checks read X's type and shape only: a 1 x C
  // stand-in serves them (ConvForwardFused then checks that C is the Conv's
  // output channel count).
  Tensor bn_x;
  bool addend_nhwc = false;
  for (size_t i = 1; i < nodes.size(); ++i) {
    const Node& node = *nodes[i];
    const TensorRefs& in = inputs[i];
    if (node.op_type == "BatchNormalization") {
      if (i != 1 || in.size() != 5 || in[0] != nullptr) return false;
      TensorRefs bn = in;
      for (size_t k = 1; k < bn.size(); ++k) {
        if (bn[k] == nullptr || bn[k]->dtype() != DType::kFloat32) {
          return false;
        }
      }
      bn_x = Tensor::Uninitialized(DType::kFloat32, {1, bn[1]->numel()});
      bn[0] = &bn_x;
      OC_RETURN_IF_ERROR(BatchNormFloatCoefficients(node, bn, &epilogue.scale,
                                                    &epilogue.shift));
    } else if (node.op_type == "Add") {
      if (in.size() != 2 || (in[0] == nullptr) == (in[1] == nullptr)) {
        return false;
      }
      epilogue.addend = in[0] != nullptr ? in[0] : in[1];
      addend_nhwc = layouts.addend_nhwc;
    } else if (node.op_type == "Relu") {
      if (in.size() != 1 || in[0] != nullptr) return false;
      epilogue.relu = true;
    } else if (node.op_type == "LeakyRelu") {
      if (in.size() != 1 || in[0] != nullptr) return false;
      epilogue.relu = true;
      epilogue.relu_alpha = node.GetFloat("alpha", 0.01f);
    } else if (node.op_type == "MaxPool" || node.op_type == "AveragePool" ||
               node.op_type == "GlobalAveragePool") {
      if (i + 1 != nodes.size() || in.size() != 1 || in[0] != nullptr) {
        return false;
      }
      epilogue.pool = &node;
    } else {
      return false;
    }
  }
  Tensor addend;  // the addend in the output's layout, where it was not
  if (epilogue.addend != nullptr && addend_nhwc != epilogue.y_nhwc) {
    if (epilogue.addend->dtype() != DType::kFloat32 ||
        epilogue.addend->shape().size() != 4) {
      return false;
    }
    OC_ASSIGN_OR_RETURN(
        addend, ChangeChannelsLayout(*epilogue.addend, epilogue.y_nhwc));
    epilogue.addend = &addend;
  }
  OC_ASSIGN_OR_RETURN(const bool fused,
                      ConvForwardFused(*nodes[0], inputs[0], epilogue, y));
  if (!fused) return false;
  if (nodes.size() > 1) fused_chains.fetch_add(1, std::memory_order_relaxed);
  if (epilogue.x_nhwc || epilogue.y_nhwc || addend_nhwc) {
    channels_last_chains.fetch_add(1, std::memory_order_relaxed);
  }
  *y_nhwc = epilogue.y_nhwc && !(epilogue.pool != nullptr &&
                                 epilogue.pool->op_type == "GlobalAveragePool");
  return true;
}

int64_t FusedConvChainCount() {
  return fused_chains.load(std::memory_order_relaxed);
}

int64_t ChannelsLastChainCount() {
  return channels_last_chains.load(std::memory_order_relaxed);
}

}  // namespace onnx_crypt::cpu
