// Jinja2 3.1's builtin filters, with transformers' tojson (json.dumps with ensure_ascii=False, key order kept).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tessera/tokenizer/chat/builtins.h"
#include "tessera/tokenizer/chat/error.h"
#include "tessera/tokenizer/chat/py_text.h"
#include "tessera/tokenizer/chat/renderer.h"

namespace tessera::tokenizer::chat {
namespace {

// Jinja2's make_attrgetter: "a.b.0" walks items (getitem with attribute fallback); integer parts index lists.
Value get_attribute_path(Renderer& r, Value item, const Value& attribute) {
  if (!attribute.is_string()) return r.getitem(item, attribute);
  std::string_view path = attribute.str();
  for (;;) {
    const size_t dot = path.find('.');
    const std::string part(path.substr(0, dot));
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    item = r.getitem(item, digits ? Value(static_cast<int64_t>(std::strtoll(part.c_str(), nullptr, 10))) : Value(part));
    if (dot == std::string_view::npos) return item;
    path.remove_prefix(dot + 1);
  }
}

// Jinja2's title filter is not str.title(): it splits on runs of whitespace, '-', '(', '{', '[' and '<', then
// upper-cases the first character of each piece and lower-cases the rest ("<b>big</b>" -> "<B>big</b>").
std::string jinja_title(const std::string& s) {
  auto is_sep = [](char32_t cp) {
    return py_isspace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
  };
  std::string out, piece;
  bool piece_is_sep = false;
  auto flush = [&] {
    if (piece.empty()) return;
    size_t pos = 0;
    next_code_point(piece, &pos);
    out += py_upper(piece.substr(0, pos)) + py_lower(piece.substr(pos));
    piece.clear();
  };
  for (size_t pos = 0; pos < s.size();) {
    const size_t start = pos;
    const bool sep = is_sep(next_code_point(s, &pos));
    if (sep != piece_is_sep) flush();
    piece_is_sep = sep;
    piece.append(s, start, pos - start);
  }
  flush();
  return out;
}

Value ignore_case(const Value& v) { return v.is_string() ? Value(py_lower(v.str())) : v; }

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

// Python's float(str): surrounding whitespace allowed, underscores between digits, inf / nan spelled any case.
std::optional<double> parse_float(const std::string& text) {
  std::string s = py_strip(text, true, true, false, "");
  if (s.empty()) return std::nullopt;
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1])))
        return std::nullopt;
      continue;
    }
    clean += s[i];
  }
  const std::string lower = py_lower(clean);
  const std::string body = lower[0] == '+' || lower[0] == '-' ? lower.substr(1) : lower;
  if (body == "inf" || body == "infinity" || body == "nan") {
    const double v = body == "nan" ? NAN : INFINITY;
    return lower[0] == '-' ? -v : v;
  }
  if (body.empty() || !(std::isdigit(static_cast<unsigned char>(body[0])) || body[0] == '.')) return std::nullopt;
  if (body.find_first_not_of("0123456789.e+-") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_int(const std::string& text, int64_t base) {
  std::string s = py_strip(text, true, true, false, "");
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() && std::isalnum(static_cast<unsigned char>(s[i - 1])) &&
        std::isalnum(static_cast<unsigned char>(s[i + 1])))
      continue;
    clean += s[i];
  }
  if (clean.empty() || base < 0 || base == 1 || base > 36) return std::nullopt;
  size_t start = clean[0] == '+' || clean[0] == '-' ? 1 : 0;
  if (start >= clean.size() || !std::isalnum(static_cast<unsigned char>(clean[start]))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(clean.c_str(), &end, static_cast<int>(base));
  if (end != clean.c_str() + clean.size() || errno == ERANGE) return std::nullopt;
  return v;
}

// int(float): truncation, refused where Python would build a number wider than 64 bits.
int64_t truncate_to_int(double x) {
  if (!std::isfinite(x)) type_error("cannot convert float infinity or NaN to integer");
  if (!(x > -9223372036854775808.0 && x < 9223372036854775808.0)) type_error("integer overflow");
  return static_cast<int64_t>(x);
}

Value to_int(const Value& v, const Value& fallback, int64_t base) {
  if (v.is_int()) return Value(v.as_int());
  if (v.is_float()) return Value(truncate_to_int(v.as_double()));
  if (v.is_string()) {
    if (auto i = parse_int(v.str(), base)) return Value(*i);
    if (auto f = parse_float(v.str())) return Value(truncate_to_int(*f));
  }
  return fallback;
}

List sorted(Renderer& r, List items, bool reverse, bool case_sensitive, const std::optional<Value>& attribute) {
  std::vector<std::pair<Value, size_t>> keyed;
  keyed.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    Value k = attribute && !attribute->is_none() ? get_attribute_path(r, items[i], *attribute) : items[i];
    keyed.emplace_back(case_sensitive ? k : ignore_case(k), i);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? py_compare(b.first, a.first) < 0 : py_compare(a.first, b.first) < 0;
  });
  List out;
  out.reserve(items.size());
  for (const auto& [k, i] : keyed) out.push_back(items[i]);
  return out;
}

// select / reject / selectattr / rejectattr: `args` are what follows the attribute (test name, then its args).
List select_items(Renderer& r, const Value& seq, const CallArgs& call, bool with_attr, bool keep_when) {
  size_t i = 0;
  Value attribute;
  if (with_attr) {
    if (call.args.empty()) type_error("Missing parameter for attribute name");
    attribute = call.args[i++];
  }
  std::string test;
  if (i < call.args.size()) test = py_str(call.args[i++]);
  CallArgs test_args;
  test_args.args.assign(call.args.begin() + static_cast<std::ptrdiff_t>(i), call.args.end());
  test_args.kwargs = call.kwargs;
  if (!test.empty() && !has_test(test)) throw_error(ErrorKind::kRuntime, "No test named '" + test + "'.");
  List out;
  if (!truthy(seq)) return out;  // Jinja2 skips a falsy input (None included) instead of iterating it
  for (const Value& item : iterate(seq)) {
    const Value subject = with_attr ? get_attribute_path(r, item, attribute) : item;
    CallArgs a = test_args;
    const bool pass = test.empty() ? truthy(subject) : apply_test(r, test, subject, a);
    if (pass == keep_when) out.push_back(item);
  }
  return out;
}

std::string indent(const std::string& text, const Value& width, bool first, bool blank) {
  const std::string pad =
      width.is_string() ? width.str() : std::string(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
  std::vector<std::string> lines = py_splitlines(text + "\n");
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + pad : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : pad + lines[i]);
  }
  return first ? pad + rv : rv;
}

Value tojson(const Value& v, CallArgs& args) {
  ArgReader a("tojson", args);
  a.check(4, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions o;
  o.ensure_ascii = truthy(a.get_or(0, "ensure_ascii", Value(false)));
  const Value ind = a.get_or(1, "indent", Value::none());
  if (ind.is_int() && !ind.is_bool()) {
    o.has_indent = true;
    o.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(ind.as_int(), 1024))), ' ');
  } else if (ind.is_string()) {
    o.has_indent = true;
    o.indent = ind.str();
  } else if (!ind.is_none()) {
    type_error("indent must be an int or a str");
  }
  const Value seps = a.get_or(2, "separators", Value::none());
  if (seps.is_list() && seps.items().size() == 2 && seps.items()[0].is_string() && seps.items()[1].is_string()) {
    o.item_separator = seps.items()[0].str();
    o.key_separator = seps.items()[1].str();
  } else if (!seps.is_none()) {
    type_error("separators must be a (item_separator, key_separator) pair");
  }
  o.sort_keys = truthy(a.get_or(3, "sort_keys", Value(false)));
  return Value(json_dumps(v, o));
}

Value require_number(const Value& v, const char* what) {
  if (v.is_undefined()) throw_error(ErrorKind::kUndefined, v.str());
  if (!v.is_number()) type_error(std::string("bad operand type for ") + what + ": '" + type_name(v) + "'");
  return v;
}

}  // namespace

namespace {
constexpr std::string_view kFilters[] = {
    "abs",    "attr",  "batch",    "capitalize",  "center", "count",    "d",      "default",    "dictsort", "e",
    "escape", "first", "float",    "forceescape", "format", "indent",   "int",    "items",      "join",     "last",
    "length", "list",  "lower",    "map",         "max",    "min",      "reject", "rejectattr", "replace",  "reverse",
    "round",  "safe",  "select",   "selectattr",  "slice",  "sort",     "string", "striptags",  "sum",      "title",
    "tojson", "trim",  "truncate", "unique",      "upper",  "wordcount"};
}  // namespace

bool has_filter(std::string_view name) {
  return std::find(std::begin(kFilters), std::end(kFilters), name) != std::end(kFilters);
}

Value apply_filter(Renderer& r, std::string_view name, const Value& v, CallArgs& args) {
  ArgReader a(name, args);
  if (name == "tojson") return tojson(v, args);
  if (name == "default" || name == "d") {
    const bool boolean = truthy(a.get_or(1, "boolean", Value(false)));
    if (v.is_undefined() || (boolean && !truthy(v))) return a.get_or(0, "default_value", Value(""));
    return v;
  }
  if (name == "length" || name == "count") return Value(py_len(v));
  // Markup stays Markup through the str methods these filters call (markupsafe wraps them).
  auto same_kind = [&](std::string s) { return v.is_markup() ? Value::markup(std::move(s)) : Value(std::move(s)); };
  if (name == "string") return v.is_markup() ? v : Value(py_str(v));
  if (name == "trim") {
    const std::optional<Value> chars = a.get(0, "chars");
    const bool has = chars && !chars->is_none();
    return same_kind(py_strip(py_str(v), true, true, has, has ? py_str(*chars) : ""));
  }
  if (name == "upper") return same_kind(py_upper(py_str(v)));
  if (name == "lower") return same_kind(py_lower(py_str(v)));
  if (name == "title") return same_kind(jinja_title(py_str(v)));
  if (name == "capitalize") return same_kind(py_capitalize(py_str(v)));
  if (name == "safe") return v.is_markup() ? v : Value::markup(py_str(v));
  if (name == "e" || name == "escape") return v.is_markup() ? v : Value::markup(html_escape(py_str(v)));
  if (name == "forceescape") return Value::markup(html_escape(py_str(v)));
  if (name == "items") {
    if (v.is_undefined()) return Value::list({});
    if (!v.is_dict()) type_error("Can only get item pairs from a mapping.");
    List out;
    for (const auto& [k, item] : v.entries()) out.push_back(Value::tuple({k, item}));
    return Value::generator(std::move(out));
  }
  if (name == "list") return Value::list(iterate(v));
  if (name == "first") {
    const List items = iterate(v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
  }
  if (name == "last") {
    if (!v.is_list() && !v.is_string() && !v.is_dict()) type_error("'" + type_name(v) + "' object is not reversible");
    const List items = iterate(v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
  }
  if (name == "join") {
    const Value sep = a.get_or(0, "d", Value(""));
    const std::optional<Value> attribute = a.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v)) {
      if (!first) out += py_str(sep);
      first = false;
      out += py_str(attribute && !attribute->is_none() ? get_attribute_path(r, item, *attribute) : item);
      r.check_size(out.size());
    }
    return Value(out);
  }
  if (name == "map") {
    List out;
    if (args.args.empty()) {
      const std::optional<Value> attribute = a.get(99, "attribute");
      if (!attribute) type_error("map requires a filter name or attribute=");
      const std::optional<Value> fallback = a.get(99, "default");
      for (const Value& item : iterate(v)) {
        Value x = get_attribute_path(r, item, *attribute);
        out.push_back(fallback && x.is_undefined() ? *fallback : x);
      }
    } else {
      const std::string filter = py_str(args.args[0]);
      if (!has_filter(filter)) throw_error(ErrorKind::kRuntime, "No filter named '" + filter + "'.");
      for (const Value& item : iterate(v)) {
        CallArgs rest;
        rest.args.assign(args.args.begin() + 1, args.args.end());
        rest.kwargs = args.kwargs;
        out.push_back(apply_filter(r, filter, item, rest));
      }
    }
    return Value::generator(std::move(out));
  }
  if (name == "select" || name == "reject") return Value::generator(select_items(r, v, args, false, name == "select"));
  if (name == "selectattr" || name == "rejectattr")
    return Value::generator(select_items(r, v, args, true, name == "selectattr"));
  if (name == "replace") {
    CallArgs m;
    m.args = {a.get_or(0, "old", Value()), a.get_or(1, "new", Value())};
    if (auto c = a.get(2, "count"); c && !c->is_none()) m.args.push_back(*c);
    return call_method(r, Value(py_str(v)), "replace", m);
  }
  if (name == "indent") {
    const Value width = a.get_or(0, "width", Value(4));
    if (width.is_int()) {  // every line gets the pad: bound the result before building it
      const std::string text = py_str(v);
      const double lines = static_cast<double>(std::count(text.begin(), text.end(), '\n') + 2);
      const double bytes =
          lines * static_cast<double>(std::max<int64_t>(width.as_int(), 0)) + static_cast<double>(text.size());
      r.check_size(bytes > 1e15 ? SIZE_MAX : static_cast<size_t>(bytes));
    }
    return Value(indent(py_str(v), a.get_or(0, "width", Value(4)), truthy(a.get_or(1, "first", Value(false))),
                        truthy(a.get_or(2, "blank", Value(false)))));
  }
  if (name == "int") return to_int(v, a.get_or(0, "default", Value(0)), a.get_or(1, "base", Value(10)).as_int());
  if (name == "float") {
    const Value fallback = a.get_or(0, "default", Value(0.0));
    if (v.is_number()) return Value(v.as_double());
    if (v.is_string())
      if (auto f = parse_float(v.str())) return Value(*f);
    return fallback;
  }
  if (name == "abs") {
    const Value n = require_number(v, "abs()");
    if (n.is_float()) return Value(std::fabs(n.as_double()));
    if (n.as_int() == INT64_MIN) type_error("integer overflow");
    return Value(n.as_int() < 0 ? -n.as_int() : n.as_int());
  }
  if (name == "round") {
    const Value n = require_number(v, "round()");
    const double x = n.as_double();
    const int64_t precision = a.get_or(0, "precision", Value(0)).as_int();
    const std::string method = py_str(a.get_or(1, "method", Value("common")));
    const double scale = std::pow(10.0, static_cast<double>(precision));
    if (method == "common") {
      if (n.is_int()) return Value(n.as_int());  // round(int, ndigits) stays an int (ndigits >= 0)
      if (precision < 0 || precision > 300 || !std::isfinite(x)) return Value(std::nearbyint(x * scale) / scale);
      // Python rounds the exact binary value half to even, as printf does: 2.675 -> 2.67.
      char buf[400];
      std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(precision), x);
      return Value(std::strtod(buf, nullptr));
    }
    if (method == "ceil") return Value(std::ceil(x * scale) / scale);
    if (method == "floor") return Value(std::floor(x * scale) / scale);
    type_error("method must be common, ceil or floor");
  }
  if (name == "sort") {
    return Value::list(sorted(r, iterate(v), truthy(a.get_or(0, "reverse", Value(false))),
                              truthy(a.get_or(1, "case_sensitive", Value(false))), a.get(2, "attribute")));
  }
  if (name == "dictsort") {
    if (!v.is_dict()) type_error("dictsort needs a mapping");
    const bool case_sensitive = truthy(a.get_or(0, "case_sensitive", Value(false)));
    const std::string by = py_str(a.get_or(1, "by", Value("key")));
    if (by != "key" && by != "value") type_error("You can only sort by either \"key\" or \"value\"");
    List pairs;
    for (const auto& [k, item] : v.entries()) pairs.push_back(Value::tuple({k, item}));
    return Value::list(sorted(r, std::move(pairs), truthy(a.get_or(2, "reverse", Value(false))), case_sensitive,
                              Value(int64_t{by == "key" ? 0 : 1})));
  }
  if (name == "unique") {
    const bool case_sensitive = truthy(a.get_or(0, "case_sensitive", Value(false)));
    const std::optional<Value> attribute = a.get(1, "attribute");
    List out, seen;
    for (const Value& item : iterate(v)) {
      Value key = attribute && !attribute->is_none() ? get_attribute_path(r, item, *attribute) : item;
      if (!case_sensitive) key = ignore_case(key);
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return py_equal(s, key); })) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
    return Value::generator(std::move(out));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      auto cps = to_code_points(v.str());
      std::reverse(cps.begin(), cps.end());
      return Value(from_code_points(cps, 0, cps.size()));
    }
    List items = iterate(v);
    std::reverse(items.begin(), items.end());
    // reversed() of a list is an iterator; of anything else Jinja2 builds a list.
    return v.kind() == Value::Kind::kList ? Value::generator(std::move(items), "list_reverseiterator")
                                          : Value::list(std::move(items));
  }
  if (name == "min" || name == "max") {
    const bool case_sensitive = truthy(a.get_or(0, "case_sensitive", Value(false)));
    const std::optional<Value> attribute = a.get(1, "attribute");
    const List items = iterate(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    Value best_key;
    for (size_t i = 0; i < items.size(); ++i) {
      Value key = attribute && !attribute->is_none() ? get_attribute_path(r, items[i], *attribute) : items[i];
      if (!case_sensitive) key = ignore_case(key);
      if (i == 0 || (name == "min" ? py_compare(key, best_key) < 0 : py_compare(key, best_key) > 0)) {
        best = i;
        best_key = key;
      }
    }
    return items[best];
  }
  if (name == "sum") {
    const std::optional<Value> attribute = a.get(0, "attribute");
    Value total = a.get_or(1, "start", Value(0));
    for (const Value& item : iterate(v)) {
      const Value x = attribute && !attribute->is_none() ? get_attribute_path(r, item, *attribute) : item;
      if (!x.is_number() || !total.is_number())
        type_error("unsupported operand type(s) for +: '" + type_name(total) + "' and '" + type_name(x) + "'");
      if (total.is_int() && x.is_int()) {
        int64_t s;
        if (__builtin_add_overflow(total.as_int(), x.as_int(), &s)) type_error("integer overflow");
        total = Value(s);
      } else {
        total = Value(total.as_double() + x.as_double());
      }
    }
    return total;
  }
  if (name == "wordcount") {
    int64_t n = 0;
    bool in_word = false;
    const std::string s = py_str(v);
    for (size_t pos = 0; pos < s.size();) {
      const char32_t cp = next_code_point(s, &pos);
      const bool w = py_isalnum(cp) || cp == '_';
      if (w && !in_word) ++n;
      in_word = w;
    }
    return Value(n);
  }
  if (name == "center") {
    CallArgs m;
    m.args = {a.get_or(0, "width", Value(80))};
    return call_method(r, Value(py_str(v)), "center", m);
  }
  if (name == "attr") return r.getattr(v, py_str(a.get_or(0, "name", Value(""))));
  if (name == "format") {
    if (!args.kwargs.empty()) {
      Value d = Value::dict();
      for (const auto& [k, x] : args.kwargs) d.set(Value(k), x);
      return py_percent_format(r, py_str(v), d);
    }
    return py_percent_format(r, py_str(v), Value::tuple(args.args));
  }
  if (name == "batch" || name == "slice") {
    const int64_t n = a.get_or(0, name == "batch" ? "linecount" : "slices", Value(1)).as_int();
    if (n <= 0) type_error(std::string(name) + " needs a positive count");
    const std::optional<Value> fill = a.get(1, "fill_with");
    const List items = iterate(v);
    List out;
    if (name == "batch") {
      for (size_t i = 0; i < items.size(); i += static_cast<size_t>(n)) {
        List row(items.begin() + static_cast<std::ptrdiff_t>(i),
                 items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), i + static_cast<size_t>(n))));
        while (fill && !fill->is_none() && row.size() < static_cast<size_t>(n)) row.push_back(*fill);
        out.push_back(Value::list(std::move(row)));
      }
    } else {
      const size_t per = items.size() / static_cast<size_t>(n), extra = items.size() % static_cast<size_t>(n);
      size_t offset = 0;
      for (size_t s = 0; s < static_cast<size_t>(n); ++s) {
        const size_t len = per + (s < extra ? 1 : 0);
        List row(items.begin() + static_cast<std::ptrdiff_t>(offset),
                 items.begin() + static_cast<std::ptrdiff_t>(offset + len));
        offset += len;
        if (fill && !fill->is_none() && s >= extra && extra) row.push_back(*fill);
        out.push_back(Value::list(std::move(row)));
      }
    }
    return Value::generator(std::move(out));
  }
  if (name == "striptags") {
    std::string s = py_str(v), out;
    bool in_tag = false;
    for (char c : s) {
      if (c == '<')
        in_tag = true;
      else if (c == '>' && in_tag)
        in_tag = false;
      else if (!in_tag)
        out += c;
    }
    std::vector<std::string> words = py_split(out, std::nullopt, -1);
    std::string joined;
    for (size_t i = 0; i < words.size(); ++i) joined += (i ? " " : "") + words[i];
    return Value(joined);
  }
  if (name == "truncate") {
    const std::string s = py_str(v);
    const int64_t length = a.get_or(0, "length", Value(255)).as_int();
    const bool killwords = truthy(a.get_or(1, "killwords", Value(false)));
    const std::string end = py_str(a.get_or(2, "end", Value("...")));
    const int64_t leeway = a.get_or(3, "leeway", Value(5)).as_int();
    const auto cps = to_code_points(s);
    const auto len = static_cast<int64_t>(cps.size());
    if (len <= length + leeway) return Value(s);
    const int64_t keep = std::max<int64_t>(0, length - static_cast<int64_t>(count_code_points(end)));
    std::string head = from_code_points(cps, 0, static_cast<size_t>(std::min(keep, len)));
    if (killwords) return Value(head + end);
    const size_t space = head.rfind(' ');
    return Value((space == std::string::npos ? head : head.substr(0, space)) + end);
  }
  throw_error(ErrorKind::kRuntime, "No filter named '" + std::string(name) + "' found.");
}

}  // namespace tessera::tokenizer::chat
