#include "tessera/server/api/openai/response_common.h"

#include "tessera/server/api/sse.h"

namespace tessera::server::api::openai {
namespace {

Json chunk_head(std::string_view id, std::string_view object, int64_t created, std::string_view model) {
  Json c = Json::object();
  c["id"] = id;
  c["object"] = object;
  c["created"] = created;
  c["model"] = model;
  return c;
}

}  // namespace

Json usage_json(const engine::Usage& usage) {
  Json u = Json::object();
  u["prompt_tokens"] = usage.prompt_tokens;
  u["completion_tokens"] = usage.completion_tokens;
  u["total_tokens"] = usage.prompt_tokens + usage.completion_tokens;
  u["prompt_tokens_details"] = Json{{"cached_tokens", usage.cached_tokens}};
  return u;
}

const char* finish_reason(engine::FinishReason reason) {
  return reason == engine::FinishReason::kLength ? "length" : "stop";
}

std::string chunk_sse(std::string_view id, std::string_view object, int64_t created, std::string_view model,
                      Json choices, bool include_usage) {
  Json c = chunk_head(id, object, created, model);
  c["choices"] = std::move(choices);
  if (include_usage) c["usage"] = nullptr;
  return sse_data(dump(c));
}

std::string usage_chunk_sse(std::string_view id, std::string_view object, int64_t created, std::string_view model,
                            const engine::Usage& usage) {
  Json c = chunk_head(id, object, created, model);
  c["choices"] = Json::array();
  c["usage"] = usage_json(usage);
  return sse_data(dump(c));
}

}  // namespace tessera::server::api::openai
