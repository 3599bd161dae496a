// What every `tessera bench` result records besides its numbers: the machine, the commit and the command.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tessera::cli {

std::string cpu_model();
std::string git_commit();
std::string command_line(int argc, char** argv);
nlohmann::ordered_json machine_json(const std::string& device, int64_t threads);

int bench_throughput(int argc, char** argv);

}  // namespace tessera::cli
