// Metrics: what GET /metrics reports, in Prometheus' text format with vLLM's metric names, so dashboards and
// autoscalers written for vLLM read tessera unchanged.
//
// Request-level figures (TTFT, inter-token latency, end-to-end latency, tokens) are recorded by the API glue as
// responses progress; engine-level figures (running and waiting counts, KV usage, prefix-cache and preemption
// counters) are read from each engine's statistics snapshot when the page is rendered.
//
// Threading: record_* from any thread (one mutex; each call is a few additions); render() from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "tessera/engine/engine_core.h"

namespace tessera::server {

// A cumulative histogram with fixed bucket bounds (seconds), as Prometheus expects.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  // `name{labels,le="..."} count` lines, then _sum and _count.
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  explicit Metrics(std::string model_name);

  void record_first_token(double ttft_s);
  void record_inter_token(double seconds);
  // A request ended: its finish reason ("stop", "length", "abort", "error") and end-to-end latency.
  void record_request(const std::string& finish_reason, double e2e_s);
  void record_http_error();

  // The whole /metrics page, with the engine's snapshot.
  std::string render(const engine::EngineStats& stats) const;

 private:
  std::string labels_;  // model_name="..."
  mutable std::mutex mu_;
  Histogram ttft_, itl_, e2e_;
  std::vector<std::pair<std::string, uint64_t>> finished_by_reason_;
  uint64_t http_errors_ = 0;
};

}  // namespace tessera::server
