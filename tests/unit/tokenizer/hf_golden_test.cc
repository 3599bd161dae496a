// Golden ids from Hugging Face `tokenizers` for the tokenizer.json files in the shared assets: the fixtures in
// tests/fixtures/tokenizer/ and the script that made them (make_golden.py).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../test_util.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::tokenizer {
namespace {

void check_golden(const std::string& name) {
  const std::string dir = tessera::testing::assets_dir() + "/tokenizers/" + name;
  TESSERA_REQUIRE_FILE(dir + "/tokenizer.json");
  const std::string fixture = tessera::testing::fixtures_dir() + "/tokenizer/" + name + ".json";
  std::ifstream f(fixture);
  ASSERT_TRUE(f) << fixture;
  nlohmann::json golden = nlohmann::json::parse(f);
  auto tok = Tokenizer::load(dir);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  size_t matched = 0, total = 0;
  for (const auto& c : golden["cases"]) {
    const std::string text = c["text"];
    const bool add_special = c["add_special"], parse_special = c["parse_special"];
    const auto want = c["ids"].get<std::vector<int32_t>>();
    auto ids = (*tok)->encode(text, add_special, parse_special);
    ++total;
    matched += ids == want;
    EXPECT_EQ(ids, want) << name << " add_special=" << add_special << " parse_special=" << parse_special << ": \""
                         << text.substr(0, 200) << "\"";
    EXPECT_EQ((*tok)->decode(want), c["decoded"].get<std::string>()) << name << ": \"" << text.substr(0, 200) << "\"";
  }
  EXPECT_GT(total, 300u);
  ::testing::Test::RecordProperty("matched", std::to_string(matched) + "/" + std::to_string(total));
  std::printf("%s: %s ids matched\n", name.c_str(), (std::to_string(matched) + "/" + std::to_string(total)).c_str());
}

TEST(HfGoldenTest, Llama31) { check_golden("llama3_1"); }
TEST(HfGoldenTest, Qwen3) { check_golden("qwen3"); }
TEST(HfGoldenTest, Mistral7b) { check_golden("mistral-7b-v0.1"); }

TEST(HfGoldenTest, ConfigFields) {
  const std::string dir = tessera::testing::assets_dir() + "/tokenizers/";
  TESSERA_REQUIRE_FILE(dir + "qwen3/tokenizer.json");
  auto qwen = Tokenizer::load(dir + "qwen3");
  ASSERT_TRUE(qwen.ok()) << qwen.status().to_string();
  EXPECT_EQ((*qwen)->eos_token(), "<|im_end|>");
  EXPECT_EQ((*qwen)->eos_id(), (*qwen)->token_id("<|im_end|>"));
  EXPECT_NE((*qwen)->chat_template().find("<|im_start|>"), std::string::npos);
  EXPECT_FALSE((*qwen)->adds_bos());
  EXPECT_TRUE((*qwen)->is_special(*(*qwen)->token_id("<|im_start|>")));
  EXPECT_FALSE((*qwen)->is_special(*(*qwen)->token_id("<think>")));  // added, but not special

  auto llama = Tokenizer::load(dir + "llama3_1/tokenizer.json");
  ASSERT_TRUE(llama.ok()) << llama.status().to_string();
  EXPECT_EQ((*llama)->bos_token(), "<|begin_of_text|>");
  EXPECT_EQ((*llama)->bos_id(), 128000);
  EXPECT_EQ((*llama)->eot_id(), (*llama)->token_id("<|eot_id|>"));
  EXPECT_EQ((*llama)->encode("hi", true).front(), 128000);

  auto mistral = Tokenizer::load(dir + "mistral-7b-v0.1");
  ASSERT_TRUE(mistral.ok()) << mistral.status().to_string();
  EXPECT_EQ((*mistral)->bos_id(), 1);
  EXPECT_EQ((*mistral)->eos_id(), 2);
  EXPECT_TRUE((*mistral)->strips_leading_space());
  EXPECT_TRUE((*mistral)->chat_template().empty());
}

}  // namespace
}  // namespace tessera::tokenizer
