// Renderings of validation results: the --json shape and Markdown.
#include <sstream>

#include "contracts/validate.h"
#include "monitor/report.h"

namespace mlo::contracts {

namespace {

nlohmann::json check_json(const CheckResult& c) {
  nlohmann::json ex = nlohmann::json::array();
  for (const auto& e : c.examples) {
    nlohmann::json o{{"file", e.file}, {"value", e.value}};
    if (e.line) o["line"] = e.line;
    ex.push_back(o);
  }
  nlohmann::json o{{"check", c.check}, {"passed", c.passed}, {"failed", c.failed}, {"checked", c.checked},
                   {"where", c.where}, {"message", c.message}, {"examples", ex}};
  if (!c.column.empty()) o["column"] = c.column;
  if (!c.name.empty()) o["name"] = c.name;
  if (c.approximate) o["approximate"] = true;
  if (!c.detail.empty()) o["detail"] = c.detail;
  return o;
}

std::string md_cell(std::string s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += "\\|";
    else if (ch == '\n' || ch == '\r') out += ' ';
    else out += ch;
  }
  return out;
}

}  // namespace

nlohmann::json to_json(const std::vector<DatasetResult>& results) {
  nlohmann::json sets = nlohmann::json::array();
  bool passed = true;
  for (const auto& r : results) {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& c : r.checks) checks.push_back(check_json(c));
    passed = passed && r.passed();
    sets.push_back({{"dataset", r.dataset},
                    {"contract", r.contract},
                    {"contract_digest", r.contract_digest},
                    {"version", r.version.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.version)},
                    {"files", r.files},
                    {"rows", r.rows},
                    {"bytes", r.bytes},
                    {"passed", r.passed()},
                    {"failed_checks", r.failed_checks()},
                    {"checks", checks}});
  }
  return {{"version", 1}, {"passed", passed}, {"datasets", sets}};
}

std::string to_markdown(const std::vector<DatasetResult>& results) {
  std::ostringstream o;
  o << "## mlo data validate\n\n";
  for (const auto& r : results) {
    o << "### " << (r.passed() ? "✅ " : "❌ ") << "`" << md_cell(r.dataset) << "`: "
      << (r.passed() ? "passed" : std::to_string(r.failed_checks()) + " of " + std::to_string(r.checks.size()) + " checks failed")
      << " (" << r.rows << " rows)\n\n";
    o << "| check | column | result | failed | example |\n|---|---|---|---|---|\n";
    for (const auto& c : r.checks) {
      std::string ex;
      if (!c.examples.empty()) {
        const Example& e = c.examples.front();
        ex = "`" + md_cell(e.file + (e.line ? ":" + std::to_string(e.line) : "")) + "` " + md_cell(e.value);
      }
      o << "| " << md_cell(c.check == "expect" || c.check == "drift" ? c.check + ": " + c.name : c.check) << " | "
        << md_cell(c.column) << " | " << (c.passed ? "pass" : "**fail**") << " | " << c.failed << " | " << ex << " |\n";
    }
    o << "\n";
  }
  return o.str();
}

}  // namespace mlo::contracts

namespace mlo::contracts {

namespace {
std::string check_title(const CheckResult& c) {
  std::string t = c.check;
  if (!c.column.empty()) t += " " + c.column;
  if (c.check == "expect" || c.check == "drift") t += " " + c.name;
  return t;
}
}  // namespace

std::string to_annotations(const std::vector<DatasetResult>& results) {
  std::string out;
  for (const auto& r : results)
    for (const auto& c : r.checks) {
      if (c.passed) continue;
      std::string file = r.dataset;
      std::uint64_t line = 0;
      if (!c.examples.empty() && !c.examples.front().file.empty()) file = c.examples.front().file, line = c.examples.front().line;
      out += "::error file=" + monitor::gha_escape(file, true) + (line ? ",line=" + std::to_string(line) : "") +
             ",title=" + monitor::gha_escape("data contract: " + check_title(c), true) + "::" +
             monitor::gha_escape(r.dataset + ": " + c.message + " (" + c.where + ")", false) + "\n";
    }
  return out;
}

std::string to_text(const std::vector<DatasetResult>& results, bool verbose) {
  std::ostringstream o;
  for (const auto& r : results) {
    o << r.dataset << ": " << (r.passed() ? "passed" : "FAILED") << ", " << r.checks.size() << " checks, "
      << r.failed_checks() << " failed, " << r.rows << " rows\n";
    for (const auto& c : r.checks) {
      if (c.passed && !verbose) continue;
      o << "  " << (c.passed ? "ok    " : "FAIL  ") << check_title(c);
      if (!c.message.empty()) o << ": " << c.message;
      o << "  [" << c.where << "]\n";
      for (const auto& e : c.examples)
        o << "        " << e.file << (e.line ? ":" + std::to_string(e.line) : "") << ": " << e.value << "\n";
      if (c.failed > c.examples.size() && !c.examples.empty() && c.check != "drift")
        o << "        ... " << (c.failed - c.examples.size()) << " more\n";
    }
  }
  return o.str();
}

}  // namespace mlo::contracts
