// --target batch (score a file, track the predictions with lineage) and
// --target k8s (render Deployment+Service or a KServe InferenceService).
#include <yaml-cpp/yaml.h>
#include "core/version.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "deploy/env_check.h"
#include "core/process.h"
#include "core/hash.h"
#include "data/data.h"
#include "data/pointer.h"
#include "deploy/deploy.h"
#include "deploy/inference.h"
#include "deploy/k8s_fetch.h"
#include "repo/repo.h"
#include "runner/exec.h"

namespace mlo::deploy {

using nlohmann::json;

// ---------------------------------------------------------------- batch

namespace {

// The input as the lineage record names it: repo-relative inside the work
// tree, else absolute (scoring /data/incoming.csv is normal); empty when it
// lies outside the repository.
std::string repo_relative_or_empty(Repo& repo, const fs::path& abs) {
  std::error_code ec, root_ec;
  fs::path parent = fs::weakly_canonical(abs.parent_path(), ec);
  fs::path root = fs::weakly_canonical(repo.root(), root_ec);
  if (ec || root_ec || !relative_inside(parent / abs.filename(), root)) return "";
  return repo.relative(abs);
}

// The file to score: a tracked dataset inside the repository is taken from
// the cache when it is not checked out. Returns its hash when tracked.
std::string tracked_input_hash(Repo& repo, const std::string& shown, const fs::path& input) {
  std::error_code ec;
  fs::path pointer_file = input.string() + kPointerSuffix;
  if (!fs::exists(pointer_file, ec)) return "";
  Pointer p = parse_pointer(read_file(pointer_file), pointer_file.string());
  if (p.type != EntryType::file) throw InputError(shown + " is a tracked folder", "score one CSV file");
  if (!fs::exists(input, ec)) {
    if (!repo.cache().has(p.sha256))
      throw InputError(shown + " is tracked but neither checked out nor in the cache", "run 'mlo pull' first");
    repo.cache().materialize(p.sha256, input, repo.link_modes());
  }
  return p.sha256;
}

}  // namespace

json deploy_batch(Repo& repo, const DeployOptions& o, const DeployModel& m, const std::optional<DeploymentConfig>& cfg) {
  if (o.input.empty()) throw UsageError("--target batch needs --input FILE (a CSV, tracked or not)");
  std::string runner = !o.runner.empty() ? o.runner : cfg && !cfg->runner.empty() ? cfg->runner : default_runner_for(m.artifact_type);
  if (runner.empty())
    throw InputError("cannot tell which inference runner scores '" + m.path.string() + "'", "pass --runner NAME");
  fs::path runner_path = find_inference_runner(runner);
  check_serving_python(m, runner_path, o.strict_env);
  fs::path input = fs::absolute(o.input).lexically_normal();
  std::string input_rel = repo_relative_or_empty(repo, input);
  const bool outside = input_rel.empty();
  std::error_code ec;
  std::string input_sha = outside ? "" : tracked_input_hash(repo, o.input, input);
  if (fs::is_directory(input, ec))
    throw InputError("batch input '" + o.input + "' is a folder", "pass one CSV file to --input");
  if (!fs::is_regular_file(input, ec))
    throw InputError("batch input '" + o.input + "' does not exist", "pass a CSV file (or a tracked one) to --input");
  if (input_sha.empty()) input_sha = repo.cache().add_file(input, {LinkMode::copy});
  if (outside) input_rel = input.string();
  // The predictions are tracked, so they go inside the repository: beside
  // the input, or at its top for an input from elsewhere.
  fs::path beside = outside ? repo.root() / input.filename() : input;
  fs::path output = o.output.empty() ? fs::path(beside.string() + "." + m.name + "-" + m.version + ".predictions.csv")
                                     : fs::absolute(o.output);
  if (repo_relative_or_empty(repo, output.lexically_normal()).empty())
    throw InputError("--output " + output.string() + " is outside the repository " + repo.root().string(),
                     "the predictions are tracked like 'mlo data add'; pass an --output inside the repository");
  std::string output_rel = repo.relative(output);
  fs::create_directories(output.parent_path());

  fs::path spec_file = unique_temp_name(repo.tmp_dir(), "batch-spec");
  fs::create_directories(repo.tmp_dir());
  InferenceSpec spec;
  spec.mode = "batch";
  spec.model_name = m.name;
  spec.model_version = m.version;
  spec.artifact = m.path;
  spec.sha256 = m.sha256;
  spec.batch_input = input;
  spec.batch_output = output;
  spec.batch_outputs = o.outputs;
  write_file_atomic(spec_file, spec_to_json(spec).dump(2), false);
  ProcessResult pr = run_process({{runner_path.string(), "--spec", spec_file.string()}});
  fs::remove(spec_file, ec);
  if (!pr.ok())
    throw RunnerError("inference runner " + runner + " failed on " + o.input + " (exit " + std::to_string(pr.exit_code) +
                          "): " + pr.err,
                      "check the input's columns against the model's features");
  if (!fs::is_regular_file(output, ec)) throw RunnerError("inference runner " + runner + " wrote no output to " + output.string());

  // Track the predictions with the data module (cache object, pointer,
  // .gitignore line, staged), then the lineage record in the store.
  std::string out_sha = sha256_file(output);
  json lineage = {{"kind", "mlo-batch-predictions"}, {"version", 1},
                  {"model", m.name},                {"model_version", m.version},
                  {"model_sha256", m.sha256},       {"run_id", m.run_id},
                  {"input", input_rel},             {"input_sha256", input_sha},
                  {"output", output_rel},           {"output_sha256", out_sha},
                  {"runner", runner},               {"ts", utc_now_iso()}};
  if (!o.outputs.empty()) lineage["outputs"] = o.outputs;
  std::string record_sha = repo.cache().add_bytes(lineage.dump(2) + "\n");
  AddOptions add;
  add.description = "predictions of " + m.name + "@" + m.version + " on " + input_rel + " (lineage record " + record_sha + ")";
  data_add(repo, {output.string()}, add);
  std::string rows = pr.out;
  auto eq = rows.find("rows=");
  long n = eq == std::string::npos ? -1 : std::atol(rows.c_str() + eq + 5);
  DeployEvent e{"", o.env, "batch", m.name, m.version, lineage};
  e.detail["lineage_record"] = record_sha;
  e.detail["rows"] = n;
  record_deploy_event(repo, e);
  return {{"env", o.env},       {"target", "batch"},   {"model", m.name},         {"version", m.version},
          {"input", input_rel}, {"output", output_rel}, {"pointer", output_rel + kPointerSuffix},
          {"rows", n},          {"sha256", out_sha},   {"lineage_record", record_sha}};
}

// ---------------------------------------------------------------- k8s

namespace {
const char* kK8sSchema = R"JSON({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "k8s-manifest.schema.json",
  "title": "Kubernetes manifests rendered by mlo deploy --target k8s",
  "description": "The fields mlo requires of each rendered object, keyed by kind.",
  "$defs": {
    "metadata": {"type": "object", "required": ["name", "labels"],
      "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                     "namespace": {"type": "string"}, "labels": {"type": "object"}}},
    "Deployment": {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
      "properties": {"apiVersion": {"const": "apps/v1"}, "kind": {"const": "Deployment"},
        "metadata": {"$ref": "#/$defs/metadata"},
        "spec": {"type": "object", "required": ["replicas", "selector", "template"],
          "properties": {"replicas": {"type": "integer", "minimum": 0},
            "selector": {"type": "object", "required": ["matchLabels"]},
            "template": {"type": "object", "required": ["metadata", "spec"],
              "properties": {"spec": {"type": "object", "required": ["containers", "initContainers", "volumes"],
                "properties": {"containers": {"type": "array", "minItems": 1,
                  "items": {"type": "object", "required": ["name", "image", "ports", "readinessProbe"]}},
                  "initContainers": {"type": "array", "minItems": 1,
                    "items": {"type": "object", "required": ["name", "image", "command", "volumeMounts"]}},
                  "volumes": {"type": "array", "minItems": 1,
                    "items": {"type": "object", "required": ["name"]}}}}}}}}}},
    "Service": {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
      "properties": {"apiVersion": {"const": "v1"}, "kind": {"const": "Service"},
        "metadata": {"$ref": "#/$defs/metadata"},
        "spec": {"type": "object", "required": ["selector", "ports"],
          "properties": {"ports": {"type": "array", "minItems": 1,
            "items": {"type": "object", "required": ["port", "targetPort"]}}}}}},
    "ConfigMap": {"type": "object", "required": ["apiVersion", "kind", "metadata", "data"],
      "properties": {"apiVersion": {"const": "v1"}, "kind": {"const": "ConfigMap"},
        "metadata": {"$ref": "#/$defs/metadata"}, "data": {"type": "object"}}},
    "InferenceService": {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
      "properties": {"apiVersion": {"const": "serving.kserve.io/v1beta1"}, "kind": {"const": "InferenceService"},
        "metadata": {"$ref": "#/$defs/metadata"},
        "spec": {"type": "object", "required": ["predictor"],
          "properties": {"predictor": {"type": "object", "required": ["containers", "initContainers", "volumes"],
            "properties": {"canaryTrafficPercent": {"type": "integer", "minimum": 0, "maximum": 100},
              "model": {"type": "object", "required": ["modelFormat", "storageUri"],
                "properties": {"modelFormat": {"type": "object", "required": ["name"]},
                  "protocolVersion": {"enum": ["v1", "v2"]}, "storageUri": {"type": "string"}}},
              "containers": {"type": "array", "minItems": 1,
                "items": {"type": "object", "required": ["name", "image"]}},
              "initContainers": {"type": "array", "minItems": 1,
                "items": {"type": "object", "required": ["name", "image", "command", "volumeMounts"]}},
              "volumes": {"type": "array", "minItems": 1,
                "items": {"type": "object", "required": ["name"]}}}}}}}}
  },
  "oneOf": [{"$ref": "#/$defs/Deployment"}, {"$ref": "#/$defs/Service"}, {"$ref": "#/$defs/ConfigMap"},
            {"$ref": "#/$defs/InferenceService"}]
})JSON";

bool type_ok(const json& v, const std::string& t) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "integer") return v.is_number_integer();
  if (t == "number") return v.is_number();
  if (t == "boolean") return v.is_boolean();
  return true;
}

// The JSON Schema subset the shipped schema uses: $ref (local), type, const,
// enum, required, properties, items, minItems, minimum, maximum, pattern.
void validate(const json& schema, const json& root, const json& v, const std::string& at, std::vector<std::string>& out) {
  if (schema.contains("$ref")) {
    std::string ref = schema["$ref"];
    const std::string prefix = "#/$defs/";
    return validate(root["$defs"][ref.substr(prefix.size())], root, v, at, out);
  }
  if (schema.contains("type") && !type_ok(v, schema["type"])) {
    out.push_back(at + ": expected " + schema["type"].get<std::string>());
    return;
  }
  if (schema.contains("const") && v != schema["const"]) out.push_back(at + ": expected " + schema["const"].dump());
  if (schema.contains("enum") && std::find(schema["enum"].begin(), schema["enum"].end(), v) == schema["enum"].end())
    out.push_back(at + ": expected one of " + schema["enum"].dump());
  if (v.is_number()) {
    if (schema.contains("minimum") && v.get<double>() < schema["minimum"].get<double>()) out.push_back(at + ": below minimum");
    if (schema.contains("maximum") && v.get<double>() > schema["maximum"].get<double>()) out.push_back(at + ": above maximum");
  }
  if (v.is_string() && schema.contains("pattern")) {
    const std::string& s = v.get_ref<const std::string&>();
    bool ok = !s.empty() && s.size() <= 63 && std::isalnum(static_cast<unsigned char>(s.front())) &&
              std::isalnum(static_cast<unsigned char>(s.back()));
    for (char c : s)
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-')) ok = false;
    if (!ok) out.push_back(at + ": '" + s + "' is not a valid Kubernetes name (lower-case letters, digits, '-')");
  }
  if (v.is_object()) {
    if (schema.contains("required"))
      for (const auto& k : schema["required"])
        if (!v.contains(k.get<std::string>())) out.push_back(at + ": missing required field '" + k.get<std::string>() + "'");
    if (schema.contains("properties"))
      for (auto& [k, sub] : schema["properties"].items())
        if (v.contains(k)) validate(sub, root, v[k], at + "." + k, out);
  }
  if (v.is_array()) {
    if (schema.contains("minItems") && v.size() < schema["minItems"].get<std::size_t>())
      out.push_back(at + ": needs at least " + schema["minItems"].dump() + " item(s)");
    if (schema.contains("items"))
      for (std::size_t i = 0; i < v.size(); ++i) validate(schema["items"], root, v[i], at + "[" + std::to_string(i) + "]", out);
  }
}

json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json o = json::object();
      for (auto it = n.begin(); it != n.end(); ++it) o[it->first.as<std::string>()] = yaml_to_json(it->second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (auto it = n.begin(); it != n.end(); ++it) a.push_back(yaml_to_json(*it));
      return a;
    }
    case YAML::NodeType::Scalar: {
      std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true") return true;
      if (s == "false") return false;
      char* end = nullptr;
      long long i = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && *end == '\0') return i;
      return s;
    }
    default:
      return nullptr;
  }
}

std::string k8s_name(const std::string& s) {
  std::string out;
  for (char c : s) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += std::isalnum(static_cast<unsigned char>(l)) ? l : '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  while (!out.empty() && out.front() == '-') out.erase(0, 1);
  return out.substr(0, 63);
}

// Emits JSON as block YAML (strings always quoted, so types survive).
void emit(YAML::Emitter& e, const json& v) {
  if (v.is_object()) {
    e << YAML::BeginMap;
    for (auto& [k, x] : v.items()) {
      e << YAML::Key << k << YAML::Value;
      emit(e, x);
    }
    e << YAML::EndMap;
  } else if (v.is_array()) {
    e << YAML::BeginSeq;
    for (const auto& x : v) emit(e, x);
    e << YAML::EndSeq;
  } else if (v.is_string()) {
    e << YAML::DoubleQuoted << v.get<std::string>();
  } else if (v.is_boolean()) {
    e << v.get<bool>();
  } else if (v.is_number_integer()) {
    e << v.get<long long>();
  } else if (v.is_number()) {
    e << v.get<double>();
  } else {
    e << YAML::Null;
  }
}
// The Dockerfile of the inference runner image the manifests name (like
// `mlflow models build-docker`): the runner program and what it needs, and
// mlo with git for the init step that fetches the model by hash into the
// pod's /models (deploy/k8s_fetch.h). Built from the folder that holds mlo
// and the mlo-serve-* programs (where `make install` put them).
std::string runner_dockerfile(const std::string& runner, const std::string& image, const std::string& path) {
  std::string program = runner.empty()                          ? std::string("mlo-serve-native")
                        : runner.find('/') != std::string::npos ? fs::path(runner).filename().string()
                                                                : "mlo-serve-" + runner;
  // mlo loads libgit2 and libcurl when it needs them (the model fetch does).
  std::string packages = std::string(runner == "sklearn" ? "python3 python3-sklearn python3-joblib" : "libssl3") +
                         " git libgit2-1.5 libcurl4 ca-certificates";
  return "# Rendered by mlo deploy --target k8s: the image " + image + " that the manifests run.\n"
         "# docker build -t " + image + " -f " + path + " \"$(dirname \"$(command -v " + program + ")\")\"\n"
         "FROM debian:bookworm-slim\n"
         "RUN apt-get update && apt-get install -y --no-install-recommends " + packages +
         " && rm -rf /var/lib/apt/lists/*\n"
         "COPY " + program + " /usr/local/bin/" + program + "\n"
         "COPY mlo /usr/local/bin/mlo\n"
         "USER 65534:65534\n"
         "EXPOSE 8080\n"
         "ENTRYPOINT [\"/usr/local/bin/" + program + "\"]\n";
}

// What every rendered object of one deployment shares.
struct K8sObject {
  std::string name, ns, image;
  json labels, annotations;
  // The version's ConfigMap: a name per version, so a canary or a rollout
  // never changes what the pods of the version before it read.
  std::string config_name(const DeployModel& m) const {
    std::string n = k8s_name(name + "-" + m.version + "-spec");
    while (!n.empty() && n.back() == '-') n.pop_back();
    return n;
  }
};

// The runner's container: its job spec and the model from the pod's volumes.
json runner_container(const std::string& container_name, const std::string& image) {
  return {{"name", container_name},
          {"image", image},
          {"args", {"--spec", "/etc/mlo/spec.json"}},
          {"ports", json::array({{{"name", "http"}, {"containerPort", 8080}, {"protocol", "TCP"}}})},
          {"volumeMounts", json::array({{{"name", "spec"}, {"mountPath", "/etc/mlo"}},
                                        {{"name", "models"}, {"mountPath", "/models"}, {"readOnly", true}}})}};
}

// The pod's init step and volumes: the ConfigMap, and /models filled by the fetch.
void add_model_fetch(json& pod, const ModelFetch& fetch, const std::string& config_name) {
  pod["initContainers"] = json::array({fetch.init_container});
  pod["volumes"] = json::array({{{"name", "spec"}, {"configMap", {{"name", config_name}}}},
                                {{"name", "models"}, {"emptyDir", json::object()}}});
}

json deployment(const K8sObject& k, const DeployModel& m, const ModelFetch& fetch) {
  json container = runner_container("runner", k.image);
  container["readinessProbe"] = {{"httpGet", {{"path", "/v2/health/ready"}, {"port", 8080}}}, {"periodSeconds", 2}};
  container["livenessProbe"] = {{"httpGet", {{"path", "/v2/health/live"}, {"port", 8080}}}, {"periodSeconds", 10}};
  json pod = {{"containers", json::array({container})}};
  add_model_fetch(pod, fetch, k.config_name(m));
  json pod_labels = k.labels;
  pod_labels["mlo.dev/model-version"] = k8s_name(m.version);
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", k.name}, {"namespace", k.ns}, {"labels", k.labels}, {"annotations", k.annotations}}},
          {"spec",
           {{"replicas", 1},
            {"selector", {{"matchLabels", k.labels}}},
            {"template", {{"metadata", {{"labels", pod_labels}, {"annotations", k.annotations}}}, {"spec", pod}}}}}};
}

json service(const K8sObject& k) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", k.name}, {"namespace", k.ns}, {"labels", k.labels}}},
          {"spec", {{"selector", k.labels}, {"ports", json::array({{{"name", "http"}, {"port", 80}, {"targetPort", 8080}}})}}}};
}

// KServe's predictor is a pod spec: the same runner, init step and volumes.
json inference_service(const K8sObject& k, const DeployModel& m, const ModelFetch& fetch, int weight) {
  json predictor = {{"canaryTrafficPercent", weight}, {"containers", json::array({runner_container("kserve-container", k.image)})}};
  add_model_fetch(predictor, fetch, k.config_name(m));
  return {{"apiVersion", "serving.kserve.io/v1beta1"},
          {"kind", "InferenceService"},
          {"metadata", {{"name", k.name}, {"namespace", k.ns}, {"labels", k.labels}, {"annotations", k.annotations}}},
          {"spec", {{"predictor", predictor}}}};
}

// The ConfigMap's files: the runner's spec and the fetch step's.
json config_map(const K8sObject& k, const DeployModel& m, const ModelFetch& fetch) {
  InferenceSpec spec;
  spec.model_name = m.name;
  spec.model_version = m.version;
  spec.artifact = "/models/" + m.path.filename().string();
  spec.sha256 = m.sha256;
  spec.host = "0.0.0.0";
  spec.port = 8080;
  json data = {{"spec.json", spec_to_json(spec).dump(2)}};
  data.update(fetch.files);
  // The version label lets a selector delete the ConfigMaps of versions no pod reads (prune_command).
  json labels = k.labels;
  labels["mlo.dev/model-version"] = k8s_name(m.version);
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", k.config_name(m)}, {"namespace", k.ns}, {"labels", labels}}},
          {"data", data}};
}

// The version rendered for `env` before this one (a canary's stable side
// still reads its ConfigMap), or "".
std::string previous_render(Repo& repo, const std::string& env, const std::string& model, const std::string& version) {
  auto events = list_deploy_events(repo, env, model);
  for (auto it = events.rbegin(); it != events.rend(); ++it)
    if (it->action == "render" && it->version != version) return it->version;
  return "";
}

// ConfigMaps are per version and nothing deletes them: this deletes those of
// this model and environment that no pod reads any more, every version but
// `keep` (also ConfigMaps rendered before they had the version label).
std::string prune_command(const K8sObject& k, const std::vector<std::string>& keep) {
  std::string versions;
  for (const auto& v : keep) versions += (versions.empty() ? "" : ",") + k8s_name(v);
  std::string selector = "app.kubernetes.io/managed-by=mlo,app.kubernetes.io/name=" + k.labels["app.kubernetes.io/name"].get<std::string>() +
                         ",mlo.dev/env=" + k.labels["mlo.dev/env"].get<std::string>() + ",mlo.dev/model-version notin (" + versions + ")";
  return "kubectl delete configmap -n " + runner::shell_quote(k.ns) + " -l " + runner::shell_quote(selector);
}

}  // namespace

json k8s_manifest_schema() { return json::parse(kK8sSchema); }

std::vector<std::string> validate_k8s_manifest(const json& doc) {
  static const json schema = k8s_manifest_schema();
  std::vector<std::string> out;
  if (!doc.is_object() || !doc.contains("kind") || !doc["kind"].is_string()) return {"$: missing 'kind'"};
  std::string kind = doc["kind"];
  if (!schema["$defs"].contains(kind) || kind == "metadata") return {"$: kind '" + kind + "' is not one mlo renders"};
  validate(schema["$defs"][kind], schema, doc, kind, out);
  return out;
}

json deploy_k8s(Repo& repo, const DeployOptions& o, const DeployModel& m, const std::optional<DeploymentConfig>& cfg) {
  std::string strategy = !o.strategy.empty() ? o.strategy : cfg && !cfg->strategy.empty() ? cfg->strategy : "replace";
  if (strategy != "replace" && strategy != "blue-green" && strategy != "canary" && strategy != "shadow")
    throw UsageError("unknown strategy '" + strategy + "'", "use replace, blue-green, canary or shadow");
  if (strategy == "shadow" || strategy == "blue-green")
    throw UsageError("--target k8s renders replace (Deployment+Service) or canary (KServe InferenceService), not " + strategy);
  int weight = o.weight >= 0 ? o.weight : cfg && cfg->weight >= 0 ? cfg->weight : 10;
  if (weight < 0 || weight > 100) throw UsageError("--weight must be 0..100, not " + std::to_string(weight));
  std::string ns = cfg && !cfg->namespace_.empty() ? cfg->namespace_ : "default";
  std::string runner = !o.runner.empty() ? o.runner : cfg && !cfg->runner.empty() ? cfg->runner : default_runner_for(m.artifact_type);
  std::string image = !o.image.empty() ? o.image : cfg && !cfg->image.empty() ? cfg->image : "mlo-serve-" + (runner.empty() ? std::string("native") : runner) + ":" + kVersion;
  std::string name = k8s_name(m.name + "-" + o.env);
  if (name.empty()) throw UsageError("cannot make a Kubernetes name from '" + m.name + "' and '" + o.env + "'");
  json labels = {{"app.kubernetes.io/name", k8s_name(m.name)}, {"app.kubernetes.io/managed-by", "mlo"}, {"mlo.dev/env", o.env}};
  json annotations = {{"mlo.dev/model", m.name}, {"mlo.dev/model-version", m.version}, {"mlo.dev/artifact-sha256", m.sha256}};
  K8sObject k{name, ns, image, labels, annotations};
  ModelFetch fetch = model_fetch_step(repo, m, image);
  std::vector<json> docs = {config_map(k, m, fetch)};
  if (strategy == "canary") docs.push_back(inference_service(k, m, fetch, weight));
  else docs.insert(docs.end(), {deployment(k, m, fetch), service(k)});
  // Render, then read back and check against the schema (what kubectl will see).
  std::string text = "# Rendered by mlo deploy --target k8s; model " + m.name + "@" + m.version + "\n";
  for (const auto& d : docs) {
    YAML::Emitter e;
    emit(e, d);
    text += "---\n";
    text += e.c_str();
    text += "\n";
  }
  std::vector<std::string> problems;
  for (const auto& node : YAML::LoadAll(text)) {
    auto p = validate_k8s_manifest(yaml_to_json(node));
    problems.insert(problems.end(), p.begin(), p.end());
  }
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += "\n  " + p;
    throw InputError("the rendered manifests do not match schemas/k8s-manifest.schema.json:" + all,
                     "check deployments." + o.env + " in mlo.yaml");
  }
  fs::path dir = repo.root() / "deploy" / o.env;
  fs::create_directories(dir);
  fs::path out = dir / (strategy == "canary" ? "inferenceservice.yaml" : "deployment.yaml");
  write_file_atomic(out, text);
  write_file_atomic(dir / "Dockerfile", runner_dockerfile(runner, image, repo.relative(dir / "Dockerfile")));
  std::string rel = repo.relative(out);
  json result = {{"env", o.env},       {"target", "k8s"},      {"strategy", strategy}, {"model", m.name},
                 {"version", m.version}, {"manifest", rel},    {"kinds", json::array()}, {"applied", false}};
  for (const auto& d : docs) result["kinds"].push_back(d["kind"]);
  if (strategy == "canary") result["canaryTrafficPercent"] = weight;
  std::string apply_cmd = "kubectl apply -f " + rel;
  result["apply_command"] = apply_cmd;
  std::vector<std::string> keep = {m.version};
  if (std::string prev = previous_render(repo, o.env, m.name, m.version); strategy == "canary" && !prev.empty()) keep.push_back(prev);
  result["prune_command"] = prune_command(k, keep);
  result["image"] = image;
  result["dockerfile"] = repo.relative(dir / "Dockerfile");
  if (o.apply) {
    auto kubectl = find_program("kubectl");
    bool context = false;
    if (kubectl) {
      ProcessResult ctx = run_process({{kubectl->string(), "config", "current-context"}});
      context = ctx.ok() && !ctx.out.empty();
    }
    if (!kubectl || !context) {
      result["apply_skipped"] = !kubectl ? "kubectl is not installed" : "kubectl has no current context";
    } else {
      ProcessResult pr = run_process({{kubectl->string(), "apply", "-f", out.string()}});
      if (!pr.ok()) throw RemoteError("kubectl apply failed: " + pr.err, "check the cluster with 'kubectl get nodes'");
      result["applied"] = true;
      result["kubectl_output"] = pr.out;
    }
  }
  record_deploy_event(repo, DeployEvent{"", o.env, "render", m.name, m.version,
                                        {{"target", "k8s"}, {"manifest", rel}, {"strategy", strategy},
                                         {"applied", result["applied"]}, {"sha256", m.sha256}}});
  return result;
}

}  // namespace mlo::deploy
