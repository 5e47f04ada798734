// cmd/command.h's HelpFormatter: the same text as CLI11's own formatter,
// and commands listed without being added to CLI11 read as if they were.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "command.h"

using namespace mlo::cli;

namespace {

// Every shape a help line takes: names shorter than, as long as and longer
// than the column, summaries with newlines and none, aliases, positionals,
// options with allowed values, an option group and a hidden command.
void add_every_shape(CLI::App& app, std::string& text, int& number, bool& flag) {
  app.add_option("-C", text, "Run somewhere else");
  app.add_option("--color", text, "Colour:\nauto, always or never")->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_flag("--a-flag-whose-name-is-longer-than-the-column", flag, "Long");
  app.add_flag("--no-description", flag);
  auto* sub = add_command(app, "data", "Version data files and folders");
  sub->add_option("paths", text, "Files or folders\nto track");
  sub->add_option("-j,--jobs", number, "Threads")->default_val(4);
  add_command(*sub, "add", "Track files");
  add_command(*sub, "a-subcommand-name-longer-than-30", "Summary on the next line");
  add_command(*sub, "exactly-twenty-eight-chars-x", "Name fills the column");
  add_command(*sub, "multi", "First line\nsecond line\nthird");
  add_command(*sub, "quiet", "");
  add_command(app, "alias-holder", "Has aliases")->alias("ah")->alias("holder");
  add_command(app, "__complete", "Hidden helper");
  app.add_option_group("Output", "How to print")->add_flag("--json", flag, "JSON");
  add_command(app, "help", "Show help");
}

std::string help_text(const CLI::App& app, const CLI::Formatter& formatter) {
  return formatter.make_help(&app, app.get_name(), CLI::AppFormatMode::Normal);
}

}  // namespace

TEST_CASE("help formatter: the same text as CLI11's for every shape of line", "[help]") {
  std::string text;
  int number = 0;
  bool flag = false;
  CLI::App app{"mlo: a test", "mlo"};
  add_every_shape(app, text, number, flag);
  HelpFormatter ours;
  CLI::Formatter theirs;
  CHECK(help_text(app, ours) == help_text(app, theirs));
  CLI::App* data = app.get_subcommand("data");
  CHECK(help_text(*data, ours) == help_text(*data, theirs));
  CHECK(help_text(*data, ours).find("  a-subcommand-name-longer-than-30\n") != std::string::npos);
  CHECK(help_text(*data, ours).find("second line\n                              third") != std::string::npos);
  CHECK(help_text(app, ours).find("__complete") == std::string::npos);
}

TEST_CASE("help formatter: listed commands read as if CLI11 had them", "[help]") {
  const std::pair<const char*, const char*> commands[] = {
      {"init", "Set up mlo"}, {"a-command-name-as-long-as-thirty", "Long"}, {"multi", "One\ntwo"}, {"__complete", "Hidden"}};
  CLI::App added{"mlo: a test", "mlo"};
  for (const auto& [name, summary] : commands) add_command(added, name, summary);
  add_command(added, "help", "Show help");
  added.formatter(std::make_shared<HelpFormatter>());

  CLI::App listed{"mlo: a test", "mlo"};
  auto formatter = std::make_shared<HelpFormatter>();
  for (const auto& [name, summary] : commands) formatter->list_only(name, summary);
  add_command(listed, "help", "Show help");
  listed.formatter(formatter);

  CHECK(listed.help() == added.help());
  CHECK(listed.help().find("  init                        Set up mlo\n") != std::string::npos);
  CHECK(listed.help().find("__complete") == std::string::npos);
}
