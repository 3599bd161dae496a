#include "tessera/cli/args.h"

#include <cerrno>
#include <cstdlib>

namespace tessera::cli {

Expected<Args> Args::parse(int argc, char** argv, int first, const std::set<std::string>& value_flags,
                           const std::set<std::string>& bool_flags) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      a.positionals_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (value_flags.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argc) return invalid_argument("--" + name + " needs a value");
        value = argv[++i];
      }
      a.values_[name] = value;
      a.all_values_[name].push_back(value);
    } else if (bool_flags.count(name)) {
      if (inline_value) return invalid_argument("--" + name + " takes no value");
      a.values_[name] = "1";
    } else {
      return invalid_argument("unknown flag --" + name);
    }
  }
  return a;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  auto it = all_values_.find(name);
  return it == all_values_.end() ? std::vector<std::string>{} : it->second;
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

Expected<int64_t> Args::get_int(const std::string& name, int64_t fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno != 0) return invalid_argument("--" + name + ": not an integer: " + *v);
  return static_cast<int64_t>(x);
}

Expected<double> Args::get_double(const std::string& name, double fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno != 0) return invalid_argument("--" + name + ": not a number: " + *v);
  return x;
}

Expected<std::vector<int32_t>> Args::get_int_list(const std::string& name) const {
  auto v = get(name);
  std::vector<int32_t> out;
  if (!v) return out;
  size_t pos = 0;
  while (pos <= v->size()) {
    size_t comma = v->find(',', pos);
    std::string item = v->substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    errno = 0;
    char* end = nullptr;
    long long x = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno != 0 || x < INT32_MIN || x > INT32_MAX)
      return invalid_argument("--" + name + ": not a comma-separated list of integers: " + *v);
    out.push_back(static_cast<int32_t>(x));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace tessera::cli
