// Bounds-checked reading of untrusted little-endian bytes, and overflow-checked size arithmetic. Every format
// reader goes through these, so no count or offset taken from a file reaches pointer arithmetic unchecked.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "tessera/util/status.h"

namespace tessera::format {

// Model files are little-endian and their tensors are used in place (zero-copy), so a big-endian host could
// not use them without converting every tensor; rather than read them wrongly, refuse to build there.
static_assert(std::endian::native == std::endian::little, "tessera's model readers assume a little-endian host");

// Reads a T from possibly unaligned bytes. REQUIRES: sizeof(T) readable bytes at p.
template <typename T>
T load_le(const uint8_t* p) {
  static_assert(std::is_trivially_copyable_v<T>);
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// Rounds x up to a multiple of `align`. REQUIRES: align is a power of two. nullopt on overflow.
inline std::optional<uint64_t> align_up(uint64_t x, uint64_t align) {
  std::optional<uint64_t> r = checked_add(x, align - 1);
  if (!r) return std::nullopt;
  return *r & ~(align - 1);
}

// `s` between quote characters, for messages and listings: control bytes escaped, and cut (at a UTF-8 boundary)
// after max_bytes so that a hostile name cannot flood a log.
std::string quote_for_message(std::string_view s, size_t max_bytes = 80, char quote = '\'');

// A cursor over bytes that cannot be trusted. Reads fail with DataLoss instead of running off the end; messages
// name what was being read and where, but not the file (the caller adds that).
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return bytes_.size(); }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  const uint8_t* here() const { return bytes_.data() + pos_; }

  Status need(uint64_t n, std::string_view what) const {
    if (n <= remaining()) return Status();
    return data_loss("truncated: " + std::string(what) + " at offset " + std::to_string(pos_) + " needs " +
                     std::to_string(n) + " bytes, but the file ends at " + std::to_string(size()));
  }

  Status skip(uint64_t n, std::string_view what) {
    TESSERA_RETURN_IF_ERROR(need(n, what));
    pos_ += n;
    return Status();
  }

  template <typename T>
  Expected<T> read(std::string_view what) {
    TESSERA_RETURN_IF_ERROR(need(sizeof(T), what));
    T v = load_le<T>(here());
    pos_ += sizeof(T);
    return v;
  }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

}  // namespace tessera::format
