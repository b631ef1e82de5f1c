#pragma once
// `rbench report drilldown`: one self-contained page to browse every sample of one or more runs of a
// suite (prompt, reasoning, answer, extracted answer, gold, verdict, tokens, latency, cost, grading
// details), filter them by verdict, subject (or another problem field) and finish reason, search their
// text, and read two runs side by side on the same items. The page pages through the samples, so a run
// of 10k samples with long traces stays responsive.
#include <string>
#include <vector>

#include "harness/store/store.h"

namespace rbench::html {

struct DrilldownRequest {
  std::vector<std::string> run_ids;  // full run ids, all of one suite; the page opens on the first
  bool side_by_side = false;         // open with the second run beside the first
};

// The page's data as script_json() text: {"samples": [...], "runs": [...], "problems": {id: {gold, metadata}},
// "prompts": [...], "open": {"run", "compare"}, ...}; prompts are kept once and samples refer to them.
// Throws UserError when a run is unknown, the runs are of different suites, or side_by_side has no second run.
std::string drilldown_page_data(const Store& store, const DrilldownRequest& request);

std::string render_drilldown_page(const Store& store, const DrilldownRequest& request);

}  // namespace rbench::html
