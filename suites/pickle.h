#pragma once
// Just enough of Python's pickle format to read what `pickle.dumps(some_str)` writes, protocols 2-5.
// LiveCodeBench publishes its private tests as base64(zlib(pickle(json_string))); this reads the pickle.
// It interprets no other object kinds, so a hostile pickle cannot run anything: it is rejected.
#include <string>
#include <string_view>

namespace rbench {

// The str held by a pickle, as UTF-8 bytes. Understands PROTO, FRAME, SHORT_BINUNICODE, BINUNICODE,
// BINUNICODE8, MEMOIZE, BINPUT, LONG_BINPUT and STOP. Throws UserError for anything else, for
// truncated input, and unless the pickle holds exactly one string.
std::string unpickle_string(std::string_view pickle);

}  // namespace rbench
