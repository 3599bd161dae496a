#include <fstream>
#include <sstream>

#include "tessera/cli/commands.h"

namespace tessera::cli {

Expected<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return not_found(path + ": cannot read");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace tessera::cli
