// A Hugging Face model directory: which shard files to open, and one name -> tensor table over all of them.
// The shard files themselves are read by SafetensorsFile (safetensors_file.cc).
#include "tessera/format/safetensors/safetensors_model.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "tessera/format/byte_reader.h"

namespace tessera::format {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// config.json and the index are small; a larger file is a mistake, and it would be read whole into memory.
constexpr uint64_t kMaxJsonFileBytes = 100'000'000;

bool exists_as_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

Expected<std::string> read_text(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(util::MmapFile file, util::MmapFile::open(path));
  if (file.size() > kMaxJsonFileBytes) {
    return invalid_argument(path + ": " + std::to_string(file.size()) + " bytes is too large for a JSON file");
  }
  return std::string(reinterpret_cast<const char*>(file.data()), file.size());
}

Expected<json> parse_json_object(const std::string& path, const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return data_loss(path + ": not valid JSON");
  if (!j.is_object()) return data_loss(path + ": not a JSON object");
  return j;
}

// A shard name from the index is joined to the model directory; anything that could leave it is refused.
bool is_plain_file_name(std::string_view name) {
  return !name.empty() && name.find('/') == std::string_view::npos && name.find('\\') == std::string_view::npos &&
         name.find("..") == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

// Reads the index's weight_map (tensor name -> shard file name).
Expected<std::map<std::string, std::string>> read_weight_map(const std::string& index_path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, read_text(index_path));
  TESSERA_ASSIGN_OR_RETURN(json index, parse_json_object(index_path, text));
  auto wm = index.find("weight_map");
  if (wm == index.end() || !wm->is_object()) return data_loss(index_path + ": no \"weight_map\" object");
  std::map<std::string, std::string> out;
  for (const auto& [tensor, shard] : wm->items()) {
    if (!shard.is_string())
      return data_loss(index_path + ": weight_map entry " + quote_for_message(tensor) + " is not a string");
    const std::string& name = shard.get_ref<const std::string&>();
    if (!is_plain_file_name(name)) {
      return invalid_argument(index_path + ": shard " + quote_for_message(name) + " (for tensor " +
                              quote_for_message(tensor) + ") is not a plain file name in the model directory");
    }
    out.emplace(tensor, name);
  }
  if (out.empty()) return data_loss(index_path + ": weight_map is empty");
  return out;
}

// Every *.safetensors file in `dir`, sorted so that the tensor order does not depend on the file system.
Expected<std::vector<std::string>> list_safetensors(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    std::error_code type_ec;
    if (e.path().extension() == ".safetensors" && e.is_regular_file(type_ec)) names.push_back(e.path().filename());
  }
  if (ec) return invalid_argument(dir + ": cannot list: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Expected<std::unique_ptr<SafetensorsModel>> SafetensorsModel::open(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return not_found(dir + ": not a directory");
  auto m = std::make_unique<SafetensorsModel>();
  m->dir_ = dir;

  const std::string config_path = dir + "/config.json";
  if (!exists_as_file(config_path)) return not_found(dir + ": no config.json");
  TESSERA_ASSIGN_OR_RETURN(m->config_json_, read_text(config_path));
  TESSERA_RETURN_IF_ERROR(parse_json_object(config_path, m->config_json_).status());

  const std::string index_path = dir + "/model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;
  std::vector<std::string> shard_names;
  if (exists_as_file(index_path)) {
    TESSERA_ASSIGN_OR_RETURN(weight_map, read_weight_map(index_path));
    for (const auto& [tensor, shard] : weight_map) shard_names.push_back(shard);
    std::sort(shard_names.begin(), shard_names.end());
    shard_names.erase(std::unique(shard_names.begin(), shard_names.end()), shard_names.end());
  } else if (exists_as_file(dir + "/model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else {
    TESSERA_ASSIGN_OR_RETURN(shard_names, list_safetensors(dir));
    if (shard_names.empty()) {
      return not_found(dir + ": no model.safetensors.index.json, model.safetensors or *.safetensors file");
    }
  }

  std::map<std::string, const SafetensorsFile*, std::less<>> shard_by_name;
  size_t total = 0;
  for (const std::string& name : shard_names) {
    const std::string path = dir + "/" + name;
    if (!weight_map.empty() && !exists_as_file(path)) {
      return not_found(index_path + ": shard " + quote_for_message(name) + " does not exist");
    }
    TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> shard, SafetensorsFile::open(path));
    total += shard->tensors().size();
    shard_by_name.emplace(name, shard.get());
    m->shards_.push_back(std::move(shard));
  }

  // Reserved once, so the entries (and the names index_ views) never move.
  m->tensors_.reserve(total);
  m->index_.reserve(total);
  std::vector<const SafetensorsFile*> owner;  // per tensor, for the duplicate message
  owner.reserve(total);
  for (const auto& shard : m->shards_) {
    for (const TensorEntry& e : shard->tensors()) {
      m->tensors_.push_back(e);
      auto [it, inserted] = m->index_.emplace(m->tensors_.back().name, m->tensors_.size() - 1);
      if (!inserted) {
        return data_loss(dir + ": tensor " + quote_for_message(e.name) + " is in both " + owner[it->second]->path() +
                         " and " + shard->path());
      }
      owner.push_back(shard.get());
    }
  }

  for (const auto& [tensor, shard] : weight_map) {
    if (!shard_by_name.at(shard)->find(tensor)) {
      return data_loss(index_path + ": tensor " + quote_for_message(tensor) + " is mapped to " +
                       quote_for_message(shard) + ", which does not contain it");
    }
  }
  return m;
}

const TensorEntry* SafetensorsModel::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace tessera::format
