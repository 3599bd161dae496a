// tessera: the command-line entry point. Each subcommand lives in its own file of cli/.
#include <cstdio>
#include <cstring>

#include "tessera/cli/commands.h"

namespace {

constexpr const char* kUsage = R"(usage: tessera <command> [options]

commands:
  serve [MODEL] [--host H] [--port P] [--api-key K]... [--served-model-name N] [--chat-template FILE]
        [--max-model-len N] [--max-num-seqs N] [--max-num-batched-tokens N] [--block-size N]
        [--kv-cache-memory SIZE | --num-blocks N] [--no-enable-prefix-caching] [--allowed-origins A,B]
  generate MODEL (--tokens 1,2,3 | --prompt TEXT) --max-tokens N [--temperature T] [--seed S] [--ignore-eos] [--json]
  chat MODEL [--system TEXT] [--temperature T] [--max-tokens N] [--chat-template FILE]   (one user turn per line)
  logits MODEL --tokens 1,2,3 [--top K]
  inspect FILE_OR_DIR
  pull [default]
  bench latency MODEL --batch B --input-len I --output-len O [--max-batch-tokens N] [--json]
  bench throughput MODEL --num-prompts N --input-len I --output-len O [--prefix-len P] [--sequential] [--json]
  make-random-model --shape llama-3.2-1b|llama-3.1-8b|qwen3-8b --out FILE.gguf [--seed S]
  template render TEMPLATE_FILE --context CONTEXT.json
  tokenize FILE [--add-special] [--parse-special] < TEXT    (FILE: tokenizer.json, GGUF or model directory)
  detokenize FILE --ids 1,2,3 [--skip-special]

MODEL is a GGUF file, a Hugging Face model directory, or "default" (SmolLM2-135M-Instruct, fetched on first use).
Common options: --threads N (default: all cores); --device cpu|cuda|auto (generate, logits, bench; default auto:
cuda when this build has it and a GPU is present, else cpu).
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char* cmd = argv[1];
  if (!std::strcmp(cmd, "generate")) return tessera::cli::cmd_generate(argc, argv);
  if (!std::strcmp(cmd, "chat")) return tessera::cli::cmd_chat(argc, argv);
  if (!std::strcmp(cmd, "logits")) return tessera::cli::cmd_logits(argc, argv);
  if (!std::strcmp(cmd, "inspect")) return tessera::cli::cmd_inspect(argc, argv);
  if (!std::strcmp(cmd, "pull")) return tessera::cli::cmd_pull(argc, argv);
  if (!std::strcmp(cmd, "bench")) return tessera::cli::cmd_bench(argc, argv);
  if (!std::strcmp(cmd, "serve")) return tessera::cli::cmd_serve(argc, argv);
  if (!std::strcmp(cmd, "make-random-model")) return tessera::cli::cmd_make_random_model(argc, argv);
  if (!std::strcmp(cmd, "template")) return tessera::cli::cmd_template(argc, argv);
  if (!std::strcmp(cmd, "tokenize")) return tessera::cli::cmd_tokenize(argc, argv);
  if (!std::strcmp(cmd, "detokenize")) return tessera::cli::cmd_detokenize(argc, argv);
  std::fprintf(stderr, "tessera: unknown command '%s'\n\n%s", cmd, kUsage);
  return 2;
}
