#include "contracts/expr.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "monitor/table.h"

namespace mlo::contracts {

namespace {

constexpr std::size_t kMaxText = 10000;  // characters; also bounds both stacks

enum class Tok { end, ident, number, string, lparen, rparen, lbracket, rbracket, comma, op };

struct Token {
  Tok kind = Tok::end;
  std::string text;  // identifier (keywords lower-cased), operator, string contents
  double number = 0;
  std::size_t offset = 0;
};

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_keyword(const std::string& w) {
  static const char* kws[] = {"and", "or", "not", "is", "null", "in", "true", "false"};
  return std::any_of(std::begin(kws), std::end(kws), [&](const char* k) { return w == k; });
}

}  // namespace

// Splits the text into tokens, then runs the shunting-yard over them.
class ExprParser {
 public:
  ExprParser(std::string_view text, ExprError& error) : text_(text), error_(error) {}

  std::optional<Expr> run() {
    if (text_.size() > kMaxText) return fail(kMaxText, "the expression is longer than 10,000 characters");
    if (!tokenize()) return std::nullopt;
    if (!shunt()) return std::nullopt;
    return std::move(out_);
  }

 private:
  // Operators on the stack: binary ones, prefix `not` / unary minus, and '('.
  struct StackOp {
    Expr::Op op;
    int prec;
    bool paren;
    std::size_t offset;
  };
  enum class Kind { value, condition };

  std::string_view text_;
  ExprError& error_;
  std::vector<Token> toks_;
  std::size_t pos_ = 0;
  Expr out_;
  std::vector<StackOp> ops_;
  std::vector<Kind> kinds_;  // the static kind of each value the code leaves on the stack

  std::nullopt_t fail(std::size_t offset, std::string message) {
    error_ = {offset, std::move(message)};
    return std::nullopt;
  }

  bool tokenize() {
    std::size_t i = 0;
    while (true) {
      while (i < text_.size() && std::isspace(static_cast<unsigned char>(text_[i]))) ++i;
      Token t;
      t.offset = i;
      if (i == text_.size()) {
        toks_.push_back(t);
        return true;
      }
      char c = text_[i];
      if (ident_start(c)) {
        std::size_t j = i;
        while (j < text_.size() && ident_char(text_[j])) ++j;
        t.kind = Tok::ident;
        t.text = std::string(text_.substr(i, j - i));
        if (is_keyword(lower(t.text))) t.text = lower(t.text);
        else t.text = "`" + t.text;  // a column name (marked so `null` the column and null the keyword differ)
        i = j;
      } else if (c == '`') {
        std::size_t j = text_.find('`', i + 1);
        if (j == std::string_view::npos) return fail(i, "unterminated `column name`"), false;
        t.kind = Tok::ident;
        t.text = "`" + std::string(text_.substr(i + 1, j - i - 1));
        i = j + 1;
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 (c == '.' && i + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i + 1])))) {
        std::size_t j = i;
        while (j < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '.' ||
                                    ((text_[j] == '+' || text_[j] == '-') && (text_[j - 1] == 'e' || text_[j - 1] == 'E'))))
          ++j;
        t.kind = Tok::number;
        t.text = std::string(text_.substr(i, j - i));
        if (!monitor::parse_number(text_.substr(i, j - i), t.number) || !std::isfinite(t.number))
          return fail(i, "'" + std::string(text_.substr(i, j - i)) + "' is not a number"), false;
        i = j;
      } else if (c == '\'' || c == '"') {
        // A quote inside is written twice: 'it''s'.
        std::size_t j = i + 1;
        for (;; ++j) {
          if (j >= text_.size()) return fail(i, "unterminated string"), false;
          if (text_[j] == c) {
            if (j + 1 < text_.size() && text_[j + 1] == c) {
              t.text += c;
              ++j;
              continue;
            }
            break;
          }
          t.text += text_[j];
        }
        t.kind = Tok::string;
        i = j + 1;
      } else {
        static const char* two[] = {"==", "!=", "<>", "<=", ">="};
        std::string_view rest = text_.substr(i);
        auto it = std::find_if(std::begin(two), std::end(two), [&](const char* o) { return rest.starts_with(o); });
        if (it != std::end(two)) {
          t.kind = Tok::op;
          t.text = *it;
          i += 2;
        } else if (std::string_view("+-*/%<>=").find(c) != std::string_view::npos) {
          t.kind = Tok::op;
          t.text = std::string(1, c);
          ++i;
        } else {
          static const std::pair<char, Tok> punct[] = {{'(', Tok::lparen}, {')', Tok::rparen},
                                                       {'[', Tok::lbracket}, {']', Tok::rbracket}, {',', Tok::comma}};
          auto p = std::find_if(std::begin(punct), std::end(punct), [&](const auto& q) { return q.first == c; });
          if (p == std::end(punct)) return fail(i, std::string("unexpected character '") + c + "'"), false;
          t.kind = p->second;
          ++i;
        }
      }
      toks_.push_back(std::move(t));
    }
  }

  const Token& peek(std::size_t ahead = 0) const { return toks_[std::min(pos_ + ahead, toks_.size() - 1)]; }
  bool peek_word(const char* w, std::size_t ahead = 0) const {
    return peek(ahead).kind == Tok::ident && peek(ahead).text == w;
  }

  // Emits one instruction and tracks the static kinds on the value stack.
  bool emit(Expr::Op op, std::uint32_t arg, std::size_t offset) {
    using O = Expr::Op;
    auto need = [&](std::size_t n, Kind k, const char* what) {
      for (std::size_t i = 0; i < n; ++i)
        if (kinds_[kinds_.size() - 1 - i] != k) return fail(offset, what), false;
      return true;
    };
    switch (op) {
      case O::column: case O::number: case O::string: case O::null:
        kinds_.push_back(Kind::value);
        break;
      case O::boolean:
        kinds_.push_back(Kind::condition);
        break;
      case O::add: case O::sub: case O::mul: case O::div: case O::mod:
        if (!need(2, Kind::value, "arithmetic needs values, not conditions")) return false;
        kinds_.pop_back();
        break;
      case O::neg:
        if (!need(1, Kind::value, "'-' needs a value, not a condition")) return false;
        break;
      case O::eq: case O::ne: case O::lt: case O::le: case O::gt: case O::ge:
        if (op != O::eq && op != O::ne && !need(2, Kind::value, "'<' and '>' compare values, not conditions"))
          return false;
        kinds_.pop_back();
        kinds_.back() = Kind::condition;
        break;
      case O::is_null: case O::is_not_null: case O::in: case O::not_in:
        if (!need(1, Kind::value, "'is null' and 'in' test a value, not a condition")) return false;
        kinds_.back() = Kind::condition;
        break;
      case O::and_: case O::or_:
        if (!need(2, Kind::condition, "'and' and 'or' join conditions such as 'x > 0', not values")) return false;
        kinds_.pop_back();
        break;
      case O::not_:
        if (!need(1, Kind::condition, "'not' negates a condition such as 'x > 0', not a value")) return false;
        break;
    }
    out_.max_stack_ = std::max(out_.max_stack_, kinds_.size());
    out_.code_.push_back({op, arg, offset});
    return true;
  }

  bool pop_while(int prec) {
    while (!ops_.empty() && !ops_.back().paren && ops_.back().prec >= prec) {
      StackOp o = ops_.back();
      ops_.pop_back();
      if (!emit(o.op, 0, o.offset)) return false;
    }
    return true;
  }

  bool operand(const Token& t) {
    using O = Expr::Op;
    if (t.kind == Tok::number) {
      out_.numbers_.push_back(t.number);
      return emit(O::number, static_cast<std::uint32_t>(out_.numbers_.size() - 1), t.offset);
    }
    if (t.kind == Tok::string) {
      out_.strings_.push_back(t.text);
      return emit(O::string, static_cast<std::uint32_t>(out_.strings_.size() - 1), t.offset);
    }
    if (t.text == "null") return emit(O::null, 0, t.offset);
    if (t.text == "true" || t.text == "false") return emit(O::boolean, t.text == "true", t.offset);
    if (t.text[0] != '`') return fail(t.offset, "expected a column, a number or a string, not '" + t.text + "'"), false;
    std::string name = t.text.substr(1);
    auto it = std::find(out_.columns_.begin(), out_.columns_.end(), name);
    if (it == out_.columns_.end()) {
      out_.columns_.push_back(name);
      out_.column_offsets_.push_back(t.offset);
      it = out_.columns_.end() - 1;
    }
    return emit(O::column, static_cast<std::uint32_t>(it - out_.columns_.begin()), t.offset);
  }

  // `[a, b, ...]` after `in`: literal numbers and strings only.
  bool in_list(bool negated, std::size_t offset) {
    if (peek().kind != Tok::lbracket) return fail(peek().offset, "expected '[' after 'in'"), false;
    ++pos_;
    std::vector<std::string> texts;
    std::vector<double> nums;
    while (peek().kind != Tok::rbracket) {
      const Token& t = peek();
      if (t.kind == Tok::number) {
        nums.push_back(t.number);
        texts.push_back(t.text);
      } else if (t.kind == Tok::string) {
        texts.push_back(t.text);
      } else {
        return fail(t.offset, "a list after 'in' holds numbers and 'strings' only"), false;
      }
      ++pos_;
      if (peek().kind == Tok::comma) ++pos_;
      else if (peek().kind != Tok::rbracket) return fail(peek().offset, "expected ',' or ']' in the list"), false;
    }
    ++pos_;
    std::sort(texts.begin(), texts.end());
    std::sort(nums.begin(), nums.end());
    out_.sets_.push_back(std::move(texts));
    out_.set_numbers_.push_back(std::move(nums));
    return emit(negated ? Expr::Op::not_in : Expr::Op::in, static_cast<std::uint32_t>(out_.sets_.size() - 1), offset);
  }

  // After an operand: a binary operator, a postfix test, ')' or the end.
  bool after_operand(bool& expect_operand, bool& done) {
    using O = Expr::Op;
    const Token t = peek();
    ++pos_;
    if (t.kind == Tok::end) {
      done = true;
      return true;
    }
    if (t.kind == Tok::rparen) {
      if (!pop_while(0)) return false;
      if (ops_.empty()) return fail(t.offset, "')' without '('"), false;
      ops_.pop_back();
      return true;
    }
    if (t.kind == Tok::ident && t.text == "is") {
      bool negated = peek_word("not");
      if (negated) ++pos_;
      if (!peek_word("null")) return fail(peek().offset, "expected 'null' after 'is'"), false;
      ++pos_;
      return pop_while(5) && emit(negated ? O::is_not_null : O::is_null, 0, t.offset);
    }
    if (t.kind == Tok::ident && (t.text == "in" || (t.text == "not" && peek_word("in")))) {
      if (t.text == "not") ++pos_;
      return pop_while(5) && in_list(t.text == "not", t.offset);
    }
    static const std::pair<const char*, std::pair<O, int>> binary[] = {
        {"or", {O::or_, 1}}, {"and", {O::and_, 2}}, {"==", {O::eq, 4}}, {"=", {O::eq, 4}},  {"!=", {O::ne, 4}},
        {"<>", {O::ne, 4}},  {"<", {O::lt, 4}},     {"<=", {O::le, 4}}, {">", {O::gt, 4}},  {">=", {O::ge, 4}},
        {"+", {O::add, 5}},  {"-", {O::sub, 5}},    {"*", {O::mul, 6}}, {"/", {O::div, 6}}, {"%", {O::mod, 6}}};
    if (t.kind == Tok::op || t.kind == Tok::ident) {
      for (const auto& [name, what] : binary) {
        if (t.text != name) continue;
        if (!pop_while(what.second)) return false;
        ops_.push_back({what.first, what.second, false, t.offset});
        expect_operand = true;
        return true;
      }
    }
    return fail(t.offset, "expected an operator (and, or, ==, <, +, is null, in [...]) or the end, not '" +
                              std::string(t.kind == Tok::end ? "end" : text_.substr(t.offset, 12)) + "'"),
           false;
  }

  bool shunt() {
    bool expect_operand = true, done = false;
    while (!done) {
      if (!expect_operand) {
        if (!after_operand(expect_operand, done)) return false;
        continue;
      }
      const Token t = peek();
      ++pos_;
      if (t.kind == Tok::lparen) {
        ops_.push_back({Expr::Op::not_, 0, true, t.offset});
      } else if (t.kind == Tok::op && t.text == "-") {
        ops_.push_back({Expr::Op::neg, 7, false, t.offset});
      } else if (t.kind == Tok::ident && t.text == "not") {
        ops_.push_back({Expr::Op::not_, 3, false, t.offset});
      } else if (t.kind == Tok::number || t.kind == Tok::string || t.kind == Tok::ident) {
        if (!operand(t)) return false;
        expect_operand = false;
      } else {
        return fail(t.offset, t.kind == Tok::end ? "the expression ends where a value was expected"
                                                 : "expected a value, not '" + std::string(text_.substr(t.offset, 12)) + "'"),
               false;
      }
    }
    if (!pop_while(0)) return false;
    if (!ops_.empty()) return fail(ops_.back().offset, "'(' is never closed"), false;
    if (kinds_.size() != 1 || kinds_.back() != Kind::condition)
      return fail(0, "the expression is a value, not a condition: compare it (e.g. 'x > 0') or test it ('x is null')"),
             false;
    return true;
  }
};

std::optional<Expr> Expr::parse(std::string_view text, ExprError& error) { return ExprParser(text, error).run(); }

// ---- evaluation

// Trivial on purpose: the evaluator's stack array is not zeroed on every row.
struct Expr::Value {
  enum Kind : std::uint8_t { null, boolean, number, text } kind;
  bool b;
  bool has_num;  // text that reads as a number
  double num;
  std::string_view str;
};

namespace {

using Value = Expr::Value;

bool truthy_text(std::string_view t, bool& out) {
  std::string s = lower(std::string(t.substr(0, 6)));
  if (s == "true" || s == "1" || s == "yes") return out = true, true;
  if (s == "false" || s == "0" || s == "no") return out = false, true;
  return false;
}

// -1/0/1, or 2 when the two cannot be ordered (unknown).
int compare(const Value& a, const Value& b) {
  if (a.kind == Value::null || b.kind == Value::null) return 2;
  if (a.kind == Value::boolean || b.kind == Value::boolean) {
    bool x = a.b, y = b.b;
    if (a.kind != Value::boolean && !truthy_text(a.str, x)) return 2;
    if (b.kind != Value::boolean && !truthy_text(b.str, y)) return 2;
    return x == y ? 0 : (x ? 1 : -1);
  }
  if (a.has_num && b.has_num) return a.num < b.num ? -1 : (a.num > b.num ? 1 : (a.num == b.num ? 0 : 2));
  // a number literal against a text that is not a number: unknown
  if ((a.kind == Value::number) || (b.kind == Value::number)) return 2;
  int c = a.str.compare(b.str);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// Kleene logic on tri-state values (null = unknown).
Value logic(bool is_and, const Value& a, const Value& b) {
  Value r{};
  bool a_known = a.kind == Value::boolean, b_known = b.kind == Value::boolean;
  if (is_and) {
    if ((a_known && !a.b) || (b_known && !b.b)) r.kind = Value::boolean, r.b = false;
    else if (a_known && b_known) r.kind = Value::boolean, r.b = true;
  } else {
    if ((a_known && a.b) || (b_known && b.b)) r.kind = Value::boolean, r.b = true;
    else if (a_known && b_known) r.kind = Value::boolean, r.b = false;
  }
  return r;
}

Value boolean(bool b) {
  Value v{};
  v.kind = Value::boolean;
  v.b = b;
  return v;
}

Value arithmetic(Expr::Op op, const Value& a, const Value& b) {
  Value r{};
  if (!a.has_num || !b.has_num) return r;
  double x = a.num, y = b.num, z = 0;
  switch (op) {
    case Expr::Op::add: z = x + y; break;
    case Expr::Op::sub: z = x - y; break;
    case Expr::Op::mul: z = x * y; break;
    case Expr::Op::div: if (y == 0) return r; z = x / y; break;
    default: if (y == 0) return r; z = std::fmod(x, y); break;
  }
  r.kind = Value::number;
  r.has_num = true;
  r.num = z;
  return r;
}

}  // namespace

bool Expr::holds(const ExprCell* cells) const {
  // One stack per thread, grown to the deepest expression seen: nothing is
  // constructed per row (this runs once per row and rule).
  thread_local std::vector<Value> stack;
  if (stack.size() < max_stack_) stack.resize(max_stack_);
  Value* st = stack.data();
  std::size_t n = 0;
  for (const Instr& in : code_) {
    switch (in.op) {
      case Op::column: {
        Value v{};
        const ExprCell& c = cells[in.arg];
        if (!c.missing) {
          v.kind = Value::text;
          v.str = c.text;
          if (c.number == 0) v.has_num = monitor::parse_number(c.text, v.num);
          else v.has_num = c.number == 1, v.num = c.num;
        }
        st[n++] = v;
        break;
      }
      case Op::number: {
        Value v{};
        v.kind = Value::number;
        v.has_num = true;
        v.num = numbers_[in.arg];
        st[n++] = v;
        break;
      }
      case Op::string: {
        Value v{};
        v.kind = Value::text;
        v.str = strings_[in.arg];
        st[n++] = v;
        break;
      }
      case Op::null: st[n++] = Value{}; break;
      case Op::boolean: st[n++] = boolean(in.arg != 0); break;
      case Op::add: case Op::sub: case Op::mul: case Op::div: case Op::mod:
        st[n - 2] = arithmetic(in.op, st[n - 2], st[n - 1]);
        --n;
        break;
      case Op::neg:
        if (st[n - 1].has_num) st[n - 1].num = -st[n - 1].num, st[n - 1].kind = Value::number;
        else st[n - 1] = Value{};
        break;
      case Op::eq: case Op::ne: case Op::lt: case Op::le: case Op::gt: case Op::ge: {
        int c = compare(st[n - 2], st[n - 1]);
        --n;
        if (c == 2) {
          st[n - 1] = Value{};
          break;
        }
        bool r = in.op == Op::eq ? c == 0 : in.op == Op::ne ? c != 0 : in.op == Op::lt ? c < 0
               : in.op == Op::le ? c <= 0 : in.op == Op::gt ? c > 0 : c >= 0;
        st[n - 1] = boolean(r);
        break;
      }
      case Op::is_null: st[n - 1] = boolean(st[n - 1].kind == Value::null); break;
      case Op::is_not_null: st[n - 1] = boolean(st[n - 1].kind != Value::null); break;
      case Op::in: case Op::not_in: {
        const Value& v = st[n - 1];
        if (v.kind == Value::null) break;  // unknown stays unknown
        const auto& texts = sets_[in.arg];
        const auto& nums = set_numbers_[in.arg];
        bool found = (v.kind == Value::text && std::binary_search(texts.begin(), texts.end(), v.str)) ||
                     (v.has_num && std::binary_search(nums.begin(), nums.end(), v.num));
        st[n - 1] = boolean(found == (in.op == Op::in));
        break;
      }
      case Op::and_: case Op::or_:
        st[n - 2] = logic(in.op == Op::and_, st[n - 2], st[n - 1]);
        --n;
        break;
      case Op::not_:
        if (st[n - 1].kind == Value::boolean) st[n - 1].b = !st[n - 1].b;
        break;
    }
  }
  return n == 1 && st[0].kind == Value::boolean && st[0].b;
}

}  // namespace mlo::contracts
