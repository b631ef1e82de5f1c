#include "engine/model/kv_cache.h"

#include <algorithm>

namespace rbench::engine {

ContiguousKvCache::ContiguousKvCache(std::size_t layers, std::size_t key_width, std::size_t value_width)
    : key_width_(key_width), value_width_(value_width), keys_(layers), values_(layers) {}

void ContiguousKvCache::extend(std::size_t new_length) {
  if (new_length <= length_) return;
  // std::vector grows its capacity geometrically, so decoding one position per step stays cheap.
  for (std::size_t layer = 0; layer < keys_.size(); ++layer) {
    keys_[layer].resize(new_length * key_width_);
    values_[layer].resize(new_length * value_width_);
  }
  length_ = new_length;
}

void ContiguousKvCache::truncate(std::size_t new_length) { length_ = std::min(length_, new_length); }

}  // namespace rbench::engine
