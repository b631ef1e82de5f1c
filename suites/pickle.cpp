#include "suites/pickle.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>

#include "common/error.h"

namespace rbench {

namespace {

// Opcodes, named as in Python's Lib/pickle.py.
enum Opcode : unsigned char {
  kProto = 0x80,
  kFrame = 0x95,
  kShortBinUnicode = 0x8c,
  kBinUnicode = 'X',
  kBinUnicode8 = 0x8d,
  kMemoize = 0x94,
  kBinPut = 'q',
  kLongBinPut = 'r',
  kStop = '.',
};

class PickleCursor {
 public:
  explicit PickleCursor(std::string_view bytes) : bytes_(bytes) {}

  bool done() const { return offset_ >= bytes_.size(); }
  size_t offset() const { return offset_; }

  unsigned char byte() { return static_cast<unsigned char>(take(1)[0]); }

  // Little-endian unsigned integer of `size` bytes.
  uint64_t little_endian(size_t size) {
    const std::string_view raw = take(size);
    uint64_t value = 0;
    for (size_t i = size; i-- > 0;) value = (value << 8) | static_cast<unsigned char>(raw[i]);
    return value;
  }

  std::string_view take(uint64_t size) {
    if (size > bytes_.size() - offset_) {
      throw UserError(fmt::format("pickle: truncated: {} bytes needed at offset {}, {} left", size, offset_,
                                  bytes_.size() - offset_));
    }
    const std::string_view part = bytes_.substr(offset_, size);
    offset_ += size;
    return part;
  }

 private:
  std::string_view bytes_;
  size_t offset_ = 0;
};

}  // namespace

std::string unpickle_string(std::string_view pickle) {
  PickleCursor cursor(pickle);
  std::optional<std::string> value;
  const auto push = [&](std::string_view text) {
    if (value) throw UserError("pickle: holds more than one value; expected a single str");
    value = std::string(text);
  };
  while (!cursor.done()) {
    const size_t at = cursor.offset();
    switch (cursor.byte()) {
      case kProto: {
        const unsigned version = cursor.byte();
        if (version < 2 || version > 5) throw UserError(fmt::format("pickle: unsupported protocol {}", version));
        break;
      }
      case kFrame:
        cursor.little_endian(8);  // frames only group opcodes for buffered reading; the stream is the same
        break;
      case kShortBinUnicode:
        push(cursor.take(cursor.byte()));
        break;
      case kBinUnicode:
        push(cursor.take(cursor.little_endian(4)));
        break;
      case kBinUnicode8:
        push(cursor.take(cursor.little_endian(8)));
        break;
      case kMemoize:
        break;  // the memo only matters for references back to a value; a lone str has none
      case kBinPut:
        cursor.byte();
        break;
      case kLongBinPut:
        cursor.little_endian(4);
        break;
      case kStop:
        if (!value) throw UserError("pickle: STOP with no value");
        if (!cursor.done()) throw UserError(fmt::format("pickle: {} bytes after STOP", pickle.size() - at - 1));
        return std::move(*value);
      default:
        throw UserError(fmt::format("pickle: opcode 0x{:02x} at offset {} is not supported (only a pickled str is)",
                                    static_cast<unsigned>(static_cast<unsigned char>(pickle[at])), at));
    }
  }
  throw UserError("pickle: ends without STOP");
}

}  // namespace rbench
