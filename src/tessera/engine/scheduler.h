// Scheduler: continuous batching. Each step it decides which sequences compute how many tokens, within a token
// budget (max_num_batched_tokens) and a sequence cap (max_num_seqs):
//
//   1. Running sequences, oldest first: one token each for those decoding, then the next chunk of the prompt for
//      those prefilling (chunked prefill: a 32k prompt takes many steps, and every decode keeps its pace).
//      When one cannot get a block, the newest running sequence is preempted (its blocks freed; it goes back to
//      the front of the waiting queue and is recomputed later, mostly from the prefix cache) until it can.
//   2. Waiting sequences, in order, while tokens, sequence slots and blocks last, each starting from its longest
//      cached prefix. None are admitted in a step that preempted: that pool is already short.
//
// There are no separate prefill and decode phases: a sequence is a token list and a count of computed tokens,
// and a step computes some of the rest. A sequence whose computed count reaches its length gets logits.
//
// Threading: engine thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "tessera/engine/kv_cache_manager.h"
#include "tessera/engine/request.h"

namespace tessera::engine {

struct SchedulerConfig {
  int32_t max_num_seqs = 256;
  int32_t max_num_batched_tokens = 2048;
  // Off: a sequence's remaining prompt is computed in one step or not at all; a prompt longer than the budget
  // runs in a step of its own.
  bool enable_chunked_prefill = true;
};

struct ScheduledSequence {
  Request* request;
  int64_t num_new_tokens;  // tokens [num_computed_tokens, num_computed_tokens + num_new_tokens) of token_ids
};

struct SchedulerOutput {
  std::vector<ScheduledSequence> scheduled;  // running order
  std::vector<Request*> preempted;           // this step's victims, now waiting
  int64_t num_tokens = 0;
  bool empty() const { return scheduled.empty(); }
};

class Scheduler {
 public:
  // `kv` must outlive the scheduler.
  Scheduler(SchedulerConfig config, KVCacheManager& kv);

  // Queues a sequence with no blocks at the back of the waiting queue.
  void add_waiting(Request* request);
  // Adds a sequence that already owns blocks (share_prefix) to the running set, as its newest member.
  void add_running(Request* request);
  // Removes the sequence from whichever queue holds it and frees its blocks. Idempotent.
  void remove(Request* request);

  // Plans one step; allocates the blocks the scheduled tokens need. The caller runs the batch, then calls
  // advance() (or remove()) for every scheduled sequence.
  SchedulerOutput schedule();
  // The step ran: the scheduled tokens are computed.
  static void advance(const ScheduledSequence& s) { s.request->num_computed_tokens += s.num_new_tokens; }

  bool has_work() const { return !running_.empty() || !waiting_.empty(); }
  int32_t num_running() const { return static_cast<int32_t>(running_.size()); }
  int32_t num_waiting() const { return static_cast<int32_t>(waiting_.size()); }
  int64_t num_preemptions() const { return num_preemptions_; }
  // The pool's usage just before the first preemption (-1 before any): how full sequences can get.
  double usage_at_first_preemption() const { return usage_at_first_preemption_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  void preempt(Request* victim, SchedulerOutput& out);
  // Allocates blocks for n tokens of r, preempting the newest running sequences until it fits. False when r
  // itself was preempted. A victim already scheduled this step is unscheduled and its tokens returned to budget.
  bool allocate_or_preempt(Request* r, int64_t n, int64_t& budget, SchedulerOutput& out);

  SchedulerConfig config_;
  KVCacheManager& kv_;
  std::vector<Request*> running_;  // admission order; the back is the newest (the preemption victim)
  std::deque<Request*> waiting_;
  int64_t num_preemptions_ = 0;
  double usage_at_first_preemption_ = -1;
};

}  // namespace tessera::engine
