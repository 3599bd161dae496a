#include "tessera/tokenizer/flat_map.h"

namespace tessera::tokenizer {
namespace {

size_t capacity_for(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;  // at most half full keeps probe chains short
  return cap;
}

}  // namespace

void StringIdMap::build(const std::vector<std::string>& keys, const std::vector<bool>& include) {
  keys_ = &keys;
  slots_.assign(capacity_for(keys.size()), Slot{});
  mask_ = slots_.size() - 1;
  for (size_t id = 0; id < keys.size(); ++id) {
    if (!include[id]) continue;
    uint64_t h = hash_bytes(keys[id]);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.id < 0) {
        slot = {h, static_cast<int32_t>(id)};
        break;
      }
      if (slot.hash == h && keys[slot.id] == keys[id]) break;  // duplicate text: the lower id wins
    }
  }
}

void PairMap::reserve(size_t n) {
  if (capacity_for(n) <= slots_.size()) return;
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(capacity_for(n), Slot{});
  mask_ = slots_.size() - 1;
  size_ = 0;
  for (const Slot& s : old)
    if (s.key != kEmpty) insert(int32_t(s.key >> 32), int32_t(uint32_t(s.key)), s.merge);
}

void PairMap::grow() { reserve(slots_.empty() ? 16 : slots_.size()); }

void PairMap::insert(int32_t left, int32_t right, Merge m) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  uint64_t key = pack(left, right);
  for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key) return;
    if (s.key == kEmpty) {
      s.key = key;
      s.merge = m;
      ++size_;
      return;
    }
  }
}

}  // namespace tessera::tokenizer
