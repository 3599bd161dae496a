#include "tessera/server/api/openai/logprobs.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "tessera/tokenizer/utf8.h"

namespace tessera::server::api::openai {
namespace {

// The shortest decimal that reads back as the same float, as a double: -0.1f prints as -0.1, not as the
// -0.10000000149011612 a plain widening gives. -inf (ruled out by the filters) becomes vLLM's -9999.0.
double finite(float logprob) {
  if (!std::isfinite(logprob)) return -9999.0;
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), logprob);
  return ec == std::errc() ? std::strtod(std::string(buf, end).c_str(), nullptr) : static_cast<double>(logprob);
}

std::string token_string(const tokenizer::Tokenizer& tok, int32_t id) {
  return tokenizer::utf8_sanitize(tok.token_to_piece(id));
}

Json token_bytes(const tokenizer::Tokenizer& tok, int32_t id) {
  Json bytes = Json::array();
  for (unsigned char c : tok.token_to_piece(id)) bytes.push_back(static_cast<int>(c));
  return bytes;
}

Json chat_token(const tokenizer::Tokenizer& tok, int32_t id, float logprob) {
  Json t = Json::object();
  t["token"] = token_string(tok, id);
  t["logprob"] = finite(logprob);
  t["bytes"] = token_bytes(tok, id);
  return t;
}

}  // namespace

int64_t num_utf8_chars(std::string_view utf8) {
  int64_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
  return n;
}

Json chat_logprobs(const tokenizer::Tokenizer& tok, std::span<const engine::SampleResult> results, int32_t num_top) {
  Json content = Json::array();
  for (const engine::SampleResult& r : results) {
    Json entry = chat_token(tok, r.token, r.logprob);
    Json top = Json::array();
    for (size_t i = 0; i < r.top.size() && static_cast<int32_t>(i) < num_top; ++i)
      top.push_back(chat_token(tok, r.top[i].token, r.top[i].logprob));
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  return Json{{"content", std::move(content)}};
}

Json CompletionLogprobs::render(const tokenizer::Tokenizer& tok, std::span<const engine::SampleResult> results) {
  Json tokens = Json::array(), token_logprobs = Json::array(), top_logprobs = Json::array(),
       text_offset = Json::array();
  for (const engine::SampleResult& r : results) {
    const std::string text = token_string(tok, r.token);
    tokens.push_back(text);
    token_logprobs.push_back(finite(r.logprob));
    // The legacy API keys alternatives by text, and lists the chosen token among them.
    Json top = Json::object();
    for (const engine::TokenLogprob& t : r.top) top[token_string(tok, t.token)] = finite(t.logprob);
    if (!top.contains(text)) top[text] = finite(r.logprob);
    top_logprobs.push_back(std::move(top));
    text_offset.push_back(offset_);
    offset_ += num_utf8_chars(text);
  }
  Json out = Json::object();
  out["tokens"] = std::move(tokens);
  out["token_logprobs"] = std::move(token_logprobs);
  out["top_logprobs"] = std::move(top_logprobs);
  out["text_offset"] = std::move(text_offset);
  return out;
}

}  // namespace tessera::server::api::openai
