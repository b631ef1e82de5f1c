#pragma once
// The BPE `model` of tokenizer.json: vocabulary, merges and the merge loop, as Hugging Face runs it.
//
// A byte-level model works on raw bytes: its vocabulary is converted from the byte-level alphabet once,
// so a piece of text is encoded without rewriting it. Otherwise pieces are text and the first symbols
// are characters, with "<0xXX>" tokens for characters outside the vocabulary when `byte_fallback` is on.
//
// Merging uses a priority queue over a linked list of symbols (lowest rank first, leftmost on ties), so
// a long piece costs O(n log n). Results of recent pieces are cached.
#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/config_error.h"

namespace rbench::engine::detail {

// Hash for heterogeneous lookup: maps keyed by std::string, queried with std::string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

class PieceCache;

class BpeModel {
 public:
  // `node` is the `model` value; `byte_level` says whether the pre-tokenizer maps text to bytes.
  static BpeModel from_json(const nlohmann::json& node, bool byte_level, const ConfigField& field);
  BpeModel();  // empty: encodes nothing
  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;
  ~BpeModel();

  // Appends the ids of one pre-tokenized piece.
  void encode(std::string_view piece, std::vector<int32_t>& ids) const;

  // A vocabulary entry spelled as in tokenizer.json.
  std::optional<int32_t> token_id(std::string_view spelling) const;
  // One past the largest id of the vocabulary.
  size_t size() const { return size_; }

 private:
  struct Merge {
    int32_t rank = 0;
    int32_t merged_id = 0;
  };
  struct PairHash {
    size_t operator()(uint64_t pair) const { return static_cast<size_t>(pair * 0x9E3779B97F4A7C15ull >> 17); }
  };

  void read_vocabulary(const nlohmann::json& vocab, const ConfigField& field);
  void read_merges(const nlohmann::json& merges, const nlohmann::json& vocab, const ConfigField& field);
  std::optional<int32_t> piece_id(std::string_view piece) const;
  const Merge* find_merge(int32_t left, int32_t right) const;
  void initial_symbols(std::string_view piece, std::vector<int32_t>& symbols) const;
  void merge(std::vector<int32_t>& symbols) const;

  bool byte_level_ = false;
  bool ignore_merges_ = false;
  bool byte_fallback_ = false;
  bool fuse_unknown_ = false;
  std::optional<int32_t> unknown_id_;
  size_t size_ = 0;
  StringMap<int32_t> piece_ids_;             // keys: raw bytes (byte-level) or text
  StringMap<int32_t> unconvertible_ids_;     // byte-level vocabularies: entries outside the alphabet
  std::array<int32_t, 256> byte_ids_{};      // byte-level: the token of each single byte, or -1
  std::array<int32_t, 256> fallback_ids_{};  // "<0xXX>" tokens, or -1
  std::unordered_map<uint64_t, Merge, PairHash> merges_;
  std::unique_ptr<PieceCache> cache_;
};

}  // namespace rbench::engine::detail
