#pragma once
// Running a source program in a language: the interpreter or compiler to use, the compile step, the
// run step, each inside the sandbox.
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/sandbox.h"

namespace rbench::sandbox {

enum class Language { python, cpp };

// "python", "python3", "py" -> python; "cpp", "c++", "cxx" -> cpp. Throws UserError naming the known ones.
Language parse_language(std::string_view name);
const char* language_name(Language language);

struct ProgramRun {
  Result result;             // of the run step (or of the compile step when compiling failed)
  bool compile_error = false;
};

// Compiles (C++) then runs `source` under the sandbox with `stdin_data`, plus any extra files next to
// the source (e.g. a test harness). Compilation has its own generous limits; `limits` apply to the run.
// The source is main.py, run by /usr/bin/python3, or main.cpp, built by g++ -O2 -std=gnu++17 into
// ./main; the work directory is the current directory.
ProgramRun run_source(Language language, const std::string& source, const std::string& stdin_data,
                      const Limits& limits, const std::vector<InputFile>& extra_files = {});

}  // namespace rbench::sandbox
