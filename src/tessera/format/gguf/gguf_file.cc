// GGUF reader. Layout of v2 and v3 (identical but for the number; all little-endian):
//
//   "GGUF"  u32 version  u64 n_tensors  u64 n_kv
//   n_kv      x { string key, u32 value_type, value }
//   n_tensors x { string name, u32 n_dims, u64 ne[n_dims] (innermost first), u32 ggml_type, u64 offset }
//   padding to general.alignment (default 32), then the data section; tensor offsets are relative to its start.
//
//   string = u64 byte length, bytes (no terminator);  array = u32 element type, u64 count, elements.
//
// Everything in the file is untrusted: each read goes through ByteReader, each size through checked arithmetic,
// and each count is compared with the bytes left before anything is allocated for it.
#include "tessera/format/gguf/gguf_file.h"

#include <cstring>
#include <limits>

#include "tessera/format/byte_reader.h"
#include "tessera/tensor/dtype.h"

namespace tessera::format {
namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;
// Nested arrays are walked only to skip them; the limit keeps a hostile file from exhausting the stack.
constexpr int kMaxArrayDepth = 8;

// The smallest possible encodings. A count larger than (bytes left) / (smallest element) cannot be honest, so
// it is refused before a vector is sized from it.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;                  // empty key, value type, one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, one ne, type, offset
constexpr uint64_t kMinStringBytes = 8;
constexpr uint64_t kMinArrayBytes = 4 + 8;

constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

bool is_known_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }

std::string shape_text(const uint64_t* ne, uint32_t n_dims) {
  std::string s = "[";
  for (uint32_t i = 0; i < n_dims; ++i) {
    if (i) s += ", ";
    s += std::to_string(ne[n_dims - 1 - i]);  // outermost first, as everywhere else in tessera
  }
  return s + "]";
}

}  // namespace

class GgufParser {
 public:
  explicit GgufParser(GgufFile& f) : f_(f), r_(f.bytes_) {}

  Status parse() {
    uint64_t n_tensors = 0;
    uint64_t n_kv = 0;
    TESSERA_RETURN_IF_ERROR(parse_header(&n_tensors, &n_kv));
    TESSERA_RETURN_IF_ERROR(parse_metadata(n_kv));
    TESSERA_RETURN_IF_ERROR(apply_alignment());
    TESSERA_RETURN_IF_ERROR(parse_tensor_infos(n_tensors));
    return place_tensors();
  }

 private:
  Status parse_header(uint64_t* n_tensors, uint64_t* n_kv) {
    TESSERA_RETURN_IF_ERROR(r_.need(4, "magic"));
    if (std::memcmp(r_.here(), "GGUF", 4) != 0) {
      std::string_view head(reinterpret_cast<const char*>(r_.here()), 4);
      return invalid_argument("not a GGUF file (it starts with " + quote_for_message(head) + ", not 'GGUF')");
    }
    TESSERA_RETURN_IF_ERROR(r_.skip(4, "magic"));
    TESSERA_ASSIGN_OR_RETURN(uint32_t version, r_.read<uint32_t>("version"));
    if (version == 1) {
      return unimplemented("GGUF version 1 is not supported (tessera reads v2 and v3); convert the file");
    }
    if (version != 2 && version != 3) {
      uint32_t swapped = __builtin_bswap32(version);
      if (swapped >= 1 && swapped <= 3) {
        return unimplemented("big-endian GGUF v" + std::to_string(swapped) + " is not supported");
      }
      return unimplemented("unknown GGUF version " + std::to_string(version) + " (tessera reads v2 and v3)");
    }
    f_.version_ = version;
    TESSERA_ASSIGN_OR_RETURN(*n_tensors, r_.read<uint64_t>("tensor count"));
    TESSERA_ASSIGN_OR_RETURN(*n_kv, r_.read<uint64_t>("metadata count"));

    uint64_t left = r_.remaining();
    if (*n_kv > left / kMinKvBytes) {
      return data_loss("metadata count " + std::to_string(*n_kv) + " cannot fit in the " + std::to_string(left) +
                       " bytes after the header");
    }
    if (*n_tensors > left / kMinTensorInfoBytes) {
      return data_loss("tensor count " + std::to_string(*n_tensors) + " cannot fit in the " + std::to_string(left) +
                       " bytes after the header");
    }
    // Both are now below 2^61, so this sum cannot overflow.
    if (*n_kv * kMinKvBytes + *n_tensors * kMinTensorInfoBytes > left) {
      return data_loss("metadata count " + std::to_string(*n_kv) + " and tensor count " + std::to_string(*n_tensors) +
                       " cannot both fit in the " + std::to_string(left) + " bytes after the header");
    }
    return Status();
  }

  Expected<std::string_view> read_string(std::string_view what) {
    TESSERA_ASSIGN_OR_RETURN(uint64_t len, r_.read<uint64_t>(what));
    TESSERA_RETURN_IF_ERROR(r_.need(len, what));
    std::string_view s(reinterpret_cast<const char*>(r_.here()), len);
    TESSERA_RETURN_IF_ERROR(r_.skip(len, what));
    return s;
  }

  Status parse_metadata(uint64_t n_kv) {
    f_.metadata_.reserve(n_kv);
    f_.metadata_index_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
      Expected<std::string_view> key = read_string("metadata key");
      if (!key.ok()) return key.status().with_context("metadata entry " + std::to_string(i));
      GgufValue value;
      Status s = parse_value(&value);
      if (!s.ok()) return s.with_context("metadata " + quote_for_message(*key));
      if (!f_.metadata_index_.emplace(*key, f_.metadata_.size()).second) {
        return data_loss("duplicate metadata key " + quote_for_message(*key));
      }
      f_.metadata_.emplace_back(*key, std::move(value));
    }
    return Status();
  }

  Expected<GgufType> read_type(std::string_view what) {
    TESSERA_ASSIGN_OR_RETURN(uint32_t t, r_.read<uint32_t>(what));
    if (!is_known_type(t)) return data_loss("unknown " + std::string(what) + " " + std::to_string(t));
    return static_cast<GgufType>(t);
  }

  Status parse_value(GgufValue* out) {
    TESSERA_ASSIGN_OR_RETURN(out->type_, read_type("value type"));
    if (out->type_ == GgufType::kString) {
      TESSERA_ASSIGN_OR_RETURN(std::string_view s, read_string("string value"));
      out->data_ = reinterpret_cast<const uint8_t*>(s.data());
      out->count_ = s.size();
      return Status();
    }
    if (out->type_ == GgufType::kArray) return parse_array(out);
    out->data_ = r_.here();
    return r_.skip(gguf_scalar_bytes(out->type_), "value");
  }

  // Checks that `count` elements of `elem` could fit in what is left, before walking or allocating for them.
  Status check_count(GgufType elem, uint64_t count) {
    uint64_t min_bytes = elem == GgufType::kString  ? kMinStringBytes
                         : elem == GgufType::kArray ? kMinArrayBytes
                                                    : gguf_scalar_bytes(elem);
    if (count > r_.remaining() / min_bytes) {
      return data_loss("array of " + std::to_string(count) + " " + std::string(gguf_type_name(elem)) +
                       " elements at offset " + std::to_string(r_.pos()) + " runs past the end of the file (size " +
                       std::to_string(r_.size()) + ")");
    }
    return Status();
  }

  Status parse_array(GgufValue* out) {
    TESSERA_ASSIGN_OR_RETURN(out->elem_type_, read_type("array element type"));
    TESSERA_ASSIGN_OR_RETURN(out->count_, r_.read<uint64_t>("array length"));
    TESSERA_RETURN_IF_ERROR(check_count(out->elem_type_, out->count_));
    out->data_ = r_.here();
    switch (out->elem_type_) {
      case GgufType::kString: {
        auto offsets = std::make_shared<std::vector<uint64_t>>();
        offsets->reserve(out->count_);
        uint64_t start = r_.pos();
        for (uint64_t i = 0; i < out->count_; ++i) {
          offsets->push_back(r_.pos() - start);
          TESSERA_RETURN_IF_ERROR(read_string("array string").status());
        }
        out->string_offsets_ = std::move(offsets);
        return Status();
      }
      case GgufType::kArray:
        for (uint64_t i = 0; i < out->count_; ++i) TESSERA_RETURN_IF_ERROR(skip_array(2));
        return Status();
      default:
        // check_count bounded count by remaining / element size, so the product fits.
        return r_.skip(out->count_ * gguf_scalar_bytes(out->elem_type_), "array");
    }
  }

  // Steps over one array nested inside another: tessera keeps such arrays opaque.
  Status skip_array(int depth) {
    if (depth > kMaxArrayDepth) {
      return data_loss("arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " at offset " +
                       std::to_string(r_.pos()));
    }
    TESSERA_ASSIGN_OR_RETURN(GgufType elem, read_type("array element type"));
    TESSERA_ASSIGN_OR_RETURN(uint64_t count, r_.read<uint64_t>("array length"));
    TESSERA_RETURN_IF_ERROR(check_count(elem, count));
    if (elem == GgufType::kString) {
      for (uint64_t i = 0; i < count; ++i) TESSERA_RETURN_IF_ERROR(read_string("array string").status());
      return Status();
    }
    if (elem == GgufType::kArray) {
      for (uint64_t i = 0; i < count; ++i) TESSERA_RETURN_IF_ERROR(skip_array(depth + 1));
      return Status();
    }
    return r_.skip(count * gguf_scalar_bytes(elem), "array");
  }

  Status apply_alignment() {
    const GgufValue* v = f_.find_metadata("general.alignment");
    if (!v) {
      f_.alignment_ = kDefaultAlignment;
      return Status();
    }
    std::optional<int64_t> a = v->type() == GgufType::kBool ? std::nullopt : v->as_int();
    if (!a || *a <= 0 || (*a & (*a - 1)) != 0) {
      return data_loss("general.alignment is " + v->to_string() + " (" + std::string(gguf_type_name(v->type())) +
                       "); it must be a nonzero power of two");
    }
    f_.alignment_ = static_cast<uint64_t>(*a);
    return Status();
  }

  Status parse_tensor_infos(uint64_t n_tensors) {
    f_.tensors_.reserve(n_tensors);
    f_.tensor_index_.reserve(n_tensors);
    offsets_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
      Expected<std::string_view> name = read_string("tensor name");
      if (!name.ok()) return name.status().with_context("tensor info " + std::to_string(i));
      Status s = parse_tensor_info(*name);
      if (!s.ok()) return s.with_context("tensor " + quote_for_message(*name));
      if (!f_.tensor_index_.emplace(*name, f_.tensors_.size() - 1).second) {
        return data_loss("duplicate tensor name " + quote_for_message(*name));
      }
    }
    return Status();
  }

  // Reads the rest of one tensor info and appends its entry (data is placed later, once the data section's
  // start is known).
  Status parse_tensor_info(std::string_view name) {
    TESSERA_ASSIGN_OR_RETURN(uint32_t n_dims, r_.read<uint32_t>("n_dims"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return data_loss("n_dims is " + std::to_string(n_dims) + "; tessera reads 1 to " + std::to_string(kMaxDims));
    }
    uint64_t ne[kMaxDims] = {};
    for (uint32_t d = 0; d < n_dims; ++d) {
      TESSERA_ASSIGN_OR_RETURN(ne[d], r_.read<uint64_t>("dimension"));
    }
    TESSERA_ASSIGN_OR_RETURN(uint32_t ggml_type, r_.read<uint32_t>("tensor type"));
    TESSERA_ASSIGN_OR_RETURN(uint64_t offset, r_.read<uint64_t>("data offset"));

    std::optional<tensor::DType> dtype = tensor::dtype_from_ggml(ggml_type);
    if (!dtype) {
      std::string_view type_name = tensor::ggml_type_name(ggml_type);
      if (type_name == "unknown") {
        return unimplemented("unknown ggml type id " + std::to_string(ggml_type));
      }
      return unimplemented("type " + std::string(type_name) + " is not supported by tessera");
    }
    TESSERA_ASSIGN_OR_RETURN(uint64_t nbytes, data_bytes(*dtype, ne, n_dims));

    TensorEntry e;
    e.name = std::string(name);
    e.dtype = *dtype;
    e.shape.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) e.shape[d] = static_cast<int64_t>(ne[n_dims - 1 - d]);
    e.nbytes = nbytes;
    f_.tensors_.push_back(std::move(e));
    offsets_.push_back(offset);
    return Status();
  }

  // Bytes of a tensor of `dtype` with dims `ne` (innermost first), after checking that the dims are positive,
  // that rows are whole blocks, and that neither the element count nor the byte count overflows.
  static Expected<uint64_t> data_bytes(tensor::DType dtype, const uint64_t* ne, uint32_t n_dims) {
    const tensor::DTypeInfo& info = tensor::dtype_info(dtype);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      if (ne[d] == 0 || ne[d] > kInt64Max) {
        return data_loss("shape " + shape_text(ne, n_dims) + " has a dimension that is not a positive int64");
      }
      std::optional<uint64_t> n = checked_mul(numel, ne[d]);
      if (!n || *n > kInt64Max) return data_loss("shape " + shape_text(ne, n_dims) + " has too many elements");
      numel = *n;
    }
    if (ne[0] % static_cast<uint64_t>(info.block_size) != 0) {
      return data_loss("rows of " + std::to_string(ne[0]) + " elements are not a multiple of the " +
                       std::string(info.name) + " block size " + std::to_string(info.block_size));
    }
    std::optional<uint64_t> nbytes =
        checked_mul(numel / static_cast<uint64_t>(info.block_size), static_cast<uint64_t>(info.block_bytes));
    if (!nbytes) return data_loss("shape " + shape_text(ne, n_dims) + " is too large");
    return *nbytes;
  }

  Status place_tensors() {
    std::optional<uint64_t> data_start = align_up(r_.pos(), f_.alignment_);
    f_.data_offset_ = data_start.value_or(r_.size());
    if (f_.tensors_.empty()) return Status();
    if (!data_start || *data_start > r_.size()) {
      return data_loss("the data section would start past the end of the file (tensor infos end at " +
                       std::to_string(r_.pos()) + ", alignment " + std::to_string(f_.alignment_) + ", size " +
                       std::to_string(r_.size()) + ")");
    }
    uint64_t data_size = r_.size() - *data_start;
    for (size_t i = 0; i < f_.tensors_.size(); ++i) {
      TensorEntry& e = f_.tensors_[i];
      uint64_t offset = offsets_[i];
      if (offset % f_.alignment_ != 0) {
        return data_loss("tensor " + quote_for_message(e.name) + " data offset " + std::to_string(offset) +
                         " is not a multiple of the alignment " + std::to_string(f_.alignment_));
      }
      if (offset > data_size || e.nbytes > data_size - offset) {
        std::optional<uint64_t> abs = checked_add(*data_start, offset);
        std::string where = abs ? std::to_string(*abs) : std::to_string(*data_start) + " + " + std::to_string(offset);
        return data_loss("tensor " + quote_for_message(e.name) + " data [offset " + where + ", +" +
                         std::to_string(e.nbytes) + ") runs past the end of the file (size " +
                         std::to_string(r_.size()) + ")");
      }
      e.data = f_.bytes_.data() + *data_start + offset;
    }
    return Status();
  }

  GgufFile& f_;
  ByteReader r_;
  std::vector<uint64_t> offsets_;  // per tensor, relative to the data section
};

Expected<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(util::MmapFile file, util::MmapFile::open(path));
  auto f = std::make_unique<GgufFile>();
  f->file_ = std::move(file);
  f->bytes_ = f->file_.bytes();
  f->path_ = path;
  Status s = GgufParser(*f).parse();
  if (!s.ok()) return s.with_context(path);
  return f;
}

Expected<std::unique_ptr<GgufFile>> GgufFile::open_from_memory(std::span<const uint8_t> bytes, std::string name) {
  auto f = std::make_unique<GgufFile>();
  f->bytes_ = bytes;
  f->path_ = std::move(name);
  Status s = GgufParser(*f).parse();
  if (!s.ok()) return s.with_context(f->path_);
  return f;
}

const GgufValue* GgufFile::find_metadata(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find_metadata(key);
  return v ? v->as_int() : std::nullopt;
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find_metadata(key);
  return v ? v->as_float() : std::nullopt;
}

std::optional<std::string_view> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find_metadata(key);
  return v ? v->as_string() : std::nullopt;
}

const TensorEntry* GgufFile::find(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace tessera::format
