#pragma once
// Live progress of a run: a redrawn line on a terminal, periodic plain lines otherwise (CI logs).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace rbench {

struct ProgressOptions {
  bool terminal = false;      // redraw one line in place
  double interval_s = 30.0;   // how often a plain line is printed when not on a terminal
  std::FILE* out = stderr;
};

class Progress {
 public:
  Progress(std::string label, int total, ProgressOptions options);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void resumed(int done, int correct);  // samples already in the store before this session
  void record(bool correct, bool failed, int64_t output_tokens, double cost_usd);
  void finish();                        // prints the final line and stops the ticker

  std::string line() const;             // the current status line

 private:
  void tick_loop();

  const std::string label_;
  const int total_;
  const ProgressOptions options_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::atomic<int> resumed_{0};
  std::atomic<int> resumed_correct_{0};
  std::atomic<int> done_{0};
  std::atomic<int> correct_{0};
  std::atomic<int> failed_{0};
  std::atomic<int64_t> output_tokens_{0};
  std::atomic<int64_t> cost_microdollars_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread ticker_;
};

}  // namespace rbench
