#pragma once
// Model-written patches: finding the diff in a response, and applying it to a git checkout on the host.
// A patch is data, never code: it is checked before and after it is applied, so that it cannot write
// outside the checkout (absolute or ".." paths, .git, symbolic links), and only trusted tools (git, GNU
// patch) read it. Nothing here runs the checkout's code; that happens in the sandbox.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rbench::swebench {

// The unified diff a response gives, as SWE-bench's extract_diff finds it: the first <patch>/<diff> block,
// else the first ```diff/```patch fence, else the first other block or fence that holds a diff, else the
// text from the first line that starts a diff ("diff --git", "--- "). Nullopt when there is no file header
// ("--- " followed by "+++ ", or "diff --git") anywhere. The result ends with a newline.
std::optional<std::string> extract_patch(std::string_view response);

struct PatchedFile {
  std::string old_path;  // with a/ removed; "" for a new file
  std::string new_path;  // with b/ removed; "" for a deleted file
};

// The files a unified or git diff touches, in order; hunk bodies are skipped by their line counts.
std::vector<PatchedFile> patched_files(std::string_view patch);

// Why a patch must not touch `checkout`, or nullopt: a path that is absolute, has a ".." or ".git"
// component, or passes through a symbolic link of the checkout; or a symbolic link it would create.
std::optional<std::string> unsafe_patch_reason(std::string_view patch, const std::filesystem::path& checkout);

struct PatchApplication {
  enum class Outcome { applied, failed, refused } outcome = Outcome::failed;
  std::string method;  // what applied it: "git apply", "git apply --3way", "git apply --reject",
                       // "patch --fuzz=5" or "already applied"; "" otherwise
  std::string log;     // what the tools printed, or why the patch was refused
};

// Applies an untrusted patch to a git checkout as the SWE-bench harness does: `git apply`, then `--3way`,
// then `--reject`, then `patch --batch --forward --fuzz=5 -p1`, resetting the checkout (git checkout, git
// clean -fd) between attempts; a patch that none applies but that reverse-applies is "already applied".
// Refused before anything runs when unsafe_patch_reason says so, and after applying when the checkout
// gained or changed a symbolic link (a tool read the patch differently than the check did).
PatchApplication apply_untrusted_patch(const std::filesystem::path& checkout, const std::string& patch);

// A trusted patch (SWE-bench's test patch): plain `git apply`. Empty when it applied, else the tool output.
std::optional<std::string> apply_trusted_patch(const std::filesystem::path& checkout, const std::string& patch);

struct ToolRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a trusted host tool (git, patch, cp) in `directory` with stdin closed, in a small fixed environment:
// the caller's PATH and HOME, LC_ALL=C, and no git configuration but the repository's own. Throws UserError
// when the program is not installed.
ToolRun run_tool(const std::vector<std::string>& argv, const std::filesystem::path& directory);

}  // namespace rbench::swebench
