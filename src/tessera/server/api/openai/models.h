// GET /v1/models and GET /v1/models/{id}: {"object": "list", "data": [{"id", "object": "model", "created",
// "owned_by": "tessera", "max_model_len"}]} (max_model_len is vLLM's addition; clients use it to size prompts).
#pragma once

#include <span>

#include "tessera/server/api/json_body.h"
#include "tessera/server/api/served_model.h"

namespace tessera::server::api::openai {

Json render_model(const ServedModel& model);
Json render_model_list(std::span<const ServedModel* const> models);

}  // namespace tessera::server::api::openai
