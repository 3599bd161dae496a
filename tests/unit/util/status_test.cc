#include "tessera/util/status.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

Expected<int> parse_positive(int x) {
  if (x <= 0) return invalid_argument("not positive: " + std::to_string(x));
  return x;
}

Expected<int> doubled(int x) {
  int v;
  TESSERA_ASSIGN_OR_RETURN(v, parse_positive(x));
  return 2 * v;
}

TEST(Status, OkCostsNothingAndErrorsCarryCodeAndMessage) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.to_string(), "OK");
  Status e = data_loss("file.gguf: truncated");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.code(), StatusCode::kDataLoss);
  EXPECT_EQ(e.to_string(), "DataLoss: file.gguf: truncated");
  Status copy = e;
  EXPECT_EQ(copy.message(), "file.gguf: truncated");
  EXPECT_EQ(e.with_context("loading").message(), "loading: file.gguf: truncated");
}

TEST(Status, ExpectedPropagatesThroughMacros) {
  EXPECT_EQ(*doubled(4), 8);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "not positive: -1");
}

}  // namespace
}  // namespace tessera
