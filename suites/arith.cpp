#include "suites/arith.h"

#include <array>
#include <fmt/format.h>

#include "suites/splitmix64.h"

namespace rbench {

namespace {

// Draws as the suite has always drawn them (modulo, not SplitMix64::below): changing them would change
// every problem, and with them the version of the evaluation set.
int64_t between(SplitMix64& rng, int64_t low, int64_t high) {  // inclusive
  return low + static_cast<int64_t>(rng.next() % static_cast<uint64_t>(high - low + 1));
}

template <typename T, size_t N>
const T& pick(SplitMix64& rng, const std::array<T, N>& options) {
  return options[rng.next() % N];
}

constexpr std::array<const char*, 16> kNames = {"Ava",  "Ben",   "Chloe", "Dev",  "Elena", "Farid", "Grace", "Hiro",
                                                "Ines", "Jonas", "Kemi",  "Liam", "Maya",  "Noor",  "Omar",  "Priya"};
constexpr std::array<const char*, 10> kItems = {"apples", "marbles", "stickers", "coins",  "books",
                                                "pencils", "cards",  "shells",   "stamps", "beads"};

enum class Step { add, give_away, multiply, add_groups, share };
constexpr std::array<Step, 5> kSteps = {Step::add, Step::give_away, Step::multiply, Step::add_groups, Step::share};
constexpr int64_t kMaxValue = 5000;  // keeps every intermediate a small exact integer

struct Story {
  std::string name;
  std::string items;
  int64_t value = 0;
  std::string question;
  std::string working;
};

int64_t smallest_divisor_in(int64_t value, int64_t low, int64_t high, SplitMix64& rng) {
  const int64_t start = between(rng, low, high);
  for (int64_t offset = 0; offset <= high - low; ++offset) {
    const int64_t k = low + (start - low + offset) % (high - low + 1);
    if (value % k == 0) return k;
  }
  return 0;
}

// Applies one step if it keeps the value a positive integer within bounds; returns whether it did.
bool apply_step(Step step, Story& story, SplitMix64& rng) {
  const int64_t v = story.value;
  switch (step) {
    case Step::add: {
      const int64_t b = between(rng, 2, 40);
      story.question += fmt::format(" Then {} buys {} more {}.", story.name, b, story.items);
      story.working += fmt::format("Buying {} more: {} + {} = {}.\n", b, v, b, v + b);
      story.value = v + b;
      return true;
    }
    case Step::give_away: {
      if (v < 3) return false;
      const int64_t b = between(rng, 1, v - 1);
      story.question += fmt::format(" {} gives {} {} to a friend.", story.name, b, story.items);
      story.working += fmt::format("Giving away {}: {} - {} = {}.\n", b, v, b, v - b);
      story.value = v - b;
      return true;
    }
    case Step::multiply: {
      const int64_t m = between(rng, 2, 4);
      if (v * m > kMaxValue) return false;
      story.question += fmt::format(" The collection then grows to {} times its size.", m);
      story.working += fmt::format("Growing to {} times the size: {} * {} = {}.\n", m, v, m, v * m);
      story.value = v * m;
      return true;
    }
    case Step::add_groups: {
      const int64_t boxes = between(rng, 2, 6);
      const int64_t each = between(rng, 3, 12);
      story.question += fmt::format(" {} receives {} boxes with {} {} in each box.", story.name, boxes, each,
                                    story.items);
      story.working += fmt::format("The boxes hold {} * {} = {}, so {} + {} = {}.\n", boxes, each, boxes * each, v,
                                   boxes * each, v + boxes * each);
      story.value = v + boxes * each;
      return true;
    }
    case Step::share: {
      const int64_t k = smallest_divisor_in(v, 2, 6, rng);
      if (k == 0 || v / k < 1) return false;
      story.question += fmt::format(" {} splits the {} into {} equal piles and keeps one pile.", story.name,
                                    story.items, k);
      story.working += fmt::format("Keeping one of {} equal piles: {} / {} = {}.\n", k, v, k, v / k);
      story.value = v / k;
      return true;
    }
  }
  return false;
}

uint64_t problem_seed(uint64_t seed, int index) {
  SplitMix64 mix(seed ^ (0x5bd1e995ULL * static_cast<uint64_t>(index + 1)));
  return mix.next();
}

class ArithSuite final : public Suite {
 public:
  ArithSuite(uint64_t seed, int size) {
    problems_.reserve(static_cast<size_t>(size));
    for (int i = 0; i < size; ++i) problems_.push_back(generate_arith_problem(seed, i));
    data_hash_ = hash_problems(problems_);
  }
  std::string name() const override { return "arith"; }
  std::string scorer() const override { return "math"; }
  const std::vector<Problem>& problems() const override { return problems_; }
  std::string data_hash() const override { return data_hash_; }
  std::string prompt_template() const override { return std::string("{question}\n") + kMathInstruction; }
  Prompt render(const Problem& problem, int) const override { return render_math_prompt(problem); }

 private:
  std::vector<Problem> problems_;
  std::string data_hash_;
};

}  // namespace

Problem generate_arith_problem(uint64_t seed, int index) {
  SplitMix64 rng(problem_seed(seed, index));
  Story story;
  story.name = pick(rng, kNames);
  story.items = pick(rng, kItems);
  story.value = between(rng, 5, 60);
  story.question = fmt::format("{} has {} {}.", story.name, story.value, story.items);
  story.working = fmt::format("{} starts with {} {}.\n", story.name, story.value, story.items);

  const int steps = static_cast<int>(between(rng, 2, 5));
  for (int done = 0; done < steps;) {
    if (apply_step(pick(rng, kSteps), story, rng)) ++done;
  }
  story.question += fmt::format(" How many {} does {} have now?", story.items, story.name);
  story.working += fmt::format("So {} has {} {} now.", story.name, story.value, story.items);

  Problem problem;
  problem.id = fmt::format("arith-{}", index);
  problem.question = story.question;
  problem.gold = std::to_string(story.value);
  problem.solution = story.working;
  problem.metadata = {{"steps", steps}, {"seed", seed}};
  return problem;
}

std::unique_ptr<Suite> make_arith_suite(uint64_t seed, int size) { return std::make_unique<ArithSuite>(seed, size); }

}  // namespace rbench
