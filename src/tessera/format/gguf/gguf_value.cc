// GgufValue: typed access to one metadata value. The parser (gguf_file.cc) has already checked that every byte
// a value refers to lies inside the file, so the accessors here only interpret bytes.
#include <cassert>
#include <cinttypes>
#include <cstdio>
#include <limits>

#include "tessera/format/byte_reader.h"
#include "tessera/format/gguf/gguf_file.h"

namespace tessera::format {
namespace {

std::optional<int64_t> int_of(GgufType t, const uint8_t* p) {
  switch (t) {
    case GgufType::kUint8:
      return load_le<uint8_t>(p);
    case GgufType::kInt8:
      return load_le<int8_t>(p);
    case GgufType::kUint16:
      return load_le<uint16_t>(p);
    case GgufType::kInt16:
      return load_le<int16_t>(p);
    case GgufType::kUint32:
      return load_le<uint32_t>(p);
    case GgufType::kInt32:
      return load_le<int32_t>(p);
    case GgufType::kInt64:
      return load_le<int64_t>(p);
    case GgufType::kBool:
      return load_le<uint8_t>(p) != 0;
    case GgufType::kUint64: {
      uint64_t v = load_le<uint64_t>(p);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(v);
    }
    default:
      return std::nullopt;
  }
}

std::optional<double> float_of(GgufType t, const uint8_t* p) {
  switch (t) {
    case GgufType::kFloat32:
      return load_le<float>(p);
    case GgufType::kFloat64:
      return load_le<double>(p);
    case GgufType::kUint64:
      return static_cast<double>(load_le<uint64_t>(p));
    case GgufType::kBool:
      return std::nullopt;
    default: {
      std::optional<int64_t> i = int_of(t, p);
      if (!i) return std::nullopt;
      return static_cast<double>(*i);
    }
  }
}

// Strings in model files run to kilobytes (chat templates); a listing shows their start.
constexpr size_t kMaxShownStringBytes = 120;

void append_quoted(std::string& out, std::string_view s) { out += quote_for_message(s, kMaxShownStringBytes, '"'); }

void append_scalar(std::string& out, GgufType t, const uint8_t* p) {
  char buf[40];
  switch (t) {
    case GgufType::kBool:
      out += load_le<uint8_t>(p) ? "true" : "false";
      return;
    case GgufType::kFloat32:
      std::snprintf(buf, sizeof buf, "%g", static_cast<double>(load_le<float>(p)));
      break;
    case GgufType::kFloat64:
      std::snprintf(buf, sizeof buf, "%g", load_le<double>(p));
      break;
    case GgufType::kUint64:
      std::snprintf(buf, sizeof buf, "%" PRIu64, load_le<uint64_t>(p));
      break;
    default:
      std::snprintf(buf, sizeof buf, "%" PRId64, int_of(t, p).value_or(0));
      break;
  }
  out += buf;
}

}  // namespace

std::string_view gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
      return "u8";
    case GgufType::kInt8:
      return "i8";
    case GgufType::kUint16:
      return "u16";
    case GgufType::kInt16:
      return "i16";
    case GgufType::kUint32:
      return "u32";
    case GgufType::kInt32:
      return "i32";
    case GgufType::kFloat32:
      return "f32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kUint64:
      return "u64";
    case GgufType::kInt64:
      return "i64";
    case GgufType::kFloat64:
      return "f64";
  }
  return "unknown";
}

size_t gguf_scalar_bytes(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

// A default-constructed value has no bytes; every accessor treats it as absent.

std::optional<int64_t> GgufValue::as_int() const {
  if (!data_) return std::nullopt;
  return int_of(type_, data_);
}

std::optional<double> GgufValue::as_float() const {
  if (!data_) return std::nullopt;
  return float_of(type_, data_);
}

std::optional<bool> GgufValue::as_bool() const {
  if (type_ != GgufType::kBool || !data_) return std::nullopt;
  return load_le<uint8_t>(data_) != 0;
}

std::optional<std::string_view> GgufValue::as_string() const {
  if (type_ != GgufType::kString) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(data_), count_);
}

std::optional<int64_t> GgufValue::int_at(uint64_t i) const {
  assert(type_ == GgufType::kArray && i < count_);
  if (type_ != GgufType::kArray || i >= count_ || gguf_scalar_bytes(elem_type_) == 0) return std::nullopt;
  return int_of(elem_type_, data_ + i * gguf_scalar_bytes(elem_type_));
}

std::optional<double> GgufValue::float_at(uint64_t i) const {
  assert(type_ == GgufType::kArray && i < count_);
  if (type_ != GgufType::kArray || i >= count_ || gguf_scalar_bytes(elem_type_) == 0) return std::nullopt;
  return float_of(elem_type_, data_ + i * gguf_scalar_bytes(elem_type_));
}

std::optional<std::string_view> GgufValue::string_at(uint64_t i) const {
  assert(type_ == GgufType::kArray && i < count_);
  if (type_ != GgufType::kArray || elem_type_ != GgufType::kString || i >= count_ || !string_offsets_) {
    return std::nullopt;
  }
  const uint8_t* p = data_ + (*string_offsets_)[i];
  return std::string_view(reinterpret_cast<const char*>(p + 8), load_le<uint64_t>(p));
}

std::string GgufValue::to_string(size_t max_elems) const {
  std::string out;
  if (type_ == GgufType::kString) {
    append_quoted(out, *as_string());
    return out;
  }
  if (type_ != GgufType::kArray) {
    if (!data_) return "(none)";
    append_scalar(out, type_, data_);
    return out;
  }
  out += '[';
  uint64_t shown = count_ < max_elems ? count_ : max_elems;
  for (uint64_t i = 0; i < shown; ++i) {
    if (i) out += ", ";
    if (elem_type_ == GgufType::kString) {
      append_quoted(out, *string_at(i));
    } else if (elem_type_ == GgufType::kArray) {
      out += "[...]";  // nested arrays are kept opaque
    } else {
      append_scalar(out, elem_type_, data_ + i * gguf_scalar_bytes(elem_type_));
    }
  }
  if (shown < count_) out += ", ... (" + std::to_string(count_) + " total)";
  out += ']';
  return out;
}

}  // namespace tessera::format
