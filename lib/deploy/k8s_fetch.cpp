#include "deploy/k8s_fetch.h"

#include "core/error.h"
#include "core/fs.h"
#include "data/pointer.h"
#include "remote/remotes.h"
#include "repo/repo.h"
#include "runner/exec.h"

namespace mlo::deploy {
namespace {

using json = nlohmann::json;
// Every word quoted, so the script reads the same whatever a name holds.
constexpr auto sh_quote = &runner::shell_quote_always;

// The artifact's pointer file: what `mlo pull` fetches and checks by hash.
std::string pointer_text(const DeployModel& m, const std::string& file) {
  Pointer p;
  p.path = file;
  p.type = EntryType::file;
  p.sha256 = m.sha256;
  p.size = static_cast<std::uint64_t>(fs::file_size(m.path));
  p.description = m.name + "@" + m.version;
  return serialize_pointer(p);
}

std::string fetch_script(const DeployModel& m, const remote::RemoteConfig& r, const std::string& file) {
  std::string name = sh_quote(r.name), f = sh_quote(file);
  std::string s = "#!/bin/sh\n"
                  "# Rendered by mlo deploy --target k8s: fetches " + m.name + "@" + m.version + " (sha256 " + m.sha256 +
                  ")\n# from the remote '" + r.name + "' into $MLO_MODELS_DIR, by its hash.\n"
                  "set -eu\n"
                  "work=$(mktemp -d)\n"
                  "cd \"$work\"\n"
                  "git init -q .\n"
                  "mlo -q init\n"
                  "mlo -q remote add --default " + name + " " + sh_quote(r.url) + "\n";
  for (const auto& [key, value] : r.options) s += "mlo -q remote modify " + name + " " + sh_quote(key) + " " + sh_quote(value) + "\n";
  s += "cp \"$MLO_CONFIG_DIR/model.mlo\" " + sh_quote(file + kPointerSuffix) + "\n"
       "mlo -q pull " + f + "\n"
       "cp " + f + " \"$MLO_MODELS_DIR\"/" + f + "\n"
       "echo " + sh_quote(m.sha256 + "  ") + "\"$MLO_MODELS_DIR\"/" + f + " | sha256sum -c --quiet -\n"
       "echo " + sh_quote("fetched " + m.name + "@" + m.version + " (sha256 " + m.sha256 + ")") + "\n";
  return s;
}

}  // namespace

ModelFetch model_fetch_step(Repo& repo, const DeployModel& m, const std::string& image, const std::string& remote_name) {
  remote::RemoteConfig r;
  try {
    r = remote::resolve_remote(repo.config(), remote_name);
  } catch (const InputError& e) {
    std::string hint = e.hint().empty() ? "add a remote the cluster can reach: mlo remote add NAME s3://BUCKET/PATH --default" : e.hint();
    throw InputError(std::string("--target k8s: the pods fetch the model from a remote by its hash: ") + e.what(),
                     hint + "; then send the model there with 'mlo push'");
  }
  std::string file = m.path.filename().string();
  ModelFetch out;
  out.remote = r.name;
  out.files = {{"model.mlo", pointer_text(m, file)}, {"fetch-model.sh", fetch_script(m, r, file)}};
  out.init_container = {
      {"name", "fetch-model"},
      {"image", image},
      {"command", {"/bin/sh", "/etc/mlo/fetch-model.sh"}},
      {"env", json::array({{{"name", "MLO_CONFIG_DIR"}, {"value", "/etc/mlo"}},
                           {{"name", "MLO_MODELS_DIR"}, {"value", "/models"}},
                           {{"name", "HOME"}, {"value", "/tmp"}}})},
      // The remote's credentials (AWS_*, AZURE_*, ...), never in the manifest.
      {"envFrom", json::array({{{"secretRef", {{"name", "mlo-remote"}, {"optional", true}}}}})},
      {"volumeMounts", json::array({{{"name", "spec"}, {"mountPath", "/etc/mlo"}, {"readOnly", true}},
                                    {{"name", "models"}, {"mountPath", "/models"}}})}};
  return out;
}

}  // namespace mlo::deploy
