#include <gtest/gtest.h>

#include "common/error.h"
#include "harness/pricing.h"
#include "support/test_support.h"

namespace rbench {
namespace {

TEST(PriceTable, HasTheDatedListPrices) {
  const PriceTable table = PriceTable::builtin();
  const auto reasoner = table.find("deepseek-reasoner");
  ASSERT_TRUE(reasoner);
  EXPECT_DOUBLE_EQ(reasoner->input, 0.55);
  EXPECT_DOUBLE_EQ(reasoner->cached_input, 0.14);
  EXPECT_DOUBLE_EQ(reasoner->output, 2.19);
  EXPECT_FALSE(reasoner->date.empty());
  const auto o1 = table.find("o1");
  ASSERT_TRUE(o1);
  EXPECT_DOUBLE_EQ(o1->output, 60.0);
}

TEST(PriceTable, MatchesDatedModelNamesByLongestPrefix) {
  const PriceTable table = PriceTable::builtin();
  EXPECT_DOUBLE_EQ(table.find("o1-2024-12-17")->output, 60.0);
  EXPECT_DOUBLE_EQ(table.find("o1-mini-2024-09-12")->output, 4.40);
  EXPECT_FALSE(table.find("o10"));
  EXPECT_FALSE(table.find("llama-3-8b"));
}

TEST(PriceTable, LoadsAndOverridesFromAFile) {
  testing::TempDir dir;
  testing::write_file(dir / "prices.json", R"({"date": "2026-11-01", "models": {
      "my-model": {"input": 1, "cached_input": 0.25, "output": 4},
      "o1": {"input": 10, "cached_input": 5, "output": 40, "date": "2026-06-01"}}})");
  PriceTable table = PriceTable::builtin();
  table.load_file(dir / "prices.json");
  EXPECT_EQ(table.find("my-model")->date, "2026-11-01");
  EXPECT_DOUBLE_EQ(table.find("o1")->output, 40.0);
  EXPECT_EQ(table.find("o1")->date, "2026-06-01");
}

TEST(PriceTable, NamesTheFileAndFieldOfABadEntry) {
  testing::TempDir dir;
  const auto path = dir / "prices.json";
  const auto error_for = [&](const std::string& text) -> std::string {
    testing::write_file(path, text);
    PriceTable table;
    try {
      table.load_file(path);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_for("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_for("{\"models\": []}").find("'models' object"), std::string::npos);
  EXPECT_NE(error_for(R"({"models": {"m": {"input": 1, "cached_input": 1}}})").find("models.m.output"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"models": {"m": {"input": -1, "cached_input": 1, "output": 1}}})").find("models.m.input"),
            std::string::npos);
}

TEST(Cost, ChargesCachedInputAtTheCachedRate) {
  const Price price{0.55, 0.14, 2.19, "2025-01-20"};
  TokenUsage usage;
  usage.input = 1'000'000;
  usage.cached_input = 400'000;
  usage.output = 2'000'000;
  // 0.6 M * 0.55 + 0.4 M * 0.14 + 2 M * 2.19
  EXPECT_NEAR(cost_usd(price, usage), 0.33 + 0.056 + 4.38, 1e-12);
  EXPECT_NEAR(gpu_cost_usd(1800, 2.5), 1.25, 1e-12);
}

}  // namespace
}  // namespace rbench
