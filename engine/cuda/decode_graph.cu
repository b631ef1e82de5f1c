#include "engine/cuda/decode_graph.h"

#include <algorithm>

#include "engine/cuda/cuda_check.h"

namespace rbench::engine::cuda {

namespace {

// A node's neighbours on one side, with the kinds of their edges (asked for: without them a query of
// programmatic edges fails).
std::vector<cudaGraphNode_t> neighbours(cudaGraphNode_t node, bool before) {
  const auto query = before ? cudaGraphNodeGetDependencies : cudaGraphNodeGetDependentNodes;
  std::size_t count = 0;
  RBENCH_CUDA_CHECK(query(node, nullptr, nullptr, &count));
  std::vector<cudaGraphNode_t> nodes(count);
  std::vector<cudaGraphEdgeData> kinds(count);
  RBENCH_CUDA_CHECK(query(node, nodes.data(), kinds.data(), &count));
  return nodes;
}

// Takes the node out of its graph; every node it came after now comes before every node that came
// after it (full edges: a programmatic edge through a missing kernel would have nothing to wait on).
void bypass(cudaGraph_t graph, cudaGraphNode_t node) {
  const std::vector<cudaGraphNode_t> before = neighbours(node, true);
  const std::vector<cudaGraphNode_t> after = neighbours(node, false);
  RBENCH_CUDA_CHECK(cudaGraphDestroyNode(node));
  for (const cudaGraphNode_t to : after) {
    const std::vector<cudaGraphNode_t> has = neighbours(to, true);
    for (const cudaGraphNode_t from : before) {
      if (std::find(has.begin(), has.end(), from) != has.end()) continue;
      RBENCH_CUDA_CHECK(cudaGraphAddDependencies(graph, &from, &to, nullptr, 1));
    }
  }
}

}  // namespace

DecodeGraph::~DecodeGraph() {
  drop_reduced();
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
  if (graph_ != nullptr) cudaGraphDestroy(graph_);
}

void DecodeGraph::drop_reduced() {
  if (reduced_exec_ != nullptr) cudaGraphExecDestroy(reduced_exec_);
  if (reduced_graph_ != nullptr) cudaGraphDestroy(reduced_graph_);
  reduced_exec_ = nullptr;
  reduced_graph_ = nullptr;
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

void DecodeGraph::replay(cudaStream_t stream) const {
  RBENCH_CUDA_CHECK(cudaGraphLaunch(reduced_exec_ != nullptr ? reduced_exec_ : exec_, stream));
}

// A copy of the captured graph without the families' kernel, copy and memset nodes. Not
// cudaGraphNodeSetEnabled on the captured one: with the output head's cuBLAS product switched off
// between the last layer and the sampler, whose launches are programmatic, a batch-64 step of the
// 1.5B shape failed with "unspecified launch failure" on an H100 (under compute-sanitizer it ran).
void DecodeGraph::set_disabled(const std::set<std::string>& off) {
  drop_reduced();
  const auto is_off = [&](const auto& entry) { return off.contains(entry.first); };
  if (std::none_of(nodes_.begin(), nodes_.end(), is_off)) return;
  RBENCH_CUDA_CHECK(cudaGraphClone(&reduced_graph_, graph_));
  for (const auto& [family, node] : nodes_) {
    if (!off.contains(family)) continue;
    cudaGraphNodeType type{};
    RBENCH_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    if (type != cudaGraphNodeTypeKernel && type != cudaGraphNodeTypeMemcpy && type != cudaGraphNodeTypeMemset) continue;
    cudaGraphNode_t copy = nullptr;
    RBENCH_CUDA_CHECK(cudaGraphNodeFindInClone(&copy, node, reduced_graph_));
    bypass(reduced_graph_, copy);
  }
  RBENCH_CUDA_CHECK(cudaGraphInstantiate(&reduced_exec_, reduced_graph_, 0));
}

std::set<std::string> DecodeGraph::families() const {
  std::set<std::string> names;
  for (const auto& [family, node] : nodes_) names.insert(family);
  return names;
}

}  // namespace rbench::engine::cuda
