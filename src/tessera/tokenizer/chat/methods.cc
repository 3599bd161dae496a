// Methods of Python's str, dict, list and tuple as templates call them (`s.split(',')`, `d.get('k')`), plus the
// argument binding and str helpers the filters share. The immutable sandbox lists the mutating ones as unsafe.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tessera/tokenizer/chat/builtins.h"
#include "tessera/tokenizer/chat/error.h"
#include "tessera/tokenizer/chat/py_text.h"
#include "tessera/tokenizer/chat/renderer.h"

namespace tessera::tokenizer::chat {

// ---- argument binding ----

std::optional<Value> ArgReader::get(size_t index, std::string_view name) const {
  if (index < args_.args.size()) return args_.args[index];
  for (const auto& [k, v] : args_.kwargs)
    if (k == name) return v;
  return std::nullopt;
}

Value ArgReader::get_or(size_t index, std::string_view name, Value fallback) const {
  std::optional<Value> v = get(index, name);
  return v ? *v : std::move(fallback);
}

void ArgReader::check(size_t max_positional, std::initializer_list<std::string_view> names) const {
  if (args_.args.size() > max_positional)
    type_error(func_ + "() takes at most " + std::to_string(max_positional) + " argument(s) (" +
               std::to_string(args_.args.size()) + " given)");
  for (const auto& [k, v] : args_.kwargs) {
    if (std::find(names.begin(), names.end(), k) == names.end())
      type_error(func_ + "() got an unexpected keyword argument '" + k + "'");
  }
}

// ---- str helpers ----

namespace {

bool is_line_break(char32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D || cp == 0x1E || cp == 0x85 ||
         cp == 0x2028 || cp == 0x2029;
}

std::string need_str(const Value& v, const char* what) {
  if (!v.is_string()) type_error(std::string(what) + " must be str, not " + type_name(v));
  return v.str();
}

int64_t need_int(const Value& v, const char* what) {
  if (!v.is_int())
    type_error(std::string(what) + ": '" + type_name(v) + "' object cannot be interpreted as an integer");
  return v.as_int();
}

std::optional<std::string> optional_str(const std::optional<Value>& v, const char* what) {
  if (!v || v->is_none()) return std::nullopt;
  return need_str(*v, what);
}

// Code-point index of a byte offset (for find / index results).
int64_t cp_index(const std::string& s, size_t byte_pos) {
  return static_cast<int64_t>(count_code_points(std::string_view(s).substr(0, byte_pos)));
}

bool all_of_cps(const std::string& s, bool (*pred)(char32_t)) {
  if (s.empty()) return false;
  for (size_t pos = 0; pos < s.size();)
    if (!pred(next_code_point(s, &pos))) return false;
  return true;
}

std::string replace_all(const std::string& s, const std::string& old, const std::string& with, int64_t count,
                        Renderer& r) {
  std::string out;
  if (old.empty()) {
    // Python inserts `with` before every character and at the end.
    int64_t n = 0;
    size_t pos = 0;
    while (pos <= s.size()) {
      if (count >= 0 && n >= count) {
        out.append(s, pos);
        break;
      }
      out += with;
      ++n;
      if (pos == s.size()) break;
      const size_t start = pos;
      next_code_point(s, &pos);
      out.append(s, start, pos - start);
      r.check_size(out.size());
    }
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  for (;;) {
    const size_t hit = (count >= 0 && n >= count) ? std::string::npos : s.find(old, pos);
    if (hit == std::string::npos) {
      out.append(s, pos);
      break;
    }
    out.append(s, pos, hit - pos);
    out += with;
    r.check_size(out.size());
    pos = hit + old.size();
    ++n;
  }
  return out;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (!sep) {
    const auto cps = to_code_points(s);
    int64_t e = static_cast<int64_t>(cps.size());
    while (e > 0) {
      while (e > 0 && py_isspace(cps[static_cast<size_t>(e - 1)])) --e;
      if (e == 0) break;
      int64_t b = e;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
        b = 0;
        while (e > b && py_isspace(cps[static_cast<size_t>(b)])) ++b;
        parts.push_back(from_code_points(cps, static_cast<size_t>(b), static_cast<size_t>(e)));
        break;
      }
      while (b > 0 && !py_isspace(cps[static_cast<size_t>(b - 1)])) --b;
      parts.push_back(from_code_points(cps, static_cast<size_t>(b), static_cast<size_t>(e)));
      e = b;
    }
  } else {
    if (sep->empty()) type_error("empty separator");
    size_t end = s.size();
    for (;;) {
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
        parts.emplace_back(s.substr(0, end));
        break;
      }
      const size_t hit = end >= sep->size() ? s.rfind(*sep, end - sep->size()) : std::string_view::npos;
      if (hit == std::string_view::npos) {
        parts.emplace_back(s.substr(0, end));
        break;
      }
      parts.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

Value string_list(const std::vector<std::string>& parts) {
  List items;
  items.reserve(parts.size());
  for (const auto& p : parts) items.emplace_back(p);
  return Value::list(std::move(items));
}

// str.format: positional `{}` / `{0}`, named `{name}`, `{{` / `}}`, conversions !s / !r, and attribute or index
// lookups (`{0.name}`, `{0[key]}`). Format specs support fill, alignment and width; others print as str().
std::string str_format(Renderer& r, const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}')
        ++i;
      else
        throw_error(ErrorKind::kType, "Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string::npos) throw_error(ErrorKind::kType, "expected '}' before end of string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    std::string spec, conversion;
    if (const size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      conversion = field.substr(bang + 1);
      field.resize(bang);
    }
    size_t name_end = field.find_first_of(".[");
    std::string head = field.substr(0, name_end);
    Value v;
    if (head.empty() || std::all_of(head.begin(), head.end(), ::isdigit)) {
      const size_t idx = head.empty() ? auto_index++ : std::stoul(head);
      if (idx >= args.args.size())
        throw_error(ErrorKind::kType,
                    "Replacement index " + std::to_string(idx) + " out of range for positional args tuple");
      v = args.args[idx];
    } else {
      bool found = false;
      for (const auto& [k, kv] : args.kwargs) {
        if (k == head) {
          v = kv;
          found = true;
        }
      }
      if (!found) throw_error(ErrorKind::kType, "KeyError: '" + head + "'");
    }
    while (name_end != std::string::npos && name_end < field.size()) {
      if (field[name_end] == '.') {
        const size_t e = field.find_first_of(".[", name_end + 1);
        v = r.getattr(v, field.substr(name_end + 1, e == std::string::npos ? std::string::npos : e - name_end - 1));
        name_end = e;
      } else {
        const size_t e = field.find(']', name_end);
        if (e == std::string::npos) throw_error(ErrorKind::kType, "Missing ']' in format string");
        const std::string key = field.substr(name_end + 1, e - name_end - 1);
        v = !key.empty() && std::all_of(key.begin(), key.end(), ::isdigit)
                ? r.getitem(v, Value(int64_t(std::stoll(key))))
                : r.getitem(v, Value(key));
        name_end = e + 1 < field.size() ? e + 1 : std::string::npos;
      }
    }
    std::string text = conversion == "r" ? py_repr(v) : py_str(v);
    if (!spec.empty()) {
      char fill = ' ', align = v.is_number() ? '>' : '<';
      size_t p = 0;
      if (spec.size() >= 2 && (spec[1] == '<' || spec[1] == '>' || spec[1] == '^')) {
        fill = spec[0];
        align = spec[1];
        p = 2;
      } else if (spec[0] == '<' || spec[0] == '>' || spec[0] == '^') {
        align = spec[0];
        p = 1;
      }
      const size_t width = std::strtoul(spec.c_str() + p, nullptr, 10);
      const size_t len = count_code_points(text);
      if (width > len) {
        const size_t pad = width - len;
        const size_t left = align == '<' ? 0 : align == '>' ? pad : pad / 2;
        text = std::string(left, fill) + text + std::string(pad - left, fill);
      }
    }
    out += text;
    r.check_size(out.size());
  }
  return out;
}

Value str_method(Renderer& r, const std::string& s, std::string_view name, CallArgs& args) {
  ArgReader a(name, args);
  auto arg = [&](size_t i, std::string_view n) { return a.get(i, n); };
  if (name == "upper") return Value(py_upper(s));
  if (name == "lower" || name == "casefold") return Value(py_lower(s));
  if (name == "title") return Value(py_title(s));
  if (name == "capitalize") return Value(py_capitalize(s));
  if (name == "swapcase") {
    std::string out;
    for (size_t pos = 0; pos < s.size();) {
      const size_t start = pos;
      const char32_t cp = next_code_point(s, &pos);
      const std::string one = s.substr(start, pos - start);
      out += py_isupper_cased(cp) ? py_lower(one) : py_islower_cased(cp) ? py_upper(one) : one;
    }
    return Value(out);
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const auto chars = optional_str(arg(0, "chars"), "chars");
    return Value(py_strip(s, name != "rstrip", name != "lstrip", chars.has_value(), chars.value_or("")));
  }
  if (name == "split" || name == "rsplit") {
    const auto sep = optional_str(arg(0, "sep"), "sep");
    const int64_t maxsplit = need_int(a.get_or(1, "maxsplit", Value(int64_t{-1})), "maxsplit");
    return string_list(name == "split" ? py_split(s, sep, maxsplit) : rsplit(s, sep, maxsplit));
  }
  if (name == "splitlines") return string_list(py_splitlines(s));
  if (name == "replace") {
    const std::string old = need_str(a.get_or(0, "old", Value()), "replace() argument 1");
    const std::string with = need_str(a.get_or(1, "new", Value()), "replace() argument 2");
    return Value(replace_all(s, old, with, need_int(a.get_or(2, "count", Value(int64_t{-1})), "count"), r));
  }
  if (name == "startswith" || name == "endswith") {
    const Value p = a.get_or(0, "prefix", Value());
    std::vector<std::string> options;
    if (p.is_list()) {
      for (const Value& x : p.items()) options.push_back(need_str(x, "tuple item"));
    } else {
      options.push_back(need_str(p, name == "startswith" ? "startswith first arg" : "endswith first arg"));
    }
    for (const auto& o : options) {
      if (name == "startswith" ? s.compare(0, o.size(), o) == 0
                               : (s.size() >= o.size() && s.compare(s.size() - o.size(), o.size(), o) == 0))
        return Value(true);
    }
    return Value(false);
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    const std::string sub = need_str(a.get_or(0, "sub", Value()), "must be str");
    if (name == "count") {
      if (sub.empty()) return Value(static_cast<int64_t>(count_code_points(s) + 1));
      int64_t n = 0;
      for (size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size())) ++n;
      return Value(n);
    }
    const size_t hit = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
    if (hit == std::string::npos) {
      if (name == "index" || name == "rindex") throw_error(ErrorKind::kType, "substring not found");
      return Value(int64_t{-1});
    }
    return Value(cp_index(s, hit));
  }
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const Value& item : iterate(a.get_or(0, "iterable", Value()))) {
      if (!item.is_string()) type_error("sequence item: expected str instance, " + type_name(item) + " found");
      if (!first) out += s;
      first = false;
      out += item.str();
      r.check_size(out.size());
    }
    return Value(out);
  }
  if (name == "format") return Value(str_format(r, s, args));
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") return Value(all_of_cps(s, py_isdigit));
  if (name == "isalpha") return Value(all_of_cps(s, py_isalpha));
  if (name == "isalnum") return Value(all_of_cps(s, py_isalnum));
  if (name == "isspace") return Value(all_of_cps(s, py_isspace));
  if (name == "isascii") return Value(is_ascii(s));
  if (name == "isprintable") return Value(s.empty() || all_of_cps(s, py_isprintable));
  if (name == "islower" || name == "isupper") {
    bool cased = false;
    for (size_t pos = 0; pos < s.size();) {
      const char32_t cp = next_code_point(s, &pos);
      if (name == "islower" ? py_isupper_cased(cp) : py_islower_cased(cp)) return Value(false);
      cased = cased || py_isupper_cased(cp) || py_islower_cased(cp);
    }
    return Value(cased);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string x = need_str(a.get_or(0, "prefix", Value()), "argument");
    if (name == "removeprefix") return Value(s.compare(0, x.size(), x) == 0 ? s.substr(x.size()) : s);
    const bool ends = s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
    return Value(ends ? s.substr(0, s.size() - x.size()) : s);
  }
  if (name == "partition" || name == "rpartition") {
    const std::string sep = need_str(a.get_or(0, "sep", Value()), "sep");
    if (sep.empty()) type_error("empty separator");
    const size_t hit = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (hit == std::string::npos)
      return name == "partition" ? Value::tuple({Value(s), Value(""), Value("")})
                                 : Value::tuple({Value(""), Value(""), Value(s)});
    return Value::tuple({Value(s.substr(0, hit)), Value(sep), Value(s.substr(hit + sep.size()))});
  }
  if (name == "center" || name == "ljust" || name == "rjust" || name == "zfill") {
    const int64_t width = need_int(a.get_or(0, "width", Value()), "width");
    const std::string fill = name == "zfill" ? "0" : a.get_or(1, "fillchar", Value(" ")).str();
    const auto len = static_cast<int64_t>(count_code_points(s));
    if (width <= len) return Value(s);
    r.check_size(static_cast<size_t>(std::min<int64_t>(width, INT32_MAX)) * std::max<size_t>(fill.size(), 1));
    const int64_t pad = width - len;
    int64_t left = name == "ljust" ? 0 : name == "center" ? pad / 2 + (pad & width & 1) : pad;
    std::string out;
    auto repeat = [&](int64_t n) {
      for (int64_t i = 0; i < n; ++i) out += fill;
    };
    if (name == "zfill" && !s.empty() && (s[0] == '-' || s[0] == '+')) {
      out += s[0];
      repeat(left);
      out += s.substr(1);
      return Value(out);
    }
    repeat(left);
    out += s;
    repeat(pad - left);
    return Value(out);
  }
  type_error("'str' object has no attribute '" + std::string(name) + "'");
}

constexpr std::string_view kStrMethods[] = {
    "upper",        "lower",        "casefold",   "title",        "capitalize", "swapcase",    "strip",    "lstrip",
    "rstrip",       "split",        "rsplit",     "splitlines",   "replace",    "startswith",  "endswith", "find",
    "rfind",        "index",        "rindex",     "count",        "join",       "format",      "isdigit",  "isdecimal",
    "isnumeric",    "isalpha",      "isalnum",    "isspace",      "isascii",    "isprintable", "islower",  "isupper",
    "removeprefix", "removesuffix", "partition",  "rpartition",   "center",     "ljust",       "rjust",    "zfill",
    "encode",       "expandtabs",   "format_map", "isidentifier", "istitle",    "maketrans",   "translate"};
constexpr std::string_view kDictMethods[] = {"get", "items", "keys", "values", "copy", "fromkeys"};
constexpr std::string_view kDictUnsafe[] = {"pop", "popitem", "setdefault", "update", "clear"};
constexpr std::string_view kListMethods[] = {"index", "count", "copy"};
constexpr std::string_view kListUnsafe[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};

template <size_t N>
bool in(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

}  // namespace

bool has_method(const Value& v, std::string_view name, bool* unsafe) {
  *unsafe = false;
  if (v.is_string()) return in(kStrMethods, name);
  if (v.is_dict()) {
    if (in(kDictUnsafe, name)) return *unsafe = true;
    return in(kDictMethods, name);
  }
  if (v.kind() == Value::Kind::kList) {
    if (in(kListUnsafe, name)) return *unsafe = true;
    return in(kListMethods, name);
  }
  if (v.kind() == Value::Kind::kTuple) return name == "index" || name == "count";
  return false;
}

Value call_method(Renderer& r, const Value& v, std::string_view name, CallArgs& args) {
  if (v.is_string()) return str_method(r, v.str(), name, args);
  ArgReader a(name, args);
  if (v.is_dict()) {
    if (name == "get") {
      a.check(2, {});
      const Value* found = v.find(a.get_or(0, "key", Value()));
      return found ? *found : a.get_or(1, "default", Value::none());
    }
    if (name == "items" || name == "keys" || name == "values") {
      List out;
      for (const auto& [k, item] : v.entries())
        out.push_back(name == "items" ? Value::tuple({k, item}) : name == "keys" ? k : item);
      return Value::list(std::move(out));
    }
    if (name == "copy") return v;
  }
  if (v.is_list()) {
    if (name == "copy") return v;
    if (name == "count" || name == "index") {
      const Value x = a.get_or(0, "value", Value());
      int64_t n = 0;
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (!py_equal(v.items()[i], x)) continue;
        if (name == "index") return Value(static_cast<int64_t>(i));
        ++n;
      }
      if (name == "index") throw_error(ErrorKind::kType, py_repr(x) + " is not in list");
      return Value(n);
    }
  }
  type_error("'" + type_name(v) + "' object has no attribute '" + std::string(name) + "'");
}

std::vector<std::string> py_splitlines(std::string_view s) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t pos = 0; pos < s.size();) {
    const size_t at = pos;
    const char32_t cp = next_code_point(s, &pos);
    if (!is_line_break(cp)) continue;
    lines.emplace_back(s.substr(start, at - start));
    if (cp == '\r' && pos < s.size() && s[pos] == '\n') ++pos;
    start = pos;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (!sep) {
    const auto cps = to_code_points(s);
    size_t i = 0;
    const size_t n = cps.size();
    while (i < n) {
      while (i < n && py_isspace(cps[i])) ++i;
      if (i == n) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
        size_t e = n;
        while (e > i && py_isspace(cps[e - 1])) --e;
        parts.push_back(from_code_points(cps, i, e));
        break;
      }
      size_t j = i;
      while (j < n && !py_isspace(cps[j])) ++j;
      parts.push_back(from_code_points(cps, i, j));
      i = j;
    }
    return parts;
  }
  if (sep->empty()) type_error("empty separator");
  size_t pos = 0;
  for (;;) {
    const size_t hit =
        (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) ? std::string_view::npos : s.find(*sep, pos);
    if (hit == std::string_view::npos) {
      parts.emplace_back(s.substr(pos));
      return parts;
    }
    parts.emplace_back(s.substr(pos, hit - pos));
    pos = hit + sep->size();
  }
}

Value py_percent_format(Renderer& r, const std::string& format, const Value& args) {
  const List items = args.kind() == Value::Kind::kTuple ? args.items() : List{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i >= format.size()) type_error("incomplete format");
    std::string key;
    if (format[i] == '(') {
      const size_t close = format.find(')', i);
      if (close == std::string::npos) type_error("incomplete format key");
      key = format.substr(i + 1, close - i - 1);
      i = close + 1;
    }
    std::string spec = "%";
    while (i < format.size() && std::string_view("-+ #0123456789.").find(format[i]) != std::string_view::npos)
      spec += format[i++];
    if (i >= format.size()) type_error("incomplete format");
    const char conv = format[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    Value v;
    if (!key.empty()) {
      if (!args.is_dict()) type_error("format requires a mapping");
      const Value* found = args.find(key);
      if (!found) throw_error(ErrorKind::kType, "KeyError: '" + key + "'");
      v = *found;
    } else {
      if (next >= items.size()) type_error("not enough arguments for format string");
      v = items[next++];
    }
    char buf[512];
    if (conv == 's' || conv == 'r' || conv == 'a') {
      std::string text = conv == 's' ? py_str(v) : py_repr(v);
      const bool left = spec.find('-') != std::string::npos;
      const size_t dot = spec.find('.');
      const size_t digits = spec.find_first_of("123456789");
      if (dot != std::string::npos) text = text.substr(0, std::strtoul(spec.c_str() + dot + 1, nullptr, 10));
      const size_t width = digits != std::string::npos && digits < std::min(dot, spec.size())
                               ? std::min<size_t>(std::strtoul(spec.c_str() + digits, nullptr, 10), 1 << 20)
                               : 0;
      const size_t len = count_code_points(text);
      if (width > len) text = left ? text + std::string(width - len, ' ') : std::string(width - len, ' ') + text;
      out += text;
      r.check_size(out.size());
      continue;
    }
    if (!v.is_number()) type_error(std::string("%") + conv + " format: a real number is required, not " + type_name(v));
    if (conv == 'd' || conv == 'i' || conv == 'u') {
      const double d = v.as_double();
      if (v.is_float() && !(std::isfinite(d) && d > -9.2e18 && d < 9.2e18))
        type_error("%d format: number out of range");
      std::snprintf(buf, sizeof(buf), (spec + "lld").c_str(),
                    static_cast<long long>(v.is_float() ? static_cast<int64_t>(d) : v.as_int()));
    } else if (conv == 'x' || conv == 'X' || conv == 'o') {
      if (!v.is_int()) type_error("an integer is required");
      std::snprintf(buf, sizeof(buf), (spec + "ll" + conv).c_str(), static_cast<long long>(v.as_int()));
    } else if (std::string_view("fFeEgG").find(conv) != std::string_view::npos) {
      std::snprintf(buf, sizeof(buf), (spec + conv).c_str(), v.as_double());
    } else {
      type_error(std::string("unsupported format character '") + conv + "'");
    }
    out += buf;
    r.check_size(out.size());
  }
  if (args.kind() == Value::Kind::kTuple && next < items.size())
    type_error("not all arguments converted during string formatting");
  return Value(out);
}

}  // namespace tessera::tokenizer::chat
