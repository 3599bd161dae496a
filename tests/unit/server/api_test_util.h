// A ServedModel for the API tests that needs no files: the tiny byte-level tokenizer and a ChatML-like template.
#pragma once

#include <string>
#include <string_view>

#include "../tokenizer/tiny_tokenizers.h"
#include "tessera/server/api/served_model.h"

namespace tessera::server::api::testing {

inline constexpr std::string_view kTinyTemplate =
    "{%- for m in messages %}<|{{ m.role }}|>{{ m.content }}"
    "{%- for c in m.tool_calls or [] %}[call {{ c.function.name }} {{ c.function.arguments | tojson }}]"
    "{%- endfor %}<|end|>{% endfor %}"
    "{%- if tools %}<|tools|>{{ tools | tojson }}<|end|>{% endif %}"
    "{%- if add_generation_prompt %}<|assistant|>{% endif %}";

inline ServedModel tiny_model(int64_t max_model_len = 4096) {
  ServedModel m;
  m.name = "tiny";
  m.tokenizer = tokenizer::testing::tiny_byte_level();
  auto t = tokenizer::chat::Template::parse(kTinyTemplate);
  if (t.ok()) m.chat_template = *t;
  m.max_model_len = max_model_len;
  m.created = 1700000000;
  return m;
}

inline ModelResolver resolver_for(const ServedModel& model) {
  return [&model](std::string_view name) { return name == model.name ? &model : nullptr; };
}

}  // namespace tessera::server::api::testing
