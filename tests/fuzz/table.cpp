// Fuzz target: the monitor's table readers (monitor/table.h) and the profile
// built from them (monitor/profile.h), as `mlo monitor` reads a reference or
// current dataset. The first byte picks the format (CSV, TSV, JSON Lines) and
// whether the header is detected or given, and names the first column as the
// target, timestamp and prediction when its bits say so; the rest is the file.
// The profile is serialized and parsed back as the profile cache does.
// Malformed rows are counted, never a crash or an exception but mlo::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "monitor/profile.h"
#include "monitor/table.h"
#include "scratch.h"

namespace mon = mlo::monitor;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  static const char* names[] = {"t.csv", "t.tsv", "t.jsonl"};
  mon::Source src;
  src.format = static_cast<mon::Format>(mode % 3);
  src.path = mlo::fuzz::scratch_dir() / names[mode % 3];
  src.display = names[mode % 3];
  src.size = size - 1;
  src.identity = "fuzz";
  mlo::fuzz::write_file(src.path, mlo::fuzz::as_text(data + 1, size - 1));
  mon::ProfileOptions opt;
  opt.read.format = src.format;
  if (mode & 0x04) opt.read.header = (mode & 0x08) != 0;
  opt.exact_limit = 64;  // small, so the sketch path runs too
  mlo::fuzz::expect_mlo_errors_only([&] {
    std::uint64_t rows = 0;
    mon::RowVisitor v;
    v.header = [&](const std::vector<std::string>& cols) {
      if (cols.empty()) return;
      if (mode & 0x10) opt.target = cols[0];
      if (mode & 0x20) opt.timestamp_column = cols[0];
      if (mode & 0x40) opt.prediction = cols.back();
    };
    v.row = [&](const std::vector<mon::Cell>& cells, std::string_view) {
      double x;
      for (const auto& c : cells) mon::parse_number(c.text, x);
      ++rows;
    };
    v.malformed = [](const mon::Malformed&) {};
    mon::read_table(src, opt.read, v);
    mon::DatasetProfile p = mon::build_profile({src}, opt);
    mon::parse_profile(mon::serialize_profile(p), "fuzz profile");
  });
  return 0;
}
