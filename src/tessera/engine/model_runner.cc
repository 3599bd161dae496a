#include "tessera/engine/model_runner.h"

#include <algorithm>
#include <cassert>

namespace tessera::engine {

ModelRunner::ModelRunner(model::Model& model, model::KVCache cache) : model_(model), cache_(std::move(cache)) {}

Status ModelRunner::execute(const SchedulerOutput& step, std::vector<float>& logits, std::vector<Request*>& sampled) {
  const int32_t bs = cache_.block_size;
  ids_.clear();
  positions_.clear();
  slots_.clear();
  token_seq_.clear();
  seq_lens_.clear();
  logits_indices_.clear();
  sampled.clear();
  size_t max_blocks = 1;
  for (const ScheduledSequence& s : step.scheduled) max_blocks = std::max(max_blocks, s.request->block_table.size());
  // Shorter tables are padded with the null block, which nothing reads (positions stay below seq_lens).
  block_tables_.assign(step.scheduled.size() * max_blocks, kNullBlockId);

  for (size_t i = 0; i < step.scheduled.size(); ++i) {
    const Request& r = *step.scheduled[i].request;
    const int64_t begin = r.num_computed_tokens;
    const int64_t end = begin + step.scheduled[i].num_new_tokens;
    assert(end <= static_cast<int64_t>(r.token_ids.size()));
    assert(static_cast<int64_t>(r.block_table.size()) * bs >= end);
    for (int64_t p = begin; p < end; ++p) {
      ids_.push_back(r.token_ids[p]);
      positions_.push_back(static_cast<int32_t>(p));
      slots_.push_back(static_cast<int64_t>(r.block_table[p / bs]) * bs + p % bs);
      token_seq_.push_back(static_cast<int32_t>(i));
    }
    seq_lens_.push_back(static_cast<int32_t>(end));
    std::copy(r.block_table.begin(), r.block_table.end(), block_tables_.begin() + i * max_blocks);
    if (end == static_cast<int64_t>(r.token_ids.size())) {
      logits_indices_.push_back(static_cast<int32_t>(ids_.size() - 1));
      sampled.push_back(step.scheduled[i].request);
    }
  }

  model::Batch b;
  b.token_ids = ids_;
  b.positions = positions_;
  b.slot_mapping = slots_;
  b.token_seq = token_seq_;
  b.seq_lens = seq_lens_;
  b.block_tables = block_tables_;
  b.max_blocks_per_seq = static_cast<int32_t>(max_blocks);
  b.logits_indices = logits_indices_;
  logits.resize(logits_indices_.size() * static_cast<size_t>(model_.config().vocab_size));
  return model_.forward(b, cache_, logits);
}

}  // namespace tessera::engine
