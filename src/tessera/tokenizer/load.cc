// Tokenizer::load: picks the loader for a path (tokenizer.json, GGUF, or a model directory).
#include <filesystem>

#include "tessera/format/gguf/gguf_file.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::tokenizer {

Expected<std::shared_ptr<const Tokenizer>> Tokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "tokenizer.json", ec))
      return from_hf_json((p / "tokenizer.json").string(), (p / "tokenizer_config.json").string());
    std::vector<fs::path> ggufs;
    for (const auto& e : fs::directory_iterator(p, ec))
      if (e.path().extension() == ".gguf") ggufs.push_back(e.path());
    if (ggufs.size() == 1) return load(ggufs[0].string());
    return not_found(path + ": no tokenizer.json and " +
                     (ggufs.empty() ? std::string("no .gguf file") : std::string("several .gguf files")));
  }
  if (!fs::exists(p, ec)) return not_found(path + ": no such file");
  if (p.extension() == ".json") return from_hf_json(path, (p.parent_path() / "tokenizer_config.json").string());
  TESSERA_ASSIGN_OR_RETURN(auto gguf, format::GgufFile::open(path));
  return from_gguf(*gguf);
}

}  // namespace tessera::tokenizer
