// `tessera chat MODEL`: a conversation through the model's own chat template. Reads one user turn per line from
// standard input and streams each reply as it is generated; ends at the end of input.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tessera/cli/commands.h"
#include "tessera/cli/generation.h"
#include "tessera/tokenizer/chat/template.h"
#include "tessera/tokenizer/stream_decoder.h"

namespace tessera::cli {

int cmd_chat(int argc, char** argv) {
  auto args = Args::parse(argc, argv, 2,
                          {"system", "temperature", "max-tokens", "seed", "threads", "device", "chat-template"}, {});
  if (!args.ok()) return fail("chat", args.status());
  auto opts = sampling_options(*args, 512);
  if (!opts.ok()) return fail("chat", opts.status());
  auto m = load_model(*args, /*with_tokenizer=*/true);
  if (!m.ok()) return fail("chat", m.status());

  std::string source = m->tokenizer->chat_template();
  if (auto file = args->get("chat-template")) {
    auto text = read_file(*file);
    if (!text.ok()) return fail("chat", text.status());
    source = *text;
  }
  if (source.empty())
    return fail("chat", invalid_argument(m->path + " has no chat template; give --chat-template FILE"));
  auto tmpl = tokenizer::chat::Template::parse(source);
  if (!tmpl.ok()) return fail("chat", tmpl.status());

  const bool interactive = isatty(STDIN_FILENO);
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (auto system = args->get("system")) messages.push_back({{"role", "system"}, {"content", *system}});
  for (std::string line;;) {
    if (interactive) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    auto text = tokenizer::chat::render_chat(*tmpl, messages, nullptr, /*add_generation_prompt=*/true,
                                             m->tokenizer->bos_token(), m->tokenizer->eos_token());
    if (!text.ok()) return fail("chat", text.status());
    // As transformers' apply_chat_template: the template writes the special tokens, so none are added.
    const std::vector<int32_t> prompt = m->tokenizer->encode(*text, /*add_special=*/false, /*parse_special=*/true);

    tokenizer::StreamDecoder decoder(*m->tokenizer, {.skip_special = true, .at_sequence_start = true});
    std::string reply;
    auto r = generate(*m, prompt, *opts, [&](int32_t id) {
      std::string piece = decoder.push(id);
      reply += piece;
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
    });
    if (!r.ok()) return fail("chat", r.status());
    std::string tail = decoder.finish();
    reply += tail;
    std::fputs(tail.c_str(), stdout);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    messages.push_back({{"role", "assistant"}, {"content", reply}});
  }
  return 0;
}

}  // namespace tessera::cli
