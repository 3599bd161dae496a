// tessera: the command-line entry point. Each subcommand lives in its own file of cli/.
#include <cstdio>
#include <cstring>

#include "tessera/cli/commands.h"

namespace {

constexpr const char* kUsage = R"(usage: tessera <command> [options]

commands:
  generate MODEL --tokens 1,2,3 --max-tokens N [--temperature T] [--seed S] [--ignore-eos] [--json]
  logits MODEL --tokens 1,2,3 [--top K]
  inspect FILE_OR_DIR
  pull [default]
  bench latency MODEL --batch B --input-len I --output-len O [--max-batch-tokens N] [--json]

MODEL is a GGUF file, a Hugging Face model directory, or "default" (SmolLM2-135M-Instruct, fetched on first use).
Common options: --threads N (default: all cores).
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char* cmd = argv[1];
  if (!std::strcmp(cmd, "generate")) return tessera::cli::cmd_generate(argc, argv);
  if (!std::strcmp(cmd, "logits")) return tessera::cli::cmd_logits(argc, argv);
  if (!std::strcmp(cmd, "inspect")) return tessera::cli::cmd_inspect(argc, argv);
  if (!std::strcmp(cmd, "pull")) return tessera::cli::cmd_pull(argc, argv);
  if (!std::strcmp(cmd, "bench")) return tessera::cli::cmd_bench(argc, argv);
  std::fprintf(stderr, "tessera: unknown command '%s'\n\n%s", cmd, kUsage);
  return 2;
}
