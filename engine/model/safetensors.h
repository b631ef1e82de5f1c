#pragma once
// Reading (and writing) Hugging Face safetensors checkpoints. Files are memory-mapped; the header's
// offsets are checked against the file size when a file opens, so a truncated download fails there,
// naming the file, rather than as a crash later. Errors a user can fix are rbench::UserError.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace rbench::engine {

struct TensorInfo {
  std::string name;
  std::string dtype;  // as written: "F32", "BF16", "F16", ...
  std::vector<std::size_t> shape;
  std::span<const std::byte> bytes;  // inside the mapped file
  std::filesystem::path file;

  std::size_t element_count() const;
};

// One .safetensors file, mapped read-only for the object's lifetime.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const TensorInfo* find(const std::string& name) const;  // nullptr when absent
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }

 private:
  std::filesystem::path path_;
  void* mapping_ = nullptr;
  std::size_t mapped_size_ = 0;
  std::map<std::string, TensorInfo> tensors_;
};

// Every tensor of a checkpoint directory: model.safetensors, or the shards that
// model.safetensors.index.json names.
class Checkpoint {
 public:
  explicit Checkpoint(const std::filesystem::path& dir);

  const TensorInfo* find(const std::string& name) const;  // nullptr when absent
  // Where tensors are looked for, for error messages: the file, or the index and its shard count.
  std::string describe() const;

 private:
  std::filesystem::path dir_;
  bool sharded_ = false;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
};

// Converts a tensor's elements to float32 into out (element_count() long). F32, BF16 and F16 are
// read; any other dtype is a UserError naming the tensor, its dtype and its file.
void convert_to_f32(const TensorInfo& tensor, std::span<float> out);

// A tensor to write: float values stored as dtype ("F32", "BF16" or "F16").
struct TensorToWrite {
  std::string name;
  std::vector<std::size_t> shape;
  std::span<const float> values;
  std::string dtype = "F32";
};
// Writes a safetensors file (tests, benchmarks and tools make checkpoints with it).
void write_safetensors(const std::filesystem::path& path, std::span<const TensorToWrite> tensors);

// "[2, 3]": shapes as error messages show them.
std::string format_shape(const std::vector<std::size_t>& shape);

float bf16_to_f32(std::uint16_t bits);
float f16_to_f32(std::uint16_t bits);
std::uint16_t f32_to_bf16(float value);  // round to nearest even
std::uint16_t f32_to_f16(float value);   // round to nearest even

}  // namespace rbench::engine
