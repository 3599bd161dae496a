#include "tessera/server/api/field_reader.h"

#include <cmath>
#include <cstdio>

namespace tessera::server::api {
namespace {

std::string format_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", x);
  return buf;
}

}  // namespace

std::optional<int64_t> json_to_int64(const Json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_float()) {
    const double d = value.get<double>();
    // 2^63 is the first double past INT64_MAX.
    if (std::isfinite(d) && d == std::floor(d) && d >= -9.2233720368547758e18 && d < 9.2233720368547758e18)
      return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::string describe_value(const Json& value) {
  if (value.is_number_float()) return format_number(value.get<double>());
  if (value.is_number()) return dump(value);
  if (value.is_string()) {
    std::string s = dump(value);
    if (s.size() > 40) s = s.substr(0, 36) + "...\"";
    return s;
  }
  return std::string(json_type_name(value));
}

FieldReader::FieldReader(const Json& object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}

const Json* FieldReader::get(std::string_view key) const {
  if (!object_.is_object()) return nullptr;
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

void FieldReader::fail(ApiError error) {
  if (!error_) error_ = std::move(error);
}

bool FieldReader::check_type(std::string_view key, const Json*& value, bool type_ok, std::string_view expected) {
  if (!type_ok) {
    fail(invalid_type(path(key), expected, json_type_name(*value)));
    value = nullptr;
  }
  return value != nullptr;
}

bool FieldReader::string(std::string_view key, std::string& out) {
  const Json* v = ok() ? get(key) : nullptr;
  if (!v || !check_type(key, v, v->is_string(), "a string")) return false;
  out = v->get<std::string>();
  return true;
}

bool FieldReader::boolean(std::string_view key, bool& out) {
  const Json* v = ok() ? get(key) : nullptr;
  if (!v || !check_type(key, v, v->is_boolean(), "a boolean")) return false;
  out = v->get<bool>();
  return true;
}

bool FieldReader::integer(std::string_view key, int64_t& out, int64_t lo, int64_t hi) {
  const Json* v = ok() ? get(key) : nullptr;
  if (!v || !check_type(key, v, v->is_number(), "an integer")) return false;
  const std::optional<int64_t> i = json_to_int64(*v);
  const std::string range = "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
  if (!i) {
    // 2.5 is not an integer; 1e30 is one, just too large.
    const bool integral = v->is_number_unsigned() || std::floor(v->get<double>()) == v->get<double>();
    fail(integral ? invalid_value(path(key), range, describe_value(*v))
                  : invalid_type(path(key), "an integer", describe_value(*v)));
    return false;
  }
  if (*i < lo || *i > hi) {
    fail(invalid_value(path(key), range, describe_value(*v)));
    return false;
  }
  out = *i;
  return true;
}

bool FieldReader::integer(std::string_view key, int32_t& out, int64_t lo, int64_t hi) {
  int64_t wide = 0;
  if (!integer(key, wide, lo, hi)) return false;
  out = static_cast<int32_t>(wide);
  return true;
}

bool FieldReader::number(std::string_view key, float& out, double lo, double hi) {
  const Json* v = ok() ? get(key) : nullptr;
  if (!v || !check_type(key, v, v->is_number(), "a number")) return false;
  const double d = v->get<double>();
  if (!(d >= lo && d <= hi)) {
    fail(invalid_value(path(key), "a number between " + format_number(lo) + " and " + format_number(hi),
                       describe_value(*v)));
    return false;
  }
  out = static_cast<float>(d);
  return true;
}

bool FieldReader::array(std::string_view key, const Json*& out) {
  const Json* v = ok() ? get(key) : nullptr;
  if (!v || !check_type(key, v, v->is_array(), "an array")) return false;
  out = v;
  return true;
}

bool FieldReader::object(std::string_view key, const Json*& out) {
  const Json* v = ok() ? get(key) : nullptr;
  if (!v || !check_type(key, v, v->is_object(), "an object")) return false;
  out = v;
  return true;
}

bool FieldReader::require(std::string_view key) {
  if (!ok()) return false;
  if (has(key)) return true;
  fail(missing_parameter(path(key)));
  return false;
}

}  // namespace tessera::server::api
