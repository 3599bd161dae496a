// ServedModel: what the API layers need to know about one model the server serves. The glue builds one per model
// at startup (after the engine is up, for max_model_len) and keeps it alive as long as requests may name it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tessera/server/api/field_reader.h"
#include "tessera/tokenizer/chat/template.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::server::api {

struct ServedModel {
  std::string name;  // what clients put in "model" (--served-model-name) and what responses echo
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;  // never null
  // The model's chat template (or --chat-template), parsed once; without one the chat endpoints answer 400.
  std::optional<tokenizer::chat::Template> chat_template;
  // Tokens a sequence may hold, prompt + output (Engine::max_model_len()).
  int64_t max_model_len = 0;
  int64_t created = 0;  // unix seconds, for GET /v1/models
};

// The model a request's "model" names, or null (404). The glue decides the policy: exact names only, or (for
// clients such as Claude Code that send their own model names) the only model whatever the name.
using ModelResolver = std::function<const ServedModel*(std::string_view name)>;

// The body's required "model" field, resolved; a missing or mistyped field fails `r`, an unknown model is a 404.
const ServedModel* read_model(FieldReader& r, const ModelResolver& resolve);

}  // namespace tessera::server::api
