#include "contracts/gate.h"

#include "contracts/contract.h"
#include "contracts/results.h"
#include "contracts/validate.h"
#include "core/error.h"
#include "core/hash.h"
#include "repo/repo.h"
#include "store/cache.h"

namespace mlo::contracts {

namespace {

std::string text_of(const nlohmann::json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
}

// "range income", "expect 'positive'": how a failed check is named in a gate line.
std::string check_label(const nlohmann::json& c) {
  std::string s = text_of(c, "check");
  if (!text_of(c, "column").empty()) s += " " + text_of(c, "column");
  if (!text_of(c, "name").empty()) s += " '" + text_of(c, "name") + "'";
  return s;
}

// The verdict in a stored result document (the shape of data-validate.schema.json's datasets[]).
nlohmann::json verdict_of(const nlohmann::json& doc) {
  nlohmann::json failed = nlohmann::json::array();
  if (doc.contains("checks") && doc["checks"].is_array())
    for (const auto& c : doc["checks"])
      if (c.is_object() && c.value("passed", true) == false && failed.size() < 5) failed.push_back(check_label(c));
  return {{"passed", doc.value("passed", false)}, {"failed_checks", doc.value("failed_checks", std::uint64_t{0})},
          {"failed", failed}};
}

const nlohmann::json* recorded_verdict(const nlohmann::json& recorded, const std::string& path, const std::string& sha,
                                       const std::string& digest) {
  if (!recorded.is_array()) return nullptr;
  for (const auto& r : recorded)
    if (text_of(r, "path") == path && text_of(r, "sha256") == sha && text_of(r, "contract_digest") == digest &&
        r.contains("passed") && r["passed"].is_boolean())
      return &r;
  return nullptr;
}

std::optional<nlohmann::json> stored_verdict(Repo& repo, const Contract& c, const std::string& sha) {
  auto s = latest_validation(repo, c.dataset, sha);
  if (!s || s->contract_digest != c.digest || !repo.cache().has(s->id)) return std::nullopt;
  auto doc = nlohmann::json::parse(repo.cache().read(s->id), nullptr, false);
  if (!doc.is_object()) return std::nullopt;
  nlohmann::json v = verdict_of(doc);
  v["source"] = "stored";
  v["detail"] = "validated here before (mlo data validate or mlo run), result " + s->id.substr(0, 12);
  return v;
}

// Validates the data at `sha` from the local cache; undecided (passed: null)
// when it is not there.
nlohmann::json computed_verdict(Repo& repo, const Contract& c, const nlohmann::json& d, const std::string& sha) {
  std::string path = text_of(d, "path");
  try {
    auto sources = monitor::artifact_sources(repo, path, sha, text_of(d, "type") == "dir", 0, std::nullopt);
    DatasetResult r = validate(&repo, c, sources);
    r.version = sha;
    std::string id = c.dataset == path ? record_validation(repo, r) : std::string();
    nlohmann::json v = verdict_of(to_json({r})["datasets"][0]);
    v["source"] = "validated";
    v["detail"] = "validated now from the local cache" + (id.empty() ? std::string() : ", result " + id.substr(0, 12));
    return v;
  } catch (const InputError& e) {
    if (repo.cache().has(sha)) throw;  // a contract error: the user must fix mlo.yaml
    return {{"passed", nullptr}, {"source", "none"},
            {"detail", std::string(e.what()) + ": run 'mlo pull " + path + "' (or pull the run's data) to check it"}};
  }
}

}  // namespace

nlohmann::json data_verdicts(Repo& repo, const nlohmann::json& data, const nlohmann::json& recorded, bool compute) {
  std::vector<Contract> contracts = load_contracts(repo.root());
  nlohmann::json out = nlohmann::json::array();
  if (!data.is_array()) return out;
  for (const auto& d : data) {
    std::string path = text_of(d, "path"), sha = text_of(d, "sha256");
    const Contract* c = find_contract(contracts, path);
    if (!c || !is_sha256_hex(sha)) continue;
    nlohmann::json v;
    if (const nlohmann::json* r = recorded_verdict(recorded, path, sha, c->digest)) {
      v = *r;
      v["source"] = "recorded";
      v["detail"] = "recorded when the version was registered, under the same contract";
    } else if (auto s = stored_verdict(repo, *c, sha)) {
      v = *s;
    } else if (compute) {
      v = computed_verdict(repo, *c, d, sha);
    } else {
      continue;
    }
    v["path"] = path;
    v["sha256"] = sha;
    v["contract"] = c->where;
    v["contract_digest"] = c->digest;
    out.push_back(v);
  }
  return out;
}

}  // namespace mlo::contracts
