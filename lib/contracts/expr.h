// The row expression language of `expect:` checks: comparisons, arithmetic,
// and/or/not, `is null`, `in [...]` over a row's columns, e.g.
// `income >= 0 or income is null`. Parsed with an explicit operator stack
// (shunting-yard) into postfix code and evaluated with a value stack: no
// recursion, whatever the nesting, and the length is bounded.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlo::contracts {

// Where a parse error points: the offset into the expression text.
struct ExprError {
  std::size_t offset = 0;
  std::string message;
};

// A cell as the evaluator sees it: missing (null), or text that may also be
// a number. `number` is 0 when not parsed yet, 1 when `num` holds it, 2 when
// the text is not a number (the validator parses each cell once per row).
struct ExprCell {
  std::string_view text;
  bool missing = false;
  std::uint8_t number = 0;
  double num = 0;
};

class Expr {
 public:
  enum class Op : std::uint8_t {
    column, number, string, null, boolean,          // operands
    add, sub, mul, div, mod, neg,                   // arithmetic
    eq, ne, lt, le, gt, ge,                         // comparisons
    is_null, is_not_null, in, not_in,               // tests
    and_, or_, not_                                 // logic (Kleene: null is unknown)
  };
  struct Instr {
    Op op;
    std::uint32_t arg = 0;  // column slot, constant index, or set index
    std::size_t offset = 0; // where in the text (for unknown-column errors)
  };

  // Parses `text`; throws nothing: returns the error instead.
  static std::optional<Expr> parse(std::string_view text, ExprError& error);

  // Column names the expression reads, in slot order.
  const std::vector<std::string>& columns() const { return columns_; }
  // Where column slot i first appears in the text.
  std::size_t column_offset(std::size_t slot) const { return column_offsets_[slot]; }
  // True only when the expression is true for the row: false and unknown
  // (a null compared, a text where a number was needed) both fail.
  // `cells[i]` is the value of columns()[i].
  bool holds(const ExprCell* cells) const;

  const std::vector<Instr>& code() const { return code_; }

 struct Value;  // the evaluator's stack entries (expr.cpp)

 private:
  std::vector<Instr> code_;
  std::vector<std::string> columns_;
  std::vector<std::size_t> column_offsets_;
  std::vector<double> numbers_;
  std::vector<std::string> strings_;
  std::vector<std::vector<std::string>> sets_;  // `in` lists, as texts
  std::vector<std::vector<double>> set_numbers_;  // their numeric members (sorted)
  std::size_t max_stack_ = 0;

  friend class ExprParser;
};

}  // namespace mlo::contracts
