#include "tessera/format/tensor_source.h"

#include <cassert>

namespace tessera::format {

tensor::Tensor TensorEntry::view() const {
  assert(shape.size() <= static_cast<size_t>(tensor::kMaxDims));
  tensor::Tensor t;
  t.data = const_cast<uint8_t*>(data);
  t.dtype = dtype;
  t.ndim = static_cast<int>(shape.size());
  for (int i = 0; i < t.ndim; ++i) t.shape[i] = shape[i];
  return t;
}

}  // namespace tessera::format
