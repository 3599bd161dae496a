// Tensor: a non-owning view of a contiguous row-major array in some device's memory.
// Shapes are outermost first (PyTorch order): a weight [N, K] has N rows of K elements. Model files, the backend
// and the forward pass all use this order; GGUF's innermost-first `ne` is reversed once, when the file is read.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "tessera/tensor/dtype.h"

namespace tessera::tensor {

enum class Device : uint8_t { kCpu, kCuda };

constexpr int kMaxDims = 4;

struct Tensor {
  void* data = nullptr;
  DType dtype = DType::kF32;
  Device device = Device::kCpu;
  int ndim = 0;
  std::array<int64_t, kMaxDims> shape{};

  Tensor() = default;
  Tensor(void* d, DType t, std::initializer_list<int64_t> dims, Device dev = Device::kCpu)
      : data(d), dtype(t), device(dev) {
    assert(dims.size() <= kMaxDims);
    for (int64_t x : dims) shape[ndim++] = x;
  }

  bool empty() const { return data == nullptr; }
  // dim(-1) is the innermost dimension.
  int64_t dim(int i) const { return shape[i < 0 ? ndim + i : i]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  int64_t cols() const { return ndim ? shape[ndim - 1] : 1; }
  int64_t rows() const { return ndim ? numel() / shape[ndim - 1] : 1; }
  size_t row_nbytes() const { return row_bytes(dtype, cols()); }
  size_t nbytes() const { return static_cast<size_t>(rows()) * row_nbytes(); }

  template <typename T>
  T* as() const {
    return static_cast<T*>(data);
  }
  // A view of rows [begin, begin + count) of the tensor seen as 2-D [rows, cols].
  Tensor rows_view(int64_t begin, int64_t count) const {
    Tensor t = *this;
    t.data = static_cast<char*>(data) + static_cast<size_t>(begin) * row_nbytes();
    t.ndim = 2;
    t.shape = {count, cols(), 0, 0};
    return t;
  }
  // The same memory with another shape of the same element count.
  Tensor reshaped(std::initializer_list<int64_t> dims) const {
    Tensor t = *this;
    t.ndim = 0;
    for (int64_t x : dims) t.shape[t.ndim++] = x;
    assert(t.numel() == numel());
    return t;
  }

  std::string shape_string() const;  // "[576, 49152]"
};

}  // namespace tessera::tensor
