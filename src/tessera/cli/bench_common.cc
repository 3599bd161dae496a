#include "tessera/cli/bench_common.h"

#include <sys/utsname.h>

#include <fstream>

#ifndef TESSERA_GIT_COMMIT
#define TESSERA_GIT_COMMIT "unknown"
#endif

namespace tessera::cli {

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string git_commit() { return TESSERA_GIT_COMMIT; }

std::string command_line(int argc, char** argv) {
  std::string cmdline;
  for (int i = 0; i < argc; ++i) cmdline += (i ? " " : "") + std::string(argv[i]);
  return cmdline;
}

nlohmann::ordered_json machine_json(const std::string& device, int64_t threads) {
  utsname u{};
  uname(&u);
  return {{"cpu", cpu_model()}, {"arch", u.machine}, {"threads", threads}, {"device", device}};
}

}  // namespace tessera::cli
