#include "tessera/server/api/anthropic/billing_header.h"

namespace tessera::server::api::anthropic {

std::string drop_billing_header(std::string_view system_text) {
  if (system_text.find(kBillingHeaderPrefix) == std::string_view::npos) return std::string(system_text);
  std::string out;
  out.reserve(system_text.size());
  size_t pos = 0;
  while (pos < system_text.size()) {
    size_t end = system_text.find('\n', pos);
    end = end == std::string_view::npos ? system_text.size() : end + 1;
    std::string_view line = system_text.substr(pos, end - pos);
    std::string_view content = line;
    while (!content.empty() && (content.front() == ' ' || content.front() == '\t')) content.remove_prefix(1);
    if (!content.starts_with(kBillingHeaderPrefix)) out.append(line);
    pos = end;
  }
  return out;
}

}  // namespace tessera::server::api::anthropic
