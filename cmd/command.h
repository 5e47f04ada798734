// The command table. Each cmd/*.cpp registers its command group with
// MLO_REGISTER_COMMANDS; main.cpp builds the CLI from the table. A command's
// callback gets a Context that opens the repository only if asked, so
// `mlo --version` and `mlo help` touch nothing.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "core/error.h"
#include "repo/repo.h"

namespace mlo::cli {

struct GlobalOptions {
  std::string chdir;
  bool json = false;
  bool quiet = false;
  bool verbose = false;
  bool no_color = false;
};

class Context {
 public:
  GlobalOptions global;
  bool color_stdout = false;  // colour allowed on stdout (terminal, no NO_COLOR/--no-color)
  int exit_code = 0;
  // `mlo __complete -- WORDS...`: the words to complete, kept out of CLI11's parse.
  std::vector<std::string> complete_words;
  // The selected command's work; main() runs it after parsing and applying
  // the global options (so -C takes effect first).
  std::function<void()> action;
  // The command word of this invocation and the word after it ("data",
  // "status"), as far as main() can tell before parsing.
  std::string command, subcommand;
  // False when this invocation names another subcommand of `parent`: then
  // `name` needs only its summary (its options would only cost start-up).
  bool wants(const std::string& parent, const std::string& name) const {
    return command != parent || subcommand.empty() || subcommand == name;
  }
  // The siblings of the subcommand asked for, held back by
  // add_wanted_command: main() adds them (name and summary) only when no
  // subcommand of that name was built, for help and "did you mean".
  struct Summary {
    CLI::App* parent;
    std::string name, summary;
  };
  std::vector<Summary> held_back;
  bool subcommand_built = false;
  void add_held_back_summaries();

  // Makes `fn` the action of `cmd` when the user selects it.
  void on_run(CLI::App* cmd, std::function<void()> fn) {
    cmd->callback([this, fn = std::move(fn)] { action = fn; });
  }

  // The mlo repository around the working directory; throws InputError if none.
  Repo& repo();
  // Prints a JSON document (pretty, newline-terminated) to stdout.
  void print_json(const nlohmann::json& doc) const;
  // Wraps text in an ANSI colour when colour is on ("green", "red", "yellow", "bold", "dim").
  std::string paint(const std::string& text, const std::string& colour) const;

 private:
  std::optional<Repo> repo_;
};

using Registrar = void (*)(CLI::App& app, Context& ctx);

// A top-level command a group adds, with its one-line summary for `mlo help`.
struct CommandInfo {
  const char* name;
  const char* summary;
};

// Command groups in registration order (`order` sorts them in `mlo --help`).
// Like git's command list, each group declares its top-level commands up
// front, so main() builds only the group the user invoked (and for `mlo help`
// just the names): building every option of every command costs milliseconds.
// A group that declares no commands is always built.
struct CommandGroup {
  int order;
  Registrar registrar;
  std::vector<CommandInfo> commands;
};
std::vector<CommandGroup>& command_groups();

struct RegisterCommands {
  RegisterCommands(int order, Registrar registrar, std::vector<CommandInfo> commands = {}) {
    command_groups().push_back({order, registrar, std::move(commands)});
  }
};

// MLO_REGISTER_COMMANDS(order, fn, {"name", "summary"}, ...)
#define MLO_REGISTER_COMMANDS(order, fn, ...) \
  static ::mlo::cli::RegisterCommands mlo_register_##fn##_instance(order, fn, {__VA_ARGS__})

// CLI11's help formatter with a linear subcommand list: CLI11's own compares
// every subcommand's group with every group in lower case through the locale,
// a third of `mlo help` (issue 14). Same output: groups in the order first
// seen, each under its "NAME:" line, hidden ones (no group) left out.
//
// It also lists commands that were never added to CLI11 (list_only): for
// `mlo help` and a bare `mlo` nothing is parsed below the top level, and
// adding ~35 summary-only subcommands (CLI11 compares each new name with every
// earlier one) was a fifth of `mlo help`. They print first, in the order
// listed, under CLI11's default group, as add_command would have put them.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_subcommands(const CLI::App* app, CLI::AppFormatMode mode) const override;
  // CLI11's own versions build a stringstream per line; same text.
  std::string make_subcommand(const CLI::App* sub) const override;
  std::string make_option(const CLI::Option* opt, bool is_positional) const override;
  void list_only(const std::string& name, const std::string& summary) { listed_.push_back({name, summary}); }

 private:
  std::string help_line(const std::string& name, const std::string& summary) const;
  std::vector<std::pair<std::string, std::string>> listed_;  // name, summary: the top-level app's only
};

// Adds a subcommand with the common conventions (footer pointing at the man page).
CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& summary);
// Adds a top-level command declared in its group's MLO_REGISTER_COMMANDS,
// with the summary declared there.
CLI::App* add_command(CLI::App& app, const std::string& name);
// add_command for a subcommand of a group command: nullptr, with only its
// name and summary added, when ctx.wants() says another one was asked for.
CLI::App* add_wanted_command(CLI::App& parent, Context& ctx, const std::string& name, const std::string& summary);
// The declared summary of a top-level command (throws std::logic_error if undeclared).
const char* declared_summary(const std::string& name);

}  // namespace mlo::cli
