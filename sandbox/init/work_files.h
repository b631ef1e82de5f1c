#pragma once
// The caller's input files, written into the work directory before the program starts.
#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace rbench::sandbox::init {

// Paths are relative to `work_dir` (the supervisor checked them); parents are created. Throws.
void write_input_files(const std::string& work_dir, const std::vector<InputFile>& files);

}  // namespace rbench::sandbox::init
