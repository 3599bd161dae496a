// What every model-file reader yields: named tensors whose bytes live in memory the reader keeps mapped.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/tensor/tensor.h"

namespace tessera::format {

struct TensorEntry {
  std::string name;
  tensor::DType dtype = tensor::DType::kF32;
  std::vector<int64_t> shape;     // outermost first (PyTorch order)
  const uint8_t* data = nullptr;  // inside the reader's mapping; valid while the reader lives
  uint64_t nbytes = 0;            // exactly what dtype and shape imply

  // A CPU tensor view of the bytes (zero-copy). REQUIRES: shape.size() <= tensor::kMaxDims.
  tensor::Tensor view() const;
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual std::span<const TensorEntry> tensors() const = 0;
  // nullptr when absent.
  virtual const TensorEntry* find(std::string_view name) const = 0;
  // The file or directory this came from, for messages.
  virtual const std::string& path() const = 0;
};

}  // namespace tessera::format
