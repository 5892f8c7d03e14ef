#include "onnx_crypt/ir/graph.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace onnx_crypt {

int64_t Node::GetInt(const std::string& key, int64_t fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.i;
}

float Node::GetFloat(const std::string& key, float fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.f;
}

std::string Node::GetString(const std::string& key,
                            const std::string& fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.s;
}

std::vector<int64_t> Node::GetInts(const std::string& key,
                                   const std::vector<int64_t>& fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.ints;
}

std::vector<float> Node::GetFloats(const std::string& key,
                                   const std::vector<float>& fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.floats;
}

std::string Node::Describe() const {
  std::string label = name;
  if (label.empty() && !outputs.empty())
    label = absl::StrCat("<output ", outputs[0], ">");
  return absl::StrCat(domain.empty() ? "" : domain + ".", op_type, "-", opset,
                      " node '", label, "'");
}

absl::Status Graph::TopologicalSort() {
  std::set<std::string> available;
  for (const auto& [name, tensor] : initializers) available.insert(name);
  for (const ValueInfo& in : inputs) available.insert(in.name);
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  std::vector<bool> placed(nodes.size(), false);
  // Kahn's algorithm by repeated scans: graphs here are small (hundreds of
  // nodes), and the scan keeps file order among ready nodes, so the result is
  // deterministic.
  size_t remaining = nodes.size();
  while (remaining > 0) {
    bool progress = false;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (placed[i]) continue;
      bool ready = true;
      for (const std::string& in : nodes[i].inputs) {
        if (!in.empty() && !available.count(in)) {
          ready = false;
          break;
        }
      }
      if (!ready) continue;
      placed[i] = true;
      --remaining;
      progress = true;
      for (const std::string& out : nodes[i].outputs) {
        if (!out.empty()) available.insert(out);
      }
      sorted.push_back(std::move(nodes[i]));
    }
    if (!progress) {
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (placed[i]) continue;
        for (const std::string& in : nodes[i].inputs) {
          if (!in.empty() && !available.count(in)) {
            return absl::InvalidArgumentError(absl::StrCat(
                nodes[i].Describe(), ": input '", in,
                "' is produced by no node, initializer or graph input (or the "
                "graph has a cycle)"));
          }
        }
      }
      return absl::InvalidArgumentError("graph has a cycle");
    }
  }
  nodes = std::move(sorted);
  return absl::OkStatus();
}

std::vector<std::string> Graph::ParameterOrder() const {
  std::vector<std::string> names = initializer_order;
  names.insert(names.end(), constant_order.begin(), constant_order.end());
  return names;
}

int Graph::FindProducer(const std::string& value) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& out : nodes[i].outputs) {
      if (out == value) return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace onnx_crypt
