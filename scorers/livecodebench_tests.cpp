#include "scorers/livecodebench_tests.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/cache.h"

namespace rbench {

namespace {

void append_tests(const nlohmann::json& tests, const char* where, std::vector<CodeTest>& out) {
  if (!tests.is_array()) throw UserError(fmt::format("{} is not a list of tests", where));
  for (size_t i = 0; i < tests.size(); ++i) {
    const nlohmann::json& test = tests[i];
    if (!test.is_object() || !test.contains("input") || !test.contains("output") || !test["input"].is_string() ||
        !test["output"].is_string()) {
      throw UserError(fmt::format("{}, test {}: not an {{input, output}} pair of strings", where, i));
    }
    out.push_back(CodeTest{test["input"].get<std::string>(), test["output"].get<std::string>()});
  }
}

nlohmann::json read_private_tests(const nlohmann::json& reference) {
  if (!reference.is_object() || !reference.contains("sha256") || !reference["sha256"].is_string()) {
    throw UserError("private_test_cases must be {\"sha256\": ...}");
  }
  const std::filesystem::path path = test_material_path(reference["sha256"].get<std::string>());
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UserError(
        fmt::format("its private tests are not in {} (the suite's loader writes them there: load the suite again, e.g. "
                    "`rbench suites show livecodebench`, with the same RBENCH_CACHE)",
                    path.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json tests = nlohmann::json::parse(text.str(), nullptr, false);
  if (tests.is_discarded())
    throw UserError(fmt::format("{}: not JSON (delete it and load the suite again)", path.string()));
  return tests;
}

}  // namespace

std::vector<CodeTest> livecodebench_tests(const nlohmann::json& material) {
  if (!material.contains("public_test_cases") && !material.contains("private_test_cases")) {
    throw UserError(
        "it carries no tests: the suite was loaded without livecodebench/code_generation_lite (put its "
        "test3/4/5.jsonl under <data>/livecodebench/code_generation_lite, or let the loader download them from the "
        "Hub)");
  }
  std::vector<CodeTest> tests;
  if (material.contains("public_test_cases")) {
    append_tests(material["public_test_cases"], "public_test_cases", tests);
  }
  if (material.contains("private_test_cases")) {
    append_tests(read_private_tests(material["private_test_cases"]), "the private tests", tests);
  }
  if (tests.empty()) throw UserError("its lists of tests are empty");
  return tests;
}

}  // namespace rbench
