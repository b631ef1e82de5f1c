#include "scorers/latex_expression.h"

#include <ginac/ginac.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace rbench {

namespace {

using GiNaC::ex;
using GiNaC::numeric;

// Input the parser does not read; the caller falls back to comparing text.
class NotAnExpression : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void refuse(const std::string& why) { throw NotAnExpression(why); }

constexpr int max_nesting = 48;
// An exact power beyond about 30000 decimal digits is refused: 10^{10^{10}} must not hang. Numbers this
// size still compute in well under a millisecond.
constexpr double max_exact_bits = 100000;
constexpr int max_factorial_argument = 5000;
constexpr int max_scientific_exponent = 400;
// A word of four or more letters is text ("Monday"), not a product of variables; "abc" stays a product.
constexpr std::size_t longest_variable_product = 3;

// Tolerances. Answers written exactly (integers, fractions, radicals, pi) are compared exactly or, when GiNaC
// cannot simplify the difference to zero, numerically with only floating-point noise allowed (1e-10 of the
// magnitude of the terms that cancel). When either side contains a decimal literal it is an approximation
// and agrees to 1e-6 relative: the seven significant figures Math-Verify's 6-decimal rounding keeps for
// numbers near 1 (pi/2 matches 1.570796, not 1.5708). Qwen2.5-Math's 1e-4 would also accept 3.1416 for pi
// and 0.3333 for 1/3, which the answer's own precision does not support.
constexpr double exact_tolerance = 1e-10;
constexpr double approximate_tolerance = 1e-6;
constexpr int sample_points = 8;
constexpr int required_sample_points = 3;

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

const std::set<std::string, std::less<>>& greek_letters() {
  static const std::set<std::string, std::less<>> names = {
      "alpha",    "beta",    "gamma", "delta",  "epsilon", "varepsilon", "zeta",  "eta",   "theta",
      "vartheta", "iota",    "kappa", "lambda", "mu",      "nu",         "xi",    "rho",   "sigma",
      "tau",      "upsilon", "phi",   "varphi", "chi",     "psi",        "omega", "Gamma", "Delta",
      "Theta",    "Lambda",  "Xi",    "Sigma",  "Phi",     "Psi",        "Omega"};
  return names;
}

// Functions written as \sin or as plain words (sin, exp, sqrt).
const std::set<std::string, std::less<>>& function_names() {
  static const std::set<std::string, std::less<>> names = {"sin",    "cos",    "tan",    "sec",  "csc",  "cot",
                                                           "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                                                           "ln",     "log",    "exp",    "sqrt"};
  return names;
}

// Variables share GiNaC symbols by name across the two sides being compared.
class SymbolTable {
 public:
  ex get(const std::string& name) { return symbols_.try_emplace(name, name).first->second; }
  const std::map<std::string, GiNaC::symbol>& all() const { return symbols_; }

 private:
  std::map<std::string, GiNaC::symbol> symbols_;
};

struct Parsed {
  ex value;
  bool approximate = false;  // a decimal literal was read
};

// Bits of a rational's numerator and denominator: the size an exact power of it multiplies.
double rational_bits(const numeric& value) {
  return static_cast<double>(value.numer().int_length() + value.denom().int_length());
}

ex checked_power(const ex& base, const ex& exponent) {
  if (GiNaC::is_a<numeric>(exponent)) {
    const numeric& power = GiNaC::ex_to<numeric>(exponent);
    if (!power.is_real()) refuse("complex exponent");
    const double magnitude = std::fabs(power.to_double());
    if (GiNaC::is_a<numeric>(base)) {
      const numeric& number = GiNaC::ex_to<numeric>(base);
      const bool trivial = number.is_zero() || number == 1 || number == -1;
      if (!trivial && number.is_rational() && rational_bits(number) * magnitude > max_exact_bits) {
        refuse("exact power too large");
      }
    } else if (magnitude > 1e5) {
      refuse("exponent too large");
    }
  }
  return GiNaC::pow(base, exponent);
}

// The n-th root; odd roots of negative numbers are real (\sqrt[3]{-8} = -2), as the author means.
ex root(const ex& radicand, const ex& index) {
  if (index.is_equal(2)) return GiNaC::sqrt(radicand);
  if (!GiNaC::is_a<numeric>(index) || !GiNaC::ex_to<numeric>(index).is_pos_integer()) refuse("root index");
  const numeric& n = GiNaC::ex_to<numeric>(index);
  if (GiNaC::is_a<numeric>(radicand) && GiNaC::ex_to<numeric>(radicand).is_negative() && n.is_odd()) {
    return -checked_power(-radicand, GiNaC::inverse(n));
  }
  return checked_power(radicand, GiNaC::inverse(n));
}

ex checked_factorial(const ex& argument) {
  if (!GiNaC::is_a<numeric>(argument)) refuse("factorial of a non-number");
  const numeric& n = GiNaC::ex_to<numeric>(argument);
  if (!n.is_nonneg_integer() || n > max_factorial_argument) refuse("factorial argument");
  return GiNaC::factorial(n);
}

ex apply_function(const std::string& name, const ex& argument) {
  if (name == "sin") return GiNaC::sin(argument);
  if (name == "cos") return GiNaC::cos(argument);
  if (name == "tan") return GiNaC::tan(argument);
  if (name == "sec") return 1 / GiNaC::cos(argument);
  if (name == "csc") return 1 / GiNaC::sin(argument);
  if (name == "cot") return GiNaC::cos(argument) / GiNaC::sin(argument);
  if (name == "arcsin") return GiNaC::asin(argument);
  if (name == "arccos") return GiNaC::acos(argument);
  if (name == "arctan") return GiNaC::atan(argument);
  if (name == "sinh") return GiNaC::sinh(argument);
  if (name == "cosh") return GiNaC::cosh(argument);
  if (name == "tanh") return GiNaC::tanh(argument);
  if (name == "ln" || name == "log") return GiNaC::log(argument);
  if (name == "exp") return GiNaC::exp(argument);
  if (name == "sqrt") return GiNaC::sqrt(argument);
  refuse("unknown function " + name);
}

// \sin^{-1} x is the inverse function, not 1/\sin x.
std::string inverse_function(const std::string& name) {
  if (name == "sin" || name == "cos" || name == "tan") return "arc" + name;
  return {};
}

// Recursive descent over one expression. Grammar, loosest first:
//   expression := product (('+' | '-') product)*
//   product    := signed (('*' | \cdot | \times | '/' | \div) signed | power)*   (the bare `power` is implicit
//                 multiplication, which takes no sign: 2-3x is a difference)
//   signed     := ('-' | '+') signed | power
//   power      := postfix ('^' exponent)?
//   postfix    := primary '!'*
//   primary    := number | letters | group | |expression| | command
class Parser {
 public:
  Parser(std::string_view text, SymbolTable& symbols) : text_(text), symbols_(symbols) {}

  Parsed parse() {
    ex value = expression();
    skip_spaces();
    if (!at_end()) refuse("unexpected '" + std::string(1, peek()) + "'");
    return {value, saw_decimal_};
  }

 private:
  // Nesting guard: each recursive rule holds one while it runs.
  class Depth {
   public:
    explicit Depth(int& depth) : depth_(depth) {
      if (++depth_ > max_nesting) refuse("nested too deeply");
    }
    ~Depth() { --depth_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;

   private:
    int& depth_;
  };

  bool at_end() const { return pos_ >= text_.size(); }
  char peek(std::size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  // Spacing commands and \left / \right carry no meaning here.
  void skip_spaces() {
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '~') {
        ++pos_;
      } else if (c == '\\' && std::string_view(",;:! ").find(peek(1)) != std::string_view::npos) {
        pos_ += 2;
      } else if (starts_with_command("left") || starts_with_command("right")) {
        pos_ += peek(1) == 'l' ? 5 : 6;
      } else {
        return;
      }
    }
  }

  bool starts_with_command(std::string_view name) const {
    if (peek() != '\\' || text_.substr(pos_ + 1, name.size()) != name) return false;
    return !is_letter(peek(1 + name.size()));
  }

  bool accept(char c) {
    skip_spaces();
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  bool accept_command(std::initializer_list<std::string_view> names) {
    skip_spaces();
    for (std::string_view name : names) {
      if (starts_with_command(name)) {
        pos_ += 1 + name.size();
        return true;
      }
    }
    return false;
  }

  void expect(char c) {
    if (!accept(c)) refuse(std::string("expected '") + c + "'");
  }

  // The name after a backslash: letters, or the one symbol character of \{ \| \,.
  std::string command_name() const {
    std::size_t end = pos_ + 1;
    while (end < text_.size() && is_letter(text_[end])) ++end;
    if (end == pos_ + 1 && end < text_.size()) ++end;
    return std::string(text_.substr(pos_ + 1, end - pos_ - 1));
  }

  bool is_function_command() const { return peek() == '\\' && function_names().contains(command_name()); }

  // Whether the next token can start a factor of an implicit product.
  bool starts_factor() {
    skip_spaces();
    const char c = peek();
    if (is_digit(c) || is_letter(c) || c == '(' || c == '[' || c == '{') return true;
    if (c == '.') return is_digit(peek(1));
    if (c == '|') return absolute_depth_ == 0;
    if (c != '\\') return false;
    const std::string name = command_name();
    static const std::set<std::string, std::less<>> factor_commands = {
        "frac", "dfrac", "tfrac", "cfrac", "sqrt", "binom", "dbinom", "tbinom", "pi", "infty", "operatorname"};
    return factor_commands.contains(name) || greek_letters().contains(name) || function_names().contains(name);
  }

  ex expression() {
    Depth depth(depth_);
    ex value = product();
    while (true) {
      if (accept('+')) {
        value += product();
      } else if (accept('-')) {
        value -= product();
      } else {
        return value;
      }
    }
  }

  ex product() {
    const std::size_t start = pos_;
    ex value = signed_factor();
    if (const auto fraction = mixed_number_fraction(start)) {
      value =
          text_.substr(start, pos_ - start).find('-') == std::string_view::npos ? value + *fraction : value - *fraction;
    }
    while (true) {
      if (accept('*') || accept_command({"cdot", "times", "ast"})) {
        value *= signed_factor();
      } else if (accept('/') || accept_command({"div"})) {
        value /= signed_factor();
      } else if (starts_factor()) {
        value *= power();
      } else {
        return value;
      }
    }
  }

  // "1\frac{4}{5}" and "4 4/9" are mixed numbers, 1 + 4/5, as MATH writes them: an integer literal (the
  // factor read from `factor_start`) followed by a proper fraction of integer literals and nothing that would
  // multiply it. Returns the fraction and moves past it, or leaves the position alone.
  std::optional<ex> mixed_number_fraction(std::size_t factor_start) {
    std::string_view whole = text_.substr(factor_start, pos_ - factor_start);
    const bool spaced = !whole.empty() && whole.back() == ' ';
    while (!whole.empty() && std::string_view(" -+").find(whole.front()) != std::string_view::npos)
      whole.remove_prefix(1);
    while (!whole.empty() && whole.back() == ' ') whole.remove_suffix(1);
    if (whole.empty() || !std::all_of(whole.begin(), whole.end(), is_digit)) return std::nullopt;
    const std::size_t saved = pos_;
    const auto numerator_and_denominator = [&]() -> std::optional<std::pair<std::string_view, std::string_view>> {
      skip_spaces();
      if (accept_command({"frac", "dfrac", "tfrac"})) {
        if (!accept('{')) return std::nullopt;
        const std::string_view top = digit_run();
        if (!accept('}') || !accept('{')) return std::nullopt;
        const std::string_view bottom = digit_run();
        if (!accept('}')) return std::nullopt;
        return std::pair{top, bottom};
      }
      if (!spaced || !is_digit(peek())) return std::nullopt;
      const std::string_view top = digit_run();
      if (peek() != '/') return std::nullopt;
      ++pos_;
      const std::string_view bottom = digit_run();
      if (peek() == '.') return std::nullopt;
      return std::pair{top, bottom};
    }();
    if (numerator_and_denominator && !numerator_and_denominator->first.empty() &&
        !numerator_and_denominator->second.empty() && !starts_factor() && peek() != '^') {
      const numeric top = GiNaC::ex_to<numeric>(digits_value(numerator_and_denominator->first));
      const numeric bottom = GiNaC::ex_to<numeric>(digits_value(numerator_and_denominator->second));
      if (!bottom.is_zero() && top < bottom) return ex(top / bottom);
    }
    pos_ = saved;
    return std::nullopt;
  }

  ex signed_factor() {
    Depth depth(depth_);
    if (accept('-')) return -signed_factor();
    if (accept('+')) return signed_factor();
    return power();
  }

  ex power() {
    ex base = postfix();
    if (!accept('^')) return base;
    return checked_power(base, exponent());
  }

  // The exponent after '^': a braced group, a signed exponent (x^-1), a command (\pi, \frac12) or one letter.
  // A digit run is taken whole: 2^10 is 1024 as its writer means, though LaTeX would typeset 2^1 0.
  ex exponent() {
    Depth depth(depth_);
    skip_spaces();
    const char c = peek();
    if (c == '{') return group('{', '}');
    if (c == '(') return group('(', ')');
    if (c == '-' || c == '+') {
      ++pos_;
      return c == '-' ? -exponent() : exponent();
    }
    if (is_digit(c)) return digits_value(digit_run());
    if (is_letter(c)) return letter(std::string(1, text_[pos_++]));
    if (c == '\\') return command();
    refuse("missing exponent");
  }

  ex postfix() {
    ex value = primary();
    while (accept('!')) value = checked_factorial(value);
    return value;
  }

  ex primary() {
    Depth depth(depth_);
    skip_spaces();
    const char c = peek();
    if (is_digit(c) || c == '.') return number();
    if (is_letter(c)) return letters();
    if (c == '(') return group('(', ')');
    if (c == '[') return group('[', ']');
    if (c == '{') return group('{', '}');
    if (c == '|') return absolute_value();
    if (c == '\\') return command();
    refuse(at_end() ? std::string("missing operand") : "unexpected '" + std::string(1, c) + "'");
  }

  ex group(char open, char close) {
    expect(open);
    ex value = expression();
    expect(close);
    return value;
  }

  ex absolute_value() {
    expect('|');
    ++absolute_depth_;
    ex value = expression();
    --absolute_depth_;
    expect('|');
    return GiNaC::abs(value);
  }

  std::string_view digit_run() {
    const std::size_t start = pos_;
    while (is_digit(peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  static ex digits_value(std::string_view digits) { return numeric(std::string(digits).c_str()); }

  // Decimal literals are exact rationals (0.25 = 1/4) marked approximate; 1.5e3 is scientific notation.
  ex number() {
    const std::string_view whole = digit_run();
    ex value = whole.empty() ? ex(0) : digits_value(whole);
    if (peek() == '.' && is_digit(peek(1))) {
      ++pos_;
      const std::string_view fraction = digit_run();
      value += digits_value(fraction) / GiNaC::pow(numeric(10), numeric(static_cast<long>(fraction.size())));
      saw_decimal_ = true;
    }
    if ((peek() == 'e' || peek() == 'E') && !is_letter(peek(1))) value *= scientific_scale();
    return value;
  }

  // "e3", "e-5" after a number; a lone "e" (2e) stays Euler's number.
  ex scientific_scale() {
    const std::size_t sign_at = pos_ + 1;
    const bool signed_exponent = peek(1) == '-' || peek(1) == '+';
    if (!is_digit(peek(signed_exponent ? 2 : 1))) return 1;
    pos_ = sign_at + (signed_exponent ? 1 : 0);
    const std::string_view digits = digit_run();
    const long exponent = std::stol(std::string(digits.substr(0, 6)));
    if (digits.size() > 6 || exponent > max_scientific_exponent) refuse("scientific exponent too large");
    const bool negative = text_[sign_at] == '-';
    return GiNaC::pow(numeric(10), numeric(negative ? -exponent : exponent));
  }

  // A run of plain letters: a function word (sin, sqrt, exp), pi, or a product of one-letter variables.
  ex letters() {
    const std::size_t start = pos_;
    while (is_letter(peek())) ++pos_;
    const std::string run(text_.substr(start, pos_ - start));
    if (function_names().contains(run)) return function_application(run);
    if (run == "pi") return GiNaC::Pi;
    if (run.size() > longest_variable_product) refuse("a word, not an expression");
    ex value = 1;
    for (std::size_t i = 0; i < run.size(); ++i) {
      std::string name(1, run[i]);
      if (i + 1 == run.size() && peek() == '_') name += subscript();
      value *= letter(name);
    }
    return value;
  }

  // "_1", "_{12}", "_n": kept in the variable's name (x_1 and x_{1} are one variable).
  std::string subscript() {
    ++pos_;  // '_'
    std::string content;
    if (peek() == '{') {
      const std::size_t close = text_.find('}', pos_);
      if (close == std::string_view::npos) refuse("unclosed subscript");
      content = std::string(text_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
    } else if (is_digit(peek()) || is_letter(peek())) {
      content = std::string(1, text_[pos_++]);
    } else {
      refuse("bad subscript");
    }
    std::erase(content, ' ');
    return "_" + content;
  }

  ex letter(const std::string& name) {
    if (name == "e") return GiNaC::exp(ex(1));
    if (name == "i") return GiNaC::I;
    return symbols_.get(name);
  }

  ex command() {
    const std::string name = command_name();
    pos_ += 1 + name.size();
    if (name == "frac" || name == "dfrac" || name == "tfrac" || name == "cfrac") {
      const ex numerator = macro_argument();
      return numerator / macro_argument();
    }
    if (name == "sqrt") return square_root();
    if (name == "binom" || name == "dbinom" || name == "tbinom") return binomial();
    if (name == "pi") return GiNaC::Pi;
    if (name == "infty") return symbols_.get("\\infty");
    if (name == "operatorname") return function_application(braced_word());
    if (greek_letters().contains(name)) return symbols_.get("\\" + name);
    if (function_names().contains(name)) return function_application(name);
    refuse("unknown command \\" + name);
  }

  std::string braced_word() {
    skip_spaces();
    if (peek() != '{') refuse("expected '{'");
    const std::size_t close = text_.find('}', pos_);
    if (close == std::string_view::npos) refuse("unclosed '{'");
    std::string word(text_.substr(pos_ + 1, close - pos_ - 1));
    pos_ = close + 1;
    return word;
  }

  // A macro's argument as LaTeX reads it: a braced group or one token (\frac12 is 1/2, \sqrt3 is sqrt(3)).
  ex macro_argument() {
    skip_spaces();
    const char c = peek();
    if (c == '{') return group('{', '}');
    if (is_digit(c)) return digits_value(text_.substr(pos_++, 1));
    if (is_letter(c)) return letter(std::string(1, text_[pos_++]));
    if (c == '\\') return command();
    refuse("missing argument");
  }

  ex square_root() {
    ex index = 2;
    skip_spaces();
    if (peek() == '[') index = group('[', ']');
    skip_spaces();
    const ex radicand = peek() == '(' ? group('(', ')') : macro_argument();
    return root(radicand, index);
  }

  ex binomial() {
    const ex n = macro_argument();
    const ex k = macro_argument();
    if (!GiNaC::is_a<numeric>(n) || !GiNaC::is_a<numeric>(k)) refuse("symbolic binomial");
    const numeric& top = GiNaC::ex_to<numeric>(n);
    if (!top.is_nonneg_integer() || top > max_factorial_argument) refuse("binomial argument");
    return GiNaC::binomial(top, GiNaC::ex_to<numeric>(k));
  }

  // \sin x, \sin(x), \sin^2 x, \sin^{-1} x, \log_2 8, \ln 2: the argument without parentheses is an implicit
  // product that stops at the next function (2 \sin b \cos a is 2 sin(b) cos(a)).
  ex function_application(std::string name) {
    ex power_of_result = 1;
    if (accept('^')) {
      power_of_result = exponent();
      if (power_of_result.is_equal(-1) && !inverse_function(name).empty()) {
        name = inverse_function(name);
        power_of_result = 1;
      }
    }
    ex base = 0;
    if (name == "log" && accept('_')) base = macro_argument();
    const ex argument = function_argument();
    ex value = apply_function(name, argument);
    if (!base.is_zero()) value = value / GiNaC::log(base);
    return checked_power(value, power_of_result);
  }

  ex function_argument() {
    skip_spaces();
    if (peek() == '(') return group('(', ')');
    if (peek() == '{') return group('{', '}');
    ex argument = power();
    while (!is_function_command() && starts_factor()) argument *= power();
    return argument;
  }

  std::string_view text_;
  SymbolTable& symbols_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  int absolute_depth_ = 0;
  bool saw_decimal_ = false;
};

std::optional<Parsed> parse(std::string_view text, SymbolTable& symbols) {
  if (text.empty() || text.size() > max_expression_length) return std::nullopt;
  try {
    Parser parser(text, symbols);
    return parser.parse();
  } catch (const std::exception&) {  // NotAnExpression, and GiNaC's errors such as division by zero
    return std::nullopt;
  }
}

bool has_free_symbols(const ex& value) {
  for (auto node = value.preorder_begin(); node != value.preorder_end(); ++node) {
    if (GiNaC::is_a<GiNaC::symbol>(*node)) return true;
  }
  return false;
}

// Expanding (a+b)^n with a large n, or a huge tree, would cost more than sampling does.
bool cheap_to_simplify(const ex& value) {
  constexpr int max_nodes = 200;
  constexpr int max_expanded_power = 6;
  int nodes = 0;
  for (auto node = value.preorder_begin(); node != value.preorder_end(); ++node) {
    if (++nodes > max_nodes) return false;
    if (!GiNaC::is_a<GiNaC::power>(*node) || !GiNaC::is_a<GiNaC::add>(node->op(0))) continue;
    const ex exponent = node->op(1);
    if (!GiNaC::is_a<numeric>(exponent) ||
        std::fabs(GiNaC::ex_to<numeric>(exponent).to_double()) > max_expanded_power) {
      return false;
    }
  }
  return true;
}

bool simplifies_to_zero(const ex& value) {
  if (value.is_zero()) return true;
  if (!cheap_to_simplify(value)) return false;
  try {
    return value.expand().normal().is_zero();
  } catch (const std::exception&) {
    return false;
  }
}

// The value as a (possibly complex) floating-point number, or nullopt when it is not a finite number.
std::optional<numeric> evaluate(const ex& value) {
  try {
    const ex result = value.evalf();
    if (!GiNaC::is_a<numeric>(result)) return std::nullopt;
    const numeric& number = GiNaC::ex_to<numeric>(result);
    if (!std::isfinite(GiNaC::abs(number).to_double())) return std::nullopt;
    return number;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

double magnitude(const numeric& value) { return GiNaC::abs(value).to_double(); }

bool close(const numeric& a, const numeric& b, double tolerance) {
  const double scale = std::max(magnitude(a), magnitude(b));
  return magnitude(a - b) <= tolerance * scale;
}

// Two constants. Exact rationals are decided exactly. Otherwise the difference is evaluated and must vanish
// against the size of the terms that cancel in it, so 2^{2024}+\sqrt2 and 2^{2024}+\sqrt3 stay different.
bool constants_equal(const Parsed& a, const Parsed& b) {
  const ex difference = a.value - b.value;
  if (difference.is_zero()) return true;
  const bool approximate = a.approximate || b.approximate;
  const bool both_rational = GiNaC::is_a<numeric>(a.value) && GiNaC::is_a<numeric>(b.value) &&
                             GiNaC::ex_to<numeric>(a.value).is_rational() &&
                             GiNaC::ex_to<numeric>(b.value).is_rational();
  // An integer must be given exactly (PRM800K): 3 is not 2.9999999.
  const auto exact_integer = [](const Parsed& side) {
    return !side.approximate && GiNaC::is_a<numeric>(side.value) && GiNaC::ex_to<numeric>(side.value).is_integer();
  };
  if (both_rational && (!approximate || exact_integer(a) || exact_integer(b))) return false;
  const auto a_value = evaluate(a.value);
  const auto b_value = evaluate(b.value);
  if (!a_value || !b_value) return false;
  if (approximate) return close(*a_value, *b_value, approximate_tolerance);
  const auto difference_value = evaluate(difference);
  if (!difference_value) return false;
  double cancelled_scale = magnitude(*difference_value);
  if (GiNaC::is_a<GiNaC::add>(difference)) {
    for (const ex& term : difference) {
      if (const auto term_value = evaluate(term)) cancelled_scale = std::max(cancelled_scale, magnitude(*term_value));
    }
  }
  return magnitude(*difference_value) <= exact_tolerance * cancelled_scale;
}

// Fixed pseudo-random points in [0.5, 2.5] for every variable: positive, so \sqrt{x^2} = x and \ln x is
// real, and away from the small integers where unequal expressions often meet.
std::vector<GiNaC::lst> sample_substitutions(const SymbolTable& symbols) {
  std::mt19937 generator(20240229);
  std::uniform_real_distribution<double> value(0.5, 2.5);
  std::vector<GiNaC::lst> points(sample_points);
  for (GiNaC::lst& point : points) {
    for (const auto& [name, symbol] : symbols.all()) point.append(symbol == numeric(value(generator)));
  }
  return points;
}

// Samples a and b at the points; `agree` judges each pair. False on any disagreement; true when enough
// points could be evaluated (points at a pole or outside the domain are skipped).
template <typename Agree>
bool agree_at_sample_points(const ex& a, const ex& b, const SymbolTable& symbols, Agree agree) {
  int usable = 0;
  for (const GiNaC::lst& point : sample_substitutions(symbols)) {
    std::optional<numeric> a_value;
    std::optional<numeric> b_value;
    try {
      a_value = evaluate(a.subs(point));
      b_value = evaluate(b.subs(point));
    } catch (const std::exception&) {
      continue;
    }
    if (!a_value || !b_value) continue;
    const auto verdict = agree(*a_value, *b_value);
    if (!verdict) continue;
    if (!*verdict) return false;
    ++usable;
  }
  return usable >= required_sample_points;
}

double tolerance_for(const Parsed& a, const Parsed& b) {
  return a.approximate || b.approximate ? approximate_tolerance : exact_tolerance * 10;
}

bool values_equal(const Parsed& a, const Parsed& b, const SymbolTable& symbols) {
  if (!has_free_symbols(a.value) && !has_free_symbols(b.value)) return constants_equal(a, b);
  if (simplifies_to_zero(a.value - b.value)) return true;
  const double tolerance = tolerance_for(a, b);
  return agree_at_sample_points(a.value, b.value, symbols, [&](const numeric& x, const numeric& y) {
    const bool both_tiny = std::max(magnitude(x), magnitude(y)) < 1e-12;
    return std::optional<bool>(both_tiny || close(x, y, tolerance));
  });
}

bool acceptable_ratio(const numeric& ratio, bool positive) {
  if (ratio.is_zero()) return false;
  return !positive || (ratio.is_real() && ratio.is_positive());
}

// a = r·b for one constant r (positive when `positive`): the sides of two equations or inequalities.
bool proportional(const Parsed& a, const Parsed& b, bool positive, const SymbolTable& symbols) {
  if (a.value.is_zero() || b.value.is_zero()) return a.value.is_zero() && b.value.is_zero();
  if (!has_free_symbols(a.value) && !has_free_symbols(b.value)) return constants_equal(a, b);
  if (cheap_to_simplify(a.value) && cheap_to_simplify(b.value)) {
    try {
      const ex ratio = (a.value / b.value).normal();
      if (GiNaC::is_a<numeric>(ratio)) return acceptable_ratio(GiNaC::ex_to<numeric>(ratio), positive);
    } catch (const std::exception&) {
    }
  }
  const double tolerance = tolerance_for(a, b);
  std::optional<numeric> first_ratio;
  return agree_at_sample_points(a.value, b.value, symbols, [&](const numeric& x, const numeric& y) {
    if (magnitude(y) < 1e-9) return std::optional<bool>();  // on b's zero set: no information
    const numeric ratio = x / y;
    if (!first_ratio) {
      first_ratio = ratio;
      return std::optional<bool>(acceptable_ratio(ratio, positive));
    }
    return std::optional<bool>(close(ratio, *first_ratio, tolerance));
  });
}

std::mutex& ginac_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

std::optional<bool> latex_expressions_agree(std::string_view a, std::string_view b, Agreement agreement) {
  const std::lock_guard lock(ginac_mutex());
  SymbolTable symbols;
  const auto parsed_a = parse(a, symbols);
  if (!parsed_a) return std::nullopt;
  const auto parsed_b = parse(b, symbols);
  if (!parsed_b) return std::nullopt;
  try {
    switch (agreement) {
      case Agreement::equal:
        return values_equal(*parsed_a, *parsed_b, symbols);
      case Agreement::proportional:
        return proportional(*parsed_a, *parsed_b, false, symbols);
      case Agreement::positively_proportional:
        return proportional(*parsed_a, *parsed_b, true, symbols);
    }
  } catch (const std::exception&) {
    return false;  // GiNaC failed on input it had parsed: no evidence of equality
  }
  return false;
}

std::optional<std::string> latex_to_ginac_text(std::string_view latex) {
  const std::lock_guard lock(ginac_mutex());
  SymbolTable symbols;
  const auto parsed = parse(latex, symbols);
  if (!parsed) return std::nullopt;
  std::ostringstream out;
  out << parsed->value;
  return out.str();
}

}  // namespace rbench
