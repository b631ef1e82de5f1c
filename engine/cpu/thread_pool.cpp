#include "engine/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
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

// One parallel_for call. Workers hold it by shared_ptr, so one that wakes after the job is done
// finds no chunk left and leaves without touching the (by then gone) body.
struct Job {
  const std::function<void(std::size_t, std::size_t)>* body = nullptr;
  std::size_t count = 0;
  std::size_t chunk = 1;
  std::size_t chunks = 0;
  std::atomic<std::size_t> next_chunk{0};
  std::atomic<std::size_t> finished_chunks{0};
  std::mutex mutex;
  std::condition_variable all_finished;
  std::exception_ptr error;

  // Runs chunks until none is left; true when this call finished the last one.
  bool work() {
    bool finished_last = false;
    for (std::size_t index = next_chunk++; index < chunks; index = next_chunk++) {
      const std::size_t begin = index * chunk;
      try {
        (*body)(begin, std::min(count, begin + chunk));
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
      }
      finished_last = ++finished_chunks == chunks;
    }
    return finished_last;
  }
};

// Workers sleep on a condition variable between jobs rather than spin: the engine shares its cores
// with the rest of the harness. The caller works on its own job too and waits only for chunks a
// worker has started, never for a worker to wake up, so a descheduled worker cannot stall a step.
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
    auto job = std::make_shared<Job>();
    job->body = &body;
    job->count = count;
    job->chunk = chunk;
    job->chunks = (count + chunk - 1) / chunk;
    {
      std::lock_guard lock(mutex_);
      current_ = job;
      ++generation_;
    }
    wake_.notify_all();
    inside_parallel_body = true;
    job->work();
    inside_parallel_body = false;
    {
      std::unique_lock lock(job->mutex);
      job->all_finished.wait(lock, [&] { return job->finished_chunks == job->chunks; });
    }
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  void worker_loop() {
    inside_parallel_body = true;
    std::uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        job = current_;
      }
      if (job->work()) {
        std::lock_guard lock(job->mutex);
        job->all_finished.notify_all();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::shared_ptr<Job> current_;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
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
