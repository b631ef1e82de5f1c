#include "engine/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rbench::engine::cpu {
namespace {

thread_local bool inside_parallel_body = false;

std::size_t configured_threads() {
  if (const char* text = std::getenv("RBENCH_CPU_THREADS")) {
    try {
      const long value = std::stol(text);
      if (value > 0) return static_cast<std::size_t>(value);
    } catch (const std::exception&) {
      // An unreadable value falls back to the machine's count, as if unset.
    }
  }
  return std::max<std::size_t>(1, std::thread::hardware_concurrency());
}

// Workers sleep on a condition variable between jobs rather than spin: the engine shares its cores
// with the rest of the harness, and a spinning pool would steal them while the model is idle.
class ThreadPool {
 public:
  explicit ThreadPool(std::size_t threads) {
    for (std::size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

  std::size_t threads() const { return workers_.size() + 1; }

  void run(std::size_t count, std::size_t chunk, const std::function<void(std::size_t, std::size_t)>& body) {
    std::lock_guard job_lock(job_mutex_);  // one job at a time when several threads call in
    {
      std::lock_guard lock(mutex_);
      body_ = &body;
      count_ = count;
      chunk_ = chunk;
      next_chunk_ = 0;
      error_ = nullptr;
      busy_workers_ = workers_.size();
      ++generation_;
    }
    wake_.notify_all();
    work_on_chunks();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return busy_workers_ == 0; });
    body_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      work_on_chunks();
      std::lock_guard lock(mutex_);
      if (--busy_workers_ == 0) done_.notify_one();
    }
  }

  void work_on_chunks() {
    inside_parallel_body = true;
    const std::size_t chunks = (count_ + chunk_ - 1) / chunk_;
    for (std::size_t index = next_chunk_++; index < chunks; index = next_chunk_++) {
      const std::size_t begin = index * chunk_;
      try {
        (*body_)(begin, std::min(count_, begin + chunk_));
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    inside_parallel_body = false;
  }

  std::vector<std::thread> workers_;
  std::mutex job_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(std::size_t, std::size_t)>* body_ = nullptr;
  std::size_t count_ = 0;
  std::size_t chunk_ = 1;
  std::atomic<std::size_t> next_chunk_{0};
  std::size_t busy_workers_ = 0;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

ThreadPool& pool() {
  static ThreadPool instance(configured_threads());
  return instance;
}

}  // namespace

std::size_t worker_count() { return pool().threads(); }

void parallel_for(std::size_t count, std::size_t min_chunk, const std::function<void(std::size_t, std::size_t)>& body) {
  if (count == 0) return;
  ThreadPool& threads = pool();
  // A few chunks per thread balance uneven work without much scheduling overhead.
  const std::size_t target_chunks = threads.threads() * 4;
  const std::size_t chunk = std::max<std::size_t>({1, min_chunk, (count + target_chunks - 1) / target_chunks});
  if (inside_parallel_body || threads.threads() == 1 || chunk >= count) {
    body(0, count);
    return;
  }
  threads.run(count, chunk, body);
}

}  // namespace rbench::engine::cpu
