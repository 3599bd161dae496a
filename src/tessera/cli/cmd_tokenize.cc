// `tessera tokenize FILE` and `tessera detokenize FILE --ids 1,2,3`: the model's tokenizer on its own, for
// scripts. Output forms are contracts: tokenize prints the ids on one line separated by single spaces;
// detokenize prints the text exactly (no newline added).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "tessera/cli/args.h"
#include "tessera/cli/commands.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::cli {

int cmd_tokenize(int argc, char** argv) {
  auto args = Args::parse(argc, argv, 2, {}, {"add-special", "parse-special"});
  if (!args.ok()) return fail("tokenize", args.status());
  if (args->positionals().size() != 1)
    return fail("tokenize", invalid_argument("usage: tessera tokenize FILE [--add-special] [--parse-special] < TEXT"));
  auto path = resolve_model_path(args->positionals()[0]);
  if (!path.ok()) return fail("tokenize", path.status());
  auto tok = tokenizer::Tokenizer::load(*path);
  if (!tok.ok()) return fail("tokenize", tok.status());
  // Every byte of standard input, trailing newlines included.
  std::ios::sync_with_stdio(false);
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto ids = (*tok)->encode(text, args->has("add-special"), args->has("parse-special"));
  std::string out;
  out.reserve(ids.size() * 7 + 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(ids[i]);
  }
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int cmd_detokenize(int argc, char** argv) {
  auto args = Args::parse(argc, argv, 2, {"ids"}, {"skip-special"});
  if (!args.ok()) return fail("detokenize", args.status());
  if (args->positionals().size() != 1 || !args->has("ids"))
    return fail("detokenize", invalid_argument("usage: tessera detokenize FILE --ids 1,2,3 [--skip-special]"));
  auto path = resolve_model_path(args->positionals()[0]);
  if (!path.ok()) return fail("detokenize", path.status());
  auto tok = tokenizer::Tokenizer::load(*path);
  if (!tok.ok()) return fail("detokenize", tok.status());
  std::vector<int32_t> ids;
  if (!args->get("ids")->empty()) {
    auto parsed = args->get_int_list("ids");
    if (!parsed.ok()) return fail("detokenize", parsed.status());
    ids = std::move(*parsed);
  }
  for (int32_t id : ids)
    if (id < 0 || static_cast<size_t>(id) >= (*tok)->vocab_size())
      return fail("detokenize", invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary (" +
                                                 std::to_string((*tok)->vocab_size()) + ")"));
  std::string text = (*tok)->decode(ids, args->has("skip-special"));
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace tessera::cli
