// Minimal leveled logging to stderr. Thread-safe (one fprintf per line).
#pragma once

#include <cstdarg>

namespace tessera::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };

void set_level(Level level);
Level level();

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace tessera::log

#define TESSERA_LOG_DEBUG(...) ::tessera::log::write(::tessera::log::Level::kDebug, __VA_ARGS__)
#define TESSERA_LOG_INFO(...) ::tessera::log::write(::tessera::log::Level::kInfo, __VA_ARGS__)
#define TESSERA_LOG_WARN(...) ::tessera::log::write(::tessera::log::Level::kWarn, __VA_ARGS__)
#define TESSERA_LOG_ERROR(...) ::tessera::log::write(::tessera::log::Level::kError, __VA_ARGS__)
