// The GGUF reader against hand-made bytes, truncated files and corrupted fields; and, when it is present, the
// real default model.
#include "tessera/format/gguf/gguf_file.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <iostream>
#include <set>

#include "../test_util.h"
#include "format_test_util.h"
#include "tessera/format/gguf/gguf_writer.h"

namespace tessera::format {
namespace {

using tensor::DType;
using testing::Bytes;
using testing::find_gguf_string;
using testing::find_tensor_info;
using testing::patch;
using testing::random_bytes;
using testing::TempDir;

constexpr uint64_t kTensorCountAt = 8;  // after magic and version
constexpr uint64_t kKvCountAt = 16;

// A small valid file: metadata of several kinds and three tensors of different types.
std::vector<uint8_t> small_file(uint32_t version = 3) {
  GgufWriter w(version);
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 2);
  w.add_array("tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "a", "bc"});
  w.add_array("tokenizer.ggml.scores", std::array<float, 3>{0.0f, -1.0f, -2.5f});
  Bytes nested;
  nested.u32(static_cast<uint32_t>(GgufType::kArray)).u64(1);
  nested.u32(static_cast<uint32_t>(GgufType::kUint8)).u64(2).u8(7).u8(8);
  w.add_raw("x.nested", GgufType::kArray, nested.bytes());
  w.add_tensor("blk.0.attn_q.weight", DType::kF32, {2, 8}, random_bytes(64, 1));
  w.add_tensor("blk.0.ffn_up.weight", DType::kQ4_0, {2, 32}, random_bytes(36, 2));
  w.add_tensor("output.weight", DType::kQ6_K, {1, 256}, random_bytes(210, 3));
  auto bytes = w.write_to_memory();
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  return bytes.ok() ? *bytes : std::vector<uint8_t>();
}

Status open_status(const std::vector<uint8_t>& bytes) {
  return GgufFile::open_from_memory(bytes, "corrupt.gguf").status();
}

#define EXPECT_ERROR(status, expected_code, fragment)                                               \
  do {                                                                                              \
    Status s_ = (status);                                                                           \
    EXPECT_EQ(s_.code(), expected_code) << s_.to_string();                                          \
    EXPECT_NE(s_.message().find(fragment), std::string_view::npos) << s_.to_string();               \
    EXPECT_EQ(s_.message().rfind("corrupt.gguf: ", 0), 0u) << "names the file: " << s_.to_string(); \
  } while (0)

TEST(GgufFile, ReadsAHandMadeFile) {
  // Written field by field from the spec rather than by GgufWriter, so the two cannot share a mistake.
  Bytes b;
  b.raw("GGUF").u32(3).u64(1).u64(2);
  b.str("general.architecture").u32(8).str("llama");
  b.str("general.alignment").u32(4).u32(64);
  b.str("w").u32(2).u64(4).u64(2).u32(0).u64(0);  // ne = {4, 2}: 2 rows of 4
  b.pad_to(64);
  const size_t data_at = b.size();
  for (int i = 0; i < 8; ++i) b.put<float>(static_cast<float>(i));
  const std::vector<uint8_t> bytes = b.bytes();

  auto f = GgufFile::open_from_memory(bytes, "hand.gguf");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), 64u);
  EXPECT_EQ(g.data_offset(), data_at);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  ASSERT_EQ(g.tensors().size(), 1u);
  const TensorEntry& w = g.tensors()[0];
  EXPECT_EQ(w.name, "w");
  EXPECT_EQ(w.dtype, DType::kF32);
  EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 4}));  // reversed to outermost first
  EXPECT_EQ(w.nbytes, 32u);
  EXPECT_EQ(w.data, bytes.data() + data_at);
  float last;
  std::memcpy(&last, w.data + 28, 4);
  EXPECT_EQ(last, 7.0f);
  EXPECT_EQ(g.path(), "hand.gguf");
}

TEST(GgufFile, EveryTruncationIsAnError) {
  const std::vector<uint8_t> full = small_file();
  auto f = GgufFile::open_from_memory(full, "full.gguf");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  // The writer pads after the last tensor; a file cut inside that padding still holds every tensor.
  size_t data_end = 0;
  for (const TensorEntry& e : (*f)->tensors()) {
    data_end = std::max(data_end, static_cast<size_t>(e.data - full.data()) + e.nbytes);
  }
  ASSERT_LT(data_end, full.size());
  for (size_t len = 0; len < full.size(); ++len) {
    // An exact-size heap copy, so that any read past `len` is a heap overflow that ASan reports.
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    Status s = GgufFile::open_from_memory(cut, "cut.gguf").status();
    if (len < data_end) {
      ASSERT_FALSE(s.ok()) << "prefix of " << len << " bytes opened";
      ASSERT_TRUE(s.code() == StatusCode::kDataLoss) << len << ": " << s.to_string();
      ASSERT_EQ(s.message().rfind("cut.gguf: ", 0), 0u) << s.to_string();
    } else {
      ASSERT_TRUE(s.ok()) << len << ": " << s.to_string();
    }
  }
}

TEST(GgufFile, TruncatedDataNamesTheTensorAndTheFile) {
  TempDir dir;
  std::vector<uint8_t> bytes = small_file();
  bytes.resize(bytes.size() - 100);
  const std::string path = dir.file("model.gguf");
  testing::write_file(path, bytes);
  Status s = GgufFile::open(path).status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message().rfind(path + ": tensor 'output.weight' data [offset ", 0), 0u) << s.to_string();
  EXPECT_NE(s.message().find("runs past the end of the file (size " + std::to_string(bytes.size()) + ")"),
            std::string_view::npos)
      << s.to_string();
}

TEST(GgufFile, MissingFileIsNotFound) {
  TempDir dir;
  Status s = GgufFile::open(dir.file("absent.gguf")).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("absent.gguf"), std::string_view::npos);
}

TEST(GgufFile, RefusesOtherFilesAndVersions) {
  std::vector<uint8_t> bytes = small_file();
  std::vector<uint8_t> b = bytes;
  b[0] = 'X';
  EXPECT_ERROR(open_status(b), StatusCode::kInvalidArgument, "not a GGUF file");

  b = bytes;
  patch<uint32_t>(b, 4, 1);
  EXPECT_ERROR(open_status(b), StatusCode::kUnimplemented, "version 1 is not supported");
  patch<uint32_t>(b, 4, 4);
  EXPECT_ERROR(open_status(b), StatusCode::kUnimplemented, "unknown GGUF version 4");
  patch<uint32_t>(b, 4, 0x03000000);
  EXPECT_ERROR(open_status(b), StatusCode::kUnimplemented, "big-endian");

  auto v2 = GgufFile::open_from_memory(small_file(2), "v2.gguf");
  ASSERT_TRUE(v2.ok()) << v2.status().to_string();
  EXPECT_EQ((*v2)->version(), 2u);
}

TEST(GgufFile, RefusesImpossibleCountsWithoutAllocating) {
  // A 1 KB file claiming 2^60 tensors: refused from the arithmetic, before any vector is sized.
  std::vector<uint8_t> b = small_file();
  b.resize(1024);
  patch<uint64_t>(b, kTensorCountAt, uint64_t{1} << 60);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "tensor count 1152921504606846976 cannot fit");

  b = small_file();
  patch<uint64_t>(b, kKvCountAt, uint64_t{1} << 60);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "metadata count 1152921504606846976 cannot fit");

  b = small_file();
  patch<uint64_t>(b, kKvCountAt, (b.size() - 24) / 13 - 1);
  patch<uint64_t>(b, kTensorCountAt, (b.size() - 24) / 32 - 1);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "cannot both fit");

  b = small_file();
  size_t key = find_gguf_string(b, "general.architecture");
  patch<uint64_t>(b, key, uint64_t{1} << 62);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "truncated: metadata key");

  b = small_file();
  size_t value = find_gguf_string(b, "llama");
  patch<uint64_t>(b, value, ~uint64_t{0});
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "metadata 'general.architecture': truncated");

  b = small_file();
  size_t tokens = find_gguf_string(b, "tokenizer.ggml.tokens");
  size_t count_at = tokens + 8 + std::strlen("tokenizer.ggml.tokens") + 4 + 4;  // after value and element types
  patch<uint64_t>(b, count_at, uint64_t{1} << 61);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "array of 2305843009213693952 string elements");
}

TEST(GgufFile, RefusesBadMetadata) {
  std::vector<uint8_t> b = small_file();
  size_t key = find_gguf_string(b, "llama.block_count");
  patch<uint32_t>(b, key + 8 + std::strlen("llama.block_count"), 13);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "unknown value type 13");

  // Two keys of equal length, the second patched into the first.
  GgufWriter w;
  w.add_u32("key.a", 1);
  w.add_u32("key.b", 2);
  b = *w.write_to_memory();
  b[find_gguf_string(b, "key.b") + 8 + 4] = 'a';
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "duplicate metadata key 'key.a'");

  // Arrays nested past the depth limit.
  Bytes deep;
  for (int i = 0; i < 12; ++i) deep.u32(static_cast<uint32_t>(GgufType::kArray)).u64(1);
  deep.u32(static_cast<uint32_t>(GgufType::kUint8)).u64(0);
  GgufWriter dw;
  dw.add_raw("deep", GgufType::kArray, deep.bytes());
  EXPECT_ERROR(open_status(*dw.write_to_memory()), StatusCode::kDataLoss, "nested deeper");
}

TEST(GgufFile, RefusesBadAlignment) {
  struct Case {
    GgufType type;
    std::vector<uint8_t> value;
    const char* shown;
  };
  const std::vector<Case> cases = {
      {GgufType::kUint32, {3, 0, 0, 0}, "general.alignment is 3"},
      {GgufType::kUint32, {0, 0, 0, 0}, "general.alignment is 0"},
      {GgufType::kInt32, {0xe0, 0xff, 0xff, 0xff}, "general.alignment is -32"},
      {GgufType::kString, Bytes().str("32").bytes(), "general.alignment is \"32\""},
      {GgufType::kBool, {1}, "general.alignment is true"},
  };
  for (const Case& c : cases) {
    GgufWriter w;
    w.add_raw("general.alignment", c.type, c.value);
    w.add_tensor("t", DType::kF32, {8}, random_bytes(32, 1));
    auto bytes = w.write_to_memory();
    ASSERT_TRUE(bytes.ok());
    EXPECT_ERROR(open_status(*bytes), StatusCode::kDataLoss, c.shown);
  }
  // A u64 alignment that is a power of two is fine, whatever its integer type.
  GgufWriter w;
  w.add_raw("general.alignment", GgufType::kUint64, {32, 0, 0, 0, 0, 0, 0, 0});
  w.add_tensor("t", DType::kF32, {8}, random_bytes(32, 1));
  auto ok = GgufFile::open_from_memory(*w.write_to_memory(), "ok.gguf");
  EXPECT_TRUE(ok.ok()) << ok.status().to_string();
}

TEST(GgufFile, RefusesBadTensorInfos) {
  const std::vector<uint8_t> good = small_file();
  const char* q = "blk.0.attn_q.weight";
  const char* up = "blk.0.ffn_up.weight";
  std::vector<uint8_t> b;

  b = good;
  patch<uint64_t>(b, find_tensor_info(b, q).offset, uint64_t{1} << 40);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "tensor 'blk.0.attn_q.weight' data [offset ");

  b = good;  // aligned, and so large that data start + offset overflows
  patch<uint64_t>(b, find_tensor_info(b, q).offset, ~uint64_t{31});
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "runs past the end of the file");

  b = good;
  patch<uint64_t>(b, find_tensor_info(b, up).offset, 68);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "data offset 68 is not a multiple of the alignment 32");

  b = good;
  patch<uint32_t>(b, find_tensor_info(b, q).n_dims, 5);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "n_dims is 5");
  patch<uint32_t>(b, find_tensor_info(b, q).n_dims, 0);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "n_dims is 0");

  b = good;
  patch<uint32_t>(b, find_tensor_info(b, q).type, 1000);
  EXPECT_ERROR(open_status(b), StatusCode::kUnimplemented, "tensor 'blk.0.attn_q.weight': unknown ggml type id 1000");

  b = good;
  patch<uint32_t>(b, find_tensor_info(b, q).type, 6);
  EXPECT_ERROR(open_status(b), StatusCode::kUnimplemented, "tensor 'blk.0.attn_q.weight': type q5_0 is not supported");
  patch<uint32_t>(b, find_tensor_info(b, q).type, 17);
  EXPECT_ERROR(open_status(b), StatusCode::kUnimplemented, "type iq2_xs");

  b = good;
  patch<uint64_t>(b, find_tensor_info(b, q).ne, 0);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "not a positive int64");
  patch<uint64_t>(b, find_tensor_info(b, q).ne, uint64_t{1} << 63);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "not a positive int64");

  b = good;
  patch<uint64_t>(b, find_tensor_info(b, q).ne, uint64_t{1} << 62);
  patch<uint64_t>(b, find_tensor_info(b, q).ne + 8, uint64_t{1} << 62);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "too many elements");

  b = good;
  patch<uint64_t>(b, find_tensor_info(b, up).ne, 48);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss,
               "rows of 48 elements are not a multiple of the q4_0 block size 32");

  // Two names of equal length, the second patched into the first.
  GgufWriter w;
  w.add_tensor("a.weight", DType::kF32, {4}, random_bytes(16, 1));
  w.add_tensor("b.weight", DType::kF32, {4}, random_bytes(16, 2));
  b = *w.write_to_memory();
  b[find_gguf_string(b, "b.weight") + 8] = 'a';
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "duplicate tensor name 'a.weight'");
}

TEST(GgufFile, NamesInMessagesAreEscapedAndCut) {
  GgufWriter w;
  std::string name = "evil\n\x01" + std::string(500, 'n');
  w.add_tensor(name, DType::kF32, {4}, random_bytes(16, 1));
  std::vector<uint8_t> b = *w.write_to_memory();
  patch<uint32_t>(b, find_tensor_info(b, name).type, 6);
  Status s = open_status(b);
  EXPECT_NE(s.message().find("'evil\\n\\x01nnn"), std::string_view::npos) << s.to_string();
  EXPECT_NE(s.message().find("... (506 bytes)"), std::string_view::npos) << s.to_string();
  EXPECT_LT(s.message().size(), 250u);
}

TEST(GgufFile, ValuesRenderForListings) {
  GgufWriter w;
  w.add_string("s", "say \"hi\"\n");
  w.add_f32("f", 0.5f);
  w.add_bool("b", false);
  w.add_u64("u", ~uint64_t{0});
  std::vector<int32_t> many(20);
  for (int i = 0; i < 20; ++i) many[i] = i;
  w.add_array("many", many);
  w.add_array("strs", std::vector<std::string>{"x", "y"});
  std::vector<uint8_t> storage = *w.write_to_memory();
  auto f = GgufFile::open_from_memory(storage, "r.gguf");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->find_metadata("s")->to_string(), "\"say \\\"hi\\\"\\n\"");
  EXPECT_EQ((*f)->find_metadata("f")->to_string(), "0.5");
  EXPECT_EQ((*f)->find_metadata("b")->to_string(), "false");
  EXPECT_EQ((*f)->find_metadata("u")->to_string(), "18446744073709551615");
  EXPECT_EQ((*f)->find_metadata("many")->to_string(3), "[0, 1, 2, ... (20 total)]");
  EXPECT_EQ((*f)->find_metadata("strs")->to_string(), "[\"x\", \"y\"]");
  EXPECT_EQ(GgufValue().to_string(), "(none)");
  EXPECT_EQ(GgufValue().as_int(), std::nullopt);
  EXPECT_EQ(gguf_type_name(GgufType::kFloat64), "f64");
}

TEST(GgufDefaultModel, HasTheExpectedShape) {
  const std::string path = tessera::testing::default_model_path();
  TESSERA_REQUIRE_FILE(path);
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const GgufFile& g = **f;
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_int("llama.block_count"), 30);
  const TensorEntry* embd = g.find("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->shape, (std::vector<int64_t>{49152, 576}));
  std::set<std::string> types;
  for (const TensorEntry& e : g.tensors()) types.emplace(tensor::dtype_name(e.dtype));
  std::string listed;
  for (const std::string& t : types) listed += (listed.empty() ? "" : ", ") + t;
  std::cout << "[ info     ] " << g.tensors().size() << " tensors, GGUF v" << g.version() << ", types: " << listed
            << "\n";
}

}  // namespace
}  // namespace tessera::format
