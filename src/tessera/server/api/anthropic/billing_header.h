// Claude Code starts its system prompt with an attribution line, `x-anthropic-billing-header: cc_version=...;
// cc_entrypoint=...; cch=...;`, whose values change on every request. Left in, it would make the very first
// tokens of every prompt differ and so defeat the prefix cache for the whole conversation; it means nothing to a
// local model, so the line is dropped (with its line break) wherever it stands in the system text.
#pragma once

#include <string>
#include <string_view>

namespace tessera::server::api::anthropic {

inline constexpr std::string_view kBillingHeaderPrefix = "x-anthropic-billing-header:";

// `system_text` without its billing-header lines (a line counts when it starts with the prefix, after spaces).
std::string drop_billing_header(std::string_view system_text);

}  // namespace tessera::server::api::anthropic
