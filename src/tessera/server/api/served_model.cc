#include "tessera/server/api/served_model.h"

namespace tessera::server::api {

const ServedModel* read_model(FieldReader& r, const ModelResolver& resolve) {
  std::string name;
  if (!r.require("model") || !r.string("model", name)) return nullptr;
  const ServedModel* model = resolve ? resolve(name) : nullptr;
  if (!model) r.fail(model_not_found(name));
  return model;
}

}  // namespace tessera::server::api
