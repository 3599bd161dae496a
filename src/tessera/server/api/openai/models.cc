#include "tessera/server/api/openai/models.h"

namespace tessera::server::api::openai {

Json render_model(const ServedModel& model) {
  Json m = Json::object();
  m["id"] = model.name;
  m["object"] = "model";
  m["created"] = model.created;
  m["owned_by"] = "tessera";
  m["max_model_len"] = model.max_model_len;
  return m;
}

Json render_model_list(std::span<const ServedModel* const> models) {
  Json data = Json::array();
  for (const ServedModel* m : models)
    if (m) data.push_back(render_model(*m));
  Json out = Json::object();
  out["object"] = "list";
  out["data"] = std::move(data);
  return out;
}

}  // namespace tessera::server::api::openai
