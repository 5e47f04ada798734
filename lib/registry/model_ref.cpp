#include "registry/model_ref.h"

#include "core/error.h"
#include "registry/registry.h"
#include "repo/repo.h"

namespace mlo::registry {

ModelRef parse_model_ref(const std::string& text) {
  ModelRef r;
  r.text = text;
  size_t sep = text.find_first_of("@#");
  r.name = text.substr(0, sep);
  if (!is_valid_model_name(r.name))
    throw InputError("invalid model reference '" + text + "': '" + r.name + "' is not a valid model name",
                     "model names use letters, digits, '-', '_' and '/', starting and ending with a letter or "
                     "digit (GTO's rule); refer to versions as NAME@v1.2.0, NAME@latest, NAME@greatest, NAME@ALIAS "
                     "or NAME#STAGE");
  if (sep == std::string::npos) return r;
  std::string sel = text.substr(sep + 1);
  if (text[sep] == '#') {
    if (!is_valid_name(sel))
      throw InputError("invalid model reference '" + text + "': '" + sel + "' is not a valid stage name");
    r.kind = ModelRef::Kind::stage;
    r.selector = sel;
    return r;
  }
  if (sel == "latest") {
    r.kind = ModelRef::Kind::latest;
  } else if (sel == "greatest") {
    r.kind = ModelRef::Kind::greatest;
  } else if (parse_semver(sel)) {
    r.kind = ModelRef::Kind::version;
    r.selector = sel;
  } else if (is_valid_name(sel) && sel != "deprecated") {
    r.kind = ModelRef::Kind::alias;
    r.selector = sel;
  } else {
    throw InputError("invalid model reference '" + text + "': '" + sel + "' is neither a version nor an alias",
                     "versions are semantic versions with a leading v, e.g. " + r.name + "@v1.2.0");
  }
  return r;
}

ResolvedModel resolve_model(Repo& repo, const ModelRef& ref) { return resolve_model(load_model(repo, ref.name), ref); }

ResolvedModel resolve_model(const ModelState& m, const ModelRef& ref) {
  const VersionInfo* v = nullptr;
  switch (ref.kind) {
    case ModelRef::Kind::name_only:
    case ModelRef::Kind::latest:
      v = m.latest();
      if (!v) throw InputError("model '" + ref.name + "' has no active version");
      break;
    case ModelRef::Kind::greatest:
      v = m.greatest();
      if (!v) throw InputError("model '" + ref.name + "' has no active version");
      break;
    case ModelRef::Kind::version:
      v = m.find(ref.selector);
      if (!v)
        throw InputError("model '" + ref.name + "' has no version " + ref.selector,
                         "see 'mlo models show " + ref.name + "' for its versions");
      if (!v->active) throw InputError(ref.text + " was deregistered");
      break;
    case ModelRef::Kind::alias: {
      auto it = m.aliases.find(ref.selector);
      if (it != m.aliases.end()) v = m.find(it->second);
      if (!v) v = m.holder(ref.selector);  // NAME@production reads like NAME#production
      if (!v)
        throw InputError("model '" + ref.name + "' has no alias or stage '" + ref.selector + "'",
                         "set one with 'mlo models alias " + ref.name + "@VERSION " + ref.selector + "'");
      break;
    }
    case ModelRef::Kind::stage:
      v = m.holder(ref.selector);
      if (!v) {
        auto it = m.aliases.find(ref.selector);
        if (it != m.aliases.end()) v = m.find(it->second);
      }
      if (!v) {
        // A stage tag whose version has no registration tag (deleted by hand).
        auto st = m.stages.find(ref.selector);
        if (st != m.stages.end() && !st->second.empty())
          throw InputError("stage '" + ref.selector + "' of '" + ref.name + "' names version " + st->second.back() +
                               ", whose registration tag " + ref.name + "@" + st->second.back() + " is missing",
                           "was the tag deleted by hand? fetch it back with 'mlo pull', or register that version "
                           "again ('mlo register " + ref.name + " PATH --version " + st->second.back() + "')");
      }
      if (!v)
        throw InputError("no version of '" + ref.name + "' is in stage '" + ref.selector + "'",
                         "promote one with 'mlo promote " + ref.name + "@VERSION --to " + ref.selector + "'");
      break;
  }
  ResolvedModel r;
  r.name = m.name;
  r.version = v->version;
  r.tag = v->tag;
  r.commit = v->commit;
  r.stages = v->stages;
  r.aliases = v->aliases;
  const auto& meta = v->meta;
  if (meta.contains("artifact") && meta["artifact"].is_object()) {
    const auto& a = meta["artifact"];
    r.artifact_sha256 = a.value("sha256", "");
    r.artifact_type = a.value("type", "file");
    r.artifact_size = a.value("size", std::uint64_t{0});
    r.path = a.value("path", "");
  }
  r.run_id = meta.value("run", "");
  r.model_type = meta.value("model_type", "");
  if (meta.contains("environment") && meta["environment"].is_object()) r.environment = meta["environment"];
  if (meta.contains("signature")) r.input_names = signature_input_names(meta["signature"]);
  return r;
}

std::vector<std::string> signature_input_names(const nlohmann::json& signature) {
  std::vector<std::string> names;
  if (!signature.is_object() || !signature.contains("inputs") || !signature["inputs"].is_array()) return names;
  for (const auto& in : signature["inputs"]) {
    if (in.is_string()) names.push_back(in.get<std::string>());
    else if (in.is_object() && in.contains("name") && in["name"].is_string()) names.push_back(in["name"].get<std::string>());
    else return {};  // unnamed inputs (a tensor spec) name no columns
  }
  return names;
}

ResolvedModel resolve_model(Repo& repo, const std::string& ref) { return resolve_model(repo, parse_model_ref(ref)); }

}  // namespace mlo::registry
