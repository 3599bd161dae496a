#include "tessera/server/metrics.h"

#include <cstdio>

namespace tessera::server {
namespace {

// vLLM's bucket bounds for these histograms.
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
                                          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kItlBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                         0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kE2eBuckets = {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
                                         30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Escapes a label value: backslash, double quote and newline.
std::string escape_label(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, const char* name, const std::string& labels, double v) {
  out.append(name).append("{").append(labels).append("} ").append(number(v)).append("\n");
}

}  // namespace

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out.append(name).append("_bucket{").append(labels).append(",le=\"").append(le).append("\"} ");
    out.append(std::to_string(cumulative)).append("\n");
  }
  out.append(name).append("_sum{").append(labels).append("} ").append(number(sum_)).append("\n");
  out.append(name).append("_count{").append(labels).append("} ").append(std::to_string(count_)).append("\n");
}

Metrics::Metrics(std::string model_name)
    : labels_("model_name=\"" + escape_label(model_name) + "\""),
      ttft_(kTtftBuckets),
      itl_(kItlBuckets),
      e2e_(kE2eBuckets) {}

void Metrics::record_first_token(double ttft_s) {
  std::lock_guard<std::mutex> lock(mu_);
  ttft_.observe(ttft_s);
}

void Metrics::record_inter_token(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  itl_.observe(seconds);
}

void Metrics::record_request(const std::string& finish_reason, double e2e_s) {
  std::lock_guard<std::mutex> lock(mu_);
  e2e_.observe(e2e_s);
  for (auto& [reason, n] : finished_by_reason_)
    if (reason == finish_reason) {
      ++n;
      return;
    }
  finished_by_reason_.emplace_back(finish_reason, 1);
}

void Metrics::record_http_error() {
  std::lock_guard<std::mutex> lock(mu_);
  ++http_errors_;
}

std::string Metrics::render(const engine::EngineStats& s) const {
  std::string out;
  out.reserve(8192);
  header(out, "vllm:num_requests_running", "gauge", "Number of requests in model execution batches.");
  sample(out, "vllm:num_requests_running", labels_, s.num_running);
  header(out, "vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
  sample(out, "vllm:num_requests_waiting", labels_, s.num_waiting);
  header(out, "vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.");
  sample(out, "vllm:kv_cache_usage_perc", labels_, s.kv_usage);
  header(out, "vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.");
  sample(out, "vllm:prompt_tokens_total", labels_, static_cast<double>(s.prompt_tokens_total));
  header(out, "vllm:generation_tokens_total", "counter", "Number of generation tokens processed.");
  sample(out, "vllm:generation_tokens_total", labels_, static_cast<double>(s.generation_tokens_total));
  header(out, "vllm:prefix_cache_queries_total", "counter",
         "Prefix cache queries, in terms of number of queried tokens.");
  sample(out, "vllm:prefix_cache_queries_total", labels_, static_cast<double>(s.prefix_cache_query_tokens));
  header(out, "vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.");
  sample(out, "vllm:prefix_cache_hits_total", labels_, static_cast<double>(s.prefix_cache_hit_tokens));
  header(out, "vllm:num_preemptions_total", "counter", "Cumulative number of preemptions from the engine.");
  sample(out, "vllm:num_preemptions_total", labels_, static_cast<double>(s.num_preemptions));
  header(out, "tessera:kv_cache_blocks", "gauge", "Usable KV-cache blocks.");
  sample(out, "tessera:kv_cache_blocks", labels_, s.num_blocks);
  header(out, "tessera:engine_steps_total", "counter", "Engine steps (forward passes) run.");
  sample(out, "tessera:engine_steps_total", labels_, static_cast<double>(s.num_steps));
  header(out, "tessera:engine_step_seconds_total", "counter", "Time spent in engine steps.");
  sample(out, "tessera:engine_step_seconds_total", labels_, s.step_seconds_total);
  header(out, "tessera:batch_tokens_total", "counter", "Tokens computed over all engine steps.");
  sample(out, "tessera:batch_tokens_total", labels_, static_cast<double>(s.batch_tokens_total));

  std::lock_guard<std::mutex> lock(mu_);
  header(out, "vllm:request_success_total", "counter", "Count of finished requests by finish reason.");
  for (const auto& [reason, n] : finished_by_reason_)
    sample(out, "vllm:request_success_total", labels_ + ",finished_reason=\"" + escape_label(reason) + "\"",
           static_cast<double>(n));
  header(out, "tessera:http_errors_total", "counter", "Requests answered with an error status.");
  sample(out, "tessera:http_errors_total", labels_, static_cast<double>(http_errors_));
  header(out, "vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.");
  ttft_.render(out, "vllm:time_to_first_token_seconds", labels_);
  header(out, "vllm:inter_token_latency_seconds", "histogram", "Histogram of inter-token latency in seconds.");
  itl_.render(out, "vllm:inter_token_latency_seconds", labels_);
  header(out, "vllm:e2e_request_latency_seconds", "histogram", "Histogram of end-to-end request latency in seconds.");
  e2e_.render(out, "vllm:e2e_request_latency_seconds", labels_);
  return out;
}

}  // namespace tessera::server
