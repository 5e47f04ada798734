// Records of CSV text held in memory (a text/csv request body), split by the
// rules monitor's file reader uses for CSV files (RFC 4180): a "quoted" field
// may hold commas, newlines and doubled quotes ("" for one); after its closing
// quote only a comma or the line's end may follow; a quote inside an unquoted
// field is bad quoting; a CRLF ending loses its '\r'.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlo::contracts {

struct CsvField {
  std::string text;
  bool quoted = false;
};

enum class CsvStatus { record, end, bad_quote };

// Reads the record at text[pos] into `fields` and moves pos past it; blank
// lines are skipped. `line` is the line at pos (start with 1) and is moved
// past the record; `start` is set to the line where the record (or the bad
// quoting's record) starts.
CsvStatus next_csv_record(std::string_view text, std::size_t& pos, std::uint64_t& line, std::uint64_t& start,
                          std::vector<CsvField>& fields);

}  // namespace mlo::contracts
