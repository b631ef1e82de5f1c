#pragma once
// The KV cache of every sequence on one GPU, in pages of page_size positions drawn from one pool
// (vLLM's paged attention). A sequence owns a list of pages; position p lives in page
// pages[p / page_size] at slot p % page_size. Each layer keeps, per position, a key row of key_row
// elements and a value row of value_row elements; MLA's latent cache has no separate values (its
// value is the front of the key row: value_row == 0).
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "engine/cuda/device_buffer.h"
#include "engine/cuda/ops.h"

namespace rbench::engine::cuda {

template <class W>
class PagedKvCache {
 public:
  PagedKvCache(std::size_t layers, std::size_t key_row, std::size_t value_row, std::size_t page_size, std::size_t pages)
      : layers_(layers),
        key_row_(key_row),
        value_row_(value_row),
        page_size_(page_size),
        pages_(pages),
        keys_(layers * pages * page_size * key_row),
        values_(layers * pages * page_size * value_row) {
    free_.reserve(pages);
    // Handed out from the front: low page ids first.
    for (std::size_t page = pages; page > 0; --page) free_.push_back(static_cast<int>(page - 1));
  }

  static std::size_t bytes_per_page(std::size_t layers, std::size_t key_row, std::size_t value_row,
                                    std::size_t page_size) {
    return layers * page_size * (key_row + value_row) * sizeof(W);
  }

  LayerCache<W> layer(std::size_t layer) {
    W* keys = keys_.data() + layer * pages_ * page_size_ * key_row_;
    if (value_row_ == 0) return {keys, keys, static_cast<int>(key_row_), static_cast<int>(key_row_)};
    W* values = values_.data() + layer * pages_ * page_size_ * value_row_;
    return {keys, values, static_cast<int>(key_row_), static_cast<int>(value_row_)};
  }

  std::size_t page_size() const { return page_size_; }
  std::size_t pages() const { return pages_; }
  std::size_t free_pages() const { return free_.size(); }
  std::size_t bytes() const { return keys_.bytes() + values_.bytes(); }

  // Grows a sequence's page list to hold new_length positions. False, taking nothing, when the pool
  // has too few free pages.
  bool grow(std::vector<int>& pages, std::size_t new_length) {
    const std::size_t needed = (new_length + page_size_ - 1) / page_size_;
    if (needed <= pages.size()) return true;
    if (needed - pages.size() > free_.size()) return false;
    while (pages.size() < needed) {
      pages.push_back(free_.back());
      free_.pop_back();
    }
    return true;
  }

  void release(std::vector<int>& pages) {
    free_.insert(free_.end(), pages.rbegin(), pages.rend());
    pages.clear();
  }

 private:
  std::size_t layers_;
  std::size_t key_row_;
  std::size_t value_row_;
  std::size_t page_size_;
  std::size_t pages_;
  DeviceBuffer<W> keys_;
  DeviceBuffer<W> values_;
  std::vector<int> free_;
};

}  // namespace rbench::engine::cuda
