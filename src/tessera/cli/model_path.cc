#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tessera/cli/commands.h"

namespace tessera::cli {
namespace {

std::string cache_dir() {
  if (const char* d = std::getenv("TESSERA_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/tessera";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/tessera";
}

// Runs scripts/fetch-model, which downloads, verifies and caches the default model and prints its path.
Expected<std::string> fetch_default() {
  std::string script;
  if (const char* s = std::getenv("TESSERA_FETCH_MODEL"); s && *s) script = s;
#ifdef TESSERA_FETCH_SCRIPT
  if (script.empty()) script = TESSERA_FETCH_SCRIPT;
#endif
  if (script.empty() || !std::filesystem::exists(script))
    return not_found("the default model is not cached and scripts/fetch-model was not found (set TESSERA_FETCH_MODEL)");
  std::string cmd = "'" + script + "' default";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return unavailable("cannot run " + script);
  std::string out;
  std::array<char, 512> buf;
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  int rc = pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (rc != 0 || out.empty()) return unavailable("fetching the default model failed (see the messages above)");
  return out;
}

}  // namespace

Expected<std::string> resolve_model_path(const std::string& model) {
  if (model != "default") return model;
  std::string cached = cache_dir() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  std::error_code ec;
  if (std::filesystem::exists(cached + ".sha256-ok", ec)) return cached;
  return fetch_default();
}

int fail(const char* command, const Status& status) {
  std::fprintf(stderr, "tessera %s: %s\n", command, status.to_string().c_str());
  return status.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

int cmd_pull(int argc, char** argv) {
  std::string name = argc > 2 ? argv[2] : "default";
  if (name != "default") return fail("pull", invalid_argument("unknown model '" + name + "' (known: default)"));
  auto path = resolve_model_path(name);
  if (!path.ok()) return fail("pull", path.status());
  std::printf("%s\n", path->c_str());
  return 0;
}

}  // namespace tessera::cli
