#include "triggers/action.h"

#include "core/process.h"

namespace mlo::triggers {
namespace {

using json = nlohmann::json;

// Runs `mlo --json ARGS...`; the step's record keeps the tail of stderr on failure.
json run_self(const std::string& exe, const std::vector<std::string>& args, const std::filesystem::path& cwd) {
  ProcessSpec p;
  p.argv = {exe, "--json"};
  for (auto& a : args) p.argv.push_back(a);
  p.cwd = cwd;
  ProcessResult r = run_process(p);
  std::string cmdline = "mlo";
  for (auto& a : args) cmdline += " " + a;
  json j = {{"command", cmdline}, {"exit_code", r.exit_code}, {"ok", r.ok()}};
  std::string err = r.err.size() > 2000 ? r.err.substr(r.err.size() - 2000) : r.err;
  if (!r.ok()) j["stderr"] = err;
  auto out = json::parse(r.out, nullptr, false);
  if (!out.is_discarded() && (out.is_object() || out.is_array())) j["output"] = out;
  return j;
}

std::string shown(const std::vector<std::string>& args) {
  std::string line = "mlo";
  for (auto& a : args) line += " " + (a.find(' ') == std::string::npos ? a : "'" + a + "'");
  return line;
}

}  // namespace

json ActionOutcome::to_json(const monitor::OnDrift& a) const {
  json j = {{"action", {{"run", a.run}, {"register", a.register_model}, {"propose", a.propose_stage}}},
            {"steps", steps},
            {"status", status}};
  if (!version.empty()) j["version"] = a.register_model + "@" + version;
  if (!gates.is_null()) j["gates"] = gates;
  if (status == "unchanged")
    j["reason"] = "retraining produced the same artifact as " + a.register_model + "@" + version +
                  ": no new version registered";
  return j;
}

ActionOutcome run_action(const monitor::OnDrift& a, const std::filesystem::path& root, const std::string& exe,
                         const std::string& why, const std::function<void(const std::string&)>& say) {
  ActionOutcome o;
  auto step = [&](const std::vector<std::string>& args) -> json* {
    if (o.status != "done") return nullptr;
    if (say) say(shown(args));
    o.steps.push_back(run_self(exe, args, root));
    if (!o.steps.back()["ok"].get<bool>()) o.status = "failed";
    return &o.steps.back();
  };
  for (auto& stage : a.run) step({"run", stage});
  bool unchanged = false;
  if (!a.register_model.empty()) {
    // Retraining that reproduced the latest version's bytes (e.g. restored
    // from the run cache) is no new version: the decision is recorded instead.
    std::vector<std::string> args = {"register", a.register_model, "--if-changed", "-d", "retrained by " + why};
    if (!a.run.empty()) args.insert(args.end(), {"--stage", a.run.back()});
    if (auto* s = step(args); s && s->contains("output")) {
      o.version = (*s)["output"].value("version", "");
      unchanged = !(*s)["output"].value("registered", true);
    }
  }
  if (unchanged && o.status == "done") o.status = "unchanged";
  if (!a.register_model.empty() && !a.propose_stage.empty() && o.status == "done") {
    std::string ref = a.register_model + (o.version.empty() ? "" : "@" + o.version);
    json* s = step({"promote", ref, "--to", a.propose_stage, "-m", "proposed by " + why});
    if (s && s->contains("output")) o.gates = (*s)["output"].value("gates", json());
    // A gate's refusal is a decision, not a failure of the action.
    if (s && (*s)["exit_code"] == 1) o.status = "refused";
  }
  return o;
}

}  // namespace mlo::triggers
