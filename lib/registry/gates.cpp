// Promotion gates: each kind (metric, beat, approvals, on_remote, fairness, data_valid, check) is a
// function in kGates; evaluate_gates runs them in that order. A new gate kind
// is a StageConfig field, its parser in stage_config.cpp and one row here.
#include <cmath>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/process.h"
#include "registry/data_gate.h"
#include "registry/fairness.h"
#include "registry/runs.h"
#include "registry/registry.h"
#include "registry/remote_check.h"
#include "repo/repo.h"

namespace mlo::registry {

nlohmann::json GateResult::to_json() const {
  return {{"gate", gate}, {"what", what}, {"value", value}, {"passed", passed}, {"detail", detail}};
}

std::string run_author_email(const VersionInfo& v) {
  std::string e = v.meta.value("run_author_email", "");
  return e.empty() ? v.email : e;
}

namespace {

std::optional<double> metric_of(const VersionInfo& v, const std::string& name) {
  if (!v.meta.contains("metrics") || !v.meta["metrics"].is_object()) return std::nullopt;
  const auto& m = v.meta["metrics"];
  const nlohmann::json* cur = &m;
  if (m.contains(name)) {
    cur = &m[name];
  } else {  // dotted keys reach into nested metrics ("eval.accuracy")
    std::string rest = name;
    while (true) {
      size_t dot = rest.find('.');
      std::string key = rest.substr(0, dot);
      if (!cur->is_object() || !cur->contains(key)) return std::nullopt;
      cur = &(*cur)[key];
      if (dot == std::string::npos) break;
      rest = rest.substr(dot + 1);
    }
  }
  if (cur->is_number()) return cur->get<double>();
  if (cur->is_boolean()) return cur->get<bool>() ? 1.0 : 0.0;
  return std::nullopt;
}

std::string num(double d) {
  std::ostringstream s;
  s << d;
  return s.str();
}

bool compare(double a, const std::string& op, double b) {
  if (op == ">=") return a >= b;
  if (op == ">") return a > b;
  if (op == "<=") return a <= b;
  if (op == "<") return a < b;
  if (op == "==") return a == b;
  return a != b;
}

struct GateInput {
  Repo& repo;
  const ModelState& model;
  const VersionInfo& version;
  const StageConfig& stage;
};
using Gates = std::vector<GateResult>;

void metric_gates(const GateInput& in, Gates& out) {
  for (const auto& g : in.stage.metrics) {
    GateResult r{"metric", g.metric + " " + g.op + " " + num(g.value), "", false, ""};
    auto val = metric_of(in.version, g.metric);
    if (!val) {
      r.value = "missing";
      r.detail = in.version.version + " has no metric '" + g.metric + "'";
    } else {
      r.value = num(*val);
      r.passed = compare(*val, g.op, g.value);
    }
    out.push_back(r);
  }
}

// beat.threshold: an absolute bar, checked before comparing with the holder.
void beat_threshold(const BeatGate& b, std::optional<double> c, Gates& out) {
  if (!b.threshold) return;
  GateResult r{"threshold", b.metric + (b.greater_is_better ? " >= " : " <= ") + num(*b.threshold), "", false,
               b.greater_is_better ? "higher is better" : "lower is better"};
  if (c) {
    r.value = num(*c);
    r.passed = b.greater_is_better ? *c >= *b.threshold : *c <= *b.threshold;
  } else {
    r.value = "missing";
  }
  out.push_back(r);
}

// The candidate `cv` against the holder's `bv` (MLflow's MetricThreshold rules).
void beat_holder(const BeatGate& b, double cv, double bv, const VersionInfo& h, Gates& out) {
  std::string dir = b.greater_is_better ? "higher is better" : "lower is better";
  auto add = [&](const std::string& what, bool passed) {
    out.push_back({"beat", what, num(cv) + " vs " + num(bv) + " (" + h.version + ")", passed, dir});
  };
  const char* ge = b.greater_is_better ? " >= " : " <= ";
  const char* plus = b.greater_is_better ? "+ " : "- ";
  double sign = b.greater_is_better ? 1 : -1;
  if (b.min_absolute_change) {
    double need = bv + sign * *b.min_absolute_change;
    add(b.metric + ge + num(need) + " (holder " + plus + num(*b.min_absolute_change) + ")",
        b.greater_is_better ? cv >= need : cv <= need);
  }
  if (b.min_relative_change) {
    // MLflow: a zero baseline falls back to "strictly better".
    double need = bv == 0 ? bv + sign * 1e-10 : bv + sign * std::abs(bv) * *b.min_relative_change;
    add(b.metric + ge + num(need) + " (holder " + plus + num(*b.min_relative_change * 100) + "%)",
        b.greater_is_better ? cv >= need : cv <= need);
  }
  if (!b.min_absolute_change && !b.min_relative_change)
    add(b.metric + (b.greater_is_better ? " > " : " < ") + num(bv) + " (better than the holder)",
        b.greater_is_better ? cv > bv : cv < bv);
}

void beat_gates(const GateInput& in, Gates& out) {
  const VersionInfo& v = in.version;
  const VersionInfo* h = in.model.holder(in.stage.name);
  for (const auto& b : in.stage.beat) {
    auto c = metric_of(v, b.metric);
    beat_threshold(b, c, out);
    GateResult r{"beat", "", "", false, ""};
    if (!c) {
      r.what = "beat " + (h ? h->version : std::string("none")) + " on " + b.metric;
      r.value = "missing";
      r.detail = v.version + " has no metric '" + b.metric + "'";
      out.push_back(r);
    } else if (!h || h->version == v.version) {
      r.what = "beat the holder of " + in.stage.name + " on " + b.metric;
      r.value = num(*c);
      r.passed = true;
      r.detail = "no current holder to compare with";
      out.push_back(r);
    } else if (auto base = metric_of(*h, b.metric); !base) {
      r.what = "beat " + h->version + " on " + b.metric;
      r.value = num(*c) + " vs missing";
      r.detail = "the holder " + h->version + " has no metric '" + b.metric + "'";
      out.push_back(r);
    } else {
      beat_holder(b, *c, *base, *h, out);
    }
  }
}

void approvals_gate(const GateInput& in, Gates& out) {
  const StageConfig& s = in.stage;
  const VersionInfo& v = in.version;
  if (s.approvals <= 0) return;
  std::set<std::string> who;
  std::string author = run_author_email(v);
  for (const auto& e : in.model.events)
    if (e.kind == TagKind::approval && e.meta.is_object() && e.meta.value("version", "") == v.version &&
        e.stage == s.name && (s.author_may_approve || e.email != author))
      who.insert(e.email);
  std::string names;
  for (const auto& w : who) names += (names.empty() ? "" : ", ") + w;
  std::string how = "no approvals yet ('mlo approve " + in.model.name + "@" + v.version + " --stage " + s.name + "')";
  out.push_back({"approvals",
                 std::to_string(s.approvals) + " distinct approver" + (s.approvals == 1 ? "" : "s") +
                     (s.author_may_approve ? "" : " other than " + author),
                 std::to_string(who.size()), who.size() >= static_cast<size_t>(s.approvals),
                 names.empty() ? how : "approved by " + names});
}

void on_remote_gate(const GateInput& in, Gates& out) {
  if (!in.stage.on_remote) return;
  const VersionInfo& v = in.version;
  std::string sha = v.meta.contains("artifact") ? v.meta["artifact"].value("sha256", "") : "";
  GateResult r{"remote", "artifact on the default remote", "", false, ""};
  if (sha.empty()) {
    r.value = "no artifact";
    r.detail = v.version + " records no artifact hash";
  } else {
    RemoteAnswer a = artifact_on_default_remote(in.repo, sha, v.meta["artifact"].value("type", "file"));
    r.value = !a.present ? "unknown" : *a.present ? "present" : "absent";
    r.passed = a.present.value_or(false);
    r.detail = a.present ? (a.remote.empty() ? "" : "remote " + a.remote) : a.detail;
    if (a.present && !*a.present) r.detail = "push it with 'mlo push'";
  }
  out.push_back(r);
}

void check_gate(const GateInput& in, Gates& out) {
  if (in.stage.check.empty()) return;
  const VersionInfo& v = in.version;
  GateResult r{"check", in.stage.check, "", false, ""};
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", in.stage.check};
  spec.cwd = in.repo.root();
  spec.env = {{"MLO_MODEL", in.model.name}, {"MLO_VERSION", v.version}, {"MLO_STAGE", in.stage.name}};
  if (v.meta.contains("artifact")) {
    std::string sha = v.meta["artifact"].value("sha256", "");
    spec.env["MLO_ARTIFACT_SHA256"] = sha;
    if (!sha.empty()) spec.env["MLO_ARTIFACT"] = in.repo.cache().object_path(sha).string();
  }
  ProcessResult pr = run_process(spec);
  r.passed = pr.ok();
  r.value = pr.term_signal ? "signal " + std::to_string(pr.term_signal) : "exit " + std::to_string(pr.exit_code);
  std::string tail = pr.err.empty() ? pr.out : pr.err;
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  size_t nl = tail.rfind('\n');
  r.detail = nl == std::string::npos ? tail : tail.substr(nl + 1);
  out.push_back(r);
}

bool tabular_path(const RunArtifact& a) {
  if (a.type == "dir") return true;
  for (const char* ext : {".csv", ".tsv", ".jsonl", ".ndjson", ".json"})
    if (a.path.size() > std::string(ext).size() && a.path.ends_with(ext)) return true;
  return false;
}

// The files a version names that may hold its evaluation data: what its run
// wrote (predictions come out of an evaluation stage), then what it read;
// without a known run, the data recorded at registration. `data:` picks one.
std::vector<RunArtifact> evaluation_candidates(const GateInput& in) {
  std::vector<RunArtifact> all;
  const auto& meta = in.version.meta;
  std::optional<RunInfo> run;
  if (meta.contains("run") && meta["run"].is_string()) run = make_run_lookup(in.repo)->find(meta["run"]);
  if (run) {
    all = run->outs;
    all.insert(all.end(), run->deps.begin(), run->deps.end());
  } else if (meta.contains("data") && meta["data"].is_array()) {
    for (const auto& d : meta["data"])
      all.push_back({d.value("path", ""), d.value("sha256", ""), d.value("type", "file"), d.value("size", std::uint64_t{0})});
  }
  const std::string& want = in.stage.fairness_columns.data;
  std::erase_if(all, [&](const RunArtifact& a) { return a.sha256.empty() || (want.empty() ? !tabular_path(a) : a.path != want); });
  return all;
}

// fairness: disparity metrics between the segments of a column, computed on
// the version's evaluation data; a version naming none fails with the reason.
void fairness_gates(const GateInput& in, Gates& out) {
  const auto& gates = in.stage.fairness;
  if (gates.empty()) return;
  auto fail_all = [&](const std::string& value, const std::string& detail) {
    for (const auto& g : gates) out.push_back({"fairness", g.text, value, false, detail});
  };
  const FairnessColumns& cols = in.stage.fairness_columns;
  FairnessEvaluator evaluate = fairness_evaluator();
  if (!evaluate) return fail_all("unavailable", "this build has no fairness evaluator");
  auto candidates = evaluation_candidates(in);
  std::string wanted = "a table with columns " + cols.target + ", " + cols.prediction + " and the segment column";
  if (candidates.empty())
    return fail_all("no data", in.version.version + " names no evaluation data (" +
                                   (cols.data.empty() ? wanted : "no file " + cols.data) +
                                   "): register it from the run of a stage that reads or writes that table");
  std::vector<std::string> columns;
  for (const auto& g : gates)
    if (std::find(columns.begin(), columns.end(), g.column) == columns.end()) columns.push_back(g.column);
  nlohmann::json res;
  std::string used, why;
  for (const auto& c : candidates) {
    try {
      res = evaluate(in.repo, c, cols, columns);
      used = c.path;
      break;
    } catch (const InputError& e) {
      why += (why.empty() ? "" : "; ") + c.path + ": " + e.what();
    }
  }
  if (used.empty()) return fail_all("no data", "none of " + in.version.version + "'s data is " + wanted + " (" + why + ")");
  for (const auto& g : gates) {
    const auto& d = res[g.column]["disparities"];
    GateResult r{"fairness", g.text, "", false, "on " + used};
    if (!d.contains(g.metric) || !d[g.metric].is_number()) {
      r.value = "undefined";
      r.detail += ": " + g.metric + " is undefined there (e.g. one segment, no positives, or a regression target)";
    } else {
      r.value = num(d[g.metric].get<double>());
      r.passed = compare(d[g.metric].get<double>(), g.op, g.value);
    }
    out.push_back(r);
  }
}

std::string json_text(const nlohmann::json& o, const char* key) {
  return o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
}

// One dataset's verdict (registry/data_gate.h) as a gate line: which checks
// failed, and where the verdict came from.
GateResult data_verdict_result(const nlohmann::json& v) {
  GateResult r{"data_valid", json_text(v, "path") + " passes its contract (" + json_text(v, "contract") + ")", "",
               false, json_text(v, "detail")};
  bool decided = v.contains("passed") && v["passed"].is_boolean();
  r.passed = decided && v["passed"].get<bool>();
  std::uint64_t n = v.contains("failed_checks") && v["failed_checks"].is_number_unsigned() ? v["failed_checks"].get<std::uint64_t>() : 0;
  r.value = !decided ? "unknown" : r.passed ? "passed" : "failed " + std::to_string(n) + " check" + (n == 1 ? "" : "s");
  std::string names;
  if (v.contains("failed") && v["failed"].is_array())
    for (const auto& f : v["failed"])
      if (f.is_string()) names += (names.empty() ? "" : ", ") + f.get<std::string>();
  if (!names.empty()) r.detail = "failed: " + names + (r.detail.empty() ? "" : "; " + r.detail);
  return r;
}

// data_valid: the version's training data passed its contract. A version that
// names no training data, or none with a contract, cannot show that: it fails.
void data_valid_gate(const GateInput& in, Gates& out) {
  if (!in.stage.data_valid) return;
  const auto& meta = in.version.meta;
  const std::string& v = in.version.version;
  GateResult r{"data_valid", "training data passes its contract", "", false, ""};
  nlohmann::json data = meta.contains("data") ? meta["data"] : nlohmann::json::array();
  DataChecker check = data_checker();
  if (data.empty()) {
    r.value = "no data";
    r.detail = v + " records no training data: register it from the run that trained it (--run or --stage)";
  } else if (!check) {
    r.value = "unavailable";
    r.detail = "this build has no contract checker";
  } else {
    nlohmann::json recorded = meta.contains("data_validation") ? meta["data_validation"] : nlohmann::json::array();
    nlohmann::json verdicts = check(in.repo, data, recorded, true);
    for (const auto& x : verdicts) out.push_back(data_verdict_result(x));
    if (!verdicts.empty()) return;
    std::string paths;
    for (const auto& d : data) paths += (paths.empty() ? "" : ", ") + json_text(d, "path");
    r.value = "no contract";
    r.detail = "none of " + v + "'s training data (" + paths + ") has checks in mlo.yaml: declare them (man mlo-data)";
  }
  out.push_back(r);
}

// In the order they are printed; the cheap ones first, the shell check last.
constexpr void (*kGates[])(const GateInput&, Gates&) = {metric_gates,   beat_gates,      approvals_gate, on_remote_gate,
                                                        fairness_gates, data_valid_gate, check_gate};

}  // namespace

std::vector<GateResult> evaluate_gates(Repo& repo, const ModelState& m, const VersionInfo& v, const StageConfig& s) {
  Gates out;
  GateInput in{repo, m, v, s};
  for (auto gate : kGates) gate(in, out);
  return out;
}

}  // namespace mlo::registry
