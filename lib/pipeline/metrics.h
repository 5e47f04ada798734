// `mlo metrics show/diff` and `mlo params diff`: values at git revisions
// (read through git, like DVC) or in the work tree.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace mlo {

class Repo;

// rev empty: the work tree. Metrics: {"FILE": {"key": value}} for every
// metrics file of every stage; a file git does not hold at `rev` is taken
// from mlo.lock's recorded values at `rev`.
nlohmann::json metrics_at(Repo& repo, const std::string& rev);
// Params: {"train.lr": value, "other.yaml:key": value} for every param a stage lists.
nlohmann::json params_at(Repo& repo, const std::string& rev);

// Rows {"path"?, "key", "old", "new", "change"?} where a value differs (all
// rows with `all`). For params pass the flat object; for metrics the per-file one.
nlohmann::json diff_values(const nlohmann::json& a, const nlohmann::json& b, bool per_file, bool all = false);

// A Markdown table (for pull-request comments) from rows of objects.
std::string markdown_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows);
// The same rows as aligned text columns (two spaces apart).
std::string text_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows);
// Local time of Unix seconds, "YYYY-MM-DD HH:MM:SS" ("-" for none).
std::string time_text(double unix_seconds);
// Short text of a JSON value for tables: numbers with up to 6 significant digits.
std::string value_text(const nlohmann::json& v);

}  // namespace mlo
