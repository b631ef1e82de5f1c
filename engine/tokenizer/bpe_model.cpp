#include "engine/tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <utility>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/text.h"

namespace rbench::engine::detail {

namespace {

constexpr int32_t kNone = -1;
constexpr size_t kLongestCachedPiece = 256;  // longer pieces are rare and would crowd the cache

struct Symbol {
  int32_t id = kNone;  // kNone once merged into the symbol on its left
  int32_t previous = kNone;
  int32_t next = kNone;
};

struct Candidate {
  int32_t rank = 0;
  int32_t position = 0;  // of the left symbol
  int32_t merged_id = 0;
};

// Orders the heap so that the lowest rank, then the leftmost position, comes out first.
bool comes_later(const Candidate& a, const Candidate& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.position > b.position;
}

std::string fallback_spelling(int byte) {
  char spelling[8];
  std::snprintf(spelling, sizeof spelling, "<0x%02X>", byte);
  return spelling;
}

// The two halves of a merge, written "a b" (older files) or ["a", "b"]; views into `entry`.
std::pair<std::string_view, std::string_view> merge_halves(const nlohmann::json& entry, const ConfigField& field) {
  if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
    return {entry[0].get_ref<const std::string&>(), entry[1].get_ref<const std::string&>()};
  }
  if (entry.is_string()) {
    const std::string_view text = entry.get_ref<const std::string&>();
    const size_t space = text.find(' ');
    if (space != std::string_view::npos) return {text.substr(0, space), text.substr(space + 1)};
  }
  fail(field, "expected \"left right\" or [\"left\", \"right\"]");
}

}  // namespace

// Ids of recently encoded pieces, shared by all threads; sharded so that threads rarely wait on each other.
class PieceCache {
 public:
  bool find(std::string_view piece, std::vector<int32_t>& ids) {
    Shard& shard = shard_for(piece);
    const std::lock_guard lock(shard.mutex);
    const auto entry = shard.entries.find(piece);
    if (entry == shard.entries.end()) return false;
    ids.insert(ids.end(), entry->second.begin(), entry->second.end());
    return true;
  }

  void store(std::string_view piece, std::span<const int32_t> ids) {
    Shard& shard = shard_for(piece);
    const std::lock_guard lock(shard.mutex);
    // Starting over when full keeps the cache tuned to the current text at no bookkeeping cost.
    if (shard.entries.size() >= kEntriesPerShard) shard.entries.clear();
    shard.entries.try_emplace(std::string(piece), ids.begin(), ids.end());
  }

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kEntriesPerShard = 8192;
  struct Shard {
    std::mutex mutex;
    StringMap<std::vector<int32_t>> entries;
  };
  Shard& shard_for(std::string_view piece) { return shards_[StringHash{}(piece) % kShards]; }

  std::array<Shard, kShards> shards_;
};

BpeModel::BpeModel() : cache_(std::make_unique<PieceCache>()) {
  byte_ids_.fill(kNone);
  fallback_ids_.fill(kNone);
}
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;
BpeModel::~BpeModel() = default;

BpeModel BpeModel::from_json(const nlohmann::json& node, bool byte_level, const ConfigField& field) {
  if (!node.is_object()) fail(field, "expected an object");
  // Files written by old versions of tokenizers have no type; theirs is BPE when there are merges.
  const std::string type =
      node.contains("type") ? node["type"].get<std::string>() : (node.contains("merges") ? "BPE" : "?");
  if (type != "BPE") fail(field / "type", "unsupported model type '" + type + "' (rbench supports BPE)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (node.contains(key) && node[key].is_string() && !node[key].get<std::string>().empty()) {
      fail(field / key, "is not supported");
    }
  }
  if (node.contains("dropout") && node["dropout"].is_number() && node["dropout"].get<double>() > 0.0) {
    fail(field / "dropout", "BPE dropout is not supported");
  }

  BpeModel model;
  model.byte_level_ = byte_level;
  model.ignore_merges_ = node.value("ignore_merges", false);
  model.byte_fallback_ = node.value("byte_fallback", false);
  model.fuse_unknown_ = node.value("fuse_unk", false);
  if (!node.contains("vocab") || !node["vocab"].is_object()) fail(field / "vocab", "expected an object");
  model.read_vocabulary(node["vocab"], field / "vocab");
  if (!node.contains("merges") || !node["merges"].is_array()) fail(field / "merges", "expected an array");
  model.read_merges(node["merges"], node["vocab"], field / "merges");

  if (node.contains("unk_token") && node["unk_token"].is_string()) {
    const std::string unknown = node["unk_token"].get<std::string>();
    model.unknown_id_ = model.token_id(unknown);
    if (!model.unknown_id_) fail(field / "unk_token", "'" + unknown + "' is not in the vocabulary");
  }
  for (int byte = 0; byte < 256; ++byte) {
    if (byte_level) model.byte_ids_[byte] = model.piece_id(std::string(1, static_cast<char>(byte))).value_or(kNone);
    model.fallback_ids_[byte] = model.token_id(fallback_spelling(byte)).value_or(kNone);
  }
  return model;
}

void BpeModel::read_vocabulary(const nlohmann::json& vocab, const ConfigField& field) {
  piece_ids_.reserve(vocab.size());
  for (const auto& [spelling, id_value] : vocab.items()) {
    if (!id_value.is_number_integer() || id_value.get<int64_t>() < 0) fail(field / spelling, "expected an id");
    const auto id = id_value.get<int32_t>();
    size_ = std::max(size_, static_cast<size_t>(id) + 1);
    if (!byte_level_) {
      piece_ids_.emplace(spelling, id);
    } else if (std::optional<std::string> bytes = byte_level_to_bytes(spelling)) {
      piece_ids_.emplace(std::move(*bytes), id);
    } else {
      unconvertible_ids_.emplace(spelling, id);
    }
  }
}

void BpeModel::read_merges(const nlohmann::json& merges, const nlohmann::json& vocab, const ConfigField& field) {
  // Merges name tokens by their spelling: a map over the file's own strings avoids converting each one.
  std::unordered_map<std::string_view, int32_t> spelled_ids;
  spelled_ids.reserve(vocab.size());
  for (const auto& [spelling, id] : vocab.items()) spelled_ids.emplace(spelling, id.get<int32_t>());
  const auto id_of = [&](std::string_view spelling, size_t index) {
    const auto found = spelled_ids.find(spelling);
    if (found == spelled_ids.end()) fail(field[index], "'" + std::string(spelling) + "' is not in model.vocab");
    return static_cast<uint32_t>(found->second);
  };
  merges_.reserve(merges.size());
  std::string merged;
  for (size_t index = 0; index < merges.size(); ++index) {
    const auto [left, right] = merge_halves(merges[index], field[index]);
    merged.assign(left).append(right);
    const uint64_t pair = static_cast<uint64_t>(id_of(left, index)) << 32 | id_of(right, index);
    // A repeated pair keeps its last rank, as in Hugging Face's map built from the list.
    merges_[pair] = Merge{static_cast<int32_t>(index), static_cast<int32_t>(id_of(merged, index))};
  }
}

std::optional<int32_t> BpeModel::piece_id(std::string_view piece) const {
  const auto entry = piece_ids_.find(piece);
  if (entry == piece_ids_.end()) return std::nullopt;
  return entry->second;
}

std::optional<int32_t> BpeModel::token_id(std::string_view spelling) const {
  if (!byte_level_) return piece_id(spelling);
  if (const std::optional<std::string> bytes = byte_level_to_bytes(spelling)) return piece_id(*bytes);
  const auto entry = unconvertible_ids_.find(spelling);
  if (entry == unconvertible_ids_.end()) return std::nullopt;
  return entry->second;
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
  const auto entry = merges_.find(static_cast<uint64_t>(left) << 32 | static_cast<uint32_t>(right));
  return entry == merges_.end() ? nullptr : &entry->second;
}

// The symbols BPE starts from: bytes (byte-level) or characters, with Hugging Face's handling of the
// ones outside the vocabulary: "<0xXX>" tokens when byte_fallback is on, else the unknown token
// (consecutive ones fused when fuse_unk is on), else nothing.
void BpeModel::initial_symbols(std::string_view piece, std::vector<int32_t>& symbols) const {
  std::optional<int32_t> pending_unknown;
  size_t position = 0;
  while (position < piece.size()) {
    const size_t length =
        byte_level_ ? 1
                    : std::min(utf8_char_length(static_cast<unsigned char>(piece[position])), piece.size() - position);
    const std::string_view character = piece.substr(position, length);
    position += length;
    const int32_t id =
        byte_level_ ? byte_ids_[static_cast<unsigned char>(character[0])] : piece_id(character).value_or(kNone);
    if (id != kNone) {
      if (pending_unknown) symbols.push_back(*std::exchange(pending_unknown, std::nullopt));
      symbols.push_back(id);
      continue;
    }
    const bool has_fallback = byte_fallback_ && std::all_of(character.begin(), character.end(), [&](char byte) {
                                return fallback_ids_[static_cast<unsigned char>(byte)] != kNone;
                              });
    if (has_fallback) {
      // Hugging Face adds these before any pending unknown token; so does this.
      for (char byte : character) symbols.push_back(fallback_ids_[static_cast<unsigned char>(byte)]);
      continue;
    }
    if (!unknown_id_) continue;
    if (pending_unknown && !fuse_unknown_) symbols.push_back(*pending_unknown);
    pending_unknown = unknown_id_;
  }
  if (pending_unknown) symbols.push_back(*pending_unknown);
}

void BpeModel::merge(std::vector<int32_t>& ids) const {
  if (ids.size() < 2) return;
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> queue;
  const auto count = static_cast<int32_t>(ids.size());
  symbols.resize(ids.size());
  queue.clear();
  for (int32_t i = 0; i < count; ++i) {
    symbols[i] = Symbol{ids[i], i - 1, i + 1 < count ? i + 1 : kNone};
    if (i + 1 < count) {
      if (const Merge* merge = find_merge(ids[i], ids[i + 1])) queue.push_back({merge->rank, i, merge->merged_id});
    }
  }
  std::make_heap(queue.begin(), queue.end(), comes_later);
  const auto push = [&](int32_t position) {
    const Symbol& left = symbols[position];
    if (const Merge* merge = find_merge(left.id, symbols[left.next].id)) {
      queue.push_back({merge->rank, position, merge->merged_id});
      std::push_heap(queue.begin(), queue.end(), comes_later);
    }
  };
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), comes_later);
    const Candidate top = queue.back();
    queue.pop_back();
    Symbol& left = symbols[top.position];
    if (left.id == kNone || left.next == kNone) continue;
    Symbol& right = symbols[left.next];
    // The entry is stale when either symbol has changed since it was queued.
    const Merge* current = find_merge(left.id, right.id);
    if (current == nullptr || current->merged_id != top.merged_id) continue;
    left.id = top.merged_id;
    right.id = kNone;
    left.next = right.next;
    if (left.next != kNone) symbols[left.next].previous = top.position;
    if (left.previous != kNone) push(left.previous);
    if (left.next != kNone) push(top.position);
  }
  ids.clear();
  for (int32_t position = 0; position != kNone; position = symbols[position].next) ids.push_back(symbols[position].id);
}

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& ids) const {
  if (ignore_merges_) {
    if (const std::optional<int32_t> whole = piece_id(piece)) {
      ids.push_back(*whole);
      return;
    }
  }
  const bool cacheable = piece.size() > 1 && piece.size() <= kLongestCachedPiece;
  if (cacheable && cache_->find(piece, ids)) return;
  const size_t first = ids.size();
  thread_local std::vector<int32_t> symbols;
  symbols.clear();
  initial_symbols(piece, symbols);
  merge(symbols);
  ids.insert(ids.end(), symbols.begin(), symbols.end());
  if (cacheable) cache_->store(piece, std::span<const int32_t>(ids).subspan(first));
}

}  // namespace rbench::engine::detail
