#include "contracts/request.h"

#include <regex.h>

#include <algorithm>
#include <cmath>

#include "monitor/profile.h"
#include "monitor/table.h"
#include "repo/repo.h"

namespace mlo::contracts {

nlohmann::json RequestFailure::to_json() const {
  return {{"check", check}, {"column", column}, {"row", row}, {"value", value}};
}

// A column rule with its regex compiled once (regexec is safe to call from
// the router's threads at once: nothing here changes after construction).
struct RequestChecker::Rule {
  ColumnRule rule;
  regex_t re{};
  bool has_re = false;
  explicit Rule(ColumnRule r) : rule(std::move(r)) {
    if (!rule.regex.empty())
      has_re = regcomp(&re, ("^(" + rule.regex + ")$").c_str(), REG_EXTENDED | REG_NOSUB) == 0;
  }
  ~Rule() {
    if (has_re) regfree(&re);
  }
  Rule(const Rule&) = delete;
  Rule& operator=(const Rule&) = delete;
};

RequestChecker RequestChecker::for_data(Repo& repo, const nlohmann::json& data) {
  RequestChecker out;
  if (!data.is_array()) return out;
  std::vector<Contract> contracts = load_contracts(repo.root());
  for (const auto& d : data) {
    if (!d.is_object() || !d.contains("path") || !d["path"].is_string()) continue;
    const Contract* c = find_contract(contracts, d["path"].get<std::string>());
    if (!c || c->columns.empty()) continue;
    out.source_ += (out.source_.empty() ? "" : ", ") + c->dataset + " (" + c->where + ")";
    for (const auto& rule : c->columns) out.rules_.try_emplace(rule.name, std::make_shared<const Rule>(rule));
  }
  return out;
}

namespace {

// The offending cell as reported: at most 80 bytes and "...". Written into
// place (no returned temporary: GCC 12 warns falsely on its move here).
void set_shortened(std::string& out, const std::string& v) {
  out.assign(v, 0, 80);
  if (v.size() > 80) out += "...";
}

// The value as a number when the rule's type reads one; nullopt when it does
// not parse (a failed type check, reported by the caller).
std::optional<double> typed_number(ValueType type, const std::string& t) {
  double v = 0;
  switch (type) {
    case ValueType::integer:
      if (monitor::parse_number(t, v) && std::isfinite(v) && v == std::floor(v)) return v;
      return std::nullopt;
    case ValueType::timestamp:
      return monitor::parse_timestamp(t);
    default:
      if (monitor::parse_number(t, v) && !std::isnan(v)) return v;
      return std::nullopt;
  }
}

}  // namespace

void RequestChecker::check(std::size_t row, const std::string& column, const std::optional<std::string>& text,
                           std::vector<RequestFailure>& out) const {
  auto it = rules_.find(column);
  if (it == rules_.end()) return;
  const Rule& r = *it->second;
  const ColumnRule& c = r.rule;
  auto fail = [&](const char* check, const std::string& value) {
    RequestFailure& f = out.emplace_back();
    f.check = check;
    f.column = column;
    set_shortened(f.value, value);
    f.row = row;
  };
  if (!text) {
    if (!c.nullable) fail("nullable", "null");
    return;
  }
  const std::string& t = *text;
  bool typed = c.type == ValueType::integer || c.type == ValueType::number || c.type == ValueType::timestamp;
  std::optional<double> parsed = typed || c.min || c.max ? typed_number(c.type, t) : std::nullopt;
  bool is_num = parsed.has_value();
  double num = parsed.value_or(0);
  if (typed && !is_num) fail("type", t);
  if (c.type == ValueType::boolean && !is_bool_text(t)) fail("type", t);
  if (c.min || c.max) {
    if (is_num && ((c.min && num < *c.min) || (c.max && num > *c.max))) fail("range", t);
    else if (!is_num && !typed) fail("range", t);  // not a number at all (a typed column already failed its type)
  }
  if (!c.allowed.empty() && !std::binary_search(c.allowed.begin(), c.allowed.end(), t)) fail("in", t);
  if (r.has_re && regexec(&r.re, t.c_str(), 0, nullptr, 0) != 0) fail("regex", t);
}

}  // namespace mlo::contracts
