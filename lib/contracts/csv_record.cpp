#include "contracts/csv_record.h"

namespace mlo::contracts {

namespace {

// A quoted field from the opening quote at text[pos]; false when it is never
// closed or something other than a comma or the line's end follows it.
bool quoted_field(std::string_view text, std::size_t& pos, std::uint64_t& newlines, std::string& out) {
  ++pos;
  while (true) {
    std::size_t q = text.find('"', pos);
    if (q == std::string_view::npos) return false;  // never closed
    for (std::size_t i = pos; i < q; ++i) newlines += text[i] == '\n';
    out.append(text.substr(pos, q - pos));
    pos = q + 1;
    if (pos < text.size() && text[pos] == '"') {  // a doubled quote: one quote in the text
      out += '"';
      ++pos;
      continue;
    }
    break;
  }
  while (pos < text.size() && text[pos] == '\r') ++pos;
  return pos == text.size() || text[pos] == ',' || text[pos] == '\n';
}

// An unquoted field at text[pos], up to a comma or the line's end; false when it holds a quote.
bool plain_field(std::string_view text, std::size_t& pos, std::string& out) {
  std::size_t end = text.find_first_of(",\n\"", pos);
  if (end == std::string_view::npos) end = text.size();
  if (end < text.size() && text[end] == '"') return false;
  std::string_view f = text.substr(pos, end - pos);
  pos = end;
  if (!f.empty() && f.back() == '\r' && (end == text.size() || text[end] == '\n')) f.remove_suffix(1);
  out.assign(f);
  return true;
}

}  // namespace

CsvStatus next_csv_record(std::string_view text, std::size_t& pos, std::uint64_t& line, std::uint64_t& start,
                          std::vector<CsvField>& fields) {
  while (pos < text.size()) {
    start = line;
    fields.clear();
    std::uint64_t newlines = 0;
    while (true) {
      CsvField& f = fields.emplace_back();
      f.quoted = text[pos] == '"';
      if (!(f.quoted ? quoted_field(text, pos, newlines, f.text) : plain_field(text, pos, f.text)))
        return CsvStatus::bad_quote;
      if (pos >= text.size() || text[pos] != ',') break;
      if (++pos == text.size()) {  // a comma at the very end: one more, empty field
        fields.emplace_back();
        break;
      }
    }
    if (pos < text.size()) ++pos, ++newlines;  // the record's newline
    line += newlines;
    if (!(fields.size() == 1 && !fields[0].quoted && fields[0].text.empty())) return CsvStatus::record;  // not blank
  }
  return CsvStatus::end;
}

}  // namespace mlo::contracts
