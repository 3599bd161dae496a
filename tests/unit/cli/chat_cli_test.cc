// `tessera chat` and `tessera generate --prompt` with the default model: text in, text out, end to end.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../test_util.h"

namespace {

using tessera::testing::run_command;

const std::string kBinary = TESSERA_BINARY_PATH;

std::string model_arg() { return " '" + tessera::testing::default_model_path() + "'"; }

TEST(ChatCliTest, AnswersTheCapitalOfFrance) {
  TESSERA_REQUIRE_FILE(tessera::testing::default_model_path());
  int rc = 0;
  const std::string out = run_command(kBinary + " chat" + model_arg() + " --temperature 0 --max-tokens 48 --threads 2",
                                      "What is the capital of France?\n", rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("Paris"), std::string::npos) << out;
}

TEST(ChatCliTest, MultiTurnAndSystemPrompt) {
  TESSERA_REQUIRE_FILE(tessera::testing::default_model_path());
  int rc = 0;
  const std::string out = run_command(
      kBinary + " chat" + model_arg() + " --temperature 0 --max-tokens 24 --threads 2 --system 'You are terse.'",
      "Hi!\n\nWhat is 2 + 2?\n", rc);
  EXPECT_EQ(rc, 0);
  // One reply line per non-empty user line.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
}

TEST(ChatCliTest, GeneratePromptAddsText) {
  TESSERA_REQUIRE_FILE(tessera::testing::default_model_path());
  int rc = 0;
  const std::string out = run_command(
      kBinary + " generate" + model_arg() + " --prompt 'The capital of France is' --max-tokens 4 --json --threads 2",
      "", rc);
  ASSERT_EQ(rc, 0);
  const auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j["tokens"].size(), 4u);
  EXPECT_EQ(j["prompt_tokens"], 5);
  EXPECT_NE(j["text"].get<std::string>().find("Paris"), std::string::npos) << out;
  // Either --tokens or --prompt, not both: a usage error.
  run_command(kBinary + " generate" + model_arg() + " --prompt x --tokens 1", "", rc);
  EXPECT_NE(rc, 0);
}

}  // namespace
