#include "tessera/tokenizer/stop_matcher.h"

#include <algorithm>

namespace tessera::tokenizer {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) continue;
    stops_.push_back(std::move(stops[i]));
    original_index_.push_back(static_cast<int>(i));
  }
}

std::string StopMatcher::push(std::string_view text) {
  if (stopped()) return {};
  held_.append(text);
  if (stops_.empty()) {
    std::string out;
    out.swap(held_);
    return out;
  }
  // The earliest complete stop wins. held_ only ever keeps a possible stop prefix plus the new text, so this
  // search is over a short string.
  size_t first = std::string::npos;
  int which = -1;
  for (size_t i = 0; i < stops_.size(); ++i) {
    size_t pos = held_.find(stops_[i]);
    if (pos < first) {
      first = pos;
      which = static_cast<int>(i);
    }
  }
  if (which >= 0) {
    matched_ = original_index_[which];
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  // Hold the longest tail that is the beginning of some stop string.
  size_t keep = 0;
  for (const std::string& s : stops_) {
    size_t max_k = std::min(s.size() - 1, held_.size());
    for (size_t k = max_k; k > keep; --k) {
      if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
        keep = k;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopMatcher::finish() {
  if (stopped()) return {};
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace tessera::tokenizer
