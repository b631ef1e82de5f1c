#include <fmt/format.h>

#include "common/error.h"
#include "harness/backends/backend.h"
#include "harness/backends/engine_backend.h"
#include "harness/backends/openai_backend.h"
#include "harness/backends/replay_backend.h"

namespace rbench {

std::unique_ptr<Backend> make_backend(const std::string& spec, const BackendOptions& options) {
  const size_t colon = spec.find(':');
  const std::string kind = colon == std::string::npos ? "" : spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "replay" && !rest.empty()) return make_replay_backend(rest);
  if (kind == "openai") {
    const size_t at = rest.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == rest.size()) {
      throw UserError(fmt::format("bad model spec '{}': expected openai:MODEL@URL, e.g. "
                                  "openai:deepseek-reasoner@https://api.deepseek.com/v1",
                                  spec));
    }
    return make_openai_backend(rest.substr(0, at), rest.substr(at + 1), options);
  }
  if (kind == "engine" && !rest.empty()) {
    EngineBackendOptions engine;
    engine.device = options.engine_device;
    return make_engine_backend(rest, engine);
  }
  throw UserError(fmt::format("unknown model spec '{}': expected openai:MODEL@URL, replay:FILE.jsonl or engine:DIR", spec));
}

}  // namespace rbench
