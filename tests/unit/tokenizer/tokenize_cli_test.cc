// `tessera tokenize` / `tessera detokenize`: the exact output forms scripts depend on.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "../test_util.h"

namespace {

// Runs `command` through the shell with `input` on standard input; returns standard output and sets `rc`.
std::string run(const std::string& command, const std::string& input, int& rc) {
  const std::string in_path = ::testing::TempDir() + "tokenize_cli_input.bin";
  std::ofstream(in_path, std::ios::binary) << input;
  FILE* p = popen((command + " < '" + in_path + "' 2>/dev/null").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  for (size_t n; p && (n = fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  rc = p ? pclose(p) : -1;
  return out;
}

const std::string kBinary = TESSERA_BINARY_PATH;

TEST(TokenizeCliTest, TokenizeReadsEveryByte) {
  const std::string dir = tessera::testing::assets_dir() + "/tokenizers/qwen3";
  TESSERA_REQUIRE_FILE(dir + "/tokenizer.json");
  int rc = 0;
  EXPECT_EQ(run(kBinary + " tokenize '" + dir + "'", "Hello world\n", rc), "9707 1879 198\n");
  EXPECT_EQ(rc, 0);
  // Special tokens are text unless --parse-special.
  EXPECT_EQ(run(kBinary + " tokenize '" + dir + "/tokenizer.json' --parse-special", "<|im_start|>Hi", rc),
            "151644 13048\n");
  EXPECT_NE(run(kBinary + " tokenize '" + dir + "'", "<|im_start|>Hi", rc), "151644 13048\n");
  EXPECT_EQ(run(kBinary + " tokenize '" + dir + "'", "", rc), "\n");
}

TEST(TokenizeCliTest, GgufAddSpecialAndDetokenize) {
  const std::string gguf = tessera::testing::assets_dir() + "/vocab/ggml-vocab-llama-spm.gguf";
  TESSERA_REQUIRE_FILE(gguf);
  int rc = 0;
  EXPECT_EQ(run(kBinary + " tokenize '" + gguf + "' --add-special", "Hello", rc), "1 15043\n");
  EXPECT_EQ(run(kBinary + " tokenize '" + gguf + "'", "Hello", rc), "15043\n");
  EXPECT_EQ(run(kBinary + " detokenize '" + gguf + "' --ids 15043,3186", "", rc), "Hello world");
  EXPECT_EQ(rc, 0);
  run(kBinary + " detokenize '" + gguf + "' --ids 99999999", "", rc);
  EXPECT_NE(rc, 0);
}

}  // namespace
