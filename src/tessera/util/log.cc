#include "tessera/util/log.h"

#include <atomic>
#include <cstdio>
#include <ctime>

namespace tessera::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
const char* level_tag(Level l) {
  switch (l) {
    case Level::kDebug:
      return "D";
    case Level::kInfo:
      return "I";
    case Level::kWarn:
      return "W";
    case Level::kError:
      return "E";
  }
  return "?";
}
}  // namespace

void set_level(Level level) { g_level.store(level); }
Level level() { return g_level.load(); }

void write(Level l, const char* fmt, ...) {
  if (l < g_level.load(std::memory_order_relaxed)) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  std::fprintf(stderr, "%s %02d:%02d:%02d.%03ld tessera] %s\n", level_tag(l), t.tm_hour, t.tm_min, t.tm_sec,
               ts.tv_nsec / 1000000, msg);
}

}  // namespace tessera::log
