// Fuzz target: registry tags (registry/names.h, registry/registry.h) as
// `mlo models` reads a teammate's tags: tag names and tag messages (GTO's
// line and mlo's metadata JSON). The input is tags separated by NUL bytes;
// each tag is its name, a newline, then its message. Tags that parse become
// events, replayed per model into its state, as the registry index does.
// Nothing here may throw anything but mlo::Error, or crash.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "registry/names.h"
#include "registry/registry.h"
#include "scratch.h"

namespace reg = mlo::registry;

namespace {

reg::Event event_of(const reg::TagName& n, std::string_view name, std::string_view message, std::int64_t time) {
  reg::Event e;
  e.tag = name;
  e.kind = n.kind;
  e.model = n.model;
  e.version = n.version;
  e.stage = n.stage;
  e.counter = n.counter;
  e.time = time;
  e.message = message.substr(0, message.find('\n'));
  e.meta = reg::extract_meta(std::string(message));
  if (n.kind == reg::TagKind::approval && e.meta.is_object() && e.meta.contains("name") && e.meta["name"].is_string())
    e.model = e.meta["name"];
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, std::vector<reg::Event>> by_model;
  std::int64_t time = 1700000000;
  for (std::string_view tag : mlo::fuzz::split(mlo::fuzz::as_text(data, size), '\0')) {
    std::size_t nl = tag.find('\n');
    std::string_view name = tag.substr(0, nl);
    std::string_view message = nl == std::string_view::npos ? std::string_view() : tag.substr(nl + 1);
    auto parsed = reg::parse_tag_name(name);
    if (!parsed) continue;
    std::string back = reg::format_tag_name(*parsed);
    if (!reg::parse_tag_name(back)) __builtin_trap();  // what mlo writes it must read
    reg::parse_semver(parsed->version);
    reg::Event e = event_of(*parsed, name, message, time++);
    e.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);  // as --json prints it
    by_model[e.model].push_back(std::move(e));
  }
  mlo::fuzz::expect_mlo_errors_only([&] {
    for (auto& [model, events] : by_model) {
      reg::ModelState state = reg::replay(model, std::move(events));
      state.summary_json().dump();
      state.latest();
      state.greatest();
    }
  });
  return 0;
}
