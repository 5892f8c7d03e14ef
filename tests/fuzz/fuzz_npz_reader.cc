// libFuzzer harness: the .npy / .npz reader on untrusted bytes.
//
// Input: the bytes of a file. Parsed as an .npz (zip central directory, local
// headers, ZIP64 fields, stored and deflated entries, CRCs, then each entry's
// .npy header and data) and, independently, as a single .npy image (the
// version 1/2/3 header and its Python-literal dict). Any status is a correct
// outcome; a crash, a sanitizer report or a leak is a finding. Every array
// that parses must also survive SerializeNpy and ParseNpy unchanged (a
// difference aborts, which the fuzzer reports).
//
// Seeds: tools/make_fuzz_corpus.py (tests/data/fixtures and small subsets of
// the Fashion-MNIST arrays in tools/data, stored and compressed). Run:
// tools/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"
#include "onnx_crypt/data/npz.h"

namespace onnx_crypt {
namespace {

void CheckRoundTrip(const Tensor& t) {
  absl::StatusOr<std::string> npy = SerializeNpy(t);
  if (!npy.ok()) return;  // a dtype the writer does not take
  absl::StatusOr<Tensor> back = ParseNpy(*npy, "round trip");
  if (!back.ok() || back->dtype() != t.dtype() || back->shape() != t.shape() ||
      back->nbytes() != t.nbytes() ||
      (t.nbytes() > 0 && std::memcmp(back->raw(), t.raw(), t.nbytes()) != 0)) {
    fprintf(stderr, "SerializeNpy/ParseNpy changed %s: %s\n",
            t.DebugString().c_str(),
            back.ok() ? back->DebugString().c_str()
                      : back.status().ToString().c_str());
    abort();
  }
}

void FuzzNpz(absl::string_view bytes) {
  absl::StatusOr<NpzArrays> arrays = ParseNpz(bytes, "fuzz.npz");
  if (arrays.ok()) {
    for (const auto& [name, t] : *arrays) CheckRoundTrip(t);
  }
  absl::StatusOr<Tensor> array = ParseNpy(bytes, "fuzz.npy");
  if (array.ok()) CheckRoundTrip(*array);
}

}  // namespace
}  // namespace onnx_crypt

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  onnx_crypt::FuzzNpz(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
