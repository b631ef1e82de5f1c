// The CPU engine against transformers: for every fixture family, logits of every position within
// 1e-4 · max|logit| of the float64 reference, and greedy decoding with the KV cache equal to
// transformers' greedy ids. Then the loading paths (dtypes, shards, tied embeddings, both config
// spellings) and the errors a damaged checkpoint must produce. Fixtures live in
// $RBENCH_SHARED/fixtures/models; the tests skip when they are absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/model/config.h"
#include "engine/model/model.h"
#include "engine/model/safetensors.h"
#include "support/test_support.h"

namespace rbench::engine {
namespace {

namespace fs = std::filesystem;
using cpu::Matrix;
using nlohmann::json;
using testing::TempDir;

fs::path fixture_dir(const std::string& family) { return testing::shared_dir() / "fixtures" / "models" / family; }

#define SKIP_WITHOUT_FIXTURE(family)                       \
  if (!fs::exists(fixture_dir(family) / "reference.json")) \
  GTEST_SKIP() << "fixture " << fixture_dir(family) << " is absent (set RBENCH_SHARED to ../shared)"

struct Reference {
  std::vector<TokenId> input_ids;
  std::vector<std::vector<double>> logits;  // [positions, vocab]
  std::vector<TokenId> prompt_ids;
  std::vector<TokenId> greedy_ids;
};

Reference load_reference(const std::string& family) {
  const json root = json::parse(testing::read_file(fixture_dir(family) / "reference.json"));
  return {root.at("input_ids").get<std::vector<TokenId>>(),
          root.at("logits_fp64").get<std::vector<std::vector<double>>>(),
          root.at("prompt_ids").get<std::vector<TokenId>>(), root.at("greedy_ids").get<std::vector<TokenId>>()};
}

// Logits of every position of tokens, run as one prefill on a fresh cache.
Matrix logits_of(const Model& model, const std::vector<TokenId>& tokens) {
  const auto cache = model.new_cache();
  const SequenceStep step{tokens, cache.get(), true};
  return std::move(model.forward({&step, 1}).front());
}

// max |ours − reference| / max |reference| over every position and vocabulary entry.
double relative_error(const Matrix& ours, const std::vector<std::vector<double>>& reference) {
  double largest = 0;
  double worst = 0;
  for (std::size_t p = 0; p < reference.size(); ++p) {
    for (std::size_t v = 0; v < reference[p].size(); ++v) {
      largest = std::max(largest, std::abs(reference[p][v]));
      worst = std::max(worst, std::abs(static_cast<double>(ours.row(p)[v]) - reference[p][v]));
    }
  }
  return worst / largest;
}

double relative_difference(const Matrix& a, const Matrix& b) {
  double largest = 0;
  double worst = 0;
  for (std::size_t i = 0; i < a.values().size(); ++i) {
    largest = std::max(largest, static_cast<double>(std::abs(b.values()[i])));
    worst = std::max(worst, static_cast<double>(std::abs(a.values()[i] - b.values()[i])));
  }
  return worst / largest;
}

// Prefill the prompt, then decode one token at a time through the KV cache, taking the argmax.
std::vector<TokenId> greedy(const Model& model, const std::vector<TokenId>& prompt, std::size_t count) {
  const auto cache = model.new_cache();
  std::vector<TokenId> generated;
  std::vector<TokenId> next = prompt;
  while (generated.size() < count) {
    const SequenceStep step{next, cache.get(), false};
    const Matrix logits = std::move(model.forward({&step, 1}).front());
    generated.push_back(static_cast<TokenId>(cpu::argmax(logits.row_span(0))));
    next = {generated.back()};
  }
  return generated;
}

// ---- every family against transformers ----

class FixtureModel : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureModel, LogitsOfEveryPositionMatchTransformers) {
  SKIP_WITHOUT_FIXTURE(GetParam());
  const Reference reference = load_reference(GetParam());
  const auto model = Model::load(fixture_dir(GetParam()));
  const Matrix logits = logits_of(*model, reference.input_ids);
  ASSERT_EQ(logits.rows(), reference.logits.size());
  ASSERT_EQ(logits.cols(), reference.logits.front().size());
  const double error = relative_error(logits, reference.logits);
  RecordProperty("max_relative_logit_error", std::to_string(error));
  std::printf("[ %-11s ] max |logit − fp64| / max |fp64| = %.3g\n", GetParam().c_str(), error);
  EXPECT_LT(error, 1e-4);
}

TEST_P(FixtureModel, GreedyDecodingWithTheCacheMatchesTransformers) {
  SKIP_WITHOUT_FIXTURE(GetParam());
  const Reference reference = load_reference(GetParam());
  const auto model = Model::load(fixture_dir(GetParam()));
  EXPECT_EQ(greedy(*model, reference.prompt_ids, reference.greedy_ids.size()), reference.greedy_ids);
}

INSTANTIATE_TEST_SUITE_P(Families, FixtureModel,
                         ::testing::Values("qwen2", "llama3", "qwen2_moe", "qwen3_moe", "mixtral", "olmoe",
                                           "deepseek_v2", "deepseek_v3"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// ---- batching and the cache ----

TEST(EngineModel, ChunkedPrefillEqualsOnePass) {
  SKIP_WITHOUT_FIXTURE("deepseek_v3");
  const Reference reference = load_reference("deepseek_v3");
  const auto model = Model::load(fixture_dir("deepseek_v3"));
  const auto cache = model->new_cache();
  Matrix chunked(reference.input_ids.size(), model->config().vocab_size);
  std::size_t done = 0;
  for (std::size_t chunk : {5, 1, 13, 21}) {
    const std::vector<TokenId> tokens(reference.input_ids.begin() + static_cast<std::ptrdiff_t>(done),
                                      reference.input_ids.begin() + static_cast<std::ptrdiff_t>(done + chunk));
    const SequenceStep step{tokens, cache.get(), true};
    const Matrix logits = std::move(model->forward({&step, 1}).front());
    std::copy(logits.values().begin(), logits.values().end(), chunked.row(done));
    done += chunk;
  }
  ASSERT_EQ(done, reference.input_ids.size());
  EXPECT_EQ(cache->length(), done);
  EXPECT_LT(relative_error(chunked, reference.logits), 1e-4);
}

TEST(EngineModel, BatchedSequencesEqualSeparateRuns) {
  SKIP_WITHOUT_FIXTURE("qwen2_moe");
  const Reference reference = load_reference("qwen2_moe");
  const auto model = Model::load(fixture_dir("qwen2_moe"));
  const std::vector<TokenId> first(reference.input_ids.begin(), reference.input_ids.begin() + 17);
  const std::vector<TokenId> second(reference.input_ids.begin() + 9, reference.input_ids.end());
  const auto first_cache = model->new_cache();
  const auto second_cache = model->new_cache();
  const std::vector<SequenceStep> batch = {{first, first_cache.get(), true}, {second, second_cache.get(), false}};
  const std::vector<Matrix> together = model->forward(batch);
  ASSERT_EQ(together.size(), 2u);
  EXPECT_LT(relative_difference(together[0], logits_of(*model, first)), 1e-5);
  const Matrix second_alone = logits_of(*model, second);
  ASSERT_EQ(together[1].rows(), 1u);
  const std::size_t last = second_alone.rows() - 1;
  for (std::size_t v = 0; v < second_alone.cols(); ++v) {
    EXPECT_NEAR(together[1].row(0)[v], second_alone.row(last)[v], 1e-4f * std::abs(second_alone.row(last)[v]) + 1e-5f);
  }
  EXPECT_EQ(first_cache->length(), first.size());
  EXPECT_EQ(second_cache->length(), second.size());
}

TEST(EngineModel, DumpHookNamesEveryLayersIntermediates) {
  SKIP_WITHOUT_FIXTURE("olmoe");
  const auto model = Model::load(fixture_dir("olmoe"));
  std::map<std::string, int> seen;
  model->set_dump_hook([&](std::string_view name, int layer, const Matrix& tensor) {
    EXPECT_GT(tensor.rows(), 0u);
    seen[std::string(name) + "@" + std::to_string(layer)]++;
  });
  logits_of(*model, {1, 2, 3});
  for (int layer = 0; layer < static_cast<int>(model->config().num_layers); ++layer) {
    for (const char* name : {"attn_norm", "q", "k_rope", "kqv_out", "attn_out", "ffn_moe_logits", "ffn_out", "l_out"}) {
      EXPECT_EQ(seen[std::string(name) + "@" + std::to_string(layer)], 1) << name << " of layer " << layer;
    }
  }
  EXPECT_EQ(seen["result_output@-1"], 1);
}

TEST(EngineModel, TokenOutsideTheVocabularyIsAUserErrorAndLeavesTheCache) {
  SKIP_WITHOUT_FIXTURE("qwen2");
  const auto model = Model::load(fixture_dir("qwen2"));
  const auto cache = model->new_cache();
  const std::vector<TokenId> tokens = {1, 2, 100000};
  const SequenceStep step{tokens, cache.get(), false};
  EXPECT_THROW(model->forward({&step, 1}), UserError);
  EXPECT_EQ(cache->length(), 0u);
}

// ---- checkpoints written in other ways ----

struct OwnedTensor {
  std::string name;
  std::vector<std::size_t> shape;
  std::vector<float> values;
};

std::vector<OwnedTensor> read_tensors(const fs::path& file) {
  const SafetensorsFile source(file);
  std::vector<OwnedTensor> tensors;
  for (const auto& [name, info] : source.tensors()) {
    OwnedTensor tensor{name, info.shape, std::vector<float>(info.element_count())};
    convert_to_f32(info, tensor.values);
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

void write_tensors(const fs::path& file, const std::vector<OwnedTensor>& tensors, const std::string& dtype = "F32") {
  std::vector<TensorToWrite> out;
  for (const OwnedTensor& tensor : tensors) out.push_back({tensor.name, tensor.shape, tensor.values, dtype});
  write_safetensors(file, out);
}

// A copy of a fixture's config (edited) and weights (edited) in dir.
void copy_fixture(const std::string& family, const fs::path& dir, const std::function<void(json&)>& edit_config,
                  const std::function<void(std::vector<OwnedTensor>&)>& edit_tensors,
                  const std::string& dtype = "F32") {
  json config = json::parse(testing::read_file(fixture_dir(family) / "config.json"));
  edit_config(config);
  testing::write_file(dir / "config.json", config.dump(2));
  std::vector<OwnedTensor> tensors = read_tensors(fixture_dir(family) / "model.safetensors");
  edit_tensors(tensors);
  write_tensors(dir / "model.safetensors", tensors, dtype);
}

void no_edit(json&) {}
void keep_tensors(std::vector<OwnedTensor>&) {}

TEST(EngineModel, Bf16AndF16WeightsLoadAsTheirExactValues) {
  SKIP_WITHOUT_FIXTURE("qwen3_moe");
  const std::vector<TokenId> tokens = {7, 300, 42, 42, 9, 511};
  for (const std::string dtype : {"BF16", "F16"}) {
    // The same weights, rounded to dtype, stored once as dtype and once as F32: the engine must
    // read both to identical float32 values, so the logits agree exactly.
    auto round_to_dtype = [&](std::vector<OwnedTensor>& tensors) {
      for (OwnedTensor& t : tensors) {
        for (float& v : t.values) v = dtype == "BF16" ? bf16_to_f32(f32_to_bf16(v)) : f16_to_f32(f32_to_f16(v));
      }
    };
    TempDir narrow;
    copy_fixture("qwen3_moe", narrow.path(), no_edit, round_to_dtype, dtype);
    TempDir wide;
    copy_fixture("qwen3_moe", wide.path(), no_edit, round_to_dtype, "F32");
    EXPECT_EQ(relative_difference(logits_of(*Model::load(narrow.path()), tokens),
                                  logits_of(*Model::load(wide.path()), tokens)),
              0.0)
        << dtype;
  }
}

TEST(EngineModel, LoadsShardsListedInTheIndex) {
  SKIP_WITHOUT_FIXTURE("mixtral");
  const Reference reference = load_reference("mixtral");
  TempDir dir;
  fs::copy_file(fixture_dir("mixtral") / "config.json", dir / "config.json");
  const std::vector<OwnedTensor> tensors = read_tensors(fixture_dir("mixtral") / "model.safetensors");
  const std::size_t half = tensors.size() / 2;
  json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
  std::vector<OwnedTensor> first(tensors.begin(), tensors.begin() + static_cast<std::ptrdiff_t>(half));
  std::vector<OwnedTensor> second(tensors.begin() + static_cast<std::ptrdiff_t>(half), tensors.end());
  for (const auto& t : first) index["weight_map"][t.name] = "model-00001-of-00002.safetensors";
  for (const auto& t : second) index["weight_map"][t.name] = "model-00002-of-00002.safetensors";
  write_tensors(dir / "model-00001-of-00002.safetensors", first);
  write_tensors(dir / "model-00002-of-00002.safetensors", second);
  testing::write_file(dir / "model.safetensors.index.json", index.dump());
  const auto model = Model::load(dir.path());
  EXPECT_LT(relative_error(logits_of(*model, reference.input_ids), reference.logits), 1e-4);
}

TEST(EngineModel, TiedEmbeddingsNeedNoOutputHead) {
  SKIP_WITHOUT_FIXTURE("llama3");
  auto embedding_as_head = [](std::vector<OwnedTensor>& tensors) {
    const auto embedding = std::find_if(tensors.begin(), tensors.end(),
                                        [](const OwnedTensor& t) { return t.name == "model.embed_tokens.weight"; });
    for (OwnedTensor& t : tensors) {
      if (t.name == "lm_head.weight") t.values = embedding->values;
    }
  };
  TempDir untied;
  copy_fixture("llama3", untied.path(), no_edit, embedding_as_head);
  TempDir tied;
  copy_fixture(
      "llama3", tied.path(), [](json& config) { config["tie_word_embeddings"] = true; },
      [](std::vector<OwnedTensor>& tensors) {
        std::erase_if(tensors, [](const OwnedTensor& t) { return t.name == "lm_head.weight"; });
      });
  const std::vector<TokenId> tokens = {3, 14, 15, 92, 65};
  const Matrix expected = logits_of(*Model::load(untied.path()), tokens);
  EXPECT_EQ(relative_difference(logits_of(*Model::load(tied.path()), tokens), expected), 0.0);
}

// ---- config spellings ----

TEST(ModelConfigParsing, RopeParametersAndRopeScalingMeanTheSame) {
  const std::string common =
      R"("model_type": "deepseek_v3", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
         "num_attention_heads": 2, "max_position_embeddings": 512, "kv_lora_rank": 4, "qk_nope_head_dim": 4,
         "qk_rope_head_dim": 4, "v_head_dim": 4, )";
  const std::string scaling =
      R"("rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "beta_fast": 32,
         "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 0.707)";
  const ModelConfig old_spelling =
      parse_model_config("{" + common + R"("rope_theta": 50000.0, "rope_scaling": {)" + scaling + "}}", "old.json");
  const ModelConfig new_spelling =
      parse_model_config("{" + common + R"("rope_parameters": {"rope_theta": 50000.0, )" + scaling + "}}", "new.json");
  for (const ModelConfig* config : {&old_spelling, &new_spelling}) {
    EXPECT_EQ(config->rope.type, RopeConfig::Type::yarn);
    EXPECT_EQ(config->rope.theta, 50000.0);
    EXPECT_EQ(config->rope.factor, 4.0);
    EXPECT_EQ(config->rope.original_max_position_embeddings, 64.0);
    EXPECT_EQ(config->rope.mscale_all_dim, 0.707);
  }
}

TEST(ModelConfigParsing, SparseLayersFollowEachFamilysRule) {
  const ModelConfig deepseek = parse_model_config(
      R"({"model_type": "deepseek_v2", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 6,
          "num_attention_heads": 2, "kv_lora_rank": 4, "qk_nope_head_dim": 4, "qk_rope_head_dim": 4,
          "v_head_dim": 4, "n_routed_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 4,
          "first_k_dense_replace": 2, "moe_layer_freq": 2})",
      "deepseek.json");
  EXPECT_EQ((std::vector<bool>{deepseek.is_moe_layer(0), deepseek.is_moe_layer(1), deepseek.is_moe_layer(2),
                               deepseek.is_moe_layer(3), deepseek.is_moe_layer(4)}),
            (std::vector<bool>{false, false, true, false, true}));
  const ModelConfig qwen = parse_model_config(
      R"({"model_type": "qwen2_moe", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 6,
          "num_attention_heads": 2, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 4,
          "decoder_sparse_step": 2, "mlp_only_layers": [3]})",
      "qwen.json");
  EXPECT_EQ((std::vector<bool>{qwen.is_moe_layer(0), qwen.is_moe_layer(1), qwen.is_moe_layer(3), qwen.is_moe_layer(5)}),
            (std::vector<bool>{false, true, false, true}));
}

// ---- errors that name their cause ----

std::string load_error(const fs::path& dir) {
  try {
    Model::load(dir);
  } catch (const UserError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(EngineModelErrors, MissingTensorNamesTheTensorAndFile) {
  SKIP_WITHOUT_FIXTURE("qwen2");
  TempDir dir;
  copy_fixture("qwen2", dir.path(), no_edit, [](std::vector<OwnedTensor>& tensors) {
    std::erase_if(tensors, [](const OwnedTensor& t) { return t.name == "model.layers.1.mlp.down_proj.weight"; });
  });
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find("'model.layers.1.mlp.down_proj.weight'"), std::string::npos) << message;
  EXPECT_NE(message.find("missing"), std::string::npos) << message;
  EXPECT_NE(message.find((dir / "model.safetensors").string()), std::string::npos) << message;
}

TEST(EngineModelErrors, MisShapedTensorNamesBothShapes) {
  SKIP_WITHOUT_FIXTURE("qwen2");
  TempDir dir;
  copy_fixture("qwen2", dir.path(), no_edit, [](std::vector<OwnedTensor>& tensors) {
    for (OwnedTensor& t : tensors) {
      if (t.name == "model.layers.0.mlp.gate_proj.weight") std::swap(t.shape[0], t.shape[1]);
    }
  });
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find("'model.layers.0.mlp.gate_proj.weight' has shape [64, 128]"), std::string::npos) << message;
  EXPECT_NE(message.find("[128, 64]"), std::string::npos) << message;
}

TEST(EngineModelErrors, TruncatedFileIsReportedWhenOpened) {
  SKIP_WITHOUT_FIXTURE("qwen2");
  TempDir dir;
  fs::copy_file(fixture_dir("qwen2") / "config.json", dir / "config.json");
  const std::string bytes = testing::read_file(fixture_dir("qwen2") / "model.safetensors");
  testing::write_file(dir / "model.safetensors", bytes.substr(0, bytes.size() - 1000));
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find((dir / "model.safetensors").string() + " is truncated"), std::string::npos) << message;

  testing::write_file(dir / "model.safetensors", bytes.substr(0, 5));
  EXPECT_NE(load_error(dir.path()).find("is truncated"), std::string::npos);
}

TEST(EngineModelErrors, UnknownArchitectureNamesTheModelType) {
  SKIP_WITHOUT_FIXTURE("qwen2");
  TempDir dir;
  copy_fixture(
      "qwen2", dir.path(),
      [](json& config) {
        config["model_type"] = "gpt2";
        config["architectures"] = {"GPT2LMHeadModel"};
      },
      keep_tensors);
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find("config.json: field 'model_type' is 'gpt2'"), std::string::npos) << message;
  EXPECT_NE(message.find("GPT2LMHeadModel"), std::string::npos) << message;
}

TEST(EngineModelErrors, UnknownDtypeNamesTheTensorAndDtype) {
  SKIP_WITHOUT_FIXTURE("qwen2");
  TempDir dir;
  copy_fixture("qwen2", dir.path(), no_edit, keep_tensors);
  // Rewrite one header entry's dtype in place: "Q4" padded to the length of "F32" keeps every offset.
  std::string bytes = testing::read_file(dir / "model.safetensors");
  const std::string entry = R"("model.norm.weight":{"data_offsets")";
  const std::size_t at = bytes.find(entry);
  ASSERT_NE(at, std::string::npos);
  const std::size_t dtype_at = bytes.find(R"("dtype":"F32")", at);
  ASSERT_NE(dtype_at, std::string::npos);
  bytes.replace(dtype_at, 13, R"("dtype":"Q4" )");
  testing::write_file(dir / "model.safetensors", bytes);
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find("'model.norm.weight' has dtype 'Q4'"), std::string::npos) << message;
  EXPECT_NE(message.find((dir / "model.safetensors").string()), std::string::npos) << message;
}

TEST(EngineModelErrors, MissingConfigFieldIsNamed) {
  SKIP_WITHOUT_FIXTURE("llama3");
  TempDir dir;
  copy_fixture(
      "llama3", dir.path(), [](json& config) { config.erase("hidden_size"); }, keep_tensors);
  EXPECT_NE(load_error(dir.path()).find("field 'hidden_size' is missing"), std::string::npos);
}

TEST(EngineModelErrors, MissingWeightsAreNamed) {
  SKIP_WITHOUT_FIXTURE("llama3");
  TempDir dir;
  fs::copy_file(fixture_dir("llama3") / "config.json", dir / "config.json");
  EXPECT_NE(load_error(dir.path()).find("holds neither model.safetensors nor model.safetensors.index.json"),
            std::string::npos);
}

}  // namespace
}  // namespace rbench::engine
