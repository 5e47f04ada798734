// Internal to lib/ui: a page's parts and the helpers pages share.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "ui/html.h"

namespace mlo {
class Repo;
}

namespace mlo::ui {

struct Page {
  int status = 200;
  std::string title;
  std::string section;  // nav entry to highlight: runs, experiments, models, lineage, deployments, monitors, audit
  std::string body;     // HTML inside <main>
  int refresh_s = 0;    // > 0: the browser reloads the page (live counts)
  std::string raw_html; // a whole document served as it is (monitor reports)
};

// The whole document: head, style, nav, body.
std::string render_page(const Page& page);

// j[key] when it is an object, else an empty object (records come from teammates).
const nlohmann::json& object_at(const nlohmann::json& j, const char* key);
// A value from a record or index row as table text (escaped).
std::string cell(const nlohmann::json& v);
// "<a href='HREF'>TEXT</a>" with both escaped.
std::string link(const std::string& href, const std::string& text);
// A table from headers and rows of HTML cells (already escaped).
std::string html_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows,
                       const std::string& css_class = {});
// Local time of Unix seconds ("-" for none).
std::string when(double unix_seconds);
// A positive integer parameter, clamped to [1, max]; `fallback` when absent or not a number.
long int_param(const QueryParams& q, const char* name, long fallback, long max);
// Checks a path segment that names a run, model, environment or result: at
// most 200 bytes of [A-Za-z0-9._@#:/+~^-]; UsageError otherwise (the page answers 400).
std::string checked_name(const std::string& text, const char* what);

// The pages (each in pages_*.cpp).
Page runs_page(Repo& repo, const QueryParams& q);
Page experiments_page(Repo& repo, const QueryParams& q);
Page run_page(Repo& repo, const std::string& id);
Page compare_page(Repo& repo, const QueryParams& q);
Page scatter_page(Repo& repo, const QueryParams& q);
Page plots_page(Repo& repo, const QueryParams& q);
Page models_page(Repo& repo, const QueryParams& q);
Page model_page(Repo& repo, const std::string& name, const QueryParams& q);
Page audit_page(Repo& repo, const QueryParams& q);
Page lineage_page(Repo& repo, const QueryParams& q);
Page deployments_page(Repo& repo);
Page monitors_page(Repo& repo, const QueryParams& q);
Page monitor_result_page(Repo& repo, const std::string& id);

}  // namespace mlo::ui
