#include "sandbox/languages.h"

#include "common/error.h"

namespace rbench::sandbox {

namespace {

// Debian's interpreter by absolute path: whatever `python3` means on the host's PATH (a pyenv shim
// under /root, say) is not in the sandbox.
constexpr const char* python_interpreter = "/usr/bin/python3";
constexpr const char* cpp_source_name = "main.cpp";
constexpr const char* cpp_binary_name = "main";
// The compiled program leaves the compile sandbox on stdout: each run has a fresh work directory.
constexpr const char* cpp_compile_command = "g++ -O2 -std=gnu++17 -pipe -o main main.cpp && cat main";

// Generous: g++ on a busy two-core machine takes a few seconds and a few hundred megabytes.
Limits compile_limits() {
  Limits limits;
  limits.cpu_seconds = 60;
  limits.wall_seconds = 120;
  limits.memory_mb = 2048;
  limits.max_processes = 64;
  limits.file_size_bytes = int64_t{512} << 20;
  limits.output_bytes = int64_t{256} << 20;  // the binary, on stdout
  limits.work_dir_mb = 1024;
  return limits;
}

std::vector<InputFile> with_extra_files(InputFile main_file, const std::vector<InputFile>& extra_files) {
  std::vector<InputFile> files{std::move(main_file)};
  files.insert(files.end(), extra_files.begin(), extra_files.end());
  return files;
}

ProgramRun run_python(const std::string& source, const std::string& stdin_data, const Limits& limits,
                      const std::vector<InputFile>& extra_files) {
  RunSpec spec;
  spec.argv = {python_interpreter, "main.py"};
  spec.files = with_extra_files({"main.py", source, false}, extra_files);
  spec.stdin_data = stdin_data;
  spec.limits = limits;
  return {run(spec), false};
}

ProgramRun run_cpp(const std::string& source, const std::string& stdin_data, const Limits& limits,
                   const std::vector<InputFile>& extra_files) {
  RunSpec compile;
  compile.argv = {"/bin/sh", "-c", cpp_compile_command};
  compile.files = with_extra_files({cpp_source_name, source, false}, extra_files);
  compile.limits = compile_limits();
  Result compiled = run(compile);
  if (compiled.status != Status::ok) {
    if (compiled.message.empty()) compiled.message = "compilation failed";
    return {std::move(compiled), true};
  }
  RunSpec program;
  program.argv = {std::string("./") + cpp_binary_name};
  program.files = with_extra_files({cpp_binary_name, std::move(compiled.stdout_data), true}, extra_files);
  program.stdin_data = stdin_data;
  program.limits = limits;
  return {run(program), false};
}

}  // namespace

Language parse_language(std::string_view name) {
  if (name == "python" || name == "python3" || name == "py") return Language::python;
  if (name == "cpp" || name == "c++" || name == "cxx") return Language::cpp;
  throw UserError("unknown language '" + std::string(name) + "' (known: python, python3, py, cpp, c++, cxx)");
}

const char* language_name(Language language) { return language == Language::python ? "python" : "cpp"; }

ProgramRun run_source(Language language, const std::string& source, const std::string& stdin_data,
                      const Limits& limits, const std::vector<InputFile>& extra_files) {
  return language == Language::python ? run_python(source, stdin_data, limits, extra_files)
                                      : run_cpp(source, stdin_data, limits, extra_files);
}

}  // namespace rbench::sandbox
