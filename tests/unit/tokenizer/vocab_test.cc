// llama.cpp's tokenizer test vectors: every ggml-vocab-*.gguf in the shared assets that has .inp/.out files.
// The strings and ids are read as llama.cpp's test reads them: the .inp is each string followed by the line
// "__ggml_vocab_test__" (so the separator is "\n__ggml_vocab_test__\n" and a string's own trailing newlines
// are kept), the .out one line of ids per string. Nothing special is added or parsed.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "../test_util.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::tokenizer {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<VocabCase> read_cases(const std::string& gguf_path) {
  const std::string inp = read_file(gguf_path + ".inp");
  const std::string out = read_file(gguf_path + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<VocabCase> cases;
  size_t ip = 0, op = 0;
  for (size_t hit; (hit = inp.find(sep, ip)) != std::string::npos; ip = hit + sep.size()) {
    VocabCase c;
    c.text = inp.substr(ip, hit - ip);
    size_t nl = out.find('\n', op);
    std::istringstream line(out.substr(op, nl == std::string::npos ? std::string::npos : nl - op));
    op = nl == std::string::npos ? out.size() : nl + 1;
    for (int32_t id; line >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

// `round_trip`: decoding the reference ids must give the string back (true of byte-level BPE and of
// SentencePiece with byte fallback; BERT lowercases and strips accents, so its reference does not).
void check_vocab(const std::string& name, bool round_trip) {
  const std::string path = tessera::testing::assets_dir() + "/vocab/ggml-vocab-" + name + ".gguf";
  TESSERA_REQUIRE_FILE(path);
  TESSERA_REQUIRE_FILE(path + ".inp");
  auto tok = Tokenizer::load(path);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  auto cases = read_cases(path);
  ASSERT_GE(cases.size(), 40u);
  size_t matched = 0;
  for (const VocabCase& c : cases) {
    auto ids = (*tok)->encode(c.text);
    EXPECT_EQ(ids, c.ids) << name << ": \"" << c.text << "\"";
    matched += ids == c.ids;
    if (round_trip) {
      EXPECT_EQ((*tok)->decode(c.ids), c.text) << name;
    }
  }
  ::testing::Test::RecordProperty("matched", std::to_string(matched) + "/" + std::to_string(cases.size()));
  std::printf("%s: %s ids matched\n", name.c_str(),
              (std::to_string(matched) + "/" + std::to_string(cases.size())).c_str());
}

TEST(VocabTest, Gpt2) { check_vocab("gpt-2", true); }
TEST(VocabTest, LlamaBpe) { check_vocab("llama-bpe", true); }
TEST(VocabTest, LlamaSpm) { check_vocab("llama-spm", true); }
TEST(VocabTest, Mpt) { check_vocab("mpt", true); }
TEST(VocabTest, Qwen2) { check_vocab("qwen2", true); }
TEST(VocabTest, Qwen35) { check_vocab("qwen35", true); }
TEST(VocabTest, BertBge) { check_vocab("bert-bge", false); }

// gpt-neox has no test strings; it still has to load (no tokenizer.ggml.pre: llama.cpp's default split).
TEST(VocabTest, GptNeoxLoads) {
  const std::string path = tessera::testing::assets_dir() + "/vocab/ggml-vocab-gpt-neox.gguf";
  TESSERA_REQUIRE_FILE(path);
  auto tok = Tokenizer::load(path);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  std::string text = "Hello world, 12345!";
  EXPECT_EQ((*tok)->decode((*tok)->encode(text)), text);
}

}  // namespace
}  // namespace tessera::tokenizer
