#include "engine/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"

namespace rbench::engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Bytes per element of the dtypes safetensors defines; 0 for a name it does not (size unchecked).
std::size_t element_size(const std::string& dtype) {
  static const std::map<std::string, std::size_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},  {"I32", 4},     {"I16", 2},    {"I8", 1},
      {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},   {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  const auto found = sizes.find(dtype);
  return found == sizes.end() ? 0 : found->second;
}

std::uint64_t read_little_endian_u64(const std::byte* bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<std::uint64_t>(bytes[i]);
  return value;
}

TensorInfo parse_tensor_entry(const fs::path& path, const std::string& name, const json& entry,
                              std::span<const std::byte> data) {
  const std::string where = path.string() + ": tensor '" + name + "'";
  if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets")) {
    throw UserError(where + " lacks one of the header fields dtype, shape, data_offsets");
  }
  TensorInfo info;
  info.name = name;
  info.file = path;
  try {
    info.dtype = entry.at("dtype").get<std::string>();
    info.shape = entry.at("shape").get<std::vector<std::size_t>>();
    const auto offsets = entry.at("data_offsets").get<std::vector<std::uint64_t>>();
    if (offsets.size() != 2 || offsets[0] > offsets[1]) throw UserError(where + " has malformed data_offsets");
    if (offsets[1] > data.size()) {
      throw UserError(path.string() + " is truncated: tensor '" + name + "' needs bytes [" +
                      std::to_string(offsets[0]) + ", " + std::to_string(offsets[1]) +
                      ") of the data section, which holds " + std::to_string(data.size()) + " bytes");
    }
    info.bytes = data.subspan(offsets[0], offsets[1] - offsets[0]);
  } catch (const json::exception& error) {
    throw UserError(where + " has a malformed header entry: " + error.what());
  }
  const std::size_t size = element_size(info.dtype);
  if (size != 0 && info.bytes.size() != info.element_count() * size) {
    throw UserError(where + " holds " + std::to_string(info.bytes.size()) + " bytes, but " + info.dtype + " of shape " +
                    format_shape(info.shape) + " needs " + std::to_string(info.element_count() * size));
  }
  return info;
}

}  // namespace

std::string format_shape(const std::vector<std::size_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::size_t TensorInfo::element_count() const {
  std::size_t count = 1;
  for (std::size_t extent : shape) count *= extent;
  return count;
}

SafetensorsFile::SafetensorsFile(const fs::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UserError("cannot open " + path.string() + ": " + std::strerror(errno));
  struct stat status {};
  if (::fstat(fd, &status) != 0 || status.st_size < 8) {
    ::close(fd);
    throw UserError(path.string() + " is truncated or not a safetensors file: " + std::to_string(status.st_size) +
                    " bytes, fewer than the 8-byte header length");
  }
  mapped_size_ = static_cast<std::size_t>(status.st_size);
  mapping_ = ::mmap(nullptr, mapped_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping_ == MAP_FAILED) {
    mapping_ = nullptr;
    throw UserError("cannot map " + path.string() + ": " + std::strerror(errno));
  }
  try {
    const std::span<const std::byte> file(static_cast<const std::byte*>(mapping_), mapped_size_);
    const std::uint64_t header_size = read_little_endian_u64(file.data());
    if (header_size > file.size() - 8) {
      throw UserError(path.string() + " is truncated: its header claims " + std::to_string(header_size) +
                      " bytes of JSON but only " + std::to_string(file.size() - 8) + " bytes follow");
    }
    const auto header_bytes = file.subspan(8, header_size);
    json header;
    try {
      header = json::parse(reinterpret_cast<const char*>(header_bytes.data()),
                           reinterpret_cast<const char*>(header_bytes.data() + header_bytes.size()));
    } catch (const json::exception& error) {
      throw UserError(path.string() + ": the header is not valid JSON: " + error.what());
    }
    if (!header.is_object()) throw UserError(path.string() + ": the header is not a JSON object");
    const auto data = file.subspan(8 + header_size);
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") continue;
      tensors_.emplace(name, parse_tensor_entry(path, name, entry, data));
    }
  } catch (...) {
    ::munmap(mapping_, mapped_size_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) ::munmap(mapping_, mapped_size_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  const auto found = tensors_.find(name);
  return found == tensors_.end() ? nullptr : &found->second;
}

Checkpoint::Checkpoint(const fs::path& dir) : dir_(dir) {
  const fs::path index_path = dir / "model.safetensors.index.json";
  const fs::path single_path = dir / "model.safetensors";
  if (fs::exists(index_path)) {
    sharded_ = true;
    json index;
    try {
      std::ifstream in(index_path);
      index = json::parse(in);
    } catch (const json::exception& error) {
      throw UserError(index_path.string() + " is not valid JSON: " + error.what());
    }
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      throw UserError(index_path.string() + " has no weight_map object");
    }
    std::set<std::string> shards;
    for (const auto& [name, shard] : index["weight_map"].items()) {
      if (!shard.is_string())
        throw UserError(index_path.string() + ": weight_map entry '" + name + "' is not a file name");
      shards.insert(shard.get<std::string>());
    }
    for (const std::string& shard : shards) {
      if (!fs::exists(dir / shard)) {
        throw UserError(index_path.string() + " names shard '" + shard + "', which is missing from " + dir.string());
      }
      files_.push_back(std::make_unique<SafetensorsFile>(dir / shard));
    }
  } else if (fs::exists(single_path)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single_path));
  } else {
    throw UserError(dir.string() + " holds neither model.safetensors nor model.safetensors.index.json");
  }
}

const TensorInfo* Checkpoint::find(const std::string& name) const {
  for (const auto& file : files_) {
    if (const TensorInfo* info = file->find(name)) return info;
  }
  return nullptr;
}

std::string Checkpoint::describe() const {
  if (!sharded_) return (dir_ / "model.safetensors").string();
  return (dir_ / "model.safetensors.index.json").string() + " (" + std::to_string(files_.size()) + " shards)";
}

float bf16_to_f32(std::uint16_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16); }

float f16_to_f32(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  const std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa · 2^-24
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  return std::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

std::uint16_t f32_to_bf16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

std::uint16_t f32_to_f16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // ≥ 65520 rounds to infinity
  if (magnitude < 0x38800000u) {                        // below 2^-14: subnormal, in units of 2^-24
    const float scaled = std::bit_cast<float>(magnitude) * 16777216.0f;
    return sign | static_cast<std::uint16_t>(std::nearbyint(scaled));
  }
  const std::uint32_t mantissa = magnitude & 0x7fffffu;
  std::uint32_t half = (((magnitude >> 23) - 127 + 15) << 10) | (mantissa >> 13);
  const std::uint32_t remainder = mantissa & 0x1fffu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (half & 1u))) ++half;  // a carry correctly bumps the exponent
  return sign | static_cast<std::uint16_t>(half);
}

void convert_to_f32(const TensorInfo& tensor, std::span<float> out) {
  if (out.size() != tensor.element_count()) {
    throw std::logic_error("convert_to_f32: output size does not match tensor '" + tensor.name + "'");
  }
  // memcpy per element: offsets in the file need not be aligned for the element type.
  const std::byte* source = tensor.bytes.data();
  if (tensor.dtype == "F32") {
    std::memcpy(out.data(), source, out.size() * sizeof(float));
    return;
  }
  const bool is_bf16 = tensor.dtype == "BF16";
  if (!is_bf16 && tensor.dtype != "F16") {
    throw UserError(tensor.file.string() + ": tensor '" + tensor.name + "' has dtype '" + tensor.dtype +
                    "'; the engine reads F32, BF16 and F16 weights");
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint16_t bits = 0;
    std::memcpy(&bits, source + 2 * i, 2);
    out[i] = is_bf16 ? bf16_to_f32(bits) : f16_to_f32(bits);
  }
}

void write_safetensors(const fs::path& path, std::span<const TensorToWrite> tensors) {
  json header = json::object();
  std::string data;
  for (const TensorToWrite& tensor : tensors) {
    const std::size_t begin = data.size();
    if (tensor.dtype == "F32") {
      data.append(reinterpret_cast<const char*>(tensor.values.data()), tensor.values.size() * sizeof(float));
    } else if (tensor.dtype == "BF16" || tensor.dtype == "F16") {
      for (float value : tensor.values) {
        const std::uint16_t bits = tensor.dtype == "BF16" ? f32_to_bf16(value) : f32_to_f16(value);
        data.append(reinterpret_cast<const char*>(&bits), 2);
      }
    } else {
      throw std::invalid_argument("write_safetensors: cannot write dtype " + tensor.dtype);
    }
    header[tensor.name] = {{"dtype", tensor.dtype}, {"shape", tensor.shape}, {"data_offsets", {begin, data.size()}}};
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // the format pads the header to 8 bytes
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const std::uint64_t header_size = header_text.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((header_size >> (8 * i)) & 0xffu));
  out << header_text << data;
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace rbench::engine
