// GitHub Actions job summaries: commands append Markdown to the file
// $GITHUB_STEP_SUMMARY names when they run under GITHUB_ACTIONS=true.
#pragma once
#include <string>
#include <vector>

namespace mlo::cli {

// Appends `markdown` (and a blank line) to the job summary; does nothing
// outside GitHub Actions or when the variable is unset or empty.
void write_step_summary(const std::string& markdown);

// "| a | b |" rows with a header, cells' '|' and newlines escaped.
std::string summary_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows);

}  // namespace mlo::cli
