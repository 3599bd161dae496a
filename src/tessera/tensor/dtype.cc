#include "tessera/tensor/dtype.h"

#include <array>

namespace tessera::tensor {
namespace {
constexpr std::array<DTypeInfo, 10> kInfo = {{
    {"f32", 1, 4, false},
    {"f16", 1, 2, false},
    {"bf16", 1, 2, false},
    {"q8_0", 32, 34, true},
    {"q4_0", 32, 18, true},
    {"q4_1", 32, 20, true},
    {"q4_k", 256, 144, true},
    {"q5_k", 256, 176, true},
    {"q6_k", 256, 210, true},
    {"i32", 1, 4, false},
}};

// GGML type ids (ggml.h): 0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 6 Q5_0, 7 Q5_1, 8 Q8_0, 9 Q8_1, 10 Q2_K, 11 Q3_K, 12 Q4_K,
// 13 Q5_K, 14 Q6_K, 15 Q8_K, 16..23 IQ*, 24 I8, 25 I16, 26 I32, 27 I64, 28 F64, 29 IQ1_M, 30 BF16, ...
constexpr std::array<std::string_view, 40> kGgmlNames = {
    "f32",    "f16",      "q4_0",     "q4_1",     "q4_2",  "q4_3",  "q5_0",       "q5_1",       "q8_0",       "q8_1",
    "q2_k",   "q3_k",     "q4_k",     "q5_k",     "q6_k",  "q8_k",  "iq2_xxs",    "iq2_xs",     "iq3_xxs",    "iq1_s",
    "iq4_nl", "iq3_s",    "iq2_s",    "iq4_xs",   "i8",    "i16",   "i32",        "i64",        "f64",        "iq1_m",
    "bf16",   "q4_0_4_4", "q4_0_4_8", "q4_0_8_8", "tq1_0", "tq2_0", "iq4_nl_4_4", "iq4_nl_4_8", "iq4_nl_8_8", "mxfp4",
};
}  // namespace

const DTypeInfo& dtype_info(DType t) { return kInfo[static_cast<size_t>(t)]; }

std::optional<DType> dtype_from_ggml(uint32_t g) {
  switch (g) {
    case 0:
      return DType::kF32;
    case 1:
      return DType::kF16;
    case 2:
      return DType::kQ4_0;
    case 3:
      return DType::kQ4_1;
    case 8:
      return DType::kQ8_0;
    case 12:
      return DType::kQ4_K;
    case 13:
      return DType::kQ5_K;
    case 14:
      return DType::kQ6_K;
    case 26:
      return DType::kI32;
    case 30:
      return DType::kBF16;
    default:
      return std::nullopt;
  }
}

uint32_t dtype_to_ggml(DType t) {
  switch (t) {
    case DType::kF32:
      return 0;
    case DType::kF16:
      return 1;
    case DType::kQ4_0:
      return 2;
    case DType::kQ4_1:
      return 3;
    case DType::kQ8_0:
      return 8;
    case DType::kQ4_K:
      return 12;
    case DType::kQ5_K:
      return 13;
    case DType::kQ6_K:
      return 14;
    case DType::kI32:
      return 26;
    case DType::kBF16:
      return 30;
  }
  return 0;
}

std::string_view ggml_type_name(uint32_t g) { return g < kGgmlNames.size() ? kGgmlNames[g] : "unknown"; }

}  // namespace tessera::tensor
