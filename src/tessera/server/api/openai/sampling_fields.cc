#include "tessera/server/api/openai/sampling_fields.h"

#include <charconv>

namespace tessera::server::api::openai {
namespace {

void read_stop(FieldReader& r, std::vector<std::string>& stop) {
  const Json* v = r.get("stop");
  if (!v || !r.ok()) return;
  const auto add = [&](const Json& s, const std::string& path) {
    if (!s.is_string()) return r.fail(invalid_type(path, "a string", json_type_name(s)));
    const std::string& text = s.get_ref<const std::string&>();
    if (text.empty()) return r.fail(invalid_value(path, "a non-empty string", "an empty string"));
    if (text.size() > kMaxStopStringBytes)
      return r.fail(invalid_value(path, "a string of at most " + std::to_string(kMaxStopStringBytes) + " bytes",
                                  "one of " + std::to_string(text.size()) + " bytes"));
    stop.push_back(text);
  };
  if (v->is_string()) return add(*v, "stop");
  if (!v->is_array()) return r.fail(invalid_type("stop", "a string or an array of strings", json_type_name(*v)));
  if (v->size() > kMaxStopStrings)
    return r.fail(invalid_value("stop", "at most " + std::to_string(kMaxStopStrings) + " stop strings",
                                std::to_string(v->size())));
  for (size_t i = 0; i < v->size() && r.ok(); ++i) add((*v)[i], "stop[" + std::to_string(i) + "]");
}

// Token id arrays and maps name ids in the model's vocabulary.
bool in_vocab(int64_t id, const ServedModel& model) {
  return id >= 0 && static_cast<uint64_t>(id) < model.tokenizer->vocab_size();
}

std::string vocab_range(const ServedModel& model) {
  return "a token id between 0 and " + std::to_string(model.tokenizer->vocab_size() - 1);
}

void read_stop_token_ids(FieldReader& r, const ServedModel& model, std::vector<int32_t>& ids) {
  const Json* v = nullptr;
  if (!r.array("stop_token_ids", v)) return;
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string path = "stop_token_ids[" + std::to_string(i) + "]";
    const std::optional<int64_t> id = json_to_int64((*v)[i]);
    if (!(*v)[i].is_number() || !id) return r.fail(invalid_type(path, "an integer", describe_value((*v)[i])));
    if (!in_vocab(*id, model)) return r.fail(invalid_value(path, vocab_range(model), describe_value((*v)[i])));
    ids.push_back(static_cast<int32_t>(*id));
  }
}

// {"50256": -100}: keys are token ids written as strings (JSON keys are strings), values biases in [-100, 100].
void read_logit_bias(FieldReader& r, const ServedModel& model, std::vector<std::pair<int32_t, float>>& bias) {
  const Json* v = nullptr;
  if (!r.object("logit_bias", v)) return;
  for (const auto& [key, value] : v->items()) {
    const std::string path = "logit_bias." + key;
    int64_t id = -1;
    const char* end = key.data() + key.size();
    const auto [ptr, ec] = std::from_chars(key.data(), end, id);
    if (ec != std::errc() || ptr != end || key.empty())
      return r.fail(invalid_value("logit_bias", "keys that are token ids (\"50256\")", "\"" + key + "\""));
    if (!in_vocab(id, model)) return r.fail(invalid_value(path, vocab_range(model) + " as key", key));
    if (!value.is_number()) return r.fail(invalid_type(path, "a number", json_type_name(value)));
    const double b = value.get<double>();
    if (!(b >= -100.0 && b <= 100.0))
      return r.fail(invalid_value(path, "a number between -100 and 100", describe_value(value)));
    bias.emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
  }
}

void read_response_format(FieldReader& r) {
  const Json* v = nullptr;
  if (!r.object("response_format", v)) return;
  FieldReader f(*v, "response_format.");
  std::string type;
  if (!f.require("type") || !f.string("type", type)) return r.fail(f.error());
  if (type == "text") return;
  if (type == "json_object" || type == "json_schema")
    return r.fail(not_supported("Structured output (response_format type '" + type +
                                    "') is not supported yet; use response_format type 'text' or leave it out.",
                                "response_format"));
  r.fail(invalid_value("response_format.type", "one of 'text', 'json_object', 'json_schema'", "'" + type + "'"));
}

}  // namespace

void read_common_fields(FieldReader& r, const ServedModel& model, engine::GenerationRequest& gen,
                        CommonFields& common) {
  engine::SamplingParams& s = gen.sampling;
  r.boolean("stream", common.stream);
  if (const Json* options = nullptr; common.stream && r.object("stream_options", options)) {
    FieldReader o(*options, "stream_options.");
    o.boolean("include_usage", common.include_usage);
    if (!o.ok()) r.fail(o.error());
  }
  r.integer("n", gen.n, 1, kMaxChoices);
  if (int64_t seed = 0; r.integer("seed", seed, INT64_MIN, INT64_MAX)) s.seed = static_cast<uint64_t>(seed);
  read_stop(r, gen.stop);
  if (int64_t m = 0; r.integer("max_tokens", m, 1, INT32_MAX)) common.max_tokens = m;
  if (int64_t m = 0; r.integer("max_completion_tokens", m, 1, INT32_MAX)) common.max_tokens = m;
  r.number("temperature", s.temperature, 0, 2);
  if (r.number("top_p", s.top_p, 0, 1) && !(s.top_p > 0))
    r.fail(invalid_value("top_p", "a number greater than 0 and at most 1", "0"));
  // vLLM turns top_k off with -1 (and 0); the engine with 0.
  if (r.integer("top_k", s.top_k, -1, INT32_MAX) && s.top_k < 0) s.top_k = 0;
  r.number("min_p", s.min_p, 0, 1);
  r.number("presence_penalty", s.presence_penalty, -2, 2);
  r.number("frequency_penalty", s.frequency_penalty, -2, 2);
  if (r.number("repetition_penalty", s.repetition_penalty, 0, 1e9) && !(s.repetition_penalty > 0))
    r.fail(invalid_value("repetition_penalty", "a number greater than 0", "0"));
  read_logit_bias(r, model, s.logit_bias);
  r.string("user", common.user);
  read_response_format(r);
  // vLLM's extras.
  r.boolean("ignore_eos", gen.ignore_eos);
  r.integer("min_tokens", s.min_tokens, 0, INT32_MAX);
  read_stop_token_ids(r, model, gen.stop_token_ids);
  r.boolean("skip_special_tokens", gen.skip_special_tokens);
  r.boolean("include_stop_str_in_output", gen.include_stop_str_in_output);
  if (r.string("cache_salt", gen.cache_salt) && gen.cache_salt.empty())
    r.fail(invalid_value("cache_salt", "a non-empty string", "an empty string"));
  if (r.ok() && common.max_tokens && s.min_tokens > *common.max_tokens)
    r.fail(invalid_value("min_tokens", "at most max_tokens (" + std::to_string(*common.max_tokens) + ")",
                         std::to_string(s.min_tokens)));
}

}  // namespace tessera::server::api::openai
