#include "tessera/model/simple_runner.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace tessera::model {

Expected<SimpleRunner> SimpleRunner::create(Model& model, int32_t num_seqs, int32_t max_len, int32_t block_size,
                                            tensor::DType kv_dtype) {
  if (num_seqs <= 0 || max_len <= 0 || block_size <= 0)
    return invalid_argument("runner: num_seqs, max_len and block_size must be positive");
  const int32_t blocks_per_seq = (max_len + block_size - 1) / block_size;
  KVCache cache;
  TESSERA_ASSIGN_OR_RETURN(cache, model.allocate_kv_cache(1 + num_seqs * blocks_per_seq, block_size, kv_dtype));
  return SimpleRunner(model, std::move(cache), num_seqs, blocks_per_seq);
}

SimpleRunner::SimpleRunner(Model& model, KVCache cache, int32_t num_seqs, int32_t blocks_per_seq)
    : model_(&model),
      cache_(std::move(cache)),
      num_seqs_(num_seqs),
      blocks_per_seq_(blocks_per_seq),
      seq_lens_(num_seqs, 0),
      block_tables_(static_cast<size_t>(num_seqs) * blocks_per_seq) {
  for (int32_t s = 0; s < num_seqs; ++s)
    for (int32_t b = 0; b < blocks_per_seq; ++b) block_tables_[s * blocks_per_seq + b] = 1 + s * blocks_per_seq + b;
}

Status SimpleRunner::append(const std::vector<std::vector<int32_t>>& tokens, std::vector<float>& logits,
                            int64_t max_batch_tokens) {
  if (static_cast<int32_t>(tokens.size()) != num_seqs_) return invalid_argument("runner: one token list per sequence");
  const int64_t V = vocab_size();
  logits.resize(static_cast<size_t>(num_seqs_) * V);
  // The sequence of each token, sequence by sequence, cut into passes of at most max_batch_tokens.
  std::vector<int32_t> seqs;
  std::vector<int32_t> ids;
  for (int32_t s = 0; s < num_seqs_; ++s) {
    for (int32_t i = 0; i < static_cast<int32_t>(tokens[s].size()); ++i) {
      seqs.push_back(s);
      ids.push_back(tokens[s][i]);
      if (max_batch_tokens > 0 && static_cast<int64_t>(seqs.size()) == max_batch_tokens) {
        TESSERA_RETURN_IF_ERROR(run(seqs, ids, logits));
        seqs.clear();
        ids.clear();
      }
    }
  }
  if (!seqs.empty()) TESSERA_RETURN_IF_ERROR(run(seqs, ids, logits));
  return Status();
}

Status SimpleRunner::decode(std::span<const int32_t> tokens, std::vector<float>& logits) {
  if (static_cast<int32_t>(tokens.size()) != num_seqs_) return invalid_argument("runner: one token per sequence");
  logits.resize(static_cast<size_t>(num_seqs_) * vocab_size());
  std::vector<int32_t> seqs(num_seqs_);
  std::iota(seqs.begin(), seqs.end(), 0);
  return run(seqs, tokens, logits);
}

// Runs one forward pass over tokens `ids`, of sequences `seqs`, appending each token to its
// sequence; copies the logits of each sequence's last token in the pass into its row of `logits`.
Status SimpleRunner::run(const std::vector<int32_t>& seqs, std::span<const int32_t> ids, std::vector<float>& logits) {
  const int64_t T = static_cast<int64_t>(seqs.size());
  const int32_t max_len = blocks_per_seq_ * cache_.block_size;
  ids_.assign(ids.begin(), ids.end());
  positions_.resize(T);
  slots_.resize(T);
  token_seq_.resize(T);
  logits_indices_.clear();
  // The batch lists only the sequences it touches, in order of appearance.
  std::vector<int32_t> batch_index(num_seqs_, -1), batch_seqs;
  std::vector<int32_t> new_lens = seq_lens_;
  for (int64_t t = 0; t < T; ++t) {
    const int32_t s = seqs[t];
    if (new_lens[s] >= max_len) return resource_exhausted("runner: sequence " + std::to_string(s) + " is full");
    if (batch_index[s] < 0) {
      batch_index[s] = static_cast<int32_t>(batch_seqs.size());
      batch_seqs.push_back(s);
    }
    const int32_t pos = new_lens[s]++;
    positions_[t] = pos;
    token_seq_[t] = batch_index[s];
    slots_[t] = static_cast<int64_t>(block_tables_[s * blocks_per_seq_ + pos / cache_.block_size]) * cache_.block_size +
                pos % cache_.block_size;
  }
  // The last token of each sequence in this pass gives its logits.
  std::vector<int32_t> last(batch_seqs.size(), -1);
  for (int64_t t = 0; t < T; ++t) last[token_seq_[t]] = static_cast<int32_t>(t);
  logits_indices_.assign(last.begin(), last.end());
  batch_seq_lens_.clear();
  batch_tables_.clear();
  for (int32_t s : batch_seqs) {
    batch_seq_lens_.push_back(new_lens[s]);
    batch_tables_.insert(batch_tables_.end(), block_tables_.begin() + s * blocks_per_seq_,
                         block_tables_.begin() + (s + 1) * blocks_per_seq_);
  }
  Batch b;
  b.token_ids = ids_;
  b.positions = positions_;
  b.slot_mapping = slots_;
  b.token_seq = token_seq_;
  b.seq_lens = batch_seq_lens_;
  b.block_tables = batch_tables_;
  b.max_blocks_per_seq = blocks_per_seq_;
  b.logits_indices = logits_indices_;
  const int64_t V = vocab_size();
  batch_logits_.resize(batch_seqs.size() * V);
  TESSERA_RETURN_IF_ERROR(model_->forward(b, cache_, batch_logits_));
  seq_lens_ = new_lens;
  for (size_t i = 0; i < batch_seqs.size(); ++i)
    std::memcpy(logits.data() + batch_seqs[i] * V, batch_logits_.data() + i * V, V * sizeof(float));
  return Status();
}

}  // namespace tessera::model
