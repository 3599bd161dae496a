#include "tessera/format/gguf/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "tessera/format/byte_reader.h"

namespace tessera::format {
namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr std::string_view kAlignmentKey = "general.alignment";
// Generated tensors are produced in pieces of about this size, so that writing a 2 GB embedding needs 16 MB.
constexpr uint64_t kFillChunkBytes = 16u << 20;

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  static_assert(std::is_trivially_copyable_v<T>);
  size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string_bytes(std::vector<uint8_t>& out, std::string_view s) {
  size_t at = out.size();
  out.resize(at + s.size());
  if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  put_string_bytes(out, s);
}

template <typename T>
std::vector<uint8_t> encode(T v) {
  std::vector<uint8_t> out;
  put<T>(out, v);
  return out;
}

template <typename T>
std::vector<uint8_t> encode_array(GgufType elem, std::span<const T> v) {
  std::vector<uint8_t> out;
  put<uint32_t>(out, static_cast<uint32_t>(elem));
  put<uint64_t>(out, v.size());
  for (const T& x : v) {
    if constexpr (std::is_same_v<T, std::string>) {
      put_string(out, x);
    } else if constexpr (std::is_same_v<T, bool>) {
      put<uint8_t>(out, x ? 1 : 0);  // GGUF bools are one byte, 0 or 1, whatever the host's bool is
    } else {
      put<T>(out, x);
    }
  }
  return out;
}

}  // namespace

GgufWriter::GgufWriter(uint32_t version) : version_(version) {
  if (version != 2 && version != 3) {
    fail(invalid_argument("GGUF writer: version " + std::to_string(version) + " (only 2 and 3 can be written)"));
  }
}

void GgufWriter::fail(Status s) {
  if (status_.ok()) status_ = std::move(s);
}

void GgufWriter::set_alignment(uint64_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > std::numeric_limits<uint32_t>::max()) {
    fail(invalid_argument("GGUF writer: alignment " + std::to_string(alignment) +
                          " is not a power of two that fits in u32"));
    return;
  }
  alignment_ = alignment;
  for (Kv& kv : kvs_) {
    if (kv.key == kAlignmentKey) {
      kv.encoded = encode<uint32_t>(static_cast<uint32_t>(alignment));
      return;
    }
  }
  if (alignment == kDefaultAlignment) return;
  keys_.emplace(kAlignmentKey);
  kvs_.push_back({std::string(kAlignmentKey), GgufType::kUint32, encode<uint32_t>(static_cast<uint32_t>(alignment))});
}

void GgufWriter::add_value(std::string key, GgufType type, std::vector<uint8_t> encoded) {
  if (key == kAlignmentKey) {
    fail(invalid_argument("GGUF writer: set general.alignment with set_alignment(), so the layout follows it"));
    return;
  }
  add_raw(std::move(key), type, std::move(encoded));
}

void GgufWriter::add_raw(std::string key, GgufType type, std::vector<uint8_t> encoded) {
  if (!keys_.insert(key).second) {
    fail(invalid_argument("GGUF writer: duplicate metadata key " + quote_for_message(key)));
    return;
  }
  kvs_.push_back({std::move(key), type, std::move(encoded)});
}

void GgufWriter::add_u8(std::string k, uint8_t v) { add_value(std::move(k), GgufType::kUint8, encode(v)); }
void GgufWriter::add_i8(std::string k, int8_t v) { add_value(std::move(k), GgufType::kInt8, encode(v)); }
void GgufWriter::add_u16(std::string k, uint16_t v) { add_value(std::move(k), GgufType::kUint16, encode(v)); }
void GgufWriter::add_i16(std::string k, int16_t v) { add_value(std::move(k), GgufType::kInt16, encode(v)); }
void GgufWriter::add_u32(std::string k, uint32_t v) { add_value(std::move(k), GgufType::kUint32, encode(v)); }
void GgufWriter::add_i32(std::string k, int32_t v) { add_value(std::move(k), GgufType::kInt32, encode(v)); }
void GgufWriter::add_f32(std::string k, float v) { add_value(std::move(k), GgufType::kFloat32, encode(v)); }
void GgufWriter::add_u64(std::string k, uint64_t v) { add_value(std::move(k), GgufType::kUint64, encode(v)); }
void GgufWriter::add_i64(std::string k, int64_t v) { add_value(std::move(k), GgufType::kInt64, encode(v)); }
void GgufWriter::add_f64(std::string k, double v) { add_value(std::move(k), GgufType::kFloat64, encode(v)); }

void GgufWriter::add_bool(std::string k, bool v) {
  add_value(std::move(k), GgufType::kBool, encode<uint8_t>(v ? 1 : 0));
}

void GgufWriter::add_string(std::string k, std::string_view v) {
  std::vector<uint8_t> e;
  put_string(e, v);
  add_value(std::move(k), GgufType::kString, std::move(e));
}

#define TESSERA_GGUF_ADD_ARRAY(T, elem)                                  \
  void GgufWriter::add_array(std::string k, std::span<const T> v) {      \
    add_value(std::move(k), GgufType::kArray, encode_array<T>(elem, v)); \
  }
TESSERA_GGUF_ADD_ARRAY(uint8_t, GgufType::kUint8)
TESSERA_GGUF_ADD_ARRAY(int8_t, GgufType::kInt8)
TESSERA_GGUF_ADD_ARRAY(uint16_t, GgufType::kUint16)
TESSERA_GGUF_ADD_ARRAY(int16_t, GgufType::kInt16)
TESSERA_GGUF_ADD_ARRAY(uint32_t, GgufType::kUint32)
TESSERA_GGUF_ADD_ARRAY(int32_t, GgufType::kInt32)
TESSERA_GGUF_ADD_ARRAY(float, GgufType::kFloat32)
TESSERA_GGUF_ADD_ARRAY(bool, GgufType::kBool)
TESSERA_GGUF_ADD_ARRAY(std::string, GgufType::kString)
TESSERA_GGUF_ADD_ARRAY(uint64_t, GgufType::kUint64)
TESSERA_GGUF_ADD_ARRAY(int64_t, GgufType::kInt64)
TESSERA_GGUF_ADD_ARRAY(double, GgufType::kFloat64)
#undef TESSERA_GGUF_ADD_ARRAY

std::optional<uint64_t> GgufWriter::check_tensor(const std::string& name, tensor::DType dtype,
                                                 const std::vector<int64_t>& shape) {
  std::string what = "GGUF writer: tensor " + quote_for_message(name);
  if (name.empty()) {
    fail(invalid_argument("GGUF writer: a tensor has an empty name"));
    return std::nullopt;
  }
  if (shape.empty() || shape.size() > 4) {
    fail(invalid_argument(what + " has " + std::to_string(shape.size()) + " dims; GGUF tensors have 1 to 4"));
    return std::nullopt;
  }
  uint64_t numel = 1;
  for (int64_t d : shape) {
    std::optional<uint64_t> n = d > 0 ? checked_mul(numel, static_cast<uint64_t>(d)) : std::nullopt;
    if (!n || *n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail(invalid_argument(what + ": dims must be positive and their product must fit in int64"));
      return std::nullopt;
    }
    numel = *n;
  }
  const tensor::DTypeInfo& info = tensor::dtype_info(dtype);
  if (!tensor::row_fits(dtype, shape.back())) {
    fail(invalid_argument(what + ": rows of " + std::to_string(shape.back()) + " elements are not whole " +
                          std::string(info.name) + " blocks of " + std::to_string(info.block_size)));
    return std::nullopt;
  }
  std::optional<uint64_t> nbytes =
      checked_mul(numel / static_cast<uint64_t>(info.block_size), static_cast<uint64_t>(info.block_bytes));
  if (!nbytes) {
    fail(invalid_argument(what + " is too large"));
    return std::nullopt;
  }
  if (!tensor_names_.insert(name).second) {
    fail(invalid_argument("GGUF writer: duplicate tensor name " + quote_for_message(name)));
    return std::nullopt;
  }
  return nbytes;
}

void GgufWriter::add_tensor(std::string name, tensor::DType dtype, std::vector<int64_t> shape,
                            std::span<const uint8_t> data) {
  std::optional<uint64_t> nbytes = check_tensor(name, dtype, shape);
  if (!nbytes) return;
  if (data.size() != *nbytes) {
    fail(invalid_argument("GGUF writer: tensor " + quote_for_message(name) + " has " + std::to_string(data.size()) +
                          " bytes; its dtype and shape need " + std::to_string(*nbytes)));
    return;
  }
  tensors_.push_back({std::move(name), dtype, std::move(shape), *nbytes, {data.begin(), data.end()}, nullptr});
}

void GgufWriter::add_tensor_generated(std::string name, tensor::DType dtype, std::vector<int64_t> shape, Filler fill) {
  std::optional<uint64_t> nbytes = check_tensor(name, dtype, shape);
  if (!nbytes) return;
  if (!fill) {
    fail(invalid_argument("GGUF writer: tensor " + quote_for_message(name) + " has no filler"));
    return;
  }
  tensors_.push_back({std::move(name), dtype, std::move(shape), *nbytes, {}, std::move(fill)});
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
  std::vector<uint8_t> out;
  put_string_bytes(out, "GGUF");
  put<uint32_t>(out, version_);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kvs_.size());
  for (const Kv& kv : kvs_) {
    put_string(out, kv.key);
    put<uint32_t>(out, static_cast<uint32_t>(kv.type));
    out.insert(out.end(), kv.encoded.begin(), kv.encoded.end());
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put<uint64_t>(out, static_cast<uint64_t>(*it));
    put<uint32_t>(out, tensor::dtype_to_ggml(t.dtype));
    put<uint64_t>(out, offset);
    offset += *align_up(t.nbytes, alignment_);
  }
  if (!tensors_.empty()) out.resize(*align_up(out.size(), alignment_), 0);
  return out;
}

Status GgufWriter::write(const std::function<Status(std::span<const uint8_t>)>& sink) const {
  TESSERA_RETURN_IF_ERROR(status_);
  TESSERA_RETURN_IF_ERROR(sink(header_bytes()));
  const std::vector<uint8_t> zeros(alignment_, 0);
  std::vector<uint8_t> scratch;
  for (const PendingTensor& t : tensors_) {
    if (!t.fill) {
      TESSERA_RETURN_IF_ERROR(sink(t.data));
    } else {
      // Whole rows per call, as Filler promises, and at most about kFillChunkBytes unless one row is larger.
      uint64_t row = tensor::row_bytes(t.dtype, t.shape.back());
      uint64_t chunk = std::max<uint64_t>(1, kFillChunkBytes / row) * row;
      scratch.resize(std::min(chunk, t.nbytes));
      for (uint64_t off = 0; off < t.nbytes; off += chunk) {
        std::span<uint8_t> out(scratch.data(), std::min(chunk, t.nbytes - off));
        t.fill(off, out);
        TESSERA_RETURN_IF_ERROR(sink(out));
      }
    }
    // Padding after every tensor, the last included, as llama.cpp's writer does.
    uint64_t pad = *align_up(t.nbytes, alignment_) - t.nbytes;
    TESSERA_RETURN_IF_ERROR(sink(std::span<const uint8_t>(zeros.data(), pad)));
  }
  return Status();
}

Expected<std::vector<uint8_t>> GgufWriter::write_to_memory() const {
  std::vector<uint8_t> out;
  TESSERA_RETURN_IF_ERROR(write([&](std::span<const uint8_t> b) {
    out.insert(out.end(), b.begin(), b.end());
    return Status();
  }));
  return out;
}

Status GgufWriter::write_to_file(const std::string& path) const {
  TESSERA_RETURN_IF_ERROR(status_);
  std::string tmp = path + ".partial";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return invalid_argument(tmp + ": cannot create: " + std::strerror(errno));
  Status s = write([&](std::span<const uint8_t> b) {
    if (!b.empty() && std::fwrite(b.data(), 1, b.size(), f) != b.size()) {
      return resource_exhausted(tmp + ": write failed: " + std::strerror(errno));
    }
    return Status();
  });
  if (std::fclose(f) != 0 && s.ok()) s = resource_exhausted(tmp + ": close failed: " + std::strerror(errno));
  if (s.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    s = invalid_argument(path + ": cannot rename " + tmp + " into place: " + std::strerror(errno));
  }
  if (!s.ok()) std::remove(tmp.c_str());
  return s;
}

}  // namespace tessera::format
