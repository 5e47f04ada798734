// Fuzz target: request-log rows (monitor/request_log.h). Each line of the
// input is one record of `mlo deploy`'s request log, read as the JSON Lines
// reader does: parsed, then turned into rows (one per input row of the
// request) or flattened. Nothing may throw anything but mlo::Error, or crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "monitor/request_log.h"
#include "scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (std::string_view line : mlo::fuzz::split(mlo::fuzz::as_text(data, size), '\n')) {
    auto j = nlohmann::ordered_json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    mlo::fuzz::expect_mlo_errors_only([&] {
      std::vector<mlo::monitor::FlatRow> rows;
      if (mlo::monitor::is_request_log_record(j)) mlo::monitor::request_log_rows(j, rows);
      rows.emplace_back();
      mlo::monitor::flatten_into(j, "", rows.back());
      for (const auto& row : rows)
        for (const auto& [name, value] : row) {
          mlo::monitor::is_request_log_field(name);
          if (!value->is_string()) value->dump();  // how the reader makes a cell of it
        }
    });
  }
  return 0;
}
