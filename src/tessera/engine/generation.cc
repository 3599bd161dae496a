#include "tessera/engine/generation.h"

#include <utility>

namespace tessera::engine {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kError:
      return "error";
  }
  return "error";
}

std::vector<RequestEvent> RequestStream::poll() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RequestEvent> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

std::vector<RequestEvent> RequestStream::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !events_.empty() || num_finished_ >= num_sequences_; });
  std::vector<RequestEvent> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

bool RequestStream::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return num_finished_ >= num_sequences_;
}

void RequestStream::set_notifier(std::function<void()> notify) {
  std::function<void()> call;
  {
    std::lock_guard<std::mutex> lock(mu_);
    notify_ = std::move(notify);
    if (!events_.empty() || num_finished_ >= num_sequences_) call = notify_;
  }
  // Outside the lock (the notifier may poll() at once), on a copy (another set_notifier may replace notify_).
  if (call) call();
}

void RequestStream::push(RequestEvent event) {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (event.finish) ++num_finished_;
    events_.push_back(std::move(event));
    notify = notify_;
  }
  cv_.notify_all();
  if (notify) notify();
}

}  // namespace tessera::engine
