#pragma once
// Binding a checkpoint's named tensors to the engine's float32 weights. Every tensor is checked
// against the shape the config implies; a missing or mis-shaped tensor is a UserError naming the
// tensor, the shape expected and the file.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/cpu/ops.h"
#include "engine/model/safetensors.h"

namespace rbench::engine {

class WeightLoader {
 public:
  explicit WeightLoader(const std::filesystem::path& dir) : checkpoint_(dir) {}

  bool contains(const std::string& name) const { return checkpoint_.find(name) != nullptr; }
  cpu::Matrix matrix(const std::string& name, std::size_t rows, std::size_t cols) const;
  std::vector<float> vector(const std::string& name, std::size_t size) const;
  // Tensors of the same column count stacked along their rows, in order: gate and up projections
  // fused into one [2·intermediate, hidden] matrix, or per-expert tensors into one
  // [experts·rows, cols] stack that grouped matmuls slice by expert.
  struct Part {
    std::string name;
    std::size_t rows;
  };
  cpu::Matrix stacked(const std::vector<Part>& parts, std::size_t cols) const;

 private:
  const TensorInfo& require(const std::string& name, const std::vector<std::size_t>& shape) const;

  Checkpoint checkpoint_;
};

}  // namespace rbench::engine
