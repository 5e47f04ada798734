// Renderings of a monitor result: terminal table, Markdown, self-contained
// HTML (inline SVG charts, no scripts, no network, no raw rows), GitHub
// Actions annotations, and the SVG day-by-day drift heatmap.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace mlo::monitor {

std::string render_text(const nlohmann::json& result, bool color);
std::string render_markdown(const nlohmann::json& result);
std::string render_html(const nlohmann::json& result);
// "::warning ..." / "::error ..." lines for failed tests, naming the column,
// escaped per GitHub's workflow-command rules. The caller writes them to
// stderr (GitHub reads both streams; stdout may be --json).
std::string render_annotations(const nlohmann::json& result);
// Escapes text for a GitHub workflow command (`property`: a key=value field, which also escapes : and ,).
std::string gha_escape(const std::string& s, bool property);
std::string render_history_text(const nlohmann::json& history);
std::string render_heatmap_html(const nlohmann::json& matrix, const std::string& title);

}  // namespace mlo::monitor
