#include "tessera/tokenizer/added_tokens.h"

#include <algorithm>
#include <map>
#include <memory>

namespace tessera::tokenizer {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_word_byte(char c) {
  auto b = static_cast<unsigned char>(c);
  return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || b == '_' || b >= 0x80;
}

// A trie built with maps, then flattened breadth-first so each node's children sit together.
struct BuildNode {
  int32_t token = -1;
  std::map<uint8_t, std::unique_ptr<BuildNode>> children;
};

}  // namespace

void AddedTokenMatcher::build(const std::vector<AddedToken>& tokens) {
  tokens_.clear();
  nodes_.clear();
  std::fill(std::begin(first_byte_), std::end(first_byte_), false);
  BuildNode root;
  for (const AddedToken& t : tokens) {
    if (t.content.empty()) continue;
    BuildNode* n = &root;
    for (char c : t.content) {
      auto& child = n->children[static_cast<uint8_t>(c)];
      if (!child) child = std::make_unique<BuildNode>();
      n = child.get();
    }
    if (n->token >= 0) continue;  // the same text twice: the first wins
    n->token = static_cast<int32_t>(tokens_.size());
    tokens_.push_back(t);
    first_byte_[static_cast<uint8_t>(t.content[0])] = true;
  }
  std::vector<const BuildNode*> order{&root};
  nodes_.push_back({root.token, 0, 0, 0});
  for (size_t i = 0; i < order.size(); ++i) {
    const BuildNode* b = order[i];
    nodes_[i].first_child = static_cast<uint32_t>(nodes_.size());
    nodes_[i].num_children = static_cast<uint16_t>(b->children.size());
    for (const auto& [byte, child] : b->children) {
      order.push_back(child.get());
      nodes_.push_back({child->token, 0, 0, byte});
    }
  }
}

int32_t AddedTokenMatcher::match_at(std::string_view text, size_t pos, bool parse_special, size_t& len) const {
  int32_t best = -1;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const Node& n = nodes_[node];
    auto c = static_cast<uint8_t>(text[i]);
    uint32_t lo = n.first_child, hi = n.first_child + n.num_children;
    uint32_t found = 0;
    while (lo < hi) {  // binary search among the sorted children
      uint32_t mid = (lo + hi) / 2;
      if (nodes_[mid].byte < c) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo < n.first_child + n.num_children && nodes_[lo].byte == c) found = lo;
    if (!found) break;
    node = found;
    int32_t t = nodes_[node].token;
    if (t < 0) continue;
    const AddedToken& tok = tokens_[t];
    if (tok.special && !parse_special) continue;
    size_t end = i + 1;
    if (tok.single_word && ((pos > 0 && is_word_byte(text[pos - 1])) || (end < text.size() && is_word_byte(text[end]))))
      continue;
    best = t;
    len = end - pos;
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, bool parse_special, std::vector<Piece>& out) const {
  out.clear();
  size_t text_begin = 0;
  for (size_t pos = 0; pos < text.size(); ++pos) {
    if (!first_byte_[static_cast<uint8_t>(text[pos])]) continue;
    size_t len = 0;
    int32_t t = match_at(text, pos, parse_special, len);
    if (t < 0) continue;
    const AddedToken& tok = tokens_[t];
    size_t b = pos, e = pos + len;
    if (tok.lstrip)
      while (b > text_begin && is_space(text[b - 1])) --b;
    if (tok.rstrip)
      while (e < text.size() && is_space(text[e])) ++e;
    if (b > text_begin) out.push_back({text_begin, b, -1});
    out.push_back({b, e, tok.id});
    text_begin = e;
    pos = e - 1;
  }
  if (text_begin < text.size()) out.push_back({text_begin, text.size(), -1});
}

}  // namespace tessera::tokenizer
