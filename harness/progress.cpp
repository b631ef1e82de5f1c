#include "harness/progress.h"

#include <fmt/format.h>

namespace rbench {

namespace {

std::string clock_text(double seconds) {
  const auto total = static_cast<long>(seconds + 0.5);
  if (total >= 3600) return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
  return fmt::format("{}:{:02}", total / 60, total % 60);
}

}  // namespace

Progress::Progress(std::string label, int total, ProgressOptions options)
    : label_(std::move(label)), total_(total), options_(options) {
  ticker_ = std::thread([this] { tick_loop(); });
}

Progress::~Progress() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void Progress::resumed(int done, int correct) {
  resumed_ = done;
  resumed_correct_ = correct;
}

void Progress::record(bool correct, bool failed, int64_t output_tokens, double cost_usd) {
  done_ += 1;
  if (correct) correct_ += 1;
  if (failed) failed_ += 1;
  output_tokens_ += output_tokens;
  cost_microdollars_ += static_cast<int64_t>(cost_usd * 1e6 + 0.5);
}

std::string Progress::line() const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int done_now = done_.load();
  const int failed = failed_.load();
  const int graded = resumed_ + done_now - failed;
  const int done = resumed_ + done_now;
  const double accuracy = graded > 0 ? 100.0 * (resumed_correct_ + correct_.load()) / graded : 0.0;
  const double tokens_per_s = elapsed > 0 ? output_tokens_.load() / elapsed : 0.0;
  std::string eta = "--";
  if (done_now > 0 && done < total_) eta = clock_text(elapsed / done_now * (total_ - done));
  if (done >= total_) eta = "0:00";
  std::string text = fmt::format("{}  {}/{}  acc {:.1f}%  {:.0f} tok/s  ${:.4f}  elapsed {}  ETA {}", label_, done,
                                 total_, accuracy, tokens_per_s, cost_microdollars_.load() / 1e6,
                                 clock_text(elapsed), eta);
  if (failed > 0) text += fmt::format("  errors {}", failed);
  return text;
}

void Progress::tick_loop() {
  const auto period = options_.terminal ? std::chrono::duration<double>(0.2)
                                        : std::chrono::duration<double>(options_.interval_s);
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
    if (options_.terminal) {
      fmt::print(options_.out, "\r\033[K{}", line());
    } else {
      fmt::print(options_.out, "{}\n", line());
    }
    std::fflush(options_.out);
  }
}

void Progress::finish() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  fmt::print(options_.out, "{}{}\n", options_.terminal ? "\r\033[K" : "", line());
  std::fflush(options_.out);
}

}  // namespace rbench
