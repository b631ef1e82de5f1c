#include "engine/model/weights.h"

#include "common/error.h"

namespace rbench::engine {

const TensorInfo& WeightLoader::require(const std::string& name, const std::vector<std::size_t>& shape) const {
  const TensorInfo* tensor = checkpoint_.find(name);
  if (tensor == nullptr) {
    throw UserError("tensor '" + name + "' (shape " + format_shape(shape) + ") is missing from " +
                    checkpoint_.describe());
  }
  if (tensor->shape != shape) {
    throw UserError(tensor->file.string() + ": tensor '" + name + "' has shape " + format_shape(tensor->shape) +
                    ", but the config implies " + format_shape(shape));
  }
  return *tensor;
}

cpu::Matrix WeightLoader::matrix(const std::string& name, std::size_t rows, std::size_t cols) const {
  cpu::Matrix result(rows, cols);
  convert_to_f32(require(name, {rows, cols}), result.values());
  return result;
}

std::vector<float> WeightLoader::vector(const std::string& name, std::size_t size) const {
  std::vector<float> result(size);
  convert_to_f32(require(name, {size}), result);
  return result;
}

cpu::Matrix WeightLoader::stacked(const std::vector<Part>& parts, std::size_t cols) const {
  std::size_t rows = 0;
  for (const Part& part : parts) rows += part.rows;
  cpu::Matrix result(rows, cols);
  std::size_t first_row = 0;
  for (const Part& part : parts) {
    convert_to_f32(require(part.name, {part.rows, cols}), result.values().subspan(first_row * cols, part.rows * cols));
    first_row += part.rows;
  }
  return result;
}

}  // namespace rbench::engine
