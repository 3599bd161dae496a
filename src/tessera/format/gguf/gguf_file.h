// GGUF v2 / v3 reader. The file is memory-mapped; tensors and strings are views into the mapping, never copies.
// The file is untrusted: open() checks every count, length, offset and size against the file and returns
// DataLoss / InvalidArgument naming the file and the problem instead of reading out of bounds.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tessera/format/tensor_source.h"
#include "tessera/util/mmap_file.h"
#include "tessera/util/status.h"

namespace tessera::format {

enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

std::string_view gguf_type_name(GgufType t);
// Bytes of one value of a fixed-size type; 0 for kString, kArray and ids outside the enum.
size_t gguf_scalar_bytes(GgufType t);

class GgufParser;  // gguf_file.cc: fills GgufFile and GgufValue from the bytes

// One metadata value: a scalar, a string, or an array of scalars or strings (nested arrays are kept as opaque
// arrays: their elements cannot be read, but the file still loads).
class GgufValue {
 public:
  GgufType type() const { return type_; }

  // Scalars, converted where lossless enough for configuration: any integer type (and bool) as int, any
  // integer or float type as float. nullopt when the type does not fit.
  std::optional<int64_t> as_int() const;
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;

  // Arrays. REQUIRES for the *_at accessors: type() == kArray, i < array_size().
  GgufType array_type() const { return elem_type_; }
  uint64_t array_size() const { return count_; }
  std::optional<int64_t> int_at(uint64_t i) const;
  std::optional<double> float_at(uint64_t i) const;
  std::optional<std::string_view> string_at(uint64_t i) const;

  // Human-readable rendering for `tessera inspect`; long arrays are abbreviated.
  std::string to_string(size_t max_elems = 8) const;

 private:
  friend class GgufFile;
  friend class GgufParser;
  GgufType type_ = GgufType::kUint8;
  GgufType elem_type_ = GgufType::kUint8;
  const uint8_t* data_ = nullptr;  // scalar bytes / string bytes / first array element in the mapping
  uint64_t count_ = 0;             // string length, or array element count
  // For arrays of strings: offsets of each element's length prefix, relative to data_ (filled at open).
  std::shared_ptr<std::vector<uint64_t>> string_offsets_;
};

// Immutable once open() returns: any number of threads may read it. Views it hands out (strings, tensor data)
// live as long as the GgufFile.
class GgufFile final : public TensorSource {
 public:
  static Expected<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Parses a GGUF image that is already in memory, with the same checks as open(). Nothing is copied: the caller
  // keeps `bytes` alive and unchanged while the result lives. `name` stands in for the path in messages and
  // path(). Fuzzers and tests use it to skip the file system.
  static Expected<std::unique_ptr<GgufFile>> open_from_memory(std::span<const uint8_t> bytes, std::string name);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Where the data section starts in the file; tensor offsets in the file are relative to it.
  uint64_t data_offset() const { return data_offset_; }
  // Metadata in file order.
  const std::vector<std::pair<std::string_view, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find_metadata(std::string_view key) const;
  // Convenience lookups; nullopt when absent or of an unsuitable type.
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<std::string_view> get_string(std::string_view key) const;

  std::span<const TensorEntry> tensors() const override { return tensors_; }
  const TensorEntry* find(std::string_view name) const override;
  const std::string& path() const override { return path_; }

 private:
  friend class GgufParser;
  util::MmapFile file_;             // empty when opened from memory
  std::span<const uint8_t> bytes_;  // file_'s bytes, or the caller's
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string_view, GgufValue>> metadata_;
  std::unordered_map<std::string_view, size_t> metadata_index_;
  std::vector<TensorEntry> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;  // keys view the names in bytes_
};

}  // namespace tessera::format
