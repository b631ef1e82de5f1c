#include "scorers/patch.h"

#include <fmt/format.h>
#include <linux/close_range.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>

#include "common/error.h"

namespace rbench::swebench {

namespace fs = std::filesystem;

namespace {

struct Block {
  std::string_view label;
  std::string_view body;
};

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// <label>body</label>, as SWE-bench's `<([\w-]+)>(.*?)</\1>` finds them (non-overlapping, left to right).
std::vector<Block> tagged_blocks(std::string_view text) {
  std::vector<Block> blocks;
  size_t at = 0;
  while ((at = text.find('<', at)) != std::string_view::npos) {
    size_t end = at + 1;
    while (end < text.size() && (is_word_char(text[end]) || text[end] == '-')) ++end;
    const std::string_view label = text.substr(at + 1, end - at - 1);
    const size_t close = label.empty() || end >= text.size() || text[end] != '>'
                             ? std::string_view::npos
                             : text.find(fmt::format("</{}>", label), end + 1);
    if (close == std::string_view::npos) {
      ++at;
      continue;
    }
    blocks.push_back({label, text.substr(end + 1, close - end - 1)});
    at = close + label.size() + 3;
  }
  return blocks;
}

// ```label\nbody```, as SWE-bench's "```(\w+)?\n(.*?)```" finds them.
std::vector<Block> fenced_blocks(std::string_view text) {
  std::vector<Block> blocks;
  size_t at = 0;
  while ((at = text.find("```", at)) != std::string_view::npos) {
    size_t end = at + 3;
    while (end < text.size() && is_word_char(text[end])) ++end;
    const size_t close = end < text.size() && text[end] == '\n' ? text.find("```", end + 1) : std::string_view::npos;
    if (close == std::string_view::npos) {
      ++at;
      continue;
    }
    blocks.push_back({text.substr(at + 3, end - at - 3), text.substr(end + 1, close - end - 1)});
    at = close + 3;
  }
  return blocks;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// Where a diff begins in free text: a "diff --git" line, or a "--- " line followed by "+++ ".
std::optional<size_t> first_file_header(std::string_view text) {
  const auto lines = lines_of(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const bool git_header = lines[i].starts_with("diff --git ");
    const bool unified_header =
        lines[i].starts_with("--- ") && i + 1 < lines.size() && lines[i + 1].starts_with("+++ ");
    if (git_header || unified_header) return static_cast<size_t>(lines[i].data() - text.data());
  }
  return std::nullopt;
}

bool is_diff_label(std::string_view label) { return label == "diff" || label == "patch"; }

// A hunk header "@@ -12,5 +12,7 @@": how many old and new lines its body holds (a missing count is 1).
std::optional<std::pair<long, long>> hunk_counts(std::string_view line) {
  if (!line.starts_with("@@ -")) return std::nullopt;
  const char* cursor = line.data() + 4;
  const char* end = line.data() + line.size();
  const auto number = [&](long fallback) {
    if (cursor >= end || *cursor != ',') return fallback;
    char* stop = nullptr;
    const long value = std::strtol(cursor + 1, &stop, 10);
    cursor = stop;
    return value;
  };
  char* stop = nullptr;
  std::strtol(cursor, &stop, 10);
  if (stop == cursor) return std::nullopt;
  cursor = stop;
  const long old_count = number(1);
  if (end - cursor < 2 || cursor[0] != ' ' || cursor[1] != '+') return std::nullopt;
  cursor += 2;
  std::strtol(cursor, &stop, 10);
  if (stop == cursor) return std::nullopt;
  cursor = stop;
  const long new_count = number(1);
  return std::pair{old_count, new_count};
}

// Calls `visit` with every line that is not inside a hunk body; bodies are skipped by their counts
// (an empty line counts as context, as GNU patch reads it).
void for_each_header_line(std::string_view patch, const std::function<void(std::string_view)>& visit) {
  long old_left = 0;
  long new_left = 0;
  for (const auto line : lines_of(patch)) {
    if (old_left > 0 || new_left > 0) {
      const char kind = line.empty() ? ' ' : line[0];
      if (kind == ' ') {
        --old_left;
        --new_left;
        continue;
      }
      if (kind == '-') {
        --old_left;
        continue;
      }
      if (kind == '+') {
        --new_left;
        continue;
      }
      if (kind == '\\') continue;  // "\ No newline at end of file"
      old_left = new_left = 0;     // a short hunk: this line is outside it
    }
    if (const auto counts = hunk_counts(line)) {
      std::tie(old_left, new_left) = *counts;
      continue;
    }
    visit(line);
  }
}

// A path as git writes it: C-quoted ("a/tab\there") when it holds special characters.
std::string unquote(std::string_view text, size_t* consumed = nullptr) {
  if (!text.starts_with('"')) {
    if (consumed) *consumed = text.size();
    return std::string(text);
  }
  std::string out;
  size_t i = 1;
  for (; i < text.size() && text[i] != '"'; ++i) {
    if (text[i] != '\\' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    const char escaped = text[++i];
    if (escaped >= '0' && escaped <= '7') {
      int value = 0;
      for (int digits = 0; digits < 3 && i < text.size() && text[i] >= '0' && text[i] <= '7'; ++digits, ++i) {
        value = value * 8 + (text[i] - '0');
      }
      --i;
      out += static_cast<char>(value);
      continue;
    }
    static const std::map<char, char> escapes{{'a', '\a'}, {'b', '\b'}, {'t', '\t'}, {'n', '\n'},
                                              {'v', '\v'}, {'f', '\f'}, {'r', '\r'}};
    const auto found = escapes.find(escaped);
    out += found == escapes.end() ? escaped : found->second;
  }
  if (consumed) *consumed = std::min(i + 1, text.size());
  return out;
}

// The name on a "--- name\tdate" or "+++ name" line.
std::string header_name(std::string_view rest) {
  if (rest.starts_with('"')) return unquote(rest);
  rest = rest.substr(0, rest.find('\t'));
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) rest.remove_suffix(1);
  return std::string(rest);
}

// The two names of "diff --git a/x b/y". Unquoted names with spaces are ambiguous; the split that gives
// the same name twice wins, else the first " b/".
std::pair<std::string, std::string> git_header_names(std::string_view rest) {
  if (rest.starts_with('"')) {
    size_t consumed = 0;
    std::string first = unquote(rest, &consumed);
    std::string_view second = rest.substr(consumed);
    while (second.starts_with(' ')) second.remove_prefix(1);
    return {first, unquote(second)};
  }
  if (const size_t quoted = rest.find(" \""); quoted != std::string_view::npos) {
    return {std::string(rest.substr(0, quoted)), unquote(rest.substr(quoted + 1))};
  }
  size_t split = rest.find(" b/");
  for (size_t at = split; at != std::string_view::npos; at = rest.find(" b/", at + 1)) {
    if (rest.substr(0, at).substr(std::min<size_t>(2, at)) == rest.substr(at + 3)) {
      split = at;
      break;
    }
  }
  if (split == std::string_view::npos) return {std::string(rest), ""};
  return {std::string(rest.substr(0, split)), std::string(rest.substr(split + 1))};
}

// -p1: "a/src/x.py" -> "src/x.py"; "/dev/null" -> "".
std::string strip_first_component(const std::string& name) {
  if (name == "/dev/null") return "";
  const size_t slash = name.find('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

std::optional<std::string_view> after(std::string_view line, std::string_view prefix) {
  if (!line.starts_with(prefix)) return std::nullopt;
  return line.substr(prefix.size());
}

// Every file name a header line gives, as written (before -p1): what git apply or GNU patch may use.
std::vector<std::string> header_line_names(std::string_view line) {
  if (const auto rest = after(line, "diff --git ")) {
    auto [first, second] = git_header_names(*rest);
    return {first, second};
  }
  for (const std::string_view prefix : {"--- ", "+++ ", "*** ", "Index: "}) {
    if (const auto rest = after(line, prefix)) return {header_name(*rest)};
  }
  for (const std::string_view prefix : {"rename from ", "rename to ", "copy from ", "copy to "}) {
    if (const auto rest = after(line, prefix)) return {unquote(*rest)};
  }
  return {};
}

std::optional<std::string> unsafe_name_reason(const std::string& name) {
  if (name == "/dev/null") return std::nullopt;
  if (name.starts_with('/')) return fmt::format("the patch names the absolute path '{}'", name);
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const std::string_view component = std::string_view(name).substr(start, end - start);
    if (component == "..") return fmt::format("the patch path '{}' climbs out of the repository with '..'", name);
    if (component == ".git") return fmt::format("the patch path '{}' reaches into .git", name);
    start = end + 1;
  }
  return std::nullopt;
}

// A git mode line giving a file the symbolic-link type: "new file mode 120000", "new mode 120000", or the
// mode on an "index abc..def 120000" line. Git reads modes as octal numbers, so "0120000" counts too.
bool creates_symlink(std::string_view line) {
  std::string_view mode;
  for (const std::string_view prefix : {"new file mode ", "new mode "}) {
    if (line.starts_with(prefix)) mode = line.substr(prefix.size());
  }
  if (line.starts_with("index ")) {
    const size_t space = line.find(' ', 6);
    if (space != std::string_view::npos) mode = line.substr(space + 1);
  }
  if (mode.empty()) return false;
  const std::string digits(mode);
  return (std::strtoul(digits.c_str(), nullptr, 8) & 0170000) == 0120000;
}

// The first symbolic link met walking `relative` down from `root` (the last component included).
std::optional<fs::path> symlink_on_path(const fs::path& root, const std::string& relative) {
  fs::path walked = root;
  for (const auto& component : fs::path(relative)) {
    walked /= component;
    std::error_code error;
    const auto status = fs::symlink_status(walked, error);
    if (error || !fs::exists(status)) return std::nullopt;
    if (fs::is_symlink(status)) return walked;
  }
  return std::nullopt;
}

// Symbolic links under a checkout (outside .git), with their targets.
std::map<fs::path, fs::path> symlinks_in(const fs::path& checkout) {
  std::map<fs::path, fs::path> links;
  for (auto it = fs::recursive_directory_iterator(checkout); it != fs::recursive_directory_iterator(); ++it) {
    if (it.depth() == 0 && it->path().filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_symlink()) links[it->path().lexically_relative(checkout)] = fs::read_symlink(it->path());
  }
  return links;
}

// A patch written to a private temporary file, outside the checkout (so resetting the checkout between
// attempts keeps it), removed when done.
class PatchFile {
 public:
  explicit PatchFile(const std::string& patch) {
    std::string name = (fs::temp_directory_path() / "rbench-patch-XXXXXX").string();
    const int fd = ::mkstemp(name.data());
    if (fd < 0)
      throw std::runtime_error("cannot create a temporary patch file in " + fs::temp_directory_path().string());
    ::close(fd);
    path_ = name;
    std::ofstream(path_, std::ios::binary) << patch;
  }
  ~PatchFile() {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
  PatchFile(const PatchFile&) = delete;
  PatchFile& operator=(const PatchFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// Runs in the forked child before execve: only descriptors 0-2 reach the tool, so it cannot hold open
// another sample's pipes (the sandbox's among them) from other threads.
struct CloseOtherDescriptors : boost::process::extend::handler {
  template <class Executor>
  void on_exec_setup(Executor&) const {
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) ::_exit(126);
  }
};

std::string command_line(const std::vector<std::string>& argv) {
  std::string line = "$";
  for (const auto& arg : argv) line += " " + arg;
  return line;
}

}  // namespace

std::optional<std::string> extract_patch(std::string_view response) {
  std::vector<std::string_view> candidates;
  const auto tags = tagged_blocks(response);
  const auto fences = fenced_blocks(response);
  for (const bool diff_labelled : {true, false}) {
    for (const auto& blocks : {tags, fences}) {
      for (const auto& block : blocks) {
        if (is_diff_label(block.label) == diff_labelled) candidates.push_back(block.body);
      }
    }
  }
  if (const auto start = first_file_header(response)) candidates.push_back(response.substr(*start));
  for (const auto candidate : candidates) {
    const auto start = first_file_header(candidate);
    if (!start) continue;
    std::string patch(candidate.substr(*start));
    if (!patch.ends_with('\n')) patch += '\n';
    return patch;
  }
  return std::nullopt;
}

std::vector<PatchedFile> patched_files(std::string_view patch) {
  std::vector<PatchedFile> files;
  bool in_git_header = false;  // after "diff --git", before its "+++" or first hunk
  for_each_header_line(patch, [&](std::string_view line) {
    if (const auto rest = after(line, "diff --git ")) {
      const auto [first, second] = git_header_names(*rest);
      files.push_back({strip_first_component(first), strip_first_component(second)});
      in_git_header = true;
      return;
    }
    if (const auto rest = after(line, "--- ")) {
      const std::string name = strip_first_component(header_name(*rest));
      if (in_git_header) {
        files.back().old_path = name;
      } else {
        files.push_back({name, ""});
      }
      return;
    }
    if (files.empty()) return;
    if (const auto rest = after(line, "+++ ")) {
      files.back().new_path = strip_first_component(header_name(*rest));
      in_git_header = false;
    } else if (!in_git_header) {
      return;
    } else if (line.starts_with("new file mode")) {
      files.back().old_path.clear();
    } else if (line.starts_with("deleted file mode")) {
      files.back().new_path.clear();
    } else if (const auto from = after(line, "rename from ")) {
      files.back().old_path = unquote(*from);
    } else if (const auto to = after(line, "rename to ")) {
      files.back().new_path = unquote(*to);
    } else if (const auto copy_from = after(line, "copy from ")) {
      files.back().old_path = unquote(*copy_from);
    } else if (const auto copy_to = after(line, "copy to ")) {
      files.back().new_path = unquote(*copy_to);
    }
  });
  return files;
}

std::optional<std::string> unsafe_patch_reason(std::string_view patch, const fs::path& checkout) {
  std::optional<std::string> reason;
  for_each_header_line(patch, [&](std::string_view line) {
    if (reason) return;
    if (creates_symlink(line)) {
      reason = "the patch creates a symbolic link";
      return;
    }
    for (const auto& name : header_line_names(line)) {
      if ((reason = unsafe_name_reason(name))) return;
      // GNU patch and git may take the name as written or with its first component stripped.
      for (const auto& relative : {name, strip_first_component(name)}) {
        if (relative.empty() || relative.starts_with('/')) continue;
        if (const auto link = symlink_on_path(checkout, relative)) {
          reason = fmt::format("the patch path '{}' passes through the symbolic link {}", name, link->string());
          return;
        }
      }
    }
  });
  return reason;
}

PatchApplication apply_untrusted_patch(const fs::path& checkout, const std::string& patch) {
  using Outcome = PatchApplication::Outcome;
  if (auto reason = unsafe_patch_reason(patch, checkout)) return {Outcome::refused, "", std::move(*reason)};
  const auto links_before = symlinks_in(checkout);
  const PatchFile file(patch);
  const std::vector<std::pair<std::string, std::vector<std::string>>> attempts{
      {"git apply", {"git", "apply", "--verbose", file.path()}},
      {"git apply --3way", {"git", "apply", "--verbose", "--3way", file.path()}},
      {"git apply --reject", {"git", "apply", "--verbose", "--reject", file.path()}},
      {"patch --fuzz=5", {"patch", "--batch", "--forward", "--fuzz=5", "-p1", "-i", file.path()}}};
  PatchApplication application;
  for (const auto& [method, argv] : attempts) {
    const ToolRun run = run_tool(argv, checkout);
    application.log += command_line(argv) + "\n" + run.output;
    if (run.exit_code == 0) {
      application = {Outcome::applied, method, std::move(application.log)};
      break;
    }
    run_tool({"git", "checkout", "--", "."}, checkout);
    run_tool({"git", "clean", "-fdq"}, checkout);
  }
  if (application.outcome != Outcome::applied &&
      run_tool({"git", "apply", "--check", "--reverse", file.path()}, checkout).exit_code == 0) {
    application.outcome = Outcome::applied;
    application.method = "already applied";
  }
  if (symlinks_in(checkout) != links_before) {
    return {Outcome::refused, "", "applying the patch created or changed a symbolic link"};
  }
  return application;
}

std::optional<std::string> apply_trusted_patch(const fs::path& checkout, const std::string& patch) {
  const PatchFile file(patch);
  const ToolRun run = run_tool({"git", "apply", "--verbose", file.path()}, checkout);
  if (run.exit_code == 0) return std::nullopt;
  return run.output;
}

ToolRun run_tool(const std::vector<std::string>& argv, const fs::path& directory) {
  namespace bp = boost::process;
  const auto program = bp::search_path(argv.at(0));
  if (program.empty()) throw UserError(fmt::format("'{}' is not installed; SWE-bench grading needs it", argv[0]));
  bp::environment environment;
  for (const char* name : {"PATH", "HOME"}) {
    if (const char* value = std::getenv(name)) environment[name] = value;
  }
  environment["LC_ALL"] = "C";
  // Only the repository's own configuration counts, and no hook runs.
  environment["GIT_CONFIG_NOSYSTEM"] = "1";
  environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
  environment["GIT_CONFIG_COUNT"] = "1";
  environment["GIT_CONFIG_KEY_0"] = "core.hooksPath";
  environment["GIT_CONFIG_VALUE_0"] = "/dev/null";
  environment["GIT_TERMINAL_PROMPT"] = "0";
  bp::ipstream output;
  // clang-format would read the redirections as template brackets.
  // clang-format off
  bp::child child(program, bp::args(std::vector<std::string>(argv.begin() + 1, argv.end())),
                  bp::start_dir(directory.string()), environment, bp::std_in < bp::null,
                  (bp::std_out & bp::std_err) > output, CloseOtherDescriptors{});
  // clang-format on
  ToolRun run;
  run.output.assign(std::istreambuf_iterator<char>(output), std::istreambuf_iterator<char>());
  child.wait();
  run.exit_code = child.exit_code();
  return run;
}

}  // namespace rbench::swebench
