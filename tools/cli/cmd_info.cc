// onnx-crypt info: what a model holds and what of it can be locked.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/api.h"
#include "tools/cli/commands.h"
#include "tools/cli/flags.h"
#include "tools/cli/json.h"

namespace onnx_crypt::cli {
namespace {

constexpr char kHelp[] =
    R"(usage: onnx-crypt info MODEL.onnx [--device cpu|cuda] [--json]

Prints the model's inputs and outputs with shapes, opsets, an op histogram, the parameter count,
and which tensors are eligible for locking (weights; biases only with lock --include-bias).
--device: also plans the graph for that engine and lists the nodes that do not run on its own
kernels: on cuda, int64 shape arithmetic runs on the host and ops without a CUDA kernel run on
the CPU kernel with copies in and out ("cpu fallback"). Needs no GPU.
)";

// Why the model cannot be locked, or "" when it can.
std::string Lockable(const ModelInfo& info, int64_t eligible) {
  if (!info.unsupported_ops.empty()) {
    return absl::StrCat(info.unsupported_ops.size(),
                        " nodes use operators the engine does not implement "
                        "(listed above)");
  }
  if (eligible == 0 && info.eligible_bias.empty())
    return "no tensor is eligible for locking";
  if (eligible == 0) return "only with --include-bias (no eligible weights)";
  return "";
}

std::string InfoJson(const ModelInfo& info, int64_t eligible) {
  JsonWriter json;
  json.BeginObject()
      .Field("parameters", info.parameters)
      .Field("eligible_parameters", eligible)
      .Key("ops")
      .BeginObject();
  for (const auto& [op, n] : info.op_histogram) json.Field(op, n);
  json.EndObject().Key("eligible").BeginArray();
  for (const EligibleTensor& e : info.eligible) {
    json.BeginObject()
        .Field("name", e.name)
        .Field("numel", e.numel)
        .EndObject();
  }
  json.EndArray()
      .Field("unsupported_ops",
             static_cast<int64_t>(info.unsupported_ops.size()))
      .Key("unsupported_nodes")
      .BeginArray();
  for (const std::string& node : info.unsupported_ops) json.String(node);
  json.EndArray().Field("lockable", Lockable(info, eligible).empty());
  if (!info.device.empty()) {
    json.Field("device", info.device).Key("off_kernel").BeginArray();
    for (const ModelInfo::Placed& p : info.off_kernel) {
      json.BeginObject()
          .Field("node", p.node)
          .Field("runs_on", p.placement)
          .EndObject();
    }
    json.EndArray();
  }
  json.EndObject();
  return json.str();
}

void PrintTensors(const std::vector<EligibleTensor>& tensors) {
  for (const EligibleTensor& e : tensors) {
    std::cout << "  " << e.name << " (" << e.numel << " values, " << e.consumer
              << ")\n";
  }
}

void PrintIos(const char* title, const std::vector<ModelInfo::Io>& ios) {
  std::cout << title;
  for (const auto& io : ios)
    std::cout << "  " << io.name << " " << io.dtype << io.shape << "\n";
}

int Run(const Args& args) {
  auto parsed = ParseArgs(args, {{"--device"}, {"--json"}});
  if (!parsed.ok()) return Usage(parsed.status().message(), kHelp);
  if (parsed->positionals.size() != 1)
    return Usage("info takes one MODEL.onnx", kHelp);
  const std::string device = parsed->Get("--device", "");
  if (!device.empty() && device != "cpu" && device != "cuda")
    return Usage("--device takes cpu or cuda", kHelp);
  auto info = InspectModel(parsed->positionals[0], device);
  if (!info.ok()) return Fail(info.status());
  int64_t eligible = 0;
  for (const EligibleTensor& e : info->eligible) eligible += e.numel;
  if (parsed->switches.count("--json")) {
    std::cout << InfoJson(*info, eligible) << "\n";
    return kExitOk;
  }
  std::cout << "model: " << parsed->positionals[0] << "\n";
  std::cout << "ir_version: " << info->ir_version
            << "   producer: " << info->producer << "\n";
  std::cout << "opsets:";
  for (const auto& [domain, v] : info->opsets) {
    std::cout << " " << (domain.empty() ? "ai.onnx" : domain) << "=" << v;
  }
  std::cout << "\n";
  PrintIos("inputs:\n", info->inputs);
  PrintIos("outputs:\n", info->outputs);
  std::cout << "ops:\n";
  for (const auto& [op, n] : info->op_histogram)
    std::cout << "  " << op << " x" << n << "\n";
  std::cout << "parameters: " << info->parameters << " in "
            << info->initializers << " initializers\n";
  std::cout << "eligible for locking: " << info->eligible.size() << " tensors, "
            << eligible << " values\n";
  PrintTensors(info->eligible);
  if (!info->eligible_bias.empty()) {
    std::cout << "with --include-bias also:\n";
    PrintTensors(info->eligible_bias);
  }
  if (!info->unsupported_ops.empty()) {
    std::cout << "not supported by the engine:\n";
    for (const std::string& s : info->unsupported_ops)
      std::cout << "  " << s << "\n";
  }
  const std::string why_not = Lockable(*info, eligible);
  std::cout << "can be locked: "
            << (why_not.empty() ? std::string("yes") : "no: " + why_not)
            << "\n";
  if (!info->device.empty()) {
    std::cout << "on " << info->device << ": ";
    if (info->off_kernel.empty()) {
      std::cout << "every node runs on its own kernels\n";
    } else {
      std::cout << info->off_kernel.size()
                << " nodes do not run on its own kernels:\n";
      for (const ModelInfo::Placed& p : info->off_kernel)
        std::cout << "  " << p.node << ": " << p.placement << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

const Command kInfoCommand = {
    "info", "MODEL.onnx",
    "inputs, outputs, opsets, ops, parameters, lockable tensors", kHelp, &Run};

}  // namespace onnx_crypt::cli
