// MMLU, 0-shot as in simple-evals (mmlu_eval.py): QUERY_TEMPLATE_MULTICHOICE, graded by the "mc" scorer
// against the gold letter. GPQA, which shares the template but shuffles its choices, is in gpqa.cpp.
#include <fmt/format.h>

#include <map>

#include "suites/data_files.h"
#include "suites/data_suites.h"
#include "suites/jsonl.h"
#include "suites/loaded_suite.h"

namespace rbench {

// The test split as one JSONL: `question`, `A`-`D`, `answer` (a letter) and `subject`, in subject-file
// order; ids are "<subject>/<index within the subject>", as in the original per-subject CSVs.
std::unique_ptr<Suite> open_mmlu(const SuiteOptions& options) {
  const DatasetFile dataset{"mmlu", "mmlu", "test.jsonl", std::nullopt,
                            "hendrycks/test data.tar, test/<subject>_test.csv, as JSONL (see shared/datasets/mmlu)"};
  const auto path = locate_dataset_file(options, dataset);
  std::vector<Problem> problems;
  std::map<std::string, int, std::less<>> count_by_subject;
  read_jsonl(path, [&](const JsonRecord& record) {
    const std::string subject = record.string("subject");
    Problem problem;
    problem.id = fmt::format("{}/{}", subject, count_by_subject[subject]++);
    problem.question = record.string("question");
    problem.gold = record.string("answer");
    if (problem.gold.size() != 1 || problem.gold[0] < 'A' || problem.gold[0] > 'D') {
      record.fail("answer", "must be one of the letters A, B, C, D");
    }
    // The choices are part of the question as the model sees it, so they live with it in metadata.
    problem.metadata = {{"subject", subject},
                        {"cluster", subject},
                        {"release_date", "2020-09-07"},  // the MMLU paper, arXiv:2009.03300
                        {"choices", {record.string("A"), record.string("B"), record.string("C"), record.string("D")}}};
    problems.push_back(std::move(problem));
  });

  SuiteSpec spec;
  spec.name = "mmlu";
  spec.scorer = "mc";
  spec.prompt_template = kMultipleChoiceTemplate;
  spec.render = [](const Problem& problem, int) {
    const auto& choices = problem.metadata.at("choices");
    const std::array<std::string, 4> texts = {choices[0].get<std::string>(), choices[1].get<std::string>(),
                                              choices[2].get<std::string>(), choices[3].get<std::string>()};
    return render_user_prompt(format_multiple_choice(problem.question, texts), problem.gold);
  };
  return make_loaded_suite(std::move(spec), std::move(problems), path.string());
}

}  // namespace rbench
