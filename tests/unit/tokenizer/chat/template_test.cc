// The public API: parse once, render many times (from many threads), errors as Status values, raise_exception
// reported distinctly, and the sandbox's bounds.
#include "tessera/tokenizer/chat/template.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tessera::tokenizer::chat {
namespace {

using nlohmann::ordered_json;

std::string render(std::string_view source, const ordered_json& context = ordered_json::object(),
                   const RenderOptions& options = {}) {
  auto t = Template::parse(source);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  if (!t.ok()) return "<parse error>";
  auto out = t->render(context, options);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? *out : "<render error>";
}

TEST(Template, KeepsJsonKeyOrderThroughTojson) {
  const auto ctx = ordered_json::parse(R"({"x": {"zeta": 1, "alpha": [1.5, "é"], "mid": null}})");
  EXPECT_EQ(render("{{ x|tojson }}", ctx), R"({"zeta": 1, "alpha": [1.5, "é"], "mid": null})");
}

TEST(Template, RaiseExceptionIsReportedDistinctly) {
  auto t = Template::parse("{% if messages[0].role == 'system' %}{{ raise_exception('no system role') }}{% endif %}");
  ASSERT_TRUE(t.ok());
  auto out = t->render(ordered_json::parse(R"({"messages": [{"role": "system", "content": "x"}]})"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(is_raised(out.status()));
  EXPECT_EQ(raised_message(out.status()), "no system role");

  auto other = Template::parse("{{ 1 + 'a' }}")->render(ordered_json::object());
  ASSERT_FALSE(other.ok());
  EXPECT_FALSE(is_raised(other.status()));
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
}

TEST(Template, SyntaxErrorsNameTheLine) {
  auto t = Template::parse("line one\n{% if %}");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("line 2"), std::string_view::npos) << t.status().to_string();
  EXPECT_FALSE(Template::parse("{% frobnicate %}").ok());
  EXPECT_FALSE(Template::parse("{{ x|no_such_filter }}").ok());
  EXPECT_TRUE(Template::parse("{% if false %}{{ x|no_such_filter }}{% endif %}").ok());  // Jinja2 defers these
}

TEST(Template, ImmutableSandboxRefusesMutation) {
  auto out = Template::parse("{% set l = [] %}{{ l.append(1) }}")->render(ordered_json::object());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("unsafe"), std::string_view::npos);
}

TEST(Template, BoundsStopRunawayTemplates) {
  RenderOptions small;
  small.max_steps = 10'000;
  small.max_output_bytes = 1 << 16;
  small.max_call_depth = 32;
  for (const char* source : {
           "{% for i in range(100000) %}x{% endfor %}",
           "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
           "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
           "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(0) }}",
           "{{ 'x' * 100000000 }}",
           "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
       }) {
    auto t = Template::parse(source);
    ASSERT_TRUE(t.ok()) << source;
    auto out = t->render(ordered_json::object(), small);
    ASSERT_FALSE(out.ok()) << source;
    EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << source << ": " << out.status().to_string();
  }
}

TEST(Template, StrftimeNowUsesTheGivenInstant) {
  RenderOptions o;
  std::tm tm{};
  tm.tm_year = 124;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  o.now = tm;
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}", ordered_json::object(), o), "26 Jul 2024");
}

TEST(Template, RenderChatPassesTheUsualVariables) {
  auto t = Template::parse(
      "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
      "{% if tools is none %}(no tools){% endif %}{% if add_generation_prompt %}[assistant]{% endif %}{{ flavor }}");
  ASSERT_TRUE(t.ok());
  auto out = render_chat(*t, ordered_json::parse(R"([{"role": "user", "content": "hi"}])"), nullptr, true, "<s>",
                         "</s>", ordered_json::parse(R"({"flavor": "!"})"));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "<s>[user]hi(no tools)[assistant]!");
}

TEST(Template, OneParsedTemplateRendersOnManyThreads) {
  auto t = Template::parse(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + m.k %}{% endfor %}{{ ns.n }}");
  ASSERT_TRUE(t.ok());
  std::vector<std::thread> threads;
  std::vector<std::string> results(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      ordered_json messages = ordered_json::array();
      for (int k = 0; k <= i; ++k) messages.push_back({{"k", k}});
      for (int rep = 0; rep < 200; ++rep) results[i] = *t->render({{"messages", messages}});
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(results[i], std::to_string(i * (i + 1) / 2));
}

}  // namespace
}  // namespace tessera::tokenizer::chat
