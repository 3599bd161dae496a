// libFuzzer target for the single-file safetensors reader (the directory reader only adds file names on top).
// Inputs go straight to open_from_memory; when a file opens, the first and last byte of every tensor is read
// so that ASan sees any range the reader accepted that is not inside the input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tessera/format/safetensors/safetensors_model.h"

namespace {
volatile uint64_t g_sink;  // keeps the reads below from being optimized away
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = tessera::format::SafetensorsFile::open_from_memory(std::span<const uint8_t>(data, size), "fuzz.safetensors");
  if (!f.ok()) return 0;
  g_sink = g_sink + (*f)->metadata_json().size();
  for (const tessera::format::TensorEntry& e : (*f)->tensors()) {
    if (e.nbytes > 0) g_sink = g_sink + e.data[0] + e.data[e.nbytes - 1];
    if ((*f)->find(e.name) == nullptr) __builtin_trap();
    g_sink = g_sink + static_cast<uint64_t>(e.view().numel());
  }
  return 0;
}
