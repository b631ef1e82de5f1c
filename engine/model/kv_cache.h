#pragma once
// The keys and values one sequence has cached, for every layer. The model writes and reads rows
// through this interface only, so a paged cache (blocks shared by a scheduler) can replace the
// contiguous one without touching the model.
#include <cstddef>
#include <vector>

namespace rbench::engine {

class KvCache {
 public:
  virtual ~KvCache() = default;

  // Positions stored so far: the next token's position.
  virtual std::size_t length() const = 0;
  // Makes room for positions [length(), new_length) and counts them as stored; the model fills them.
  virtual void extend(std::size_t new_length) = 0;
  // Forgets positions from new_length on (a failed step, or a sequence rewound to a shared prefix).
  virtual void truncate(std::size_t new_length) = 0;
  // Row of one position: key_width() / value_width() floats, valid until the next extend().
  virtual float* key(std::size_t layer, std::size_t position) = 0;
  virtual float* value(std::size_t layer, std::size_t position) = 0;
  virtual std::size_t key_width() const = 0;
  virtual std::size_t value_width() const = 0;
};

// One growing buffer per layer for keys and one for values.
class ContiguousKvCache final : public KvCache {
 public:
  ContiguousKvCache(std::size_t layers, std::size_t key_width, std::size_t value_width);

  std::size_t length() const override { return length_; }
  void extend(std::size_t new_length) override;
  void truncate(std::size_t new_length) override;
  float* key(std::size_t layer, std::size_t position) override { return keys_[layer].data() + position * key_width_; }
  float* value(std::size_t layer, std::size_t position) override {
    return values_[layer].data() + position * value_width_;
  }
  std::size_t key_width() const override { return key_width_; }
  std::size_t value_width() const override { return value_width_; }

 private:
  std::size_t key_width_;
  std::size_t value_width_;
  std::size_t length_ = 0;
  std::vector<std::vector<float>> keys_;
  std::vector<std::vector<float>> values_;
};

}  // namespace rbench::engine
