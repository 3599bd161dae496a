// The `tessera` subcommands. Each takes argv from its own name on and returns the process exit code.
#pragma once

#include <string>

#include "tessera/util/status.h"

namespace tessera::cli {

int cmd_logits(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_inspect(int argc, char** argv);
int cmd_pull(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_make_random_model(int argc, char** argv);
int cmd_template(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_detokenize(int argc, char** argv);

// MODEL as users write it: a path, or "default" (fetched into the cache on first use).
Expected<std::string> resolve_model_path(const std::string& model);

// The whole file, bytes as they are; NotFound naming the path when it cannot be read.
Expected<std::string> read_file(const std::string& path);

// Prints "tessera <command>: <status>" to stderr and returns the exit code for it (2 for bad usage, 1 otherwise).
int fail(const char* command, const Status& status);

}  // namespace tessera::cli
