#pragma once
// A decode step captured as a CUDA graph, its nodes grouped by op family (the names the model marks
// after each family's launches). A family can be switched off: replayed without it, the step's other
// work is unchanged (its tokens are garbage), so the time saved is what the family costs inside the
// graph, boundaries and overlap included, which per-kernel timings of an eager step do not show.
#include <cuda_runtime_api.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace rbench::engine::cuda {

class DecodeGraph {
 public:
  DecodeGraph() = default;
  ~DecodeGraph();
  DecodeGraph(const DecodeGraph&) = delete;
  DecodeGraph& operator=(const DecodeGraph&) = delete;

  // While the stream is capturing: the nodes captured since the previous call belong to `family`.
  void close_family(const char* family, cudaStream_t stream);
  // Ends the capture and instantiates; false (with the CUDA error cleared) when either fails.
  bool finish(cudaStream_t stream);

  void replay(cudaStream_t stream) const;
  // Replays from now on leave out every kernel, copy and memset node of the families in `off` (none:
  // the step as captured).
  void set_disabled(const std::set<std::string>& off);
  std::set<std::string> families() const;

 private:
  void drop_reduced();

  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  cudaGraph_t reduced_graph_ = nullptr;  // the step without the families switched off, while any are
  cudaGraphExec_t reduced_exec_ = nullptr;
  std::vector<std::pair<std::string, cudaGraphNode_t>> nodes_;  // each captured node's family
  std::set<cudaGraphNode_t> grouped_;
};

}  // namespace rbench::engine::cuda
