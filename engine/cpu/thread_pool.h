#pragma once
// Worker threads for the data-parallel loops of the CPU kernels.
#include <cstddef>
#include <functional>

namespace rbench::engine::cpu {

// Threads that parallel_for uses, the caller included: RBENCH_CPU_THREADS if set, else the machine's.
std::size_t worker_count();

// Runs body(begin, end) over consecutive chunks of [0, count), at least min_chunk long, on the
// worker threads and the caller, and returns when every chunk is done. A call from inside a body
// runs inline, so kernels may nest. The first exception a body throws is rethrown here.
void parallel_for(std::size_t count, std::size_t min_chunk, const std::function<void(std::size_t, std::size_t)>& body);

}  // namespace rbench::engine::cpu
