// Builds GGUF v3 (or v2) files: for tests, and for tools that write models, such as random weights of a real
// model's shapes. Metadata and tensor infos are assembled in memory; tensor bytes go out one tensor at a time,
// from a buffer or from a callback, so a multi-GB model never has to be in memory at once.
//
// The add_* calls do not return errors, so that a file can be described as a plain list of calls. The first
// mistake (duplicate key or tensor name, a shape its dtype cannot hold, a wrong byte count, a bad alignment) is
// kept: status() returns it, and the write_* functions refuse to write.
//
// Not thread-safe; one thread builds and writes.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "tessera/format/gguf/gguf_file.h"
#include "tessera/tensor/dtype.h"
#include "tessera/util/status.h"

namespace tessera::format {

class GgufWriter {
 public:
  // Writes bytes [offset, offset + out.size()) of a tensor's data into `out`. Calls for one tensor come in
  // order, cover its data exactly once, and each holds a whole number of rows.
  using Filler = std::function<void(uint64_t offset, std::span<uint8_t> out)>;

  // version: 3 or 2 (the two layouts are the same); other values make status() an error.
  explicit GgufWriter(uint32_t version = 3);

  // Alignment of the data section and of each tensor in it: a nonzero power of two (default 32). Other values
  // than 32 are recorded in the file as general.alignment (u32), the only way to set that key.
  void set_alignment(uint64_t alignment);

  void add_u8(std::string key, uint8_t v);
  void add_i8(std::string key, int8_t v);
  void add_u16(std::string key, uint16_t v);
  void add_i16(std::string key, int16_t v);
  void add_u32(std::string key, uint32_t v);
  void add_i32(std::string key, int32_t v);
  void add_f32(std::string key, float v);
  void add_bool(std::string key, bool v);
  void add_string(std::string key, std::string_view v);
  void add_u64(std::string key, uint64_t v);
  void add_i64(std::string key, int64_t v);
  void add_f64(std::string key, double v);

  void add_array(std::string key, std::span<const uint8_t> v);
  void add_array(std::string key, std::span<const int8_t> v);
  void add_array(std::string key, std::span<const uint16_t> v);
  void add_array(std::string key, std::span<const int16_t> v);
  void add_array(std::string key, std::span<const uint32_t> v);
  void add_array(std::string key, std::span<const int32_t> v);
  void add_array(std::string key, std::span<const float> v);
  void add_array(std::string key, std::span<const bool> v);
  void add_array(std::string key, std::span<const std::string> v);
  void add_array(std::string key, std::span<const uint64_t> v);
  void add_array(std::string key, std::span<const int64_t> v);
  void add_array(std::string key, std::span<const double> v);

  // A value given already encoded (the bytes that follow its type in the file), unchecked: for what the typed
  // adders cannot express, such as nested arrays, and for tests that need malformed values.
  void add_raw(std::string key, GgufType type, std::vector<uint8_t> encoded);

  // A tensor of `shape` (outermost first) whose bytes are `data` (copied; rows are whole blocks).
  void add_tensor(std::string name, tensor::DType dtype, std::vector<int64_t> shape, std::span<const uint8_t> data);
  // A tensor whose bytes are produced by `fill` while the file is written.
  void add_tensor_generated(std::string name, tensor::DType dtype, std::vector<int64_t> shape, Filler fill);

  // OK, or the first mistake made while building.
  const Status& status() const { return status_; }

  Expected<std::vector<uint8_t>> write_to_memory() const;
  // Writes to `path` + ".partial" and renames it into place, so a failed write never leaves a file that looks
  // complete.
  Status write_to_file(const std::string& path) const;

 private:
  struct Kv {
    std::string key;
    GgufType type;
    std::vector<uint8_t> encoded;
  };
  struct PendingTensor {
    std::string name;
    tensor::DType dtype;
    std::vector<int64_t> shape;
    uint64_t nbytes;
    std::vector<uint8_t> data;  // empty when `fill` produces the bytes
    Filler fill;
  };

  void add_value(std::string key, GgufType type, std::vector<uint8_t> encoded);
  void fail(Status s);
  // Checks the shape and returns its byte count, or records an error and returns nullopt.
  std::optional<uint64_t> check_tensor(const std::string& name, tensor::DType dtype, const std::vector<int64_t>& shape);
  std::vector<uint8_t> header_bytes() const;
  Status write(const std::function<Status(std::span<const uint8_t>)>& sink) const;

  uint32_t version_;
  uint64_t alignment_ = 32;
  std::vector<Kv> kvs_;
  std::unordered_set<std::string> keys_;
  std::vector<PendingTensor> tensors_;
  std::unordered_set<std::string> tensor_names_;
  Status status_;
};

}  // namespace tessera::format
