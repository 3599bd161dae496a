// One .safetensors file. Layout: u64 header length N (little-endian), N bytes of JSON, then the data section.
// The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)}, offsets relative to the
// data section; an optional "__metadata__" entry maps strings to strings.
//
// Everything in the file is untrusted. nlohmann::json parses the header (it keeps its own stack, so deep
// nesting cannot overflow ours); every number from it is range-checked before it becomes a size or a pointer.
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "tessera/format/byte_reader.h"
#include "tessera/format/safetensors/safetensors_model.h"

namespace tessera::format {
namespace {

using nlohmann::json;

// The format's own limit: real headers are well under 10 MB, and the whole header is parsed in memory.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr size_t kMaxDims = 4;
constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

std::optional<tensor::DType> dtype_from_name(std::string_view s) {
  if (s == "F32") return tensor::DType::kF32;
  if (s == "F16") return tensor::DType::kF16;
  if (s == "BF16") return tensor::DType::kBF16;
  return std::nullopt;
}

// A JSON number that is a whole number in [0, 2^63), or nullopt.
std::optional<uint64_t> as_count(const json& j) {
  if (j.is_number_unsigned()) {
    uint64_t v = j.get<uint64_t>();
    if (v <= kInt64Max) return v;
  } else if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v >= 0) return static_cast<uint64_t>(v);
  }
  return std::nullopt;
}

// Parses the header, refusing duplicate top-level keys, which nlohmann would otherwise resolve silently by
// keeping the last (two entries for one tensor name is a corrupt file, not a choice to make for the writer).
Expected<json> parse_header(std::string_view text) {
  std::unordered_set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && duplicate.empty() &&
        !seen.insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text.begin(), text.end(), cb);
  } catch (const json::exception& e) {
    return data_loss(std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) return data_loss("header names " + quote_for_message(duplicate) + " twice");
  if (!header.is_object()) return data_loss("header is not a JSON object");
  return header;
}

Status check_metadata(const json& m) {
  if (!m.is_object()) return data_loss("__metadata__ is not a JSON object");
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string()) return data_loss("__metadata__ entry " + quote_for_message(k) + " is not a string");
  }
  return Status();
}

// Checks one header entry against the data section and fills `e`, except for `data`, which the caller sets
// from the returned offset.
Expected<uint64_t> parse_entry(const json& j, uint64_t data_size, TensorEntry& e) {
  if (!j.is_object()) return data_loss("entry is not a JSON object");
  auto dtype_it = j.find("dtype");
  auto shape_it = j.find("shape");
  auto offsets_it = j.find("data_offsets");
  if (dtype_it == j.end() || !dtype_it->is_string()) return data_loss("\"dtype\" is missing or not a string");
  if (shape_it == j.end() || !shape_it->is_array()) return data_loss("\"shape\" is missing or not an array");
  if (offsets_it == j.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
    return data_loss("\"data_offsets\" is missing or not an array of two numbers");
  }

  const std::string& dtype_name = dtype_it->get_ref<const std::string&>();
  std::optional<tensor::DType> dtype = dtype_from_name(dtype_name);
  if (!dtype) {
    return unimplemented("dtype " + quote_for_message(dtype_name, 32) +
                         " is not supported (tessera reads F32, F16 and BF16)");
  }
  e.dtype = *dtype;

  if (shape_it->size() > kMaxDims) {
    return unimplemented("shape has " + std::to_string(shape_it->size()) + " dims; tessera reads at most " +
                         std::to_string(kMaxDims));
  }
  uint64_t numel = 1;
  for (const json& d : *shape_it) {
    std::optional<uint64_t> n = as_count(d);
    if (!n) return data_loss("shape " + d.dump() + " entry is not a non-negative integer");
    std::optional<uint64_t> product = checked_mul(numel, *n);
    if (!product || *product > kInt64Max) return data_loss("shape " + shape_it->dump() + " has too many elements");
    numel = *product;
    e.shape.push_back(static_cast<int64_t>(*n));
  }
  std::optional<uint64_t> nbytes = checked_mul(numel, static_cast<uint64_t>(tensor::dtype_info(*dtype).block_bytes));
  if (!nbytes) return data_loss("shape " + shape_it->dump() + " is too large");
  e.nbytes = *nbytes;

  std::optional<uint64_t> begin = as_count((*offsets_it)[0]);
  std::optional<uint64_t> end = as_count((*offsets_it)[1]);
  if (!begin || !end || *begin > *end) {
    return data_loss("data_offsets " + offsets_it->dump() + " are not a range [begin, end)");
  }
  if (*end > data_size) {
    return data_loss("data_offsets " + offsets_it->dump() + " run past the end of the data section (" +
                     std::to_string(data_size) + " bytes)");
  }
  if (*end - *begin != e.nbytes) {
    return data_loss("data_offsets " + offsets_it->dump() + " hold " + std::to_string(*end - *begin) + " bytes, but " +
                     dtype_name + " " + shape_it->dump() + " needs " + std::to_string(e.nbytes));
  }
  return *begin;
}

}  // namespace

Status SafetensorsFile::parse() {
  ByteReader r(bytes_);
  if (r.size() < 8) {
    return data_loss("file is " + std::to_string(r.size()) + " bytes, too short for the 8-byte header length");
  }
  TESSERA_ASSIGN_OR_RETURN(uint64_t header_len, r.read<uint64_t>("header length"));
  if (header_len > kMaxHeaderBytes) {
    return data_loss("header length " + std::to_string(header_len) + " exceeds the limit of " +
                     std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (header_len > r.remaining()) {
    return data_loss("header length " + std::to_string(header_len) + " runs past the end of the file (size " +
                     std::to_string(r.size()) + ")");
  }
  std::string_view text(reinterpret_cast<const char*>(r.here()), header_len);
  const uint8_t* data = r.here() + header_len;
  uint64_t data_size = r.remaining() - header_len;

  TESSERA_ASSIGN_OR_RETURN(json header, parse_header(text));
  tensors_.reserve(header.size());
  try {
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        TESSERA_RETURN_IF_ERROR(check_metadata(entry));
        metadata_json_ = entry.dump();
        continue;
      }
      TensorEntry e;
      e.name = name;
      Expected<uint64_t> begin = parse_entry(entry, data_size, e);
      if (!begin.ok()) return begin.status().with_context("tensor " + quote_for_message(name));
      e.data = data + *begin;
      tensors_.push_back(std::move(e));
    }
  } catch (const json::exception& e) {
    // parse_entry checks each type before reading it; this is a second line, not the plan.
    return data_loss(std::string("unexpected header content: ") + e.what());
  }
  index_.reserve(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  return Status();
}

Expected<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(util::MmapFile file, util::MmapFile::open(path));
  auto f = std::make_unique<SafetensorsFile>();
  f->file_ = std::move(file);
  f->bytes_ = f->file_.bytes();
  f->path_ = path;
  Status s = f->parse();
  if (!s.ok()) return s.with_context(path);
  return f;
}

Expected<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open_from_memory(std::span<const uint8_t> bytes,
                                                                             std::string name) {
  auto f = std::make_unique<SafetensorsFile>();
  f->bytes_ = bytes;
  f->path_ = std::move(name);
  Status s = f->parse();
  if (!s.ok()) return s.with_context(f->path_);
  return f;
}

const TensorEntry* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace tessera::format
