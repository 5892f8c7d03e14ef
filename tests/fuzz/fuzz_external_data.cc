// libFuzzer harness: external data (tensors whose bytes live in other files).
//
// Input layout (little-endian):
//   u32 M   length of the model part
//   u32 S   size of the external data file (taken modulo 256 KiB: a few MB
//           per input would make the fuzzer copy rather than explore)
//   M bytes the .onnx model
//   rest    the data file's contents, repeated (or zeros when empty) to fill S
//           bytes: the tensors' values do not matter to the resolver, their
//           byte ranges do, so seeds stay small however large the file.
// The model is written to <tmp>/model.onnx and the data file to both
// <tmp>/weights.bin and <tmp>/sub/weights.bin, and the model is loaded with
// OnnxModel::Load (the path-based reader, locations resolved against <tmp>).
// A model that loads is then decoded (ToGraph), its external data inlined,
// serialized and loaded again from bytes: the two graphs must hold the same
// initializers (a mismatch aborts, which the fuzzer reports).
//
// Seeds: tools/make_fuzz_corpus.py (the bundled models converted to external
// data, plus one tensor per file layout). Run: tools/fuzz.sh.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "onnx_crypt/key/key.h"
#include "onnx_crypt/onnx/model.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kMaxDataFile = uint32_t{1} << 18;  // = make_fuzz_corpus.py

uint32_t ReadLe32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
         uint32_t{p[3]} << 24;
}

// One folder per process, removed at exit.
const fs::path& WorkDir() {
  static const fs::path* const dir = [] {
    // Memory-backed when possible: every input writes a few MB.
    const char* tmp = getenv("TMPDIR");
    std::string pattern =
        std::string(tmp && *tmp                    ? tmp
                    : fs::is_directory("/dev/shm") ? "/dev/shm"
                                                   : "/tmp") +
        "/onnx_crypt_fuzz_external.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      perror("mkdtemp");
      abort();
    }
    auto* path = new fs::path(pattern);
    fs::create_directories(*path / "sub");
    atexit([] {
      std::error_code ec;
      fs::remove_all(WorkDir(), ec);
    });
    return path;
  }();
  return *dir;
}

void WriteOrDie(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    fprintf(stderr, "cannot write %s\n", path.c_str());
    abort();
  }
}

void FuzzExternalData(const uint8_t* data, size_t size) {
  if (size < 8) return;
  const uint32_t model_len = ReadLe32(data);
  const uint32_t file_size = ReadLe32(data + 4) % kMaxDataFile;
  if (model_len > size - 8) return;
  const std::string model_bytes(reinterpret_cast<const char*>(data + 8),
                                model_len);
  const char* rest = reinterpret_cast<const char*>(data + 8 + model_len);
  const size_t rest_len = size - 8 - model_len;
  std::string file(file_size, '\0');
  if (rest_len > 0) {
    for (size_t i = 0; i < file.size(); i += rest_len) {
      std::memcpy(&file[i], rest, std::min(rest_len, file.size() - i));
    }
  }
  const fs::path& dir = WorkDir();
  WriteOrDie(dir / "model.onnx", model_bytes);
  WriteOrDie(dir / "weights.bin", file);
  WriteOrDie(dir / "sub" / "weights.bin", file);

  absl::StatusOr<OnnxModel> model =
      OnnxModel::Load((dir / "model.onnx").string());
  if (!model.ok()) return;
  absl::StatusOr<Graph> graph = model->ToGraph();
  if (!model->InlineExternalData().ok()) abort();
  absl::StatusOr<std::string> inlined = model->SerializeToBytes();
  if (!inlined.ok()) return;  // e.g. over protobuf's 2 GiB once inlined
  absl::StatusOr<OnnxModel> again = OnnxModel::LoadFromBytes(*inlined);
  if (!again.ok()) {
    fprintf(stderr, "the inlined model does not load: %s\n",
            again.status().ToString().c_str());
    abort();
  }
  absl::StatusOr<Graph> graph_again = again->ToGraph();
  if (graph.ok() != graph_again.ok() ||
      (graph.ok() && GraphInitializersSha256(*graph) !=
                         GraphInitializersSha256(*graph_again))) {
    fprintf(stderr, "inlining external data changed the graph: %s / %s\n",
            graph.status().ToString().c_str(),
            graph_again.status().ToString().c_str());
    abort();
  }
}

}  // namespace
}  // namespace onnx_crypt

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  google::protobuf::SetLogHandler(nullptr);  // parser complaints are expected
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  onnx_crypt::FuzzExternalData(data, size);
  return 0;
}
