#include "tessera/engine/scheduler.h"

#include <algorithm>
#include <cassert>

namespace tessera::engine {

Scheduler::Scheduler(SchedulerConfig config, KVCacheManager& kv) : config_(config), kv_(kv) {
  assert(config_.max_num_seqs >= 1 && config_.max_num_batched_tokens >= 1);
}

void Scheduler::add_waiting(Request* request) {
  assert(request->block_table.empty() && request->num_computed_tokens == 0);
  waiting_.push_back(request);
}

void Scheduler::add_running(Request* request) { running_.push_back(request); }

void Scheduler::remove(Request* request) {
  if (auto it = std::find(running_.begin(), running_.end(), request); it != running_.end()) running_.erase(it);
  if (auto it = std::find(waiting_.begin(), waiting_.end(), request); it != waiting_.end()) waiting_.erase(it);
  kv_.free(*request);
}

void Scheduler::preempt(Request* victim, SchedulerOutput& out) {
  if (num_preemptions_ == 0) usage_at_first_preemption_ = kv_.usage();
  kv_.free(*victim);  // its tokens stay: it is recomputed from them, most of it found in the prefix cache
  waiting_.push_front(victim);
  out.preempted.push_back(victim);
  ++num_preemptions_;
}

bool Scheduler::allocate_or_preempt(Request* r, int64_t n, int64_t& budget, SchedulerOutput& out) {
  while (!kv_.allocate_slots(*r, n)) {
    Request* victim = running_.back();
    running_.pop_back();
    // A decode scheduled in the first pass can be the victim of a prefill chunk's allocation: unschedule it.
    if (auto it = std::find_if(out.scheduled.begin(), out.scheduled.end(),
                               [&](const ScheduledSequence& s) { return s.request == victim; });
        it != out.scheduled.end()) {
      budget += it->num_new_tokens;
      out.num_tokens -= it->num_new_tokens;
      out.scheduled.erase(it);
    }
    preempt(victim, out);
    if (victim == r) return false;
  }
  return true;
}

SchedulerOutput Scheduler::schedule() {
  SchedulerOutput out;
  int64_t budget = config_.max_num_batched_tokens;

  // 1. Running sequences, oldest first: decodes, then prefill chunks, so a long prompt takes only what the
  // decodes leave of the budget and never stalls them.
  for (const bool decodes : {true, false}) {
    for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
      Request* r = running_[i];
      const int64_t remaining = static_cast<int64_t>(r->token_ids.size()) - r->num_computed_tokens;
      assert(remaining >= 1);
      if ((remaining == 1) != decodes) continue;
      int64_t n = std::min(remaining, budget);
      if (n < remaining && !config_.enable_chunked_prefill) {
        if (!out.scheduled.empty()) continue;
        n = remaining;  // alone in its step, past the budget
      }
      if (!allocate_or_preempt(r, n, budget, out)) break;  // r was the newest: nothing after it is left
      out.scheduled.push_back({r, n});
      out.num_tokens += n;
      budget -= n;
    }
  }

  // 2. Waiting sequences, in order; the first that does not fit stops admission (no overtaking).
  if (out.preempted.empty()) {
    while (!waiting_.empty() && budget > 0 && static_cast<int32_t>(running_.size()) < config_.max_num_seqs) {
      Request* r = waiting_.front();
      const ComputedBlocks hit = kv_.get_computed_blocks(*r, !r->prefix_query_counted);
      r->prefix_query_counted = true;
      const int64_t remaining = static_cast<int64_t>(r->token_ids.size()) - hit.num_computed_tokens;
      int64_t n = std::min(remaining, budget);
      if (n < remaining && !config_.enable_chunked_prefill) {
        if (!out.scheduled.empty()) break;
        n = remaining;
      }
      if (!kv_.allocate_slots(*r, n, hit)) break;
      if (r->num_cached_tokens < 0) r->num_cached_tokens = hit.num_computed_tokens;
      waiting_.pop_front();
      running_.push_back(r);
      out.scheduled.push_back({r, n});
      out.num_tokens += n;
      budget -= n;
    }
  }
  return out;
}

}  // namespace tessera::engine
