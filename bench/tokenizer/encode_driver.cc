// Times tessera's Tokenizer::encode on a text file, for bench/tokenizer/run_bench.py. Prints one JSON line.
//
//   encode_driver TOKENIZER CORPUS MODE REPEATS
//   MODE: "whole" (the file as one string) or "docs" (one encode per document; documents are separated by
//   lines "\x1e" written by the corpus maker)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tessera/tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: encode_driver TOKENIZER CORPUS whole|docs REPEATS\n");
    return 2;
  }
  auto tok = tessera::tokenizer::Tokenizer::load(argv[1]);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().to_string().c_str());
    return 1;
  }
  std::ifstream f(argv[2], std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  const std::string mode = argv[3];
  const int repeats = std::max(1, std::atoi(argv[4]));
  std::vector<std::string_view> docs;
  if (mode == "docs") {
    size_t pos = 0;
    for (size_t hit; (hit = text.find("\n\x1e\n", pos)) != std::string::npos; pos = hit + 3)
      docs.push_back(std::string_view(text).substr(pos, hit - pos));
    docs.push_back(std::string_view(text).substr(pos));
  } else {
    docs.push_back(text);
  }
  size_t num_tokens = 0;
  double best = 1e300;
  // The first pass also warms the per-thread word cache, as a server that has run for a while has it.
  for (int r = 0; r <= repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    size_t n = 0;
    for (std::string_view d : docs) n += (*tok)->encode(d).size();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, s);
    num_tokens = n;
  }
  std::printf("{\"seconds\": %.6f, \"num_tokens\": %zu, \"num_bytes\": %zu, \"num_docs\": %zu}\n", best, num_tokens,
              text.size(), docs.size());
  return 0;
}
