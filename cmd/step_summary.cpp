#include "step_summary.h"

#include <cstdlib>
#include <cstring>
#include <fstream>

namespace mlo::cli {

void write_step_summary(const std::string& markdown) {
  const char* gha = std::getenv("GITHUB_ACTIONS");
  const char* path = std::getenv("GITHUB_STEP_SUMMARY");
  if (!gha || std::strcmp(gha, "true") != 0 || !path || !*path) return;
  std::ofstream(path, std::ios::app) << markdown << "\n";
}

namespace {
std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}
}  // namespace

std::string summary_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  std::string out = "|", rule = "|";
  for (const auto& h : headers) out += " " + cell(h) + " |", rule += " --- |";
  out += "\n" + rule + "\n";
  for (const auto& row : rows) {
    out += "|";
    for (const auto& c : row) out += " " + cell(c) + " |";
    out += "\n";
  }
  return out;
}

}  // namespace mlo::cli
