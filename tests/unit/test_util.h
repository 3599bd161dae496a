// Helpers shared by the unit tests: random data, asset and model locations, and the CI rule for missing inputs.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace tessera::testing {

// Fresh random floats in [lo, hi), never all zero.
inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && (std::string(ci) == "true" || std::string(ci) == "1");
}

// The repository's root, for fixtures.
inline std::string source_dir() { return TESSERA_SOURCE_DIR; }
inline std::string fixtures_dir() { return source_dir() + "/tests/fixtures"; }

// Shared test assets: $TESSERA_ASSETS, default ../shared/assets beside the repository.
inline std::string assets_dir() {
  if (const char* a = std::getenv("TESSERA_ASSETS"); a && *a) return a;
  return source_dir() + "/../shared/assets";
}

// The default model as scripts/fetch-model caches it ($TESSERA_DEFAULT_MODEL overrides).
inline std::string default_model_path() {
  if (const char* m = std::getenv("TESSERA_DEFAULT_MODEL"); m && *m) return m;
  std::string cache;
  if (const char* d = std::getenv("TESSERA_CACHE_DIR"); d && *d) {
    cache = d;
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    cache = std::string(x) + "/tessera";
  } else {
    cache = std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/tessera";
  }
  return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

// Runs `command` through the shell with `input` on standard input; returns standard output and sets `rc`.
// The input goes through a fresh temporary file, so tests running in parallel (ctest -j) never share one.
inline std::string run_command(const std::string& command, const std::string& input, int& rc) {
  std::string in_path = ::testing::TempDir() + "tessera_input_XXXXXX";
  const int fd = mkstemp(in_path.data());
  if (fd < 0) {
    rc = -1;
    return "";
  }
  close(fd);
  std::ofstream(in_path, std::ios::binary) << input;
  FILE* p = popen((command + " < '" + in_path + "' 2>/dev/null").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  for (size_t n; p && (n = fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  rc = p ? pclose(p) : -1;
  std::remove(in_path.c_str());
  return out;
}

}  // namespace tessera::testing

// A test that needs an input that is missing: fails in CI, skips elsewhere.
#define TESSERA_REQUIRE_FILE(path)                                                          \
  do {                                                                                      \
    if (!std::filesystem::exists(path)) {                                                   \
      if (::tessera::testing::in_ci()) FAIL() << "missing required test input: " << (path); \
      GTEST_SKIP() << "missing test input (fails in CI): " << (path);                       \
    }                                                                                       \
  } while (0)
