// mlo completion bash|zsh|fish, and the hidden `mlo __complete` the scripts
// call. The candidates come from the CLI11 command tree itself (subcommands,
// options) plus values read from the repository (remotes, pipeline stages,
// registry stages, model references, environments, monitors), so a new command
// or option completes without touching the scripts.
#include <algorithm>
#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

#include "command.h"
#include "completion.h"
#include "deploy/deploy.h"
#include "registry/registry.h"
#include "remote/remotes.h"

namespace mlo::cli {
namespace {

// What a word completes to: fixed words, or files / folders left to the shell.
struct Completion {
  std::string kind = "words";  // words | files | dirs
  std::vector<std::string> words;
};

bool hidden(const CLI::App* app) { return app->get_group().empty() || app->get_name().rfind("__", 0) == 0; }

// The option named `word` in `at` or, as main() lets global options follow a
// command (fallthrough), in the root; nullptr if none.
const CLI::Option* find_option(const CLI::App& at, const CLI::App& root, const std::string& word) {
  for (const CLI::App* app : {&at, &root}) {
    for (const CLI::Option* opt : app->get_options())
      if (!opt->get_positional() && opt->check_name(word)) return opt;
  }
  return nullptr;
}

bool takes_value(const CLI::Option* opt) { return opt && opt->get_expected_max() > 0; }

// --- values read from the repository; each source fails quietly (no repo, bad file: nothing)

template <typename Fn>
std::vector<std::string> from_repo(Context& ctx, Fn fn) {
  try {
    return fn(ctx.repo());
  } catch (const std::exception&) {
    return {};
  }
}

// The names under a section of the repository's mlo.yaml (stages, monitors, deployments).
std::vector<std::string> yaml_keys(Context& ctx, const std::string& section) {
  return from_repo(ctx, [&section](Repo& repo) {
    std::vector<std::string> out;
    YAML::Node doc = YAML::LoadFile((repo.root() / "mlo.yaml").string());
    if (doc.IsMap() && doc[section] && doc[section].IsMap())
      for (const auto& kv : doc[section]) out.push_back(kv.first.as<std::string>());
    return out;
  });
}

std::vector<std::string> remote_names(Context& ctx) {
  return from_repo(ctx, [](Repo& repo) {
    std::vector<std::string> out;
    for (const auto& r : remote::list_remotes(repo.config())) out.push_back(r.config.name);
    return out;
  });
}

std::vector<std::string> registry_stages(Context& ctx) {
  return from_repo(ctx, [](Repo& repo) {
    std::vector<std::string> out;
    for (const auto& s : registry::load_registry_config(repo).stages) out.push_back(s.name);
    return out;
  });
}

// NAME, NAME@VERSION, NAME#STAGE and NAME@ALIAS of every registered model.
std::vector<std::string> model_refs(Context& ctx) {
  return from_repo(ctx, [](Repo& repo) {
    std::vector<std::string> out;
    for (const auto& m : registry::list_models(repo)) {
      std::string name = m.value("name", "");
      out.push_back(name);
      auto state = registry::find_model(repo, name);
      if (!state) continue;
      for (const auto& v : state->versions) {
        out.push_back(name + "@" + v.version);
        for (const auto& s : v.stages) out.push_back(name + "#" + s);
        for (const auto& a : v.aliases) out.push_back(name + "@" + a);
      }
    }
    return out;
  });
}

std::vector<std::string> environments(Context& ctx) {
  std::vector<std::string> out = yaml_keys(ctx, "deployments");
  auto local = from_repo(ctx, [](Repo& repo) {
    std::vector<std::string> envs;
    for (const auto& row : deploy::list_deployments(repo)) envs.push_back(row.value("env", ""));
    return envs;
  });
  out.insert(out.end(), local.begin(), local.end());
  return out;
}

// The kind of value an option or a positional argument of `path` takes.
std::string value_kind(const std::string& path, const std::string& option) {
  auto under = [&](const char* p) { return path == p || path.rfind(std::string(p) + " ", 0) == 0; };
  if (option == "-C") return "dirs";
  if (option == "--env") return "envs";
  if (option == "-r" && under("runners")) return "runners";
  if (option == "--remote" || option == "-r") return "remotes";
  if (option == "--to" || option == "--from") return "registry-stages";
  if (option == "--stage")
    return under("approve") || under("promote") || under("demote") ? "registry-stages" : "stages";
  if (!option.empty()) return "files";
  // Positional arguments.
  if (path == "run" || path == "dag") return "stages";
  if (path == "remote rm" || path == "remote modify") return "remotes";
  if (path == "monitor") return "monitors";
  if (path == "completion") return "shells";
  if (under("deploy")) return path == "deploy" ? "models" : "envs";
  if (under("promote") || under("demote") || under("deprecate") || under("approve") || under("lineage") ||
      under("register") || under("registry check-ref") || under("models") || under("audit"))
    return "models";
  return "files";
}

Completion values(Context& ctx, const std::string& kind) {
  if (kind == "files" || kind == "dirs") return {kind, {}};
  if (kind == "remotes") return {"words", remote_names(ctx)};
  if (kind == "stages") return {"words", yaml_keys(ctx, "stages")};
  if (kind == "monitors") return {"words", yaml_keys(ctx, "monitors")};
  if (kind == "registry-stages") return {"words", registry_stages(ctx)};
  if (kind == "models") return {"words", model_refs(ctx)};
  if (kind == "envs") return {"words", environments(ctx)};
  if (kind == "shells") return {"words", {"bash", "zsh", "fish"}};
  if (kind == "runners") return {"words", {"local", "cuda", "slurm", "container"}};
  return {"files", {}};
}

// Candidates for the last of `words` (the words after "mlo"; the last one is
// being typed, maybe empty).
Completion complete(Context& ctx, const CLI::App& root, const std::vector<std::string>& words) {
  const CLI::App* at = &root;
  std::string path;
  std::size_t positionals = 0;
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    const std::string& w = words[i];
    if (!w.empty() && w[0] == '-') {
      if (w.find('=') == std::string::npos && takes_value(find_option(*at, root, w))) ++i;
      continue;
    }
    const CLI::App* sub = nullptr;
    for (const CLI::App* s : at->get_subcommands([](const CLI::App*) { return true; }))
      if (s->get_name() == w && !hidden(s)) sub = s;
    if (sub && positionals == 0) {
      at = sub;
      path += (path.empty() ? "" : " ") + w;
    } else {
      ++positionals;
    }
  }
  const std::string cur = words.empty() ? "" : words.back();
  const std::string prev = words.size() >= 2 ? words[words.size() - 2] : "";
  if (!prev.empty() && prev[0] == '-' && takes_value(find_option(*at, root, prev)))
    return values(ctx, value_kind(path, prev));
  if (!cur.empty() && cur[0] == '-') {
    Completion c;
    c.words = option_names(*at);
    if (at != &root) {
      auto globals = option_names(root);
      c.words.insert(c.words.end(), globals.begin(), globals.end());
    }
    return c;
  }
  Completion c;
  if (positionals == 0)
    for (const CLI::App* s : at->get_subcommands([](const CLI::App*) { return true; }))
      if (!hidden(s)) c.words.push_back(s->get_name());
  const auto options = at->get_options();
  bool has_positional = std::any_of(options.begin(), options.end(), [](const CLI::Option* o) { return o->get_positional(); });
  if (at == &root || !has_positional) return c;
  Completion v = values(ctx, value_kind(path, ""));
  if (c.words.empty()) return v;
  c.words.insert(c.words.end(), v.words.begin(), v.words.end());
  return c;
}

// --- the scripts: thin, they hand the words to `mlo __complete` and read back
// its first line (words, files or dirs) and the candidates.

const char* kBash = R"BASH(# bash completion for mlo (generated by 'mlo completion bash')
_mlo() {
  local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n' out kind
  out=($("${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)) || return
  kind=${out[0]}
  case $kind in
    files) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;
    dirs) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null ;;
    *) COMPREPLY=($(compgen -W "${out[*]:1}" -- "$cur")) ;;
  esac
}
complete -F _mlo mlo
)BASH";

const char* kZsh = R"ZSH(#compdef mlo
# zsh completion for mlo (generated by 'mlo completion zsh')
_mlo() {
  local -a out
  out=("${(@f)$("${words[1]}" __complete -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  case ${out[1]} in
    files) _files ;;
    dirs) _files -/ ;;
    *) compadd -Q -- "${(@)out[2,-1]}" ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _mlo "$@"; else compdef _mlo mlo; fi
)ZSH";

const char* kFish = R"FISH(# fish completion for mlo (generated by 'mlo completion fish')
function __mlo_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l out ($words[1] __complete -- $words[2..-1] 2>/dev/null)
    switch "$out[1]"
        case files
            __fish_complete_path (commandline -ct)
        case dirs
            __fish_complete_directories (commandline -ct)
        case '*'
            printf '%s\n' $out[2..-1]
    end
end
complete -c mlo -f -a '(__mlo_complete)'
)FISH";

}  // namespace

std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_positional()) continue;
    for (const auto& l : opt->get_lnames()) out.push_back("--" + l);
    for (const auto& s : opt->get_snames()) out.push_back("-" + s);
  }
  return out;
}

void register_completion(CLI::App& app, Context& ctx) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = add_command(app, "completion");
  cmd->add_option("shell", *shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
  ctx.on_run(cmd, [shell] { std::cout << (*shell == "bash" ? kBash : *shell == "zsh" ? kZsh : kFish); });

  // Hidden (add_command hides "__" names); main() hands it the words after "--".
  auto* hidden_cmd = add_command(app, "__complete");
  ctx.on_run(hidden_cmd, [&ctx, &app] {
    Completion c = complete(ctx, app, ctx.complete_words);
    std::set<std::string> seen;
    std::cout << c.kind << "\n";
    for (const auto& word : c.words)
      if (seen.insert(word).second) std::cout << word << "\n";
  });
}

MLO_REGISTER_COMMANDS(95, register_completion, {"completion", "Print a shell completion script (bash, zsh, fish)"},
                      {"__complete", "Completion candidates (used by the completion scripts)"});

}  // namespace mlo::cli
