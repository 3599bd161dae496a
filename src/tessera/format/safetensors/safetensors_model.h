// A Hugging Face model directory: config.json plus one `model.safetensors` or several shards listed in
// `model.safetensors.index.json`. Every shard is memory-mapped; tensors are views into the mappings.
// Untrusted input: header length, JSON, dtypes, shapes and data offsets are all checked against the file.
// Reads F32, F16 and BF16 tensors; other dtypes are refused with their name.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tessera/format/tensor_source.h"
#include "tessera/util/mmap_file.h"
#include "tessera/util/status.h"

namespace tessera::format {

// One .safetensors file on its own (used by the directory reader and by tests). Like SafetensorsModel, it is
// immutable once open() returns, so any number of threads may read it; tensor data lives as long as it does.
class SafetensorsFile final : public TensorSource {
 public:
  static Expected<std::unique_ptr<SafetensorsFile>> open(const std::string& path);
  // Parses a .safetensors image that is already in memory, with the same checks as open(). Nothing is copied:
  // the caller keeps `bytes` alive and unchanged while the result lives. `name` stands in for the path in
  // messages and path(). Fuzzers and tests use it to skip the file system.
  static Expected<std::unique_ptr<SafetensorsFile>> open_from_memory(std::span<const uint8_t> bytes, std::string name);

  std::span<const TensorEntry> tensors() const override { return tensors_; }
  const TensorEntry* find(std::string_view name) const override;
  const std::string& path() const override { return path_; }
  // The "__metadata__" object of the header as JSON text ("{}" when absent). The format allows only string
  // values there, and the reader enforces that.
  const std::string& metadata_json() const { return metadata_json_; }

 private:
  Status parse();

  util::MmapFile file_;             // empty when opened from memory
  std::span<const uint8_t> bytes_;  // file_'s bytes, or the caller's
  std::string path_;
  std::vector<TensorEntry> tensors_;  // in header order; not resized after parse() (index_ views the names)
  std::unordered_map<std::string_view, size_t> index_;
  std::string metadata_json_ = "{}";
};

class SafetensorsModel final : public TensorSource {
 public:
  // `dir` holds config.json and the weights.
  static Expected<std::unique_ptr<SafetensorsModel>> open(const std::string& dir);

  // The text of config.json (parsed by model/ into a ModelConfig).
  const std::string& config_json() const { return config_json_; }

  std::span<const TensorEntry> tensors() const override { return tensors_; }
  const TensorEntry* find(std::string_view name) const override;
  const std::string& path() const override { return dir_; }

 private:
  std::string dir_;
  std::string config_json_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<TensorEntry> tensors_;                    // all shards' tensors; data points into the shards' mappings
  std::unordered_map<std::string_view, size_t> index_;  // views tensors_' names, which never move after open()
};

}  // namespace tessera::format
