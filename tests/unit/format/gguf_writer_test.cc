// Writer -> reader round trips: every metadata type, every tensor type, v2 and v3, several alignments; and the
// writer's own refusals.
#include "tessera/format/gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <tuple>

#include "format_test_util.h"
#include "tessera/format/gguf/gguf_file.h"

namespace tessera::format {
namespace {

using tensor::DType;
using testing::random_bytes;
using testing::TempDir;

Expected<std::unique_ptr<GgufFile>> round_trip(const GgufWriter& w, std::vector<uint8_t>& storage) {
  Expected<std::vector<uint8_t>> bytes = w.write_to_memory();
  if (!bytes.ok()) return bytes.status();
  storage = std::move(*bytes);
  return GgufFile::open_from_memory(storage, "test.gguf");
}

class GgufRoundTrip : public ::testing::TestWithParam<std::tuple<uint32_t, uint64_t>> {
 protected:
  uint32_t version() const { return std::get<0>(GetParam()); }
  uint64_t alignment() const { return std::get<1>(GetParam()); }
};

TEST_P(GgufRoundTrip, EveryMetadataType) {
  GgufWriter w(version());
  w.set_alignment(alignment());
  w.add_u8("t.u8", 200);
  w.add_i8("t.i8", -100);
  w.add_u16("t.u16", 60000);
  w.add_i16("t.i16", -30000);
  w.add_u32("t.u32", 4000000000u);
  w.add_i32("t.i32", -2000000000);
  w.add_f32("t.f32", 1.5f);
  w.add_bool("t.bool", true);
  w.add_bool("t.false", false);
  w.add_string("t.string", "h\xc3\xa9llo\nworld");
  w.add_string("t.empty", "");
  w.add_u64("t.u64", (uint64_t{1} << 63) + 5);
  w.add_i64("t.i64", -(int64_t{1} << 62));
  w.add_f64("t.f64", 3.25);
  const std::array<uint8_t, 3> u8s = {0, 1, 255};
  const std::array<int8_t, 3> i8s = {-128, 0, 127};
  const std::array<uint16_t, 3> u16s = {0, 1, 65535};
  const std::array<int16_t, 3> i16s = {-32768, 0, 32767};
  const std::array<uint32_t, 3> u32s = {0, 1, 4294967295u};
  const std::array<int32_t, 3> i32s = {std::numeric_limits<int32_t>::min(), 0, 7};
  const std::array<float, 3> f32s = {-1.25f, 0.0f, 1e30f};
  const std::array<bool, 3> bools = {true, false, true};
  const std::vector<std::string> strings = {"a", "", std::string(300, 'x'), "\xe4\xb8\xad"};
  const std::array<uint64_t, 2> u64s = {0, std::numeric_limits<uint64_t>::max()};
  const std::array<int64_t, 2> i64s = {std::numeric_limits<int64_t>::min(), 42};
  const std::array<double, 2> f64s = {-0.5, 1e300};
  w.add_array("a.u8", u8s);
  w.add_array("a.i8", i8s);
  w.add_array("a.u16", u16s);
  w.add_array("a.i16", i16s);
  w.add_array("a.u32", u32s);
  w.add_array("a.i32", i32s);
  w.add_array("a.f32", f32s);
  w.add_array("a.bool", bools);
  w.add_array("a.string", strings);
  w.add_array("a.u64", u64s);
  w.add_array("a.i64", i64s);
  w.add_array("a.f64", f64s);
  w.add_array("a.empty", std::span<const uint32_t>());
  // [[1, 2], ["s"]]: arrays of arrays are legal GGUF; tessera keeps them opaque.
  testing::Bytes nested;
  nested.u32(static_cast<uint32_t>(GgufType::kArray)).u64(2);
  nested.u32(static_cast<uint32_t>(GgufType::kInt32)).u64(2).u32(1).u32(2);
  nested.u32(static_cast<uint32_t>(GgufType::kString)).u64(1).str("s");
  w.add_raw("a.nested", GgufType::kArray, nested.bytes());
  w.add_u32("t.after_nested", 99);
  ASSERT_TRUE(w.status().ok()) << w.status().to_string();

  std::vector<uint8_t> storage;
  auto f = round_trip(w, storage);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), version());
  EXPECT_EQ(g.alignment(), alignment());
  EXPECT_EQ(g.get_int("general.alignment").value_or(32), static_cast<int64_t>(alignment()));

  EXPECT_EQ(g.get_int("t.u8"), 200);
  EXPECT_EQ(g.get_int("t.i8"), -100);
  EXPECT_EQ(g.get_int("t.u16"), 60000);
  EXPECT_EQ(g.get_int("t.i16"), -30000);
  EXPECT_EQ(g.get_int("t.u32"), 4000000000);
  EXPECT_EQ(g.get_int("t.i32"), -2000000000);
  EXPECT_EQ(g.get_float("t.f32"), 1.5);
  EXPECT_EQ(g.get_float("t.u16"), 60000.0);  // integers widen to float
  EXPECT_EQ(g.find_metadata("t.bool")->as_bool(), true);
  EXPECT_EQ(g.find_metadata("t.false")->as_bool(), false);
  EXPECT_EQ(g.get_int("t.bool"), 1);
  EXPECT_EQ(g.get_string("t.string"), "h\xc3\xa9llo\nworld");
  EXPECT_EQ(g.get_string("t.empty"), "");
  EXPECT_EQ(g.get_int("t.u64"), std::nullopt);  // does not fit int64
  EXPECT_EQ(g.get_float("t.u64"), std::ldexp(1.0, 63));
  EXPECT_EQ(g.get_int("t.i64"), -(int64_t{1} << 62));
  EXPECT_EQ(g.get_float("t.f64"), 3.25);
  EXPECT_EQ(g.get_string("t.u8"), std::nullopt);
  EXPECT_EQ(g.get_int("t.string"), std::nullopt);
  EXPECT_EQ(g.get_int("no.such.key"), std::nullopt);
  EXPECT_EQ(g.find_metadata("t.u8")->type(), GgufType::kUint8);
  EXPECT_EQ(g.find_metadata("t.f64")->type(), GgufType::kFloat64);

  auto check_ints = [&](const char* key, GgufType elem, auto values) {
    SCOPED_TRACE(key);
    const GgufValue* v = g.find_metadata(key);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->type(), GgufType::kArray);
    EXPECT_EQ(v->array_type(), elem);
    ASSERT_EQ(v->array_size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(v->int_at(i), static_cast<int64_t>(values[i])) << i;
  };
  check_ints("a.u8", GgufType::kUint8, u8s);
  check_ints("a.i8", GgufType::kInt8, i8s);
  check_ints("a.u16", GgufType::kUint16, u16s);
  check_ints("a.i16", GgufType::kInt16, i16s);
  check_ints("a.u32", GgufType::kUint32, u32s);
  check_ints("a.i32", GgufType::kInt32, i32s);
  check_ints("a.bool", GgufType::kBool, bools);
  check_ints("a.i64", GgufType::kInt64, i64s);

  const GgufValue* u64v = g.find_metadata("a.u64");
  ASSERT_EQ(u64v->array_size(), 2u);
  EXPECT_EQ(u64v->int_at(0), 0);
  EXPECT_EQ(u64v->int_at(1), std::nullopt);
  EXPECT_EQ(u64v->float_at(1), std::ldexp(1.0, 64));

  const GgufValue* f32v = g.find_metadata("a.f32");
  ASSERT_EQ(f32v->array_size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(f32v->float_at(i), static_cast<double>(f32s[i]));
  EXPECT_EQ(f32v->int_at(0), std::nullopt);
  const GgufValue* f64v = g.find_metadata("a.f64");
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(f64v->float_at(i), f64s[i]);

  const GgufValue* sv = g.find_metadata("a.string");
  EXPECT_EQ(sv->array_type(), GgufType::kString);
  ASSERT_EQ(sv->array_size(), strings.size());
  for (size_t i = 0; i < strings.size(); ++i) EXPECT_EQ(sv->string_at(i), strings[i]);
  EXPECT_EQ(sv->int_at(0), std::nullopt);

  EXPECT_EQ(g.find_metadata("a.empty")->array_size(), 0u);
  const GgufValue* nv = g.find_metadata("a.nested");
  EXPECT_EQ(nv->array_type(), GgufType::kArray);
  EXPECT_EQ(nv->array_size(), 2u);
  EXPECT_EQ(nv->int_at(0), std::nullopt);
  EXPECT_EQ(nv->string_at(0), std::nullopt);
  EXPECT_EQ(g.get_int("t.after_nested"), 99);  // the reader stepped over the nested array correctly

  // File order is kept; general.alignment comes first because set_alignment() came first.
  const auto& md = g.metadata();
  size_t first = alignment() == 32 ? 0 : 1;
  ASSERT_GT(md.size(), first);
  EXPECT_EQ(md[first].first, "t.u8");
  EXPECT_EQ(md.back().first, "t.after_nested");
  EXPECT_TRUE(g.tensors().empty());
}

TEST_P(GgufRoundTrip, EveryTensorType) {
  struct Case {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
  };
  const std::vector<Case> cases = {
      {"f32", DType::kF32, {2, 3, 5}},  {"f16", DType::kF16, {7, 3}},          {"bf16", DType::kBF16, {3}},
      {"q8_0", DType::kQ8_0, {3, 64}},  {"q4_0", DType::kQ4_0, {2, 32}},       {"q4_1", DType::kQ4_1, {5, 96}},
      {"q4_k", DType::kQ4_K, {3, 256}}, {"q5_k", DType::kQ5_K, {2, 512}},      {"q6_k", DType::kQ6_K, {1, 256}},
      {"i32", DType::kI32, {11}},       {"f32.4d", DType::kF32, {2, 1, 3, 4}},
  };
  GgufWriter w(version());
  w.set_alignment(alignment());
  w.add_string("general.architecture", "llama");
  std::vector<std::vector<uint8_t>> data;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    int64_t numel = 1;
    for (int64_t d : c.shape) numel *= d;
    data.push_back(random_bytes(tensor::row_bytes(c.dtype, numel), i + 1));
    w.add_tensor(c.name, c.dtype, c.shape, data.back());
  }
  ASSERT_TRUE(w.status().ok()) << w.status().to_string();

  std::vector<uint8_t> storage;
  auto f = round_trip(w, storage);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const GgufFile& g = **f;
  ASSERT_EQ(g.tensors().size(), cases.size());
  EXPECT_EQ(g.data_offset() % alignment(), 0u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    const TensorEntry* e = g.find(c.name);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(&g.tensors()[i], e);  // file order
    EXPECT_EQ(e->dtype, c.dtype);
    EXPECT_EQ(e->shape, c.shape);
    ASSERT_EQ(e->nbytes, data[i].size());
    EXPECT_EQ(std::memcmp(e->data, data[i].data(), e->nbytes), 0);
    uint64_t at = static_cast<uint64_t>(e->data - storage.data());
    EXPECT_GE(at, g.data_offset());
    EXPECT_EQ(at % alignment(), 0u);
    tensor::Tensor t = e->view();
    EXPECT_EQ(t.ndim, static_cast<int>(c.shape.size()));
    EXPECT_EQ(t.nbytes(), e->nbytes);
    EXPECT_EQ(t.data, e->data);
  }
  EXPECT_EQ(g.find("missing"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(VersionsAndAlignments, GgufRoundTrip,
                         ::testing::Combine(::testing::Values(2u, 3u), ::testing::Values(32u, 1u, 8u, 64u, 4096u)),
                         [](const auto& info) {
                           // Appended piecewise: g++ 12 -O3 misreports `"v" + std::to_string(...)` (-Wrestrict).
                           std::string name = "v";
                           name += std::to_string(std::get<0>(info.param));
                           name += "_align";
                           name += std::to_string(std::get<1>(info.param));
                           return name;
                         });

TEST(GgufWriter, EmptyFileRoundTrips) {
  GgufWriter w;
  std::vector<uint8_t> storage;
  auto f = round_trip(w, storage);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(storage.size(), 24u);  // magic, version, two counts
  EXPECT_EQ((*f)->version(), 3u);
  EXPECT_TRUE((*f)->metadata().empty());
  EXPECT_TRUE((*f)->tensors().empty());
}

TEST(GgufWriter, FileMatchesMemoryAndLeavesNoPartialFile) {
  TempDir dir;
  GgufWriter w;
  w.set_alignment(64);
  w.add_string("general.name", "tiny");
  const std::vector<uint8_t> a = random_bytes(4 * 6, 1);
  const std::vector<uint8_t> b = random_bytes(18 * 2, 2);
  w.add_tensor("a", DType::kF32, {2, 3}, a);
  w.add_tensor("b", DType::kQ4_0, {2, 32}, b);
  auto mem = w.write_to_memory();
  ASSERT_TRUE(mem.ok());
  const std::string path = dir.file("tiny.gguf");
  ASSERT_TRUE(w.write_to_file(path).ok());
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(disk, *mem);
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));

  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->path(), path);
  EXPECT_EQ((*f)->get_string("general.name"), "tiny");
  EXPECT_EQ(std::memcmp((*f)->find("b")->data, b.data(), b.size()), 0);
}

TEST(GgufWriter, GeneratedTensorsStreamInWholeRows) {
  TempDir dir;
  // 4100 rows of 1024 f32 = 16.8 MB, more than one 16 MB chunk.
  const int64_t rows = 4100, cols = 1024;
  const uint64_t row_bytes = cols * 4;
  auto value = [](uint64_t byte) { return static_cast<uint8_t>((byte * 2654435761u) >> 13); };
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  GgufWriter w;
  w.add_tensor_generated("big", DType::kF32, {rows, cols}, [&](uint64_t off, std::span<uint8_t> out) {
    calls.emplace_back(off, out.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = value(off + i);
  });
  w.add_tensor_generated("small", DType::kQ8_0, {2, 32}, [&](uint64_t off, std::span<uint8_t> out) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(off + i);
  });
  const std::string path = dir.file("big.gguf");
  ASSERT_TRUE(w.write_to_file(path).ok());

  ASSERT_GE(calls.size(), 2u);
  uint64_t expect = 0;
  for (auto [off, n] : calls) {
    EXPECT_EQ(off, expect);
    EXPECT_EQ(n % row_bytes, 0u);
    expect += n;
  }
  EXPECT_EQ(expect, rows * row_bytes);

  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const TensorEntry* big = (*f)->find("big");
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->shape, (std::vector<int64_t>{rows, cols}));
  bool same = true;
  for (uint64_t i = 0; i < big->nbytes && same; ++i) same = big->data[i] == value(i);
  EXPECT_TRUE(same);
  const TensorEntry* small = (*f)->find("small");
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->data[67], 67);
}

TEST(GgufWriter, RefusesMistakes) {
  const std::vector<uint8_t> f32x4(16);
  struct Case {
    const char* what;
    std::function<void(GgufWriter&)> build;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"alignment 3", [](GgufWriter& w) { w.set_alignment(3); }, "alignment 3"},
      {"alignment 0", [](GgufWriter& w) { w.set_alignment(0); }, "alignment 0"},
      {"duplicate key",
       [](GgufWriter& w) {
         w.add_u32("k", 1);
         w.add_string("k", "x");
       },
       "duplicate metadata key"},
      {"typed alignment key", [](GgufWriter& w) { w.add_u32("general.alignment", 64); }, "set_alignment"},
      {"duplicate tensor",
       [&](GgufWriter& w) {
         w.add_tensor("t", DType::kF32, {4}, f32x4);
         w.add_tensor("t", DType::kF32, {4}, f32x4);
       },
       "duplicate tensor name"},
      {"five dims",
       [&](GgufWriter& w) {
         w.add_tensor("t", DType::kF32, {1, 1, 1, 1, 4}, f32x4);
       },
       "5 dims"},
      {"no dims", [&](GgufWriter& w) { w.add_tensor("t", DType::kF32, {}, f32x4); }, "0 dims"},
      {"zero dim",
       [&](GgufWriter& w) {
         w.add_tensor("t", DType::kF32, {0, 4}, f32x4);
       },
       "positive"},
      {"partial block",
       [](GgufWriter& w) {
         w.add_tensor("t", DType::kQ4_0, {1, 33}, std::vector<uint8_t>(20));
       },
       "q4_0 blocks of 32"},
      {"wrong size", [&](GgufWriter& w) { w.add_tensor("t", DType::kF32, {5}, f32x4); }, "need 20"},
      {"empty name", [&](GgufWriter& w) { w.add_tensor("", DType::kF32, {4}, f32x4); }, "empty name"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    GgufWriter w;
    c.build(w);
    EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(w.status().message().find(c.message), std::string_view::npos) << w.status().to_string();
    EXPECT_FALSE(w.write_to_memory().ok());
  }
  GgufWriter v1(1);
  EXPECT_FALSE(v1.status().ok());

  // A writer in error writes nothing.
  TempDir dir;
  GgufWriter bad;
  bad.set_alignment(5);
  EXPECT_FALSE(bad.write_to_file(dir.file("bad.gguf")).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.gguf")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.gguf.partial")));

  GgufWriter ok;
  Status s = ok.write_to_file(dir.file("no/such/dir/x.gguf"));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no/such/dir"), std::string_view::npos);
}

}  // namespace
}  // namespace tessera::format
