// A small command-line parser: positionals plus `--name value`, `--name=value` and boolean `--name` flags.
// Unknown flags are errors, so a typo never silently changes a run.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tessera/util/status.h"

namespace tessera::cli {

class Args {
 public:
  // `value_flags` take a value; `bool_flags` do not. Names without the leading dashes.
  static Expected<Args> parse(int argc, char** argv, int first, const std::set<std::string>& value_flags,
                              const std::set<std::string>& bool_flags);

  const std::vector<std::string>& positionals() const { return positionals_; }
  void add_positional(std::string value) { positionals_.push_back(std::move(value)); }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value given for `name`.
  std::optional<std::string> get(const std::string& name) const;
  // Every value given for a repeatable flag, in order.
  std::vector<std::string> get_all(const std::string& name) const;
  Expected<int64_t> get_int(const std::string& name, int64_t fallback) const;
  Expected<double> get_double(const std::string& name, double fallback) const;
  // A comma-separated list of integers ("1,2,3").
  Expected<std::vector<int32_t>> get_int_list(const std::string& name) const;

 private:
  std::vector<std::string> positionals_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> all_values_;
};

}  // namespace tessera::cli
