// `rbench sandbox run`: one program through the sandbox, its result as one JSON object on stdout.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "harness/cli/commands.h"
#include "sandbox/languages.h"
#include "sandbox/sandbox.h"

namespace rbench::cli {

namespace {

std::string read_input_file(const std::string& path, const char* option) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw UserError(fmt::format("{} {}: {}", option, path,
                                std::filesystem::exists(path, error) ? "not a regular file" : "no such file"));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in.good() && !in.eof()) {
    throw UserError(fmt::format("{} {}: cannot read: {}", option, path, std::strerror(errno)));
  }
  return content.str();
}

// The keys in DESIGN.md's order, then the extras.
nlohmann::ordered_json result_json(const sandbox::ProgramRun& program) {
  const sandbox::Result& result = program.result;
  nlohmann::ordered_json out = {{"status", sandbox::status_name(result.status)},
                        {"exit_code", result.exit_code},
                        {"stdout", result.stdout_data},
                        {"stderr", result.stderr_data},
                        {"wall_ms", result.wall_ms},
                        {"cpu_ms", result.cpu_ms},
                        {"max_rss_kb", result.max_rss_kb},
                        {"signal", result.signal},
                        {"stdout_truncated", result.stdout_truncated},
                        {"stderr_truncated", result.stderr_truncated},
                        {"compile_error", program.compile_error}};
  if (!result.message.empty()) out["message"] = result.message;
  return out;
}

}  // namespace

int sandbox_run(const SandboxCommand& command) {
  const sandbox::Language language = sandbox::parse_language(command.language);
  const std::string source = read_input_file(command.file, "--file");
  const std::string stdin_data = command.stdin_file.empty() ? "" : read_input_file(command.stdin_file, "--stdin");
  sandbox::Limits limits;
  limits.cpu_seconds = command.time_limit_s;
  limits.wall_seconds = 2 * command.time_limit_s + 1;  // sleeping or blocked programs end too
  limits.memory_mb = command.memory_limit_mb;
  if (command.unsafe_no_sandbox) {
    fmt::print(stderr,
               "rbench: WARNING: --unsafe-no-sandbox: the program runs WITHOUT isolation; it can read and write "
               "your files, use the network and see your processes. Only limits apply.\n");
    sandbox::set_unsafe_no_sandbox(true);
  }
  const sandbox::ProgramRun program = sandbox::run_source(language, source, stdin_data, limits);
  // Program output need not be UTF-8: invalid bytes become U+FFFD rather than failing the command.
  std::cout << result_json(program).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  if (program.result.status == sandbox::Status::setup_error) {
    fmt::print(stderr, "rbench: sandbox run failed: {}\n", program.result.message);
    return 1;
  }
  return 0;
}

}  // namespace rbench::cli
