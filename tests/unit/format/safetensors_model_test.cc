// The safetensors reader: single files (good and corrupt) and model directories (single file, sharded with an
// index, and a bare set of *.safetensors files).
#include "tessera/format/safetensors/safetensors_model.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "format_test_util.h"

namespace tessera::format {
namespace {

using nlohmann::json;
using tensor::DType;
using testing::random_bytes;
using testing::TempDir;
using testing::write_file;

// A .safetensors image from a header (as JSON text) and the data section.
std::vector<uint8_t> image(const std::string& header, const std::vector<uint8_t>& data = {}) {
  testing::Bytes b;
  b.u64(header.size()).raw(header).raw(data);
  return b.bytes();
}

struct Spec {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  size_t elem_bytes;
};

// A valid image holding `specs` in order, with random data; `data` receives each tensor's bytes.
std::vector<uint8_t> build(const std::vector<Spec>& specs, std::vector<std::vector<uint8_t>>* data = nullptr,
                           bool with_metadata = true) {
  json header = json::object();
  if (with_metadata) header["__metadata__"] = {{"format", "pt"}};
  std::vector<uint8_t> blob;
  for (size_t i = 0; i < specs.size(); ++i) {
    const Spec& s = specs[i];
    size_t n = s.elem_bytes;
    for (int64_t d : s.shape) n *= static_cast<size_t>(d);
    std::vector<uint8_t> bytes = random_bytes(n, i + 7);
    header[s.name] = {{"dtype", s.dtype}, {"shape", s.shape}, {"data_offsets", {blob.size(), blob.size() + n}}};
    blob.insert(blob.end(), bytes.begin(), bytes.end());
    if (data) data->push_back(std::move(bytes));
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // padded to 8 as the Hugging Face writer does
  return image(text, blob);
}

Status open_status(const std::vector<uint8_t>& bytes) {
  return SafetensorsFile::open_from_memory(bytes, "bad.safetensors").status();
}

// One tensor "t" whose entry is `entry`, over `data_bytes` bytes of data.
Status entry_status(const json& entry, size_t data_bytes = 16) {
  return open_status(image(json{{"t", entry}}.dump(), std::vector<uint8_t>(data_bytes)));
}

#define EXPECT_ERROR(status, expected_code, fragment)                                                  \
  do {                                                                                                 \
    Status s_ = (status);                                                                              \
    EXPECT_EQ(s_.code(), expected_code) << s_.to_string();                                             \
    EXPECT_NE(s_.message().find(fragment), std::string_view::npos) << s_.to_string();                  \
    EXPECT_EQ(s_.message().rfind("bad.safetensors: ", 0), 0u) << "names the file: " << s_.to_string(); \
  } while (0)

TEST(SafetensorsFile, ReadsEachFloatType) {
  std::vector<std::vector<uint8_t>> data;
  const std::vector<Spec> specs = {
      {"model.embed_tokens.weight", "BF16", {6, 4}, 2},
      {"model.norm.weight", "F32", {4}, 4},
      {"lm_head.weight", "F16", {2, 3, 4}, 2},
      {"scalar", "F32", {}, 4},
      {"empty", "F16", {0, 4}, 2},
  };
  const std::vector<uint8_t> bytes = build(specs, &data);
  auto f = SafetensorsFile::open_from_memory(bytes, "m.safetensors");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->metadata_json(), R"({"format":"pt"})");
  ASSERT_EQ((*f)->tensors().size(), specs.size());
  const DType dtypes[] = {DType::kBF16, DType::kF32, DType::kF16, DType::kF32, DType::kF16};
  for (size_t i = 0; i < specs.size(); ++i) {
    SCOPED_TRACE(specs[i].name);
    const TensorEntry* e = (*f)->find(specs[i].name);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->dtype, dtypes[i]);
    EXPECT_EQ(e->shape, specs[i].shape);
    ASSERT_EQ(e->nbytes, data[i].size());
    if (e->nbytes > 0) {
      EXPECT_EQ(std::memcmp(e->data, data[i].data(), e->nbytes), 0);
    }
  }
  EXPECT_EQ((*f)->find("nope"), nullptr);
  EXPECT_EQ((*f)->path(), "m.safetensors");
}

TEST(SafetensorsFile, MetadataIsOptional) {
  auto bytes = build({{"w", "F32", {2}, 4}}, nullptr, /*with_metadata=*/false);
  auto f = SafetensorsFile::open_from_memory(bytes, "m.safetensors");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->metadata_json(), "{}");
  EXPECT_EQ((*f)->tensors().size(), 1u);
}

TEST(SafetensorsFile, RefusesBadHeaderLength) {
  EXPECT_ERROR(open_status({1, 2, 3}), StatusCode::kDataLoss, "too short for the 8-byte header length");
  std::vector<uint8_t> b = build({{"w", "F32", {2}, 4}});
  testing::patch<uint64_t>(b, 0, b.size());
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "runs past the end of the file");
  testing::patch<uint64_t>(b, 0, uint64_t{1} << 62);
  EXPECT_ERROR(open_status(b), StatusCode::kDataLoss, "exceeds the limit of 100000000 bytes");
}

TEST(SafetensorsFile, RefusesBadJson) {
  EXPECT_ERROR(open_status(image("{\"t\": ")), StatusCode::kDataLoss, "header is not valid JSON");
  EXPECT_ERROR(open_status(image("[1, 2]")), StatusCode::kDataLoss, "header is not a JSON object");
  EXPECT_ERROR(open_status(image("")), StatusCode::kDataLoss, "header is not valid JSON");
  EXPECT_ERROR(open_status(image(R"({"t": 5})")), StatusCode::kDataLoss, "tensor 't': entry is not a JSON object");
  EXPECT_ERROR(open_status(image(R"({"__metadata__": {"a": 1}})")), StatusCode::kDataLoss, "is not a string");
  EXPECT_ERROR(open_status(image(R"({"__metadata__": []})")), StatusCode::kDataLoss, "__metadata__ is not");
  const std::string dup = R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                              "t": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})";
  EXPECT_ERROR(open_status(image(dup, std::vector<uint8_t>(8))), StatusCode::kDataLoss, "header names 't' twice");
}

TEST(SafetensorsFile, RefusesBadEntries) {
  const json good = {{"dtype", "F32"}, {"shape", {2, 2}}, {"data_offsets", {0, 16}}};
  EXPECT_TRUE(entry_status(good).ok()) << entry_status(good).to_string();

  json e = good;
  e.erase("dtype");
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "\"dtype\" is missing");
  e = good;
  e["shape"] = "2x2";
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "\"shape\" is missing or not an array");
  e = good;
  e["data_offsets"] = {0, 8, 16};
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "\"data_offsets\" is missing");
  e = good;
  e["shape"] = {2, -2};
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "not a non-negative integer");
  e["shape"] = {2, 2.5};
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "not a non-negative integer");
  e["shape"] = {uint64_t{1} << 40, uint64_t{1} << 40};
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "too many elements");
  e["shape"] = {uint64_t{1} << 62};
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "is too large");
  e = good;
  e["shape"] = {1, 1, 1, 1, 4};
  EXPECT_ERROR(entry_status(e), StatusCode::kUnimplemented, "shape has 5 dims");
  e = good;
  e["data_offsets"] = {16, 0};
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "are not a range");
  e["data_offsets"] = {-1, 15};
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "are not a range");
  e["data_offsets"] = {16, 32};
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "tensor 't': data_offsets [16,32] run past the end");
  e["data_offsets"] = {0, 12};
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "hold 12 bytes, but F32 [2,2] needs 16");
  e = good;
  e["dtype"] = "I64";
  EXPECT_ERROR(entry_status(e), StatusCode::kUnimplemented, "dtype 'I64' is not supported");
  e["dtype"] = "F8_E4M3";
  EXPECT_ERROR(entry_status(e), StatusCode::kUnimplemented, "dtype 'F8_E4M3' is not supported");
  e["dtype"] = 7;
  EXPECT_ERROR(entry_status(e), StatusCode::kDataLoss, "\"dtype\" is missing or not a string");
}

TEST(SafetensorsFile, EveryTruncationIsAnError) {
  const std::vector<uint8_t> full = build({{"a", "F32", {3}, 4}, {"b", "BF16", {2, 2}, 2}});
  ASSERT_TRUE(open_status(full).ok());
  for (size_t len = 0; len < full.size(); ++len) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    Status s = SafetensorsFile::open_from_memory(cut, "cut.safetensors").status();
    ASSERT_FALSE(s.ok()) << "prefix of " << len << " bytes opened";
    ASSERT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
  }
}

TEST(SafetensorsFile, ErrorsNameThePath) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  write_file(path, image("not json"));
  Status s = SafetensorsFile::open(path).status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message().rfind(path + ": header is not valid JSON", 0), 0u) << s.to_string();
  EXPECT_EQ(SafetensorsFile::open(dir.file("absent.safetensors")).status().code(), StatusCode::kNotFound);
}

// A model directory on disk.
class SafetensorsModelTest : public ::testing::Test {
 protected:
  void SetUp() override { write_file(dir_.file("config.json"), config_); }
  void write_shard(const std::string& name, const std::vector<Spec>& specs) {
    write_file(dir_.file(name), build(specs));
  }
  void write_index(const json& weight_map) {
    write_file(dir_.file("model.safetensors.index.json"),
               json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump());
  }
  Status open_status() { return SafetensorsModel::open(dir_.path()).status(); }

  TempDir dir_;
  const std::string config_ = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 4})";
};

TEST_F(SafetensorsModelTest, SingleFile) {
  write_shard("model.safetensors", {{"a", "F32", {2, 4}, 4}, {"b", "F16", {4}, 2}});
  write_shard("ignored.safetensors", {{"c", "F32", {1}, 4}});  // model.safetensors wins over a directory scan
  auto m = SafetensorsModel::open(dir_.path());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ((*m)->config_json(), config_);
  EXPECT_EQ((*m)->path(), dir_.path());
  EXPECT_EQ((*m)->tensors().size(), 2u);
  ASSERT_NE((*m)->find("a"), nullptr);
  EXPECT_EQ((*m)->find("a")->shape, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ((*m)->find("c"), nullptr);
}

TEST_F(SafetensorsModelTest, ShardedWithIndex) {
  write_shard("model-00001-of-00002.safetensors", {{"embed", "BF16", {8, 4}, 2}, {"l0", "BF16", {4, 4}, 2}});
  write_shard("model-00002-of-00002.safetensors", {{"l1", "BF16", {4, 4}, 2}, {"norm", "F32", {4}, 4}});
  write_index({{"embed", "model-00001-of-00002.safetensors"},
               {"l0", "model-00001-of-00002.safetensors"},
               {"l1", "model-00002-of-00002.safetensors"},
               {"norm", "model-00002-of-00002.safetensors"}});
  auto m = SafetensorsModel::open(dir_.path());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_EQ((*m)->tensors().size(), 4u);
  for (const char* name : {"embed", "l0", "l1", "norm"}) EXPECT_NE((*m)->find(name), nullptr) << name;
  EXPECT_EQ((*m)->find("norm")->dtype, DType::kF32);
  EXPECT_EQ((*m)->find("l1")->nbytes, 32u);
}

TEST_F(SafetensorsModelTest, IndexErrors) {
  write_shard("s1.safetensors", {{"a", "F32", {1}, 4}});
  write_index({{"a", "s1.safetensors"}, {"b", "s2.safetensors"}});
  Status s = open_status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.to_string();
  EXPECT_NE(s.message().find("shard 's2.safetensors' does not exist"), std::string_view::npos) << s.to_string();

  write_index({{"a", "s1.safetensors"}, {"b", "s1.safetensors"}});
  s = open_status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
  EXPECT_NE(s.message().find("tensor 'b' is mapped to 's1.safetensors', which does not contain it"),
            std::string_view::npos)
      << s.to_string();

  for (const char* evil : {"../s1.safetensors", "sub/s1.safetensors", "..", ""}) {
    write_index({{"a", evil}});
    s = open_status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << evil << ": " << s.to_string();
    EXPECT_NE(s.message().find("not a plain file name"), std::string_view::npos) << s.to_string();
  }

  write_file(dir_.file("model.safetensors.index.json"), std::string_view("{\"weight_map\": 3}"));
  EXPECT_EQ(open_status().code(), StatusCode::kDataLoss);
  write_file(dir_.file("model.safetensors.index.json"), std::string_view("{oops"));
  s = open_status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("model.safetensors.index.json: not valid JSON"), std::string_view::npos);
}

TEST_F(SafetensorsModelTest, TensorInTwoShards) {
  write_shard("s1.safetensors", {{"a", "F32", {1}, 4}, {"b", "F32", {1}, 4}});
  write_shard("s2.safetensors", {{"b", "F32", {1}, 4}});
  write_index({{"a", "s1.safetensors"}, {"b", "s2.safetensors"}});
  Status s = open_status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("tensor 'b' is in both"), std::string_view::npos) << s.to_string();
  EXPECT_NE(s.message().find("s1.safetensors"), std::string_view::npos);
  EXPECT_NE(s.message().find("s2.safetensors"), std::string_view::npos);
}

TEST_F(SafetensorsModelTest, FallsBackToEverySafetensorsFileSorted) {
  write_shard("b.safetensors", {{"from_b", "F32", {1}, 4}});
  write_shard("a.safetensors", {{"from_a", "F32", {1}, 4}});
  write_file(dir_.file("notes.txt"), std::string_view("not a shard"));
  auto m = SafetensorsModel::open(dir_.path());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_EQ((*m)->tensors().size(), 2u);
  EXPECT_EQ((*m)->tensors()[0].name, "from_a");
  EXPECT_EQ((*m)->tensors()[1].name, "from_b");
}

TEST_F(SafetensorsModelTest, ShardErrorsNameTheShard) {
  write_file(dir_.file("model.safetensors"), image("{]"));
  Status s = open_status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message().rfind(dir_.file("model.safetensors") + ": header is not valid JSON", 0), 0u) << s.to_string();
}

TEST_F(SafetensorsModelTest, DirectoryErrors) {
  Status s = open_status();  // config.json only
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("no model.safetensors.index.json"), std::string_view::npos) << s.to_string();

  write_shard("model.safetensors", {{"a", "F32", {1}, 4}});
  write_file(dir_.file("config.json"), std::string_view("{\"a\": "));
  s = open_status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("config.json: not valid JSON"), std::string_view::npos) << s.to_string();

  std::filesystem::remove(dir_.file("config.json"));
  s = open_status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("no config.json"), std::string_view::npos) << s.to_string();

  EXPECT_EQ(SafetensorsModel::open(dir_.file("absent")).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera::format
