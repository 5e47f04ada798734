#include <catch2/catch.hpp>
#include <regex.h>

#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "contracts/contract.h"
#include "contracts/csv_record.h"
#include "contracts/expr.h"
#include "contracts/pattern.h"
#include "contracts/unique.h"
#include "contracts/validate.h"
#include "core/error.h"
#include "monitor/table.h"
#include "repo/config.h"
#include "test_util.h"

using namespace mlo;
using namespace mlo::contracts;

namespace {

// Evaluates `text` on one row given as {column: value}; "<null>" is missing.
bool holds(const std::string& text, const std::vector<std::pair<std::string, std::string>>& row) {
  ExprError err;
  auto e = Expr::parse(text, err);
  INFO(text << ": " << err.message);
  REQUIRE(e);
  std::vector<ExprCell> cells;
  for (const auto& name : e->columns()) {
    ExprCell c{{}, true};
    for (const auto& [k, v] : row)
      if (k == name && v != "<null>") c = {v, false};
    cells.push_back(c);
  }
  return e->holds(cells.data());
}

ExprError parse_error(const std::string& text) {
  ExprError err;
  auto e = Expr::parse(text, err);
  REQUIRE_FALSE(e);
  return err;
}

std::vector<Contract> contracts_of(const std::string& yaml) {
  YAML::Node doc = load_yaml(yaml, "mlo.yaml");
  return parse_contracts(doc["checks"], "mlo.yaml");
}

const CheckResult& find(const DatasetResult& r, const std::string& check, const std::string& column = "") {
  for (const auto& c : r.checks)
    if (c.check == check && (column.empty() || c.column == column || c.name == column)) return c;
  FAIL("no check " << check << " " << column);
  throw 0;
}

DatasetResult validate_text(const test::TempDir& dir, const std::string& name, const std::string& data,
                            const std::string& yaml) {
  test::write(dir / name, data);
  auto cs = contracts_of(yaml);
  REQUIRE(cs.size() == 1);
  auto sources = monitor::resolve_inputs({(dir / name).string()}, nullptr, std::nullopt);
  return validate(nullptr, cs[0], sources);
}

}  // namespace

TEST_CASE("expressions: comparisons, arithmetic, and/or/not, is null, in lists") {
  CHECK(holds("income >= 0 or income is null", {{"income", "5"}}));
  CHECK(holds("income >= 0 or income is null", {{"income", "<null>"}}));
  CHECK_FALSE(holds("income >= 0 or income is null", {{"income", "-1"}}));
  // a null compared is unknown, and unknown fails the row
  CHECK_FALSE(holds("income >= 0", {{"income", "<null>"}}));
  CHECK_FALSE(holds("not (income >= 0)", {{"income", "<null>"}}));
  // Kleene: unknown or true is true; unknown and false is false
  CHECK(holds("income > 0 or age > 1", {{"income", "<null>"}, {"age", "2"}}));
  CHECK_FALSE(holds("income > 0 and age > 1", {{"income", "<null>"}, {"age", "2"}}));
  // precedence: * over +, comparison over not, and over or
  CHECK(holds("a + b * 2 == 7", {{"a", "1"}, {"b", "3"}}));
  CHECK(holds("(a + b) * 2 == 8", {{"a", "1"}, {"b", "3"}}));
  CHECK(holds("not a == 2 and b = 3 or false", {{"a", "1"}, {"b", "3"}}));
  CHECK(holds("-a < 0 and a % 2 == 1 and a / 2 == 0.5", {{"a", "1"}}));
  CHECK_FALSE(holds("a / 0 == 1 or a / 0 != 1", {{"a", "1"}}));  // division by zero is unknown
  // strings compare as text, numbers as numbers ("10" > "9")
  CHECK(holds("city == 'paris' and n > 9", {{"city", "paris"}, {"n", "10"}}));
  CHECK(holds("city in ['paris', 'it''s'] and n not in [1, 2.5]", {{"city", "it's"}, {"n", "3"}}));
  CHECK(holds("n in [1, 2.5]", {{"n", "2.50"}}));
  CHECK_FALSE(holds("city in ['paris']", {{"city", "<null>"}}));
  CHECK(holds("`my col` is not null and x.y >= 1e3", {{"my col", "a"}, {"x.y", "1000"}}));
  // a number against a text that is not a number: unknown, so the row fails
  CHECK_FALSE(holds("n > 1", {{"n", "abc"}}));
  CHECK(holds("flag == true", {{"flag", "True"}}));
}

TEST_CASE("expressions: errors point at the offending offset") {
  CHECK(parse_error("a >= 0 or or b is null").offset == 10);
  CHECK(parse_error("a + 1").message.find("not a condition") != std::string::npos);
  CHECK(parse_error("(a > 1").message.find("never closed") != std::string::npos);
  CHECK(parse_error("a > 1)").offset == 5);
  CHECK(parse_error("a in (1, 2)").message.find("'['") != std::string::npos);
  CHECK(parse_error("a > 'x").message.find("unterminated") != std::string::npos);
  CHECK(parse_error("a > 1 and b").message.find("join conditions") != std::string::npos);
  CHECK(parse_error("a is 3").offset == 5);
  CHECK(parse_error("a $ 3").offset == 2);
  CHECK(parse_error(std::string(10001, '(')).message.find("longer than") != std::string::npos);
}

TEST_CASE("expressions: deep nesting is parsed and evaluated without recursion") {
  std::string deep = std::string(4000, '(') + "a > 1" + std::string(4000, ')');
  CHECK(holds(deep, {{"a", "2"}}));
  std::string nots;
  for (int i = 0; i < 2000; ++i) nots += "not ";
  CHECK(holds(nots + "a > 1", {{"a", "2"}}));  // an even number of nots
  std::string sum = "a";
  for (int i = 0; i < 1500; ++i) sum += " + a";
  CHECK(holds(sum + " == 1501", {{"a", "1"}}));
}

TEST_CASE("unique sets: exact under the limit, a sample past it that still finds repeats") {
  UniqueSet exact(1 << 12);
  int repeats = 0;
  for (int i = 0; i < 2000; ++i) repeats += exact.seen_before(hash_text(std::to_string(i % 1000)));
  CHECK(repeats == 1000);
  CHECK_FALSE(exact.sampled());
  UniqueSet small(1024);
  repeats = 0;
  for (int i = 0; i < 100000; ++i) repeats += small.seen_before(hash_text(std::to_string(i)));
  CHECK(repeats == 0);  // never a false repeat
  CHECK(small.sampled());
  int found = 0;
  for (int i = 0; i < 100000; ++i) found += small.seen_before(hash_text(std::to_string(i)));
  CHECK(found > 0);     // the sampled values repeat
  CHECK(found < 100000);
}

TEST_CASE("contracts: parse errors name mlo.yaml:LINE:COL") {
  auto message = [](const std::string& yaml) {
    try {
      contracts_of(yaml);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("checks:\n  d.csv:\n    colums: {}\n").find("mlo.yaml:3:5: unknown check 'colums'") == 0);
  CHECK(message("checks:\n  d.csv:\n    columns: {a: {type: text}}\n").find("mlo.yaml:3:25: unknown column type") == 0);
  CHECK(message("checks:\n  d.csv:\n    expect: ['a > 1 and and b']\n").find("mlo.yaml:3:25:") == 0);
  CHECK(message("checks:\n  d.csv:\n    expect: [a > 1 and and b]\n").find("mlo.yaml:3:24:") == 0);
  CHECK(message("checks:\n  d.csv:\n    columns: {a: {regex: '('}}\n").find("mlo.yaml:3:26: regex") == 0);
  CHECK(message("checks:\n  ../d.csv: {}\n").find("mlo.yaml:2:3:") == 0);
  auto cs = contracts_of("checks:\n  data/:\n    primary_key: [a, b]\n  data/x.csv: {}\n");
  CHECK(find_contract(cs, "data/y.csv")->dataset == "data");
  CHECK(find_contract(cs, "data/x.csv")->dataset == "data/x.csv");
  CHECK(find_contract(cs, "database.csv") == nullptr);
}

TEST_CASE("validate: counts every failure with file:line examples") {
  test::TempDir dir;
  std::string data =
      "id,age,city,note\n"
      "1,30,paris,\"two\nlines\"\n"  // lines 2-3
      "2,abc,lyon,x\n"               // line 4: age not an integer
      "2,40,rome,x\n"                // line 5: id repeated, city not allowed
      "3,,nice,x\n"                  // line 6: age missing
      "4,200,nice,x\n"               // line 7: out of range
      "5,50\n";                      // line 8: malformed
  auto r = validate_text(dir, "d.csv", data,
                         "checks:\n  d.csv:\n    columns:\n      id: {type: integer, unique: true}\n"
                         "      age: {type: integer, min: 0, max: 120, nullable: false}\n"
                         "      city: {in: [paris, lyon, nice]}\n      zip: string\n"
                         "    expect: ['age < 100 or age is null']\n    rows: {min: 10}\n");
  CHECK(r.rows == 5);
  CHECK_FALSE(r.passed());
  auto ex = [](const CheckResult& c) { return c.examples.at(0).file.substr(c.examples.at(0).file.rfind('/') + 1) + ":" + std::to_string(c.examples.at(0).line) + " " + c.examples.at(0).value; };
  CHECK(find(r, "type", "age").failed == 1);
  CHECK(ex(find(r, "type", "age")) == "d.csv:4 abc");
  CHECK(ex(find(r, "unique", "id")) == "d.csv:5 2");
  CHECK(ex(find(r, "in", "city")) == "d.csv:5 rome");
  CHECK(ex(find(r, "nullable", "age")) == "d.csv:6 null");
  CHECK(ex(find(r, "range", "age")) == "d.csv:7 200");
  CHECK(find(r, "range", "age").failed == 1);
  CHECK(find(r, "presence", "zip").failed == 1);
  CHECK(find(r, "presence", "age").passed);
  CHECK(find(r, "format").failed == 1);
  CHECK(find(r, "format").examples.at(0).line == 8);
  // "abc" < 100 is unknown: fails; 200 fails; null passes
  CHECK(find(r, "expect").failed == 2);
  CHECK(find(r, "rows").failed == 1);
  CHECK(r.failed_checks() == 9);
}

TEST_CASE("validate: a column a rule reads but the data lacks") {
  test::TempDir dir;
  // declared under columns: a failed presence check, the rule is not evaluated
  auto r = validate_text(dir, "d.jsonl", "{\"a\": 1}\n{\"a\": null}\n",
                         "checks:\n  d.jsonl:\n    columns: {b: number}\n    expect: ['b > 0']\n");
  CHECK(find(r, "presence", "b").failed == 1);
  CHECK(find(r, "expect").passed);
  CHECK(find(r, "expect").checked == 0);
  // not declared: the contract is wrong, at the column's place in mlo.yaml
  try {
    validate_text(dir, "d.jsonl", "{\"a\": 1}\n", "checks:\n  d.jsonl:\n    expect: ['a > 0 and bb > 0']\n");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("mlo.yaml:3:25: the checks of d.jsonl name column 'bb'") == 0);
  }
}

TEST_CASE("validate: primary keys, regexes, freshness and missing shares") {
  test::TempDir dir;
  std::string data = "k1,k2,email,ts,v\na,1,x@y.org,2024-01-01,1\na,2,nope,2024-01-02T00:00:00Z,\na,1,z@y.org,2024-01-03,\n";
  auto cs = contracts_of(
      "checks:\n  d.csv:\n    primary_key: [k1, k2]\n    columns:\n      email: {regex: '[a-z]+@[a-z]+\\.org'}\n"
      "      v: {max_missing: 0.5}\n"
      "    freshness: {column: ts, max_age: 1d}\n");
  test::write(dir / "d.csv", data);
  auto sources = monitor::resolve_inputs({(dir / "d.csv").string()}, nullptr, std::nullopt);
  ValidateOptions o;
  o.now = 1704240000 + 3600;  // 2024-01-03T01:00Z: the newest row is an hour old
  auto r = validate(nullptr, cs[0], sources, o);
  CHECK(find(r, "primary_key").failed == 1);
  CHECK(find(r, "primary_key").examples.at(0).line == 4);
  CHECK(find(r, "primary_key").examples.at(0).value == "a,1");
  CHECK(find(r, "regex", "email").failed == 1);
  CHECK(find(r, "regex", "email").examples.at(0).value == "nope");
  CHECK(find(r, "max_missing", "v").failed == 2);  // 2 of 3 missing > 0.5
  CHECK(find(r, "freshness").passed);
  o.now += 2 * 86400;
  r = validate(nullptr, cs[0], sources, o);
  CHECK_FALSE(find(r, "freshness").passed);
  CHECK(find(r, "freshness").examples.at(0).line == 4);
}

TEST_CASE("validate: in lists of many values, near misses by length and prefix") {
  test::TempDir dir;
  std::string allowed, data = "c\n";
  for (int i = 0; i < 40; ++i) allowed += (i ? ", " : "") + std::string("v") + std::to_string(i);
  for (const char* v : {"v0", "v39", "v4", "v40", "v", "v00", "V1", "v1 ", " v2", "v3\t"}) data += std::string(v) + "\n";
  auto r = validate_text(dir, "d.csv", data, "checks:\n  d.csv:\n    columns:\n      c: {in: [" + allowed + "]}\n");
  // v40, v, v00 and V1 are not in the list; blanks around a value are trimmed
  CHECK(find(r, "in", "c").failed == 4);
  std::vector<std::string> bad;
  for (const auto& e : find(r, "in", "c").examples) bad.push_back(e.value);
  CHECK(bad == std::vector<std::string>{"v40", "v", "v00", "V1"});
}

TEST_CASE("numbers: the fast path gives from_chars' double for every decimal it takes") {
  std::uint64_t state = 42;
  auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  for (int i = 0; i < 200000; ++i) {
    std::string t = (next() >> 60) & 1 ? "-" : "";
    int digits = 1 + static_cast<int>((next() >> 33) % 20);
    int dot = static_cast<int>((next() >> 33) % static_cast<std::uint64_t>(digits + 2)) - 1;  // -1: no point
    for (int d = 0; d < digits; ++d) {
      if (d == dot) t += '.';
      t += static_cast<char>('0' + (next() >> 33) % 10);
    }
    double want = 0, got = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), want);
    REQUIRE(ec == std::errc());
    REQUIRE(p == t.data() + t.size());
    INFO(t);
    REQUIRE(monitor::parse_number(t, got));
    REQUIRE(std::memcmp(&got, &want, sizeof got) == 0);
  }
  double v = 0;
  for (const char* no : {"", "-", ".", "-.", "1.2.3", "1e", "--1", "0x10", "1 2"}) CHECK_FALSE(monitor::parse_number(no, v));
  CHECK((monitor::parse_number("+.5", v) && v == 0.5));
  CHECK((monitor::parse_number(" 9007199254740993 ", v) && v == 9007199254740992.0));  // past 2^53: from_chars rounds
}

namespace {

// regexec on the whole text, as the contract reader compiles `regex:`.
bool posix_full_match(const std::string& pattern, const std::string& text) {
  regex_t re;
  REQUIRE(regcomp(&re, ("^(" + pattern + ")$").c_str(), REG_EXTENDED | REG_NOSUB) == 0);
  bool m = regexec(&re, text.c_str(), 0, nullptr, 0) == 0;
  regfree(&re);
  return m;
}

}  // namespace

TEST_CASE("patterns: the fixed-width path answers as regexec does") {
  struct Case {
    const char* pattern;
    bool fixed;
  };
  const Case cases[] = {{"[A-J]{2}-[0-9]{4}", true}, {"[a-z0-9_]{3}@x\\.org", true}, {"[^0-9]{2}[]x-]", true},
                        {"...\\{1\\}", true},          {"a{0}b", true},                  {"[--/]{3}", true},
                        {"[^]a]{2}", true},          {"[a-c]+", false},               {"a|b", false},
                        {"(ab){2}", false},          {"[[:digit:]]{3}", false},       {"x{1,3}", false},
                        {"\\w{2}", false},           {"é{2}", false},                 {"", true}};
  std::uint64_t state = 7;
  int matched = 0;  // texts that match, over all patterns: the accepting path is exercised
  auto next = [&] { return (state = state * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
  const std::string alphabet = "ABCJKZabcxyz0189-_.@{}]/\\^\n\t \x7f\x80\xc3\xa9";
  for (const auto& c : cases) {
    Pattern p(c.pattern);
    INFO(c.pattern);
    CHECK(p.fixed_width() == c.fixed);
    for (int i = 0; i < 4000; ++i) {
      std::string t;
      std::size_t len = next() % 9;
      for (std::size_t k = 0; k < len; ++k) t += alphabet[next() % alphabet.size()];
      if (i % 4 == 0) t = i % 8 ? "AB-1234" : "a_9@x.org";  // near the patterns' shapes too
      if (i % 16 == 4 && !t.empty()) t[next() % t.size()] = 'A';
      INFO("text '" << t << "'");
      bool want = posix_full_match(c.pattern, t);
      REQUIRE(p.matches(t) == want);
      matched += want;
    }
    for (const char* t : {"AB-1234", "JJ-0000", "AK-1234", "AB-123", "AB-12345", "a_9@x.org", "ab{", "--/", "!x]",
                          "\xc3\xa9\xc3\xa9", "bb", "", "AB-1234\n"}) {
      INFO("text '" << t << "'");
      REQUIRE(p.matches(t) == posix_full_match(c.pattern, t));
    }
  }
  CHECK(matched > 0);
  // A NUL in a value: regexec reads the C string up to it, and so does the check.
  Pattern code("[A-J]{2}-[0-9]{4}");
  CHECK(code.matches(std::string("AB-1234\0zz", 10)));
}

namespace {

// A CSV/TSV file built from known fields (plain, quoted with delimiters,
// newlines and doubled quotes, CRLF endings, blank lines), and the rows the
// reader must give back with the line each starts on.
struct Generated {
  std::string text;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::uint64_t> lines;
};

Generated generate_table(char delim, std::size_t records, std::uint64_t seed) {
  std::uint64_t state = seed;
  auto next = [&] { return (state = state * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
  Generated g;
  std::uint64_t line = 1;
  const std::string plain_chars = "abcXYZ019.-_ \r";
  for (std::size_t r = 0; r < records; ++r) {
    if (next() % 50 == 0) g.text += "\n", ++line;  // blank line: skipped
    std::vector<std::string> row;
    std::uint64_t newlines = 0;
    for (int f = 0; f < 4; ++f) {
      std::string v;
      if (f) g.text += delim;
      if (next() % 10 == 0) {
        std::string inner;
        for (std::size_t k = next() % 6; k > 0; --k) {
          std::uint64_t pick = next() % 6;
          char ch = pick == 0 ? delim : pick == 1 ? '\n' : pick == 2 ? '"' : "pq r"[next() % 4];
          v += ch;
          inner += ch == '"' ? "\"\"" : std::string(1, ch);
          newlines += ch == '\n';
        }
        g.text += "\"" + inner + "\"";
      } else {
        for (std::size_t k = 1 + next() % 8; k > 0; --k) v += plain_chars[next() % (plain_chars.size() - 1)];
        g.text += v;
      }
      row.push_back(v);
    }
    bool crlf = next() % 4 == 0;
    g.text += crlf ? "\r\n" : "\n";
    g.rows.push_back(row);
    g.lines.push_back(line);
    line += 1 + newlines;
  }
  return g;
}

}  // namespace

TEST_CASE("table reader: fields, quotes, CRLF and line numbers across buffer refills") {
  test::TempDir dir;
  for (char delim : {',', '\t'}) {
    // ~40,000 records of 4 fields: past the reader's 1 MiB chunk, so records straddle refills.
    Generated g = generate_table(delim, 40000, delim == ',' ? 11 : 12);
    std::string name = delim == ',' ? "t.csv" : "t.tsv";
    test::write(dir / name, "a" + std::string(1, delim) + "b" + std::string(1, delim) + "c" + std::string(1, delim) +
                                "d\n" + g.text);
    auto sources = monitor::resolve_inputs({(dir / name).string()}, nullptr, std::nullopt);
    monitor::ReadOptions ro;
    ro.header = true;
    monitor::RowVisitor v;
    std::uint64_t line = 0;
    v.line = &line;
    std::size_t at = 0, malformed = 0;
    v.header = [&](const std::vector<std::string>& names) { CHECK(names == std::vector<std::string>{"a", "b", "c", "d"}); };
    v.row = [&](const std::vector<monitor::Cell>& cells, std::string_view) {
      REQUIRE(at < g.rows.size());
      std::vector<std::string> got;
      for (const auto& c : cells) got.emplace_back(c.text);
      INFO("record " << at);
      REQUIRE(got == g.rows[at]);  // an unquoted last field has lost the '\r' of a CRLF ending
      REQUIRE(line == g.lines[at] + 1);  // +1: the header line
      ++at;
    };
    v.malformed = [&](const monitor::Malformed&) { ++malformed; };
    monitor::read_table(sources[0], ro, v);
    CHECK(at == g.rows.size());
    CHECK(malformed == 0);
  }
}

TEST_CASE("csv records in memory: split as the file reader splits CSV") {
  Generated g = generate_table(',', 3000, 21);
  std::vector<CsvField> fields;
  std::size_t pos = 0, at = 0;
  std::uint64_t line = 1, start = 0;
  while (next_csv_record(g.text, pos, line, start, fields) == CsvStatus::record) {
    REQUIRE(at < g.rows.size());
    std::vector<std::string> got;
    for (const auto& f : fields) got.push_back(f.text);
    INFO("record " << at);
    REQUIRE(got == g.rows[at]);
    REQUIRE(start == g.lines[at]);
    ++at;
  }
  CHECK(at == g.rows.size());
  CHECK(pos == g.text.size());

  struct Bad {
    const char* text;
    std::uint64_t line;
  };
  for (const Bad& b : {Bad{"a,b\n1,x\"y\n", 2}, Bad{"a,b\n\"1\"2,3\n", 2}, Bad{"a\n\"x\ny\n\n\"z\"w\n", 2},
                       Bad{"a\n\n\"never closed\n", 3}}) {
    INFO(b.text);
    pos = 0, line = 1;
    CsvStatus s = CsvStatus::record;
    while ((s = next_csv_record(b.text, pos, line, start, fields)) == CsvStatus::record) {}
    CHECK(s == CsvStatus::bad_quote);
    CHECK(start == b.line);
  }
  pos = 0, line = 1;
  REQUIRE(next_csv_record("\"x,\"\"y\"\"\",2,\r\n", pos, line, start, fields) == CsvStatus::record);
  REQUIRE(fields.size() == 3);
  CHECK(fields[0].text == "x,\"y\"");
  CHECK(fields[1].text == "2");
  CHECK(fields[2].text.empty());
  CHECK(next_csv_record("\"x,\"\"y\"\"\",2,\r\n", pos, line, start, fields) == CsvStatus::end);
}
