#include "engine/cuda/decode_graph.h"

#include "engine/cuda/cuda_check.h"

namespace rbench::engine::cuda {

DecodeGraph::~DecodeGraph() {
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
  if (graph_ != nullptr) cudaGraphDestroy(graph_);
}

void DecodeGraph::close_family(const char* family, cudaStream_t stream) {
  cudaStreamCaptureStatus status{};
  const cudaGraphNode_t* frontier = nullptr;
  const cudaGraphEdgeData* edges = nullptr;  // asked for: without them a query of programmatic edges fails
  std::size_t count = 0;
  RBENCH_CUDA_CHECK(cudaStreamGetCaptureInfo(stream, &status, nullptr, nullptr, &frontier, &edges, &count));
  if (status != cudaStreamCaptureStatusActive) return;
  // Every node the frontier depends on that no earlier family holds was captured since the last call.
  std::vector<cudaGraphNode_t> pending(frontier, frontier + count);
  while (!pending.empty()) {
    const cudaGraphNode_t node = pending.back();
    pending.pop_back();
    if (!grouped_.insert(node).second) continue;
    nodes_.emplace_back(family, node);
    std::size_t inputs = 0;
    RBENCH_CUDA_CHECK(cudaGraphNodeGetDependencies(node, nullptr, nullptr, &inputs));
    std::vector<cudaGraphNode_t> before(inputs);
    std::vector<cudaGraphEdgeData> kinds(inputs);
    RBENCH_CUDA_CHECK(cudaGraphNodeGetDependencies(node, before.data(), kinds.data(), &inputs));
    pending.insert(pending.end(), before.begin(), before.end());
  }
}

bool DecodeGraph::finish(cudaStream_t stream) {
  cudaGraph_t graph = nullptr;
  if (cudaStreamEndCapture(stream, &graph) != cudaSuccess || graph == nullptr) {
    cudaGetLastError();
    return false;
  }
  graph_ = graph;
  grouped_.clear();
  if (cudaGraphInstantiate(&exec_, graph_, 0) != cudaSuccess) {
    cudaGetLastError();
    exec_ = nullptr;
    return false;
  }
  return true;
}

void DecodeGraph::replay(cudaStream_t stream) const { RBENCH_CUDA_CHECK(cudaGraphLaunch(exec_, stream)); }

void DecodeGraph::set_disabled(const std::set<std::string>& off) {
  for (const auto& [family, node] : nodes_) {
    cudaGraphNodeType type{};
    RBENCH_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    if (type != cudaGraphNodeTypeKernel && type != cudaGraphNodeTypeMemcpy && type != cudaGraphNodeTypeMemset) continue;
    RBENCH_CUDA_CHECK(cudaGraphNodeSetEnabled(exec_, node, off.contains(family) ? 0 : 1));
  }
}

std::set<std::string> DecodeGraph::families() const {
  std::set<std::string> names;
  for (const auto& [family, node] : nodes_) names.insert(family);
  return names;
}

}  // namespace rbench::engine::cuda
