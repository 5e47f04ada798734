// Configured remotes: `remotes.NAME.{url,endpoint,region,...}` in
// .mlo/config.yaml (tracked) or .mlo/config.local.yaml (per user), and
// `remote.default`. Never secrets: credentials come from the environment.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "remote/backend.h"
#include "repo/config.h"

namespace mlo {
class Repo;
}

namespace mlo::remote {

struct RemoteEntry {
  RemoteConfig config;
  bool is_default = false;
  bool local = false;  // defined in config.local.yaml
};

// Option keys a remote may set (documented in man mlo-remote).
const std::vector<std::string>& remote_option_keys();

// A numeric option (remote_option_keys' numeric ones), `fallback` when
// unset; InputError (naming the remote, the key and the fix) when it is not
// a whole number.
std::uint64_t config_u64(const RemoteConfig& remote, const std::string& key, std::uint64_t fallback);

std::vector<RemoteEntry> list_remotes(const Config& config);
// The named remote, or the default one (remote.default, or the only one)
// when name is empty. Throws InputError naming what is missing.
RemoteConfig resolve_remote(const Config& config, const std::string& name);

// Opens the remote `name` names (or the default one).
std::unique_ptr<Backend> open_remote(Repo& repo, const std::string& name, RemoteConfig* config_out = nullptr);

void add_remote(Config& config, const std::string& name, const std::string& url, bool make_default, bool local);

// A directory remote's folder when `mlo remote add` names it: made when the
// folder above it exists (so a typo higher up, or a volume not mounted, is
// not papered over with a new, empty remote); other remotes: not_a_folder.
enum class RootState { not_a_folder, existed, created, missing };
RootState prepare_remote_root(const RemoteConfig& remote);
void remove_remote(Config& config, const std::string& name);
// Sets one option; an empty value removes it. Rejects unknown keys and
// anything that looks like a secret.
void modify_remote(Config& config, const std::string& name, const std::string& key, const std::string& value,
                   bool local);

}  // namespace mlo::remote
