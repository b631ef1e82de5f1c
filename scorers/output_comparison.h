#pragma once
// How program outputs are compared and shown.
//
// LiveCodeBench's stdin/stdout comparison (lcb_runner/evaluation/testing_util.py, grade_stdio), done
// exactly: no floating point anywhere.
//   1. Both outputs are stripped, split on "\n", and each line stripped (Python's str.strip: ASCII and
//      Unicode whitespace, so CRLF reads as LF and trailing spaces do not count).
//   2. The line counts must match.
//   3. Line by line: equal text matches; otherwise both lines are split on whitespace and every token
//      of both must read as a Python decimal.Decimal, and the two lists must be equal element by
//      element. Decimal equality is exact: "1.0" == "1", "2.50" == "2.5", "1e2" == "100", "-0" == "0",
//      but 50000000000000000 != 50000000000000001 (no epsilon, unlike np.isclose).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rbench {

// Why two outputs differ, in LiveCodeBench's words; nullopt when they match.
std::optional<std::string> stdout_mismatch(std::string_view actual, std::string_view expected);

// Python's Decimal(a) == Decimal(b); false when either is not a Decimal string. Decimal strings:
// [sign] (digits [. [digits]] | . digits) [(e|E) [sign] digits], "Inf", "Infinity", "NaN" [digits]
// (case-insensitive), with underscores anywhere ignored as CPython's decimal does. NaN equals nothing;
// a signalling NaN ("sNaN"), which makes Python's comparison raise, equals nothing either. Digits are
// ASCII only (Python also reads other Unicode decimal digits) and exponents of more than 17 digits
// are refused.
bool decimal_strings_equal(std::string_view a, std::string_view b);

// `text` made fit for a report: invalid UTF-8 replaced by U+FFFD, and when longer than `max_chars`
// code points, its first and last max_chars/2 joined by "...(truncated) ..." (LiveCodeBench's truncatefn).
std::string display_text(std::string_view text, size_t max_chars = 300);

}  // namespace rbench
