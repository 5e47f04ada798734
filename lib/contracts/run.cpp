#include "contracts/run.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "contracts/gate.h"
#include "contracts/results.h"
#include "core/error.h"
#include "data/pointer.h"
#include "monitor/profile.h"
#include "notify/notify.h"
#include "pipeline/dep_checks.h"
#include "registry/data_gate.h"
#include "repo/repo.h"

namespace mlo::contracts {

bool RunResult::passed() const {
  return std::all_of(datasets.begin(), datasets.end(), [](const DatasetResult& d) { return d.passed(); });
}

namespace {

// notify: contract_failed with the failed checks (mlo-notify(5)); sent once
// per data version and failure (the event's evidence is its dedup key).
void notify_failure(Repo& repo, const DatasetResult& r) {
  if (r.passed()) return;
  nlohmann::json doc = to_json({r});
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : doc["datasets"][0]["checks"])
    if (!c.value("passed", true)) {
      nlohmann::json f = c;
      f.erase("examples");
      if (!c["examples"].empty()) f["example"] = c["examples"][0];
      checks.push_back(f);
    }
  nlohmann::json failures = {{"version", r.version}, {"rows", r.rows}, {"failed_checks", r.failed_checks()}, {"checks", checks}};
  notify::contract_failed(repo.root(), r.contract, r.dataset, failures);
}

DatasetResult validate_one(Repo& repo, const Contract& c, const RunOptions& options) {
  DatasetResult r = validate(&repo, c, dataset_sources(&repo, c.dataset), options.validate);
  if (options.record) record_validation(repo, r);
  notify_failure(repo, r);
  return r;
}

}  // namespace

RunResult validate_paths(Repo& repo, const std::vector<std::string>& paths, const RunOptions& options) {
  std::vector<Contract> contracts = load_contracts(repo.root());
  RunResult out;
  std::vector<const Contract*> chosen;
  if (paths.empty()) {
    if (contracts.empty())
      throw InputError("mlo.yaml declares no checks", "add a checks: section (mlo data schema infer PATH writes one)");
    for (const auto& c : contracts) chosen.push_back(&c);
  }
  for (const auto& p : paths) {
    std::string rel = repo.relative(p);
    if (rel.ends_with(kPointerSuffix)) rel.resize(rel.size() - std::string_view(kPointerSuffix).size());
    const Contract* c = find_contract(contracts, rel);
    if (!c) {
      if (options.skip_unchecked) {
        out.skipped.push_back(rel);
        continue;
      }
      throw InputError(p + ": mlo.yaml has no checks for " + rel,
                       "declare them under checks: in mlo.yaml (mlo data schema infer " + rel + " writes a start)");
    }
    if (std::find(chosen.begin(), chosen.end(), c) == chosen.end()) chosen.push_back(c);
  }
  for (const Contract* c : chosen) out.datasets.push_back(validate_one(repo, *c, options));
  return out;
}

namespace {

std::string failure_summary(const DatasetResult& r) {
  std::string names;
  std::size_t shown = 0;
  for (const auto& c : r.checks) {
    if (c.passed || shown++ >= 4) continue;
    names += (names.empty() ? "" : ", ") + c.check + (c.column.empty() ? "" : " " + c.column) +
             (c.check == "expect" ? " '" + c.name + "'" : "");
  }
  if (shown > 4) names += ", ...";
  return r.dataset + ": " + std::to_string(r.failed_checks()) + " of " + std::to_string(r.checks.size()) +
         " checks failed (" + names + ")";
}

// The pipeline's check of one dep: the contracts of the dep, of the folder
// it is in, or of datasets inside it when it is a folder.
std::optional<nlohmann::json> check_dep(Repo& repo, const std::string& dep) {
  std::vector<Contract> contracts = load_contracts(repo.root());
  nlohmann::json failure;
  std::vector<std::string> summaries;
  for (const auto& c : contracts) {
    bool related = find_contract({c}, dep) || (c.dataset.starts_with(dep + "/"));
    if (!related || !c.validate_in_pipelines) continue;
    DatasetResult r = validate(&repo, c, dataset_sources(&repo, c.dataset), ValidateOptions{});
    std::string id = record_validation(repo, r);
    notify_failure(repo, r);
    if (r.passed()) continue;
    if (failure.is_null()) failure = {{"dataset", c.dataset}, {"result", id}, {"failed_checks", r.failed_checks()}};
    summaries.push_back(failure_summary(r));
  }
  if (failure.is_null()) return std::nullopt;
  std::string all;
  for (const auto& s : summaries) all += (all.empty() ? "" : "; ") + s;
  failure["summary"] = all;
  return failure;
}

const bool kDepCheckerInstalled = (set_dep_checker(&check_dep), true);
const bool kDataCheckerInstalled = (registry::set_data_checker(&data_verdicts), true);

}  // namespace

void install_dep_checker() {
  (void)kDepCheckerInstalled;
  (void)kDataCheckerInstalled;
  set_dep_checker(&check_dep);
  registry::set_data_checker(&data_verdicts);
}

// ---- schema infer

namespace {

std::string number_text(double v) {
  std::ostringstream o;
  o.precision(15);
  o << v;
  return o.str();
}

bool all_integers(const monitor::ColumnProfile& c) {
  if (c.sample.approximate) return false;
  return std::all_of(c.sample.values.begin(), c.sample.values.end(), [](double v) { return v == std::floor(v); });
}

bool all_timestamps(const monitor::ColumnProfile& c) {
  if (c.categories.empty() || c.categories_overflow) return false;
  return std::all_of(c.categories.begin(), c.categories.end(),
                     [](const auto& kv) { return monitor::parse_timestamp(kv.first).has_value(); });
}

void infer_column(YAML::Emitter& y, const monitor::ColumnProfile& c, std::uint64_t rows) {
  y << YAML::Key << c.name << YAML::Value << YAML::Flow << YAML::BeginMap;
  bool numeric = c.type == monitor::ColumnType::numerical && c.invalid == 0 && c.present() > 0;
  bool timestamp = !numeric && all_timestamps(c);
  bool integer = numeric && all_integers(c);
  y << YAML::Key << "type" << YAML::Value << (timestamp ? "timestamp" : integer ? "integer" : numeric ? "number" : "string");
  if (c.missing == 0) {
    y << YAML::Key << "nullable" << YAML::Value << false;
  } else {
    double share = static_cast<double>(c.missing) / static_cast<double>(std::max<std::uint64_t>(rows, 1));
    y << YAML::Key << "max_missing" << YAML::Value << std::ceil(share * 100) / 100;
  }
  if (numeric && c.infinite == 0) {
    y << YAML::Key << "min" << YAML::Value << number_text(c.min);
    y << YAML::Key << "max" << YAML::Value << number_text(c.max);
  }
  std::uint64_t present = c.present();
  if (!numeric && !timestamp && !c.categories_overflow && !c.categories.empty() && c.categories.size() <= 20 &&
      c.categories.size() * 2 < present) {
    y << YAML::Key << "in" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& [v, _] : c.categories) y << v;
    y << YAML::EndSeq;
  }
  bool unique = c.missing == 0 && rows > 1 &&
                (numeric ? (!c.sample.approximate && c.sample.distinct() == rows && integer)
                         : (!c.categories_overflow && c.categories.size() == rows && !timestamp));
  if (unique) y << YAML::Key << "unique" << YAML::Value << true;
  y << YAML::EndMap;
}

}  // namespace

std::string infer_contract(Repo*, const std::string& dataset, const std::vector<monitor::Source>& sources) {
  monitor::ProfileOptions po;
  po.read.header = true;
  po.duplicates = false;
  monitor::DatasetProfile p = monitor::build_profile(sources, po);
  YAML::Emitter y;
  y << YAML::BeginMap << YAML::Key << "checks" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << dataset << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "columns" << YAML::Value << YAML::BeginMap;
  for (const auto& c : p.columns) infer_column(y, c, p.rows);
  y << YAML::EndMap;
  y << YAML::Key << "rows" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "min" << YAML::Value
    << (p.rows / 2) << YAML::Key << "max_drop" << YAML::Value << 0.5 << YAML::EndMap;
  y << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  return std::string("# Written by 'mlo data schema infer " + dataset + "' from " + std::to_string(p.rows) +
                     " rows: edit it, then merge it into mlo.yaml (man mlo-data, CHECKS).\n") +
         y.c_str() + "\n";
}

}  // namespace mlo::contracts
