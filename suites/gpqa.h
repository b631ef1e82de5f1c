#pragma once
// GPQA Diamond, read from the authors' password-protected dataset.zip. The archive is decrypted in
// memory (libzip, traditional PKWARE encryption) and its CSV parsed from memory: the plain text never
// touches the disk, as the authors ask. The choices stay out of Problem::metadata for the same reason
// (the store saves metadata); only rendered prompts carry them.
//
// The password is RBENCH_GPQA_PASSWORD if set, else the one published in the GPQA README.
#include <array>
#include <filesystem>
#include <string>
#include <string_view>

namespace rbench {

inline constexpr const char* kGpqaPublishedPassword = "deserted-untie-orchid";

// The order in which sample `sample_index` of problem `problem_id` shows the four choices:
// order[k] is the choice shown as letter k, where choice 0 is the correct answer and 1-3 are
// "Incorrect Answer 1".."3". Fisher-Yates over splitmix64 seeded from SHA-256 of (id, index), so it is
// the same on every platform, and re-grading a stored sample needs only its stored order.
std::array<int, 4> gpqa_choice_order(std::string_view problem_id, int sample_index);

// The bytes of `member` of the encrypted zip at `archive`. Throws UserError for a missing archive or
// member and for a wrong password.
std::string read_encrypted_zip_member(const std::filesystem::path& archive, const std::string& member,
                                      const std::string& password);

}  // namespace rbench
