#pragma once
// A checkpoint directory the engine can run end to end: a fixture model's weights (../shared, linked,
// never copied) plus a byte-level BPE tokenizer written here whose ids fit the fixture's small vocabulary,
// with a ChatML chat template. The model is random, so its text is noise; the pipeline around it is real.
#include <filesystem>

namespace rbench::testing {

// Returns false when the fixture is absent. `family` is a folder of ../shared/fixtures/models.
bool make_tiny_checkpoint(const std::filesystem::path& dir, const std::string& family = "qwen2");

}  // namespace rbench::testing
