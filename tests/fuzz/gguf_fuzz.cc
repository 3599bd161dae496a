// libFuzzer target for the GGUF reader. Inputs go straight to open_from_memory (no file I/O per input); when a
// file opens, every value and every tensor byte range is touched, so that ASan sees any pointer the reader
// handed out that is not inside the input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tessera/format/gguf/gguf_file.h"

namespace {

// Keeps the compiler from dropping reads whose results are otherwise unused.
volatile uint64_t g_sink;

void touch(const tessera::format::GgufValue& v) {
  using tessera::format::GgufType;
  uint64_t h = v.to_string(4).size();
  h += static_cast<uint64_t>(v.as_int().value_or(0));
  h += static_cast<uint64_t>(v.as_float().value_or(0) != 0);
  h += v.as_bool().value_or(false);
  h += v.as_string().value_or("").size();
  if (v.type() == GgufType::kArray && v.array_size() > 0) {
    for (uint64_t i : {uint64_t{0}, v.array_size() - 1}) {
      h += static_cast<uint64_t>(v.int_at(i).value_or(0));
      h += static_cast<uint64_t>(v.float_at(i).value_or(0) != 0);
      h += v.string_at(i).value_or("").size();
    }
  }
  g_sink = g_sink + h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = tessera::format::GgufFile::open_from_memory(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!f.ok()) return 0;
  const tessera::format::GgufFile& g = **f;
  for (const auto& [key, value] : g.metadata()) {
    touch(value);
    if (g.find_metadata(key) == nullptr) __builtin_trap();
  }
  for (const tessera::format::TensorEntry& e : g.tensors()) {
    if (e.nbytes > 0) g_sink = g_sink + e.data[0] + e.data[e.nbytes - 1];
    if (g.find(e.name) == nullptr) __builtin_trap();
    g_sink = g_sink + static_cast<uint64_t>(e.view().numel());
  }
  return 0;
}
