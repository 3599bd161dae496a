#include "tessera/server/api/openai/completion_request.h"

#include "tessera/server/api/response_id.h"

namespace tessera::server::api::openai {
namespace {

constexpr int64_t kDefaultMaxTokens = 16;

bool is_token_array(const Json& v) {
  if (!v.is_array() || v.empty()) return false;
  for (const Json& x : v)
    if (!x.is_number_integer() && !x.is_number_unsigned()) return false;
  return true;
}

void read_prompt(FieldReader& r, const ServedModel& model, CompletionRequest& req) {
  if (!r.require("prompt")) return;
  const Json* p = r.get("prompt");
  // One prompt in an array of one, in either form.
  if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array())) p = &(*p)[0];
  if (p->is_string()) {
    req.prompt_text = p->get<std::string>();
    if (req.prompt_text.empty()) r.fail(invalid_value("prompt", "a non-empty prompt", "an empty string"));
    return;
  }
  if (is_token_array(*p)) {
    req.prompt_is_tokens = true;
    for (const Json& x : *p) {
      const std::optional<int64_t> id = json_to_int64(x);
      if (!id || *id < 0 || static_cast<uint64_t>(*id) >= model.tokenizer->vocab_size())
        return r.fail(invalid_value("prompt",
                                    "token ids between 0 and " + std::to_string(model.tokenizer->vocab_size() - 1),
                                    describe_value(x)));
      req.prompt_token_ids.push_back(static_cast<int32_t>(*id));
    }
    return;
  }
  if (p->is_array() && p->size() > 1 && ((*p)[0].is_string() || (*p)[0].is_array()))
    return r.fail(
        not_supported("Several prompts in one request are not supported yet; send one prompt per request.", "prompt"));
  r.fail(invalid_type("prompt", "a string or an array of token ids", json_type_name(*p)));
}

}  // namespace

ApiResult<CompletionRequest> parse_completion(const Json& body, const ModelResolver& resolve) {
  CompletionRequest req;
  FieldReader r(body);
  req.model = read_model(r, resolve);
  if (!r.ok()) return r.error();
  read_prompt(r, *req.model, req);
  read_common_fields(r, *req.model, req.generation, req.common);
  int32_t logprobs = -1;
  r.integer("logprobs", logprobs, 0, 5);
  r.boolean("echo", req.echo);
  if (r.ok() && req.echo && logprobs >= 0)
    r.fail(
        not_supported("echo together with logprobs is not supported yet (prompt logprobs are not computed).", "echo"));
  if (std::string suffix; r.string("suffix", suffix) && !suffix.empty())
    r.fail(not_supported("suffix is not supported.", "suffix"));
  if (int32_t best_of = 1; r.integer("best_of", best_of, 1, kMaxChoices) && best_of != req.generation.n)
    r.fail(not_supported("best_of other than n is not supported.", "best_of"));
  if (!r.ok()) return r.error();
  req.generation.sampling.num_logprobs = logprobs;
  return req;
}

ApiResult<CompletionRequest> prepare_completion(std::string_view body, const ModelResolver& resolve) {
  ApiResult<Json> json = parse_json_body(body);
  if (!json.ok()) return json.error();
  ApiResult<CompletionRequest> req = parse_completion(*json, resolve);
  if (!req.ok()) return req;
  std::vector<int32_t> ids = req->prompt_is_tokens
                                 ? req->prompt_token_ids
                                 : req->model->tokenizer->encode(req->prompt_text, /*add_special=*/true,
                                                                 /*parse_special=*/true);
  if (ids.empty()) return invalid_request("The prompt has no tokens.", "prompt");
  ApiResult<int32_t> max_tokens =
      fit_max_tokens(Protocol::kOpenAI, static_cast<int64_t>(ids.size()),
                     req->common.max_tokens.value_or(kDefaultMaxTokens), req->model->max_model_len, "prompt");
  if (!max_tokens.ok()) return max_tokens.error();
  req->generation.prompt = std::move(ids);
  req->generation.max_tokens = *max_tokens;
  req->generation.sampling.min_tokens = std::min(req->generation.sampling.min_tokens, *max_tokens);
  req->id = make_response_id("cmpl-");
  req->created = unix_seconds_now();
  return req;
}

std::string echo_text(const CompletionRequest& request) {
  if (!request.prompt_is_tokens) return request.prompt_text;
  return request.model->tokenizer->decode(request.prompt_token_ids, /*skip_special=*/false);
}

}  // namespace tessera::server::api::openai
