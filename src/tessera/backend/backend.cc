#include "tessera/backend/backend.h"

#include <utility>

namespace tessera::backend {

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    owner_ = std::exchange(o.owner_, nullptr);
    data_ = std::exchange(o.data_, nullptr);
    nbytes_ = std::exchange(o.nbytes_, 0);
  }
  return *this;
}

void Buffer::reset() {
  if (owner_ && data_) owner_->deallocate(data_, nbytes_);
  owner_ = nullptr;
  data_ = nullptr;
  nbytes_ = 0;
}

}  // namespace tessera::backend
