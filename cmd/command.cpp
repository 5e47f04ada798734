#include "command.h"

#include <unistd.h>

#include <algorithm>

namespace mlo::cli {

std::vector<CommandGroup>& command_groups() {
  static std::vector<CommandGroup> groups;
  return groups;
}

Repo& Context::repo() {
  if (!repo_) repo_.emplace(Repo::open("."));
  return *repo_;
}

// Names that are not valid UTF-8 (a file name is bytes) come out with each
// bad byte as U+FFFD instead of failing the whole output (man mlo(1)).
void Context::print_json(const nlohmann::json& doc) const {
  std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string Context::paint(const std::string& text, const std::string& colour) const {
  if (!color_stdout) return text;
  const char* code = colour == "green"  ? "32"
                     : colour == "red"    ? "31"
                     : colour == "yellow" ? "33"
                     : colour == "bold"   ? "1"
                     : colour == "dim"    ? "2"
                     : colour == "cyan"   ? "36"
                                          : "0";
  return std::string("\033[") + code + "m" + text + "\033[0m";
}

std::string HelpFormatter::make_subcommands(const CLI::App* app, CLI::AppFormatMode mode) const {
  if (mode == CLI::AppFormatMode::All) return CLI::Formatter::make_subcommands(app, mode);
  std::vector<std::pair<std::string, std::string>> groups;  // group name, its lines
  std::string out;
  if (!app->get_parent() && !listed_.empty()) {
    std::string lines;
    for (const auto& [name, summary] : listed_)
      if (name.rfind("__", 0) != 0) lines += help_line(name, summary);  // hidden, as add_command does
    groups.push_back({"Subcommands", lines});  // CLI11's default group of a subcommand
  }
  for (const CLI::App* sub : app->get_subcommands({})) {
    if (sub->get_name().empty()) {  // an option group: CLI11 shows it in place
      if (!sub->get_group().empty()) out += make_expanded(sub);
      continue;
    }
    const std::string& group = sub->get_group();
    if (group.empty()) continue;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == group; });
    if (it == groups.end()) it = groups.insert(groups.end(), {group, ""});
    it->second += make_subcommand(sub);
  }
  for (const auto& [group, lines] : groups) out += "\n" + group + ":\n" + lines;
  return out;
}

std::string HelpFormatter::make_subcommand(const CLI::App* sub) const {
  return help_line(sub->get_display_name(true), sub->get_description());
}

std::string HelpFormatter::make_option(const CLI::Option* opt, bool is_positional) const {
  return help_line(make_option_name(opt, is_positional) + make_option_opts(opt), make_option_desc(opt));
}

// "  NAME" padded to the column, then the summary (on the next line when the
// name fills the column; lines after a newline indented to it), as CLI11 does.
std::string HelpFormatter::help_line(const std::string& name, const std::string& summary) const {
  const std::size_t width = get_column_width();
  std::string line = "  " + name;
  const std::string indent(width, ' ');
  if (line.size() < width) line.append(width - line.size(), ' ');
  if (!summary.empty()) {
    if (2 + name.size() >= width) line += "\n" + indent;
    for (std::size_t at = 0; at < summary.size();) {
      std::size_t end = summary.find('\n', at);
      if (end == std::string::npos) {
        line.append(summary, at);
        break;
      }
      line.append(summary, at, end + 1 - at).append(indent);
      at = end + 1;
    }
  }
  return line + "\n";
}

CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& summary) {
  CLI::App* sub = parent.add_subcommand(name, summary);
  if (name.rfind("__", 0) == 0) sub->group("");  // helpers for scripts (mlo __complete): not in help
  // One man page per command group, like git-remote(1) for git remote add/rm.
  std::string page = parent.get_name() == "mlo" ? name : parent.get_name();
  sub->footer("See 'man mlo-" + page + "'.");
  return sub;
}

const char* declared_summary(const std::string& name) {
  for (const auto& group : command_groups())
    for (const auto& info : group.commands)
      if (name == info.name) return info.summary;
  throw std::logic_error("command '" + name + "' is not declared in its MLO_REGISTER_COMMANDS");
}

CLI::App* add_command(CLI::App& app, const std::string& name) {
  return add_command(app, name, declared_summary(name));
}

CLI::App* add_wanted_command(CLI::App& parent, Context& ctx, const std::string& name, const std::string& summary) {
  if (!ctx.wants(parent.get_name(), name)) {
    // Another subcommand was asked for: once it is parsed CLI11 takes no
    // sibling word as a subcommand (require_subcommand(1)), so this one is
    // not even added unless that word turns out to name none (see
    // add_held_back_summaries). Adding them was 13% of `mlo data status`:
    // CLI11 copies the help flag into every subcommand (issue 14).
    ctx.held_back.push_back({&parent, name, summary});
    return nullptr;
  }
  if (ctx.command == parent.get_name() && ctx.subcommand == name) ctx.subcommand_built = true;
  return add_command(parent, name, summary);
}

void Context::add_held_back_summaries() {
  if (!subcommand_built)
    for (const auto& s : held_back) add_command(*s.parent, s.name, s.summary);
  held_back.clear();
}

}  // namespace mlo::cli
