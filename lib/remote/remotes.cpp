#include "remote/remotes.h"

#include <algorithm>

#include "core/error.h"
#include "core/fs.h"
#include "remote/backend_detail.h"
#include "remote/http.h"
#include "repo/repo.h"

namespace mlo::remote {

using detail::printable;

namespace {

void check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  if (!ok)
    throw UsageError("invalid remote name '" + name + "'",
                     "use letters, digits, '-' and '_' (starting with a letter or digit)");
}

bool defined_in(const Config& config, ConfigScope scope, const std::string& name) {
  YAML::Node root = load_yaml_file(config.path(scope));
  return root.IsMap() && root["remotes"].IsMap() && root["remotes"][name].IsDefined();
}

// Userinfo that may be a secret: anything but an ssh:// or sftp:// user
// name (no password: url_kind refuses one there), which ssh itself shows.
bool secret_userinfo(const std::string& url) {
  if (!url_has_userinfo(url)) return false;
  if (url.rfind("ssh://", 0) != 0 && url.rfind("sftp://", 0) != 0) return true;
  std::string authority = url.substr(url.find("://") + 3);
  authority = authority.substr(0, authority.find('/'));
  return authority.substr(0, authority.find('@')).find(':') != std::string::npos;
}

// A password in a URL would be committed with .mlo/config.yaml (and shown
// by every command that prints the URL): refused there; allowed in the
// untracked config.local.yaml, and redacted wherever it is printed.
void refuse_userinfo(const std::string& name, const std::string& key, const std::string& value, bool local) {
  if (local || !secret_userinfo(value)) return;
  throw UsageError("refusing to store a user name or password in the " + key + " of remote '" + name +
                       "' in .mlo/config.yaml (tracked by git): " + redact_url(value),
                   "give the URL without 'USER:PASSWORD@' and export MLO_HTTP_USER and MLO_HTTP_PASSWORD (or "
                   "MLO_HTTP_TOKEN; the remote's user_env/password_env/token_env options name other variables; "
                   "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for s3), or keep the URL in the untracked "
                   ".mlo/config.local.yaml with --local; see man mlo-remote: CREDENTIALS");
}

// A URL with a password that someone wrote into the tracked config by hand
// (add and modify refuse it) is refused when the remote is used: the file
// is shared with everyone who clones the repository. The same key in the
// untracked config.local.yaml wins and is allowed.
void refuse_tracked_userinfo(const Config& config, const std::string& name) {
  YAML::Node tracked = load_yaml_file(config.path(ConfigScope::tracked));
  YAML::Node local = load_yaml_file(config.path(ConfigScope::local));
  // (A missing key reads as an invalid node, which throws on IsMap().)
  auto entry = [&name](const YAML::Node& root) -> YAML::Node {
    if (!root.IsMap()) return {};
    const YAML::Node remotes = root["remotes"];
    if (!remotes.IsDefined() || !remotes.IsMap()) return {};
    const YAML::Node n = remotes[name];
    return n.IsDefined() ? n : YAML::Node();
  };
  YAML::Node mine = entry(tracked), theirs = entry(local);
  if (!mine.IsMap()) return;
  for (const char* key : {"url", "endpoint"}) {
    YAML::Node value = mine[key];
    if (!value.IsScalar() || !secret_userinfo(value.Scalar())) continue;
    if (theirs.IsMap() && theirs[key].IsDefined()) continue;
    throw InputError(config.path(ConfigScope::tracked).string() + ":" + std::to_string(value.Mark().line + 1) +
                         ": the " + key + " of remote '" + name + "' holds a user name or password (" +
                         redact_url(value.Scalar()) + "), and this file is tracked by git: refusing to use it",
                     "remove 'USER:PASSWORD@' from it (change that password if it was ever pushed) and export "
                     "MLO_HTTP_USER and MLO_HTTP_PASSWORD (or MLO_HTTP_TOKEN; AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                     "for s3), or move the URL to the untracked .mlo/config.local.yaml: 'mlo remote modify " +
                         name + " " + key + " URL --local'; see man mlo-remote: CREDENTIALS");
  }
}

std::string names_hint(const Config& config) {
  std::string names;
  for (auto& r : list_remotes(config)) names += (names.empty() ? "" : ", ") + r.config.name;
  if (names.empty()) return "add one with 'mlo remote add NAME URL --default'";
  return "configured remotes: " + names + " (mlo remote ls)";
}

}  // namespace

const std::vector<std::string>& remote_option_keys() {
  static const std::vector<std::string> keys = {
      "url",     "endpoint",  "region",       "path_style",          "ssl_verify", "profile",
      "auth",    "token_env", "user_env",     "password_env",        "retries",    "timeout",
      "jobs",    "part_size", "pack_size",    "multipart_threshold", "gc_grace",
      "ca_bundle", "account",   "accept_new",   "identity",            "known_hosts", "list_page",
      "fetch_batch", "push_batch"};
  return keys;
}

namespace {

// The options that are counts or sizes: checked when set, so a typo is
// refused by `remote modify`, not found by the next push.
bool numeric_option(const std::string& key) {
  for (const char* k : {"jobs", "retries", "timeout", "part_size", "pack_size", "multipart_threshold", "list_page",
                        "fetch_batch", "push_batch"})
    if (key == k) return true;
  return false;
}

}  // namespace

std::uint64_t config_u64(const RemoteConfig& remote, const std::string& key, std::uint64_t fallback) {
  std::string text = remote.option(key);
  if (text.empty()) return fallback;
  try {
    return parse_remote_u64(text, key);
  } catch (const RemoteError&) {
    throw InputError("remote '" + remote.name + "': option " + key + " must be a whole number, not '" +
                         printable(text) + "'",
                     "run 'mlo remote modify " + remote.name + " " + key + " NUMBER'");
  }
}

std::vector<RemoteEntry> list_remotes(const Config& config) {
  std::vector<RemoteEntry> out;
  YAML::Node remotes = config.node("remotes");
  std::string def = config.get_or("remote.default", "");
  if (!remotes.IsMap()) return out;
  for (auto it = remotes.begin(); it != remotes.end(); ++it) {
    RemoteEntry e;
    e.config.name = it->first.as<std::string>();
    if (it->second.IsMap()) {
      for (auto o = it->second.begin(); o != it->second.end(); ++o)
        if (o->second.IsScalar()) e.config.options[o->first.as<std::string>()] = o->second.as<std::string>();
    }
    e.config.url = e.config.option("url");
    e.config.options.erase("url");
    e.is_default = e.config.name == def;
    e.local = defined_in(config, ConfigScope::local, e.config.name) &&
              !defined_in(config, ConfigScope::tracked, e.config.name);
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.config.name < b.config.name; });
  return out;
}

RemoteConfig resolve_remote(const Config& config, const std::string& name) {
  auto all = list_remotes(config);
  std::string want = name.empty() ? config.get_or("remote.default", "") : name;
  if (want.empty()) {
    if (all.size() == 1) return all[0].config;
    if (all.empty())
      throw InputError("no remote is configured", "add one with 'mlo remote add NAME URL --default'");
    throw InputError("several remotes are configured and none is the default",
                     "pass -r NAME, or run 'mlo remote add NAME URL --default' / set remote.default; " +
                         names_hint(config));
  }
  for (auto& r : all)
    if (r.config.name == want) {
      if (r.config.url.empty())
        throw InputError("remote '" + want + "' has no url", "run 'mlo remote modify " + want + " url URL'");
      url_kind(r.config.url);
      refuse_tracked_userinfo(config, want);
      return r.config;
    }
  throw InputError("unknown remote '" + want + "'", names_hint(config));
}

void add_remote(Config& config, const std::string& name, const std::string& url, bool make_default, bool local) {
  check_name(name);
  refuse_userinfo(name, "url", url, local);
  url_kind(url);
  for (auto& r : list_remotes(config))
    if (r.config.name == name)
      throw InputError("remote '" + name + "' already exists (" + redact_url(r.config.url) + ")",
                       "use 'mlo remote modify " + name + " url URL' to change it, or 'mlo remote rm " + name + "'");
  ConfigScope scope = local ? ConfigScope::local : ConfigScope::tracked;
  config.set("remotes." + name + ".url", url, scope);
  if (make_default) config.set("remote.default", name, scope);
}

void remove_remote(Config& config, const std::string& name) {
  bool tracked = defined_in(config, ConfigScope::tracked, name);
  bool local = defined_in(config, ConfigScope::local, name);
  if (!tracked && !local) throw InputError("unknown remote '" + name + "'", names_hint(config));
  for (auto scope : {ConfigScope::tracked, ConfigScope::local}) {
    if (scope == ConfigScope::tracked ? tracked : local) config.set("remotes." + name, std::nullopt, scope);
    YAML::Node root = load_yaml_file(config.path(scope));
    if (root.IsMap() && root["remote"].IsMap() && root["remote"]["default"].IsScalar() &&
        root["remote"]["default"].as<std::string>() == name)
      config.set("remote.default", std::nullopt, scope);
  }
}

void modify_remote(Config& config, const std::string& name, const std::string& key, const std::string& value,
                   bool local) {
  std::string lower = key;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* secret : {"secret", "password", "token", "access_key", "credential"}) {
    if (lower.find(secret) != std::string::npos && lower != "token_env" && lower != "password_env")
      throw UsageError("refusing to store '" + key + "' in a config file: secrets never go in mlo's config",
                       "put credentials in the environment (AWS_ACCESS_KEY_ID, MLO_HTTP_TOKEN, ...) or "
                       "~/.aws/credentials; see man mlo-remote");
  }
  const auto& keys = remote_option_keys();
  if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
    std::string all;
    for (auto& k : keys) all += (all.empty() ? "" : ", ") + k;
    throw UsageError("unknown remote option '" + key + "'", "options: " + all);
  }
  bool exists = false;
  for (auto& r : list_remotes(config)) exists = exists || r.config.name == name;
  if (!exists) throw InputError("unknown remote '" + name + "'", names_hint(config));
  refuse_userinfo(name, key, value, local);
  if (key == "url") url_kind(value);
  if (numeric_option(key) && !value.empty()) {
    try {
      parse_remote_u64(value, key);
    } catch (const RemoteError&) {
      throw UsageError("remote option " + key + " takes a whole number, not '" + printable(value) + "'",
                       "e.g. mlo remote modify " + name + " " + key + " 8");
    }
  }
  config.set("remotes." + name + "." + key, value.empty() ? std::nullopt : std::optional<std::string>(value),
             local ? ConfigScope::local : ConfigScope::tracked);
}

RootState prepare_remote_root(const RemoteConfig& remote) {
  if (url_kind(remote.url) != "dir") return RootState::not_a_folder;
  std::string path = remote.url.rfind("file://", 0) == 0 ? remote.url.substr(7) : remote.url;
  fs::path root = fs::path(path).lexically_normal();
  if (!root.has_filename()) root = root.parent_path();  // "/srv/store/"
  std::error_code ec;
  if (fs::is_directory(root, ec)) return RootState::existed;
  if (!fs::is_directory(root.parent_path(), ec)) return RootState::missing;
  try {
    open_backend(remote)->create_root();
  } catch (const RemoteError&) {
    return RootState::missing;  // not writable here: the warning says what to do
  }
  return RootState::created;
}

std::unique_ptr<Backend> open_remote(Repo& repo, const std::string& name, RemoteConfig* config_out) {
  RemoteConfig rc = resolve_remote(repo.config(), name);
  if (config_out) *config_out = rc;
  return open_backend(rc);
}

}  // namespace mlo::remote
