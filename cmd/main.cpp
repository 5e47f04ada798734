// mlo's entry point: global options, the command table, error rendering.
#include <unistd.h>
#include "core/version.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "app/artifacts.h"
#include "command.h"
#include "completion.h"
#include "core/format.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "progress.h"

using namespace mlo;
using namespace mlo::cli;

namespace {

bool in_github_actions() {
  const char* v = std::getenv("GITHUB_ACTIONS");
  return v && std::strcmp(v, "true") == 0;
}

// GitHub's workflow commands need %, CR and LF escaped.
std::string gha_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%') out += "%25";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else out += c;
  }
  return out;
}

// --color=always|never|auto (or --no-color) as given, read before CLI11 parses
// the command line so that errors of the parse itself follow it too.
std::string color_mode(int argc, char** argv) {
  std::string mode = "auto";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--no-color") mode = "never";
    else if (a.rfind("--color=", 0) == 0) mode = std::string(a.substr(8));
    else if (a == "--color" && i + 1 < argc) mode = argv[++i];
  }
  return mode;
}

// Colour on stream `fd`: always or never as asked; auto: a terminal whose TERM
// is not dumb, and NO_COLOR unset or empty (no-color.org: set and not empty).
bool use_color(const std::string& mode, int fd) {
  if (mode == "always") return true;
  if (mode != "auto") return false;
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  if ((no_color && *no_color) || (term && std::strcmp(term, "dumb") == 0)) return false;
  return ::isatty(fd);
}

int report_error(const std::string& message, const std::string& hint, int code, bool color) {
  if (color)
    std::fprintf(stderr, "\033[31mmlo: error:\033[0m %s\n", message.c_str());
  else
    std::fprintf(stderr, "mlo: error: %s\n", message.c_str());
  if (!hint.empty()) std::fprintf(stderr, "hint: %s\n", hint.c_str());
  if (in_github_actions()) std::printf("::error title=mlo::%s\n", gha_escape(message).c_str());
  return code;
}

std::vector<std::string> subcommand_names(const CLI::App& parent) {
  std::vector<std::string> names;
  for (const CLI::App* sub : parent.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  return names;
}

// "no such command: mlo data stauts", with git's "did you mean" when one is close.
UsageError unknown_command(const std::string& path, const std::string& word, const CLI::App& parent) {
  std::string near = closest_match(word, subcommand_names(parent));
  std::string help = path == "mlo" ? "mlo help" : "mlo help " + path.substr(4);
  return UsageError("no such command: " + (path == "mlo" ? word : path.substr(4) + " " + word),
                    near.empty() ? "run '" + help + "' for the list of commands"
                                 : "did you mean '" + path + " " + near + "'?");
}

// A word where a command group expects one of its subcommands (`mlo data
// stauts`) is an unknown command, not a stray argument: say so before CLI11
// reports "A subcommand is required".
void check_subcommand_words(CLI::App& app, int argc, char** argv) {
  CLI::App* at = &app;
  std::string path = "mlo";
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "-C") {
      ++i;
      continue;
    }
    if (word.empty() || word[0] == '-') continue;
    auto names = subcommand_names(*at);
    if (names.empty()) return;
    if (std::find(names.begin(), names.end(), word) == names.end()) {
      if (at->get_require_subcommand_min() == 0) return;  // a positional argument of this command
      throw unknown_command(path, word, *at);
    }
    at = at->get_subcommand(word);
    path += " " + word;
    if (word == "help") return;
  }
  bool asks_help = std::any_of(argv + 1, argv + argc, [](const char* a) {
    return std::strcmp(a, "-h") == 0 || std::strcmp(a, "--help") == 0 || std::strcmp(a, "--help-all") == 0;
  });
  if (at != &app && at->get_require_subcommand_min() > 0 && !asks_help) {
    std::string list;
    for (const auto& name : subcommand_names(*at)) list += (list.empty() ? "" : ", ") + name;
    throw UsageError(path + " needs a subcommand: " + list, "run 'mlo help " + path.substr(4) + "' for what each does");
  }
}

// git's "did you mean" for an option the selected command does not have
// (`mlo data status --jsno`): the closest option of that command or a global one.
std::string option_hint(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> names = option_names(app);
  for (CLI::App* at = &app; !at->get_subcommands().empty();) {
    at = at->get_subcommands().front();
    auto more = option_names(*at);
    names.insert(names.end(), more.begin(), more.end());
  }
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--") break;
    if (word.size() < 2 || word[0] != '-') continue;
    word = word.substr(0, word.find('='));
    if (std::find(names.begin(), names.end(), word) != names.end()) continue;
    std::string near = closest_match(word, names);
    if (!near.empty()) return "did you mean '" + near + "'?";
  }
  return "";
}

void add_help_command(CLI::App& app, Context& ctx) {
  auto* help = app.add_subcommand("help", "Show help for a command (same text as 'man mlo-COMMAND')");
  auto topic = std::make_shared<std::vector<std::string>>();
  help->add_option("command", *topic, "Command and subcommand, e.g. 'data add'");
  // An action, not a parse callback: a bad -C is reported before any help is printed.
  ctx.on_run(help, [&app, topic] {
    CLI::App* target = &app;
    std::string path = "mlo";
    for (const auto& word : *topic) {
      try {
        target = target->get_subcommand(word);
      } catch (const CLI::OptionNotFound&) {
        throw unknown_command(path, word, *target);
      }
      path += " " + word;
    }
    // App::help() would describe the selected subcommand (help itself); ask
    // the formatter directly, with the whole command path in the usage line.
    std::cout << target->get_formatter()->make_help(target, path, CLI::AppFormatMode::Normal);
  });
}

// The command word the user typed: the first word that is not a global
// option, or for `mlo help WORD...` the first word after help. Empty when
// there is none (`mlo`, `mlo --help`, `mlo help`).
// The first `count` words of the command line that are not options (nor
// -C's directory, nor a leading `help`): the command and its subcommand.
std::vector<std::string> requested_words(int argc, char** argv, std::size_t count) {
  std::vector<std::string> words;
  bool after_help = false;
  for (int i = 1; i < argc && words.size() < count; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-C") {
      ++i;  // its directory
      continue;
    }
    if (arg.empty() || arg[0] == '-') continue;
    if (arg == "help" && !after_help && words.empty()) {
      after_help = true;
      continue;
    }
    words.emplace_back(arg);
  }
  words.resize(count);
  return words;
}

bool declares(const CommandGroup& group, const std::string& name) {
  return std::any_of(group.commands.begin(), group.commands.end(),
                     [&](const CommandInfo& info) { return name == info.name; });
}

bool is_declared(const std::vector<CommandGroup>& groups, const std::string& name) {
  return std::any_of(groups.begin(), groups.end(), [&](const CommandGroup& g) { return declares(g, name); });
}

// Builds only what this invocation can reach: the group that owns the
// requested command in full; for every other declared command just its name
// and summary (enough for `mlo help` and for CLI11 to recognise the word).
// A summary-only command gets no -h of its own (a command that is asked for is
// built in full): CLI11 copies the parent's help flag into every subcommand,
// which was a third of building the table (issue 14). Call it while the app
// has no other option, so restoring the flag keeps it first in `mlo --help`.
// With no command word at all (`mlo help`, `mlo --help`, a bare `mlo`) the
// summaries are only printed: they go to the help formatter, not to CLI11.
// UNDECLARED_GROUPS: some group declares no commands (main() knows already).
void build_command_tree(CLI::App& app, Context& ctx, HelpFormatter& formatter,
                        const std::vector<CommandGroup>& groups, const std::string& command, bool undeclared_groups) {
  const std::string help_name = app.get_help_ptr()->get_name(false, true);
  const std::string help_text = app.get_help_ptr()->get_description();
  // Completion walks the whole command tree.
  const bool whole_tree = command == "completion" || command == "__complete";
  // A declared command needs no siblings: once it is parsed CLI11 takes no
  // other top-level word as a command (require_subcommand(1)), and a bare
  // `mlo`, `mlo help` and unknown words (which never get here) are the cases
  // that list them. Their summaries were a fifth of `mlo data status` in an
  // empty repository (issue 14).
  const bool siblings_unused = !whole_tree && is_declared(groups, command);
  // The formatter lists its summaries before every CLI11 subcommand, so this
  // keeps the order only while every group declares its commands.
  const bool list_only = command.empty() && !undeclared_groups;
  for (const auto& group : groups) {
    if (group.commands.empty() || declares(group, command) || whole_tree) {
      if (!app.get_help_ptr()) app.set_help_flag(help_name, help_text);
      group.registrar(app, ctx);
      continue;
    }
    if (siblings_unused) continue;
    if (list_only) {
      for (const auto& info : group.commands) formatter.list_only(info.name, info.summary);
      continue;
    }
    if (app.get_help_ptr()) app.set_help_flag();
    for (const auto& info : group.commands) add_command(app, info.name, info.summary);
  }
  if (!app.get_help_ptr()) app.set_help_flag(help_name, help_text);
}

}  // namespace

int main(int argc, char** argv) {
  // `mlo --version` alone needs no command table (CLI11 building it is most of
  // the start-up left after issue 14's loader work); any other use parses in full.
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("mlo %s\n", mlo::kVersion);
    return 0;
  }
  install_interrupt_handlers();
  app::install_remote_fetcher();
  Context ctx;
  CLI::App app{"mlo: the machine-learning lifecycle in a git repository", "mlo"};
  // Held by the app (not an option value: cli.option_lifetimes does not apply).
  std::shared_ptr<HelpFormatter> formatter = std::make_shared<HelpFormatter>();
  app.formatter(formatter);  // before any subcommand: they share it
  app.require_subcommand(1);
  app.fallthrough();
  std::string command;
  const std::string color = color_mode(argc, argv);
  bool init_git = std::any_of(argv + 1, argv + argc, [](const char* a) { return std::strcmp(a, "--git") == 0; });
  auto apply_globals = [&ctx, &command, &color, init_git] {
    // `mlo init --git -C new-project` makes the folder, as `git init DIR` does.
    if (!ctx.global.chdir.empty() && command == "init" && init_git)
      std::filesystem::create_directories(ctx.global.chdir);
    if (!ctx.global.chdir.empty() && ::chdir(ctx.global.chdir.c_str()) != 0)
      throw InputError("cannot change to directory " + ctx.global.chdir + ": " + std::strerror(errno));
    ctx.color_stdout = use_color(color, 1);
    log::set_color(use_color(color, 2));
    log::set_level(ctx.global.quiet ? log::Level::quiet : ctx.global.verbose ? log::Level::verbose : log::Level::normal);
    configure_progress(ctx.global);
  };

  auto& groups = command_groups();
  std::stable_sort(groups.begin(), groups.end(), [](auto& a, auto& b) { return a.order < b.order; });
  const std::vector<std::string> words = requested_words(argc, argv, 2);
  command = ctx.command = words[0];
  ctx.subcommand = words[1];
  bool color_err = use_color(color, 2);
  const bool undeclared_groups = std::any_of(groups.begin(), groups.end(), [](auto& g) { return g.commands.empty(); });
  if (!command.empty() && command != "help" && !is_declared(groups, command) && !undeclared_groups) {
    std::vector<std::string> names;
    for (const auto& g : groups)
      for (const auto& info : g.commands) names.push_back(info.name);
    std::string near = closest_match(command, names);
    return report_error("no such command: " + command,
                        near.empty() ? "run 'mlo help' for the list of commands" : "did you mean 'mlo " + near + "'?",
                        static_cast<int>(Exit::usage), color_err);
  }
  build_command_tree(app, ctx, *formatter, groups, command, undeclared_groups);
  ctx.add_held_back_summaries();
  add_help_command(app, ctx);
  // Global options after the commands (see build_command_tree); subcommands do
  // not inherit options, so the order changes nothing else.
  app.set_version_flag("--version", std::string("mlo ") + mlo::kVersion);
  app.add_option("-C", ctx.global.chdir, "Run as if mlo was started in this directory");
  app.add_flag("--json", ctx.global.json, "Print machine-readable JSON");
  app.add_flag("-q,--quiet", ctx.global.quiet, "Only print errors");
  app.add_flag("-v,--verbose", ctx.global.verbose, "Print more detail");
  app.add_flag("--no-color", ctx.global.no_color, "Do not colour output (same as --color=never)");
  std::string color_given;  // read by color_mode() before the parse; CLI11 checks it
  app.add_option("--color", color_given, "Colour: auto (a terminal, NO_COLOR unset or empty, TERM not dumb), always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.footer("Exit codes: 0 ok, 1 check failed, 2 usage, 3 bad input or repo, 4 remote, 5 runner, 130 interrupted.\n"
             "See 'mlo help COMMAND' or 'man mlo'.");

  // The words after `mlo __complete --` are the command line being typed, not options of mlo.
  if (command == "__complete" && argc >= 2 && std::strcmp(argv[1], "__complete") == 0) {
    int first = argc > 2 && std::strcmp(argv[2], "--") == 0 ? 3 : 2;
    ctx.complete_words.assign(argv + first, argv + argc);
    argc = 2;
  }
  try {
    check_subcommand_words(app, argc, argv);
    app.parse(argc, argv);
    apply_globals();
    if (ctx.action) ctx.action();
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::cout << "mlo " << mlo::kVersion << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string hint = option_hint(app, argc, argv);
    return report_error(e.what(), hint.empty() ? "run 'mlo help' or 'mlo COMMAND --help' for usage" : hint,
                        static_cast<int>(Exit::usage), color_err);
  } catch (const mlo::Error& e) {
    return report_error(e.what(), e.hint(), static_cast<int>(e.code()), color_err);
  } catch (const std::filesystem::filesystem_error& e) {
    return report_error(e.what(), "", static_cast<int>(Exit::input), color_err);
  } catch (const YAML::Exception& e) {
    // A value of the wrong kind in a YAML file (a list where a name belongs)
    // that its reader did not check: bad input, never an internal error.
    return report_error("a YAML file has a value of the wrong kind at line " + std::to_string(e.mark.line + 1) +
                            ", column " + std::to_string(e.mark.column + 1) + " (" + e.msg + ")",
                        "check that line in mlo.yaml, .mlo/config.yaml, params or a pointer file",
                        static_cast<int>(Exit::input), color_err);
  } catch (const std::exception& e) {
    return report_error(std::string("internal error: ") + e.what(), "please report this as a bug", 70, color_err);
  }
  if (interrupted()) return static_cast<int>(Exit::interrupted);
  return ctx.exit_code;
}
