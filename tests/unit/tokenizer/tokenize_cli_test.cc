// `tessera tokenize` / `tessera detokenize`: the exact output forms scripts depend on.
#include <gtest/gtest.h>

#include <string>

#include "../test_util.h"

namespace {

using tessera::testing::run_command;

const std::string kBinary = TESSERA_BINARY_PATH;

TEST(TokenizeCliTest, TokenizeReadsEveryByte) {
  const std::string dir = tessera::testing::assets_dir() + "/tokenizers/qwen3";
  TESSERA_REQUIRE_FILE(dir + "/tokenizer.json");
  int rc = 0;
  EXPECT_EQ(run_command(kBinary + " tokenize '" + dir + "'", "Hello world\n", rc), "9707 1879 198\n");
  EXPECT_EQ(rc, 0);
  // Special tokens are text unless --parse-special.
  EXPECT_EQ(run_command(kBinary + " tokenize '" + dir + "/tokenizer.json' --parse-special", "<|im_start|>Hi", rc),
            "151644 13048\n");
  EXPECT_NE(run_command(kBinary + " tokenize '" + dir + "'", "<|im_start|>Hi", rc), "151644 13048\n");
  EXPECT_EQ(run_command(kBinary + " tokenize '" + dir + "'", "", rc), "\n");
}

TEST(TokenizeCliTest, GgufAddSpecialAndDetokenize) {
  const std::string gguf = tessera::testing::assets_dir() + "/vocab/ggml-vocab-llama-spm.gguf";
  TESSERA_REQUIRE_FILE(gguf);
  int rc = 0;
  EXPECT_EQ(run_command(kBinary + " tokenize '" + gguf + "' --add-special", "Hello", rc), "1 15043\n");
  EXPECT_EQ(run_command(kBinary + " tokenize '" + gguf + "'", "Hello", rc), "15043\n");
  EXPECT_EQ(run_command(kBinary + " detokenize '" + gguf + "' --ids 15043,3186", "", rc), "Hello world");
  EXPECT_EQ(rc, 0);
  run_command(kBinary + " detokenize '" + gguf + "' --ids 99999999", "", rc);
  EXPECT_NE(rc, 0);
}

}  // namespace
