// `tessera template render TEMPLATE_FILE --context CONTEXT.json [--now 2025-03-14T15:09:26]`: renders a chat
// template and prints exactly what it renders (nothing added). The keys of CONTEXT.json become the template's
// variables. When the template calls raise_exception(msg), msg goes to standard error and the exit code is 1.
// --now fixes what strftime_now() sees, for reproducible output.
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tessera/cli/args.h"
#include "tessera/cli/commands.h"
#include "tessera/tokenizer/chat/template.h"

namespace tessera::cli {
namespace {

int render(int argc, char** argv) {
  constexpr const char* kCommand = "template render";
  auto args = Args::parse(argc, argv, 3, {"context", "now"}, {});
  if (!args.ok()) return fail(kCommand, args.status());
  if (args->positionals().size() != 1 || !args->has("context"))
    return fail(kCommand, invalid_argument("usage: tessera template render TEMPLATE_FILE --context CONTEXT.json"));
  auto source = read_file(args->positionals()[0]);
  if (!source.ok()) return fail(kCommand, source.status());
  auto context_text = read_file(*args->get("context"));
  if (!context_text.ok()) return fail(kCommand, context_text.status());
  // ordered_json: the request's key order must survive into tojson.
  auto context = nlohmann::ordered_json::parse(*context_text, nullptr, false);
  if (context.is_discarded() || !context.is_object())
    return fail(kCommand, invalid_argument(*args->get("context") + " is not a JSON object"));
  tokenizer::chat::RenderOptions options;
  if (auto now = args->get("now")) {
    std::tm tm{};
    const char* end = strptime(now->c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || *end) return fail(kCommand, invalid_argument("--now wants YYYY-MM-DDTHH:MM:SS"));
    std::mktime(&tm);  // fills in the weekday and day of the year
    options.now = tm;
  }
  auto tmpl = tokenizer::chat::Template::parse(*source);
  if (!tmpl.ok()) return fail(kCommand, tmpl.status());
  auto out = tmpl->render(context, options);
  if (!out.ok()) {
    if (tokenizer::chat::is_raised(out.status())) {
      const std::string_view msg = tokenizer::chat::raised_message(out.status());
      std::fprintf(stderr, "%.*s\n", static_cast<int>(msg.size()), msg.data());
      return 1;
    }
    return fail(kCommand, out.status());
  }
  std::fwrite(out->data(), 1, out->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int cmd_template(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[2]) == "render") return render(argc, argv);
  return fail("template", invalid_argument("usage: tessera template render TEMPLATE_FILE --context CONTEXT.json"));
}

}  // namespace tessera::cli
