#include "tessera/model/config.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tessera::model {
namespace {

TEST(ModelConfig, ParsesBothTransformersLayouts) {
  const std::string v4 = R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":100,
    "hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
    "rms_norm_eps":1e-5,"rope_theta":500000.0,"rope_scaling":{"rope_type":"llama3","factor":8.0,
    "low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192},"tie_word_embeddings":true})";
  auto c = config_from_hf_json(v4, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->arch, Arch::kLlama);
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_EQ(c->num_kv_heads, 2);
  EXPECT_FLOAT_EQ(c->rope_theta, 500000.0f);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_TRUE(validate(*c).ok());

  const std::string v5 = R"({"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","vocab_size":100,
    "hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
    "head_dim":32,"rope_parameters":{"rope_theta":1000000.0,"rope_type":"default"},"eos_token_id":[5,7]})";
  c = config_from_hf_json(v5, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->arch, Arch::kQwen3);
  EXPECT_TRUE(c->qk_norm);
  EXPECT_EQ(c->head_dim, 32);
  EXPECT_FLOAT_EQ(c->rope_theta, 1e6f);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kNone);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int64_t>{5, 7}));
}

TEST(ModelConfig, RefusesUnsupportedArchitectureByName) {
  auto c = config_from_hf_json(R"({"architectures":["GPTNeoXForCausalLM"],"model_type":"gpt_neox"})", "x/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(c.status().message().find("gpt_neox"), std::string::npos) << c.status().to_string();
  EXPECT_FALSE(config_from_hf_json("not json", "x").ok());
  auto y = config_from_hf_json(R"({"model_type":"llama","vocab_size":1,"hidden_size":64,"intermediate_size":1,
    "num_hidden_layers":1,"num_attention_heads":4,"rope_scaling":{"rope_type":"yarn","factor":4}})",
                               "y");
  EXPECT_EQ(y.status().code(), StatusCode::kUnimplemented);
}

TEST(ModelConfig, ValidateCatchesInconsistentShapes) {
  ModelConfig c;
  c.vocab_size = 10, c.hidden_size = 64, c.intermediate_size = 10, c.num_layers = 1, c.num_heads = 4;
  c.num_kv_heads = 3, c.head_dim = 16, c.rotary_dim = 16;
  EXPECT_FALSE(validate(c).ok());  // 4 heads not divisible by 3 KV heads
  c.num_kv_heads = 2;
  EXPECT_TRUE(validate(c).ok());
  c.rotary_dim = 17;
  EXPECT_FALSE(validate(c).ok());
  c.rotary_dim = 16;
  c.hidden_size = -1;
  EXPECT_FALSE(validate(c).ok());
}

// Llama 3's scaling, checked against the formula evaluated here in double: high frequencies unchanged, low ones
// divided by the factor, the band between interpolated.
TEST(ModelConfig, Llama3RopeScaling) {
  ModelConfig c;
  c.rotary_dim = 128;
  c.rope_theta = 500000.0f;
  c.rope_scaling = {RopeScaling::Type::kLlama3, 8.0f, 1.0f, 4.0f, 8192};
  auto inv = rope_inv_freq(c, {});
  ASSERT_EQ(inv.size(), 64u);
  for (int i = 0; i < 64; ++i) {
    const double f = std::pow(500000.0, -2.0 * i / 128), wavelen = 2 * M_PI / f;
    double want = f;
    if (wavelen > 8192.0) {
      want = f / 8;
    } else if (wavelen >= 2048.0) {
      const double smooth = (8192.0 / wavelen - 1.0) / 3.0;
      want = (1 - smooth) * f / 8 + smooth * f;
    }
    EXPECT_NEAR(inv[i], want, 1e-6 * want) << i;
  }
}

}  // namespace
}  // namespace tessera::model
