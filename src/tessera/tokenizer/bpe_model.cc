#include "tessera/tokenizer/bpe_model.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>

#include "tessera/tokenizer/byte_level.h"
#include "tessera/tokenizer/utf8.h"

namespace tessera::tokenizer {
namespace {

constexpr size_t kMaxCachedWordBytes = 64;
constexpr size_t kMaxCacheEntries = 1 << 16;

std::atomic<uint64_t> next_instance_id{1};

// Per-thread cache of word -> ids. It serves one model at a time: a thread that switches models starts over,
// which is rare (a server thread encodes for the model of its request) and keeps memory bounded.
struct WordCache {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return hash_bytes(s); }
  };
  uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> map;
};

WordCache& word_cache(uint64_t owner) {
  thread_local WordCache cache;
  if (cache.owner != owner || cache.map.size() >= kMaxCacheEntries) {
    cache.map.clear();
    cache.owner = owner;
  }
  return cache;
}

bool is_lookup_kind(TokenKind k) { return k == TokenKind::kNormal || k == TokenKind::kUnused; }

}  // namespace

Expected<BpeModel> BpeModel::build(const TokenizerData& data, const std::vector<std::string>& model_pieces) {
  BpeModel m;
  m.instance_id_ = next_instance_id.fetch_add(1);
  m.byte_level_ = data.model == ModelKind::kByteLevelBpe;
  m.ignore_merges_ = data.ignore_merges;
  m.fuse_unk_ = data.fuse_unk;
  m.unk_id_ = data.unk_id.value_or(-1);
  const size_t n = model_pieces.size();
  std::vector<bool> include(n);
  for (size_t i = 0; i < n; ++i) include[i] = is_lookup_kind(data.kinds[i]);
  m.piece_to_id_.build(model_pieces, include);

  std::fill(std::begin(m.byte_ids_), std::end(m.byte_ids_), -1);
  if (m.byte_level_) {
    for (int b = 0; b < 256; ++b) m.byte_ids_[b] = m.piece_to_id_.find(std::string(1, static_cast<char>(b)));
  } else if (data.byte_fallback) {
    for (size_t i = 0; i < n; ++i) {
      const std::string& p = data.pieces[i];
      if (p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>') {
        int b = std::stoi(p.substr(3, 2), nullptr, 16);
        if (m.byte_ids_[b] < 0) m.byte_ids_[b] = static_cast<int32_t>(i);
      }
    }
  }

  if (!data.merges.empty()) {
    m.merges_.reserve(data.merges.size());
    std::string left, right;
    for (size_t rank = 0; rank < data.merges.size(); ++rank) {
      const auto& [l, r] = data.merges[rank];
      if (m.byte_level_) {
        auto lb = byte_level_decode(l), rb = byte_level_decode(r);
        if (!lb || !rb) continue;
        left = std::move(*lb);
        right = std::move(*rb);
      } else {
        left = l;
        right = r;
      }
      int32_t a = m.piece_to_id_.find(left), b = m.piece_to_id_.find(right);
      int32_t c = m.piece_to_id_.find(left + right);
      // A merge whose parts or result are not pieces can never apply; files do carry a few.
      if (a < 0 || b < 0 || c < 0) continue;
      m.merges_.insert(a, b, {static_cast<uint32_t>(rank), c});
    }
  } else if (!m.byte_level_ && !data.scores.empty()) {
    // SentencePiece without merges: every split of a piece into two pieces is a merge, ranked by the joined
    // piece's score (higher first; equal scores share a rank, so the leftmost pair wins, as in SentencePiece).
    std::vector<float> distinct;
    for (size_t i = 0; i < n; ++i)
      if (include[i]) distinct.push_back(data.scores[i]);
    std::sort(distinct.begin(), distinct.end(), std::greater<>());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    m.merges_.reserve(n * 4);
    for (size_t i = 0; i < n; ++i) {
      if (!include[i]) continue;
      std::string_view p = model_pieces[i];
      auto rank = static_cast<uint32_t>(
          std::lower_bound(distinct.begin(), distinct.end(), data.scores[i], std::greater<>()) - distinct.begin());
      for (size_t k = 1; k < p.size(); ++k) {
        if ((static_cast<uint8_t>(p[k]) & 0xC0) == 0x80) continue;  // split only between characters
        int32_t a = m.piece_to_id_.find(p.substr(0, k)), b = m.piece_to_id_.find(p.substr(k));
        if (a >= 0 && b >= 0) m.merges_.insert(a, b, {rank, static_cast<int32_t>(i)});
      }
    }
  }
  return m;
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& ids) const {
  ids.clear();
  auto push_unk = [&] {
    if (unk_id_ < 0) return;  // no unknown piece: the character is dropped, as Hugging Face does
    if (fuse_unk_ && !ids.empty() && ids.back() == unk_id_) return;
    ids.push_back(unk_id_);
  };
  if (byte_level_) {
    for (char c : word) {
      int32_t id = byte_ids_[static_cast<uint8_t>(c)];
      if (id >= 0) {
        ids.push_back(id);
      } else {
        push_unk();
      }
    }
    return;
  }
  for (size_t i = 0; i < word.size();) {
    size_t n = utf8_valid_char_length(word, i);
    if (n > 0) {
      int32_t id = piece_to_id_.find(word.substr(i, n));
      if (id >= 0) {
        ids.push_back(id);
        i += n;
        continue;
      }
    } else {
      n = 1;  // an invalid byte stands alone
    }
    bool all_bytes = true;
    for (size_t k = i; k < i + n; ++k) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(word[k])] >= 0;
    if (all_bytes) {
      for (size_t k = i; k < i + n; ++k) ids.push_back(byte_ids_[static_cast<uint8_t>(word[k])]);
    } else {
      push_unk();
    }
    i += n;
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
  };
  struct Candidate {
    uint32_t rank;
    int32_t left;
    int32_t left_id;
    int32_t right_id;
    int32_t merged_id;
    // std heaps are max-heaps: "less" means a worse candidate (higher rank, then further right).
    bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  thread_local std::vector<int32_t> ids;
  thread_local std::vector<Symbol> syms;
  thread_local std::vector<Candidate> heap;
  initial_symbols(word, ids);
  const auto n = static_cast<int32_t>(ids.size());
  if (n <= 1 || merges_.size() == 0) {
    out.insert(out.end(), ids.begin(), ids.end());
    return;
  }
  syms.resize(n);
  for (int32_t i = 0; i < n; ++i) syms[i] = {ids[i], i - 1, i + 1 < n ? i + 1 : -1};
  heap.clear();
  auto consider = [&](int32_t left) {
    int32_t right = syms[left].next;
    if (right < 0) return;
    if (const PairMap::Merge* m = merges_.find(syms[left].id, syms[right].id)) {
      heap.push_back({m->rank, left, syms[left].id, syms[right].id, m->id});
      std::push_heap(heap.begin(), heap.end());
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    Candidate c = heap.back();
    heap.pop_back();
    Symbol& l = syms[c.left];
    // Skip candidates made stale by an earlier merge on either side.
    if (l.id != c.left_id || l.next < 0 || syms[l.next].id != c.right_id) continue;
    int32_t right = l.next;
    l.id = c.merged_id;
    l.next = syms[right].next;
    if (l.next >= 0) syms[l.next].prev = c.left;
    syms[right].id = -1;
    if (l.prev >= 0) consider(l.prev);
    consider(c.left);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    int32_t id = piece_to_id_.find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (word.size() > kMaxCachedWordBytes) {
    merge_word(word, out);
    return;
  }
  WordCache& cache = word_cache(instance_id_);
  if (auto it = cache.map.find(word); it != cache.map.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  size_t start = out.size();
  merge_word(word, out);
  cache.map.emplace(std::string(word), std::vector<int32_t>(out.begin() + start, out.end()));
}

}  // namespace tessera::tokenizer
