// Streaming readers for tabular data (CSV, TSV, JSON Lines) and the
// resolution of monitor inputs (files, globs, tracked paths, PATH@REV).
// Memory does not grow with rows: a reader holds one buffer and one record.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/number.h"

namespace mlo {

class Repo;

namespace monitor {

enum class Format { csv, tsv, jsonl };
std::string to_string(Format f);

// One readable file behind a user's input spec.
struct Source {
  std::string display;            // what the user named ("data/ref.csv@v1", a glob match)
  std::filesystem::path path;     // where the bytes are (workspace file or cache object)
  std::string identity;           // stable content identity: "sha256:HEX" (tracked) or "stat:PATH:SIZE:MTIME"
  std::uint64_t size = 0;
  Format format = Format::csv;
};

struct ReadOptions {
  std::optional<Format> format;           // default: from the file extension (.tsv, .jsonl/.ndjson/.json)
  std::optional<bool> header;             // default: detect (first row is data when every cell is a number)
  std::vector<std::string> missing = {"", "NA", "N/A", "na", "n/a", "NaN", "nan", "NAN", "null", "NULL",
                                      "Null", "None", "none", "#N/A", "?"};
  std::vector<std::string> feature_names;  // request logs' positional inputs (the model's signature)
};

struct Malformed {
  std::string file;
  std::uint64_t line = 0;
  std::string message;
};

// Cells of one record: text views valid only during the callback, with
// `missing` set for the configured missing-value tokens and JSON nulls.
struct Cell {
  std::string_view text;
  bool missing = false;
};

struct RowVisitor {
  // Called once per source with the column names (after header detection).
  std::function<void(const std::vector<std::string>& names)> header;
  // Called for each well-formed record; `raw` is the record's bytes (for duplicate detection).
  std::function<void(const std::vector<Cell>& cells, std::string_view raw)> row;
  // Called for each malformed record (not passed to row()).
  std::function<void(const Malformed&)> malformed;
  // When set, holds the line where the record passed to row() starts (data contracts' examples).
  std::uint64_t* line = nullptr;
};

// Reads a source start to end, streaming. Returns the bytes read.
std::uint64_t read_table(const Source& source, const ReadOptions& options, const RowVisitor& visitor);

// Resolves input specs: a file, a glob ("logs/*.jsonl"), a tracked path (PATH
// with PATH.mlo; read from the cache), or PATH@REV (the pointer at a git
// revision, content from the cache). `repo` may be null outside a repository.
// Throws InputError naming the spec when nothing matches.
std::vector<Source> resolve_inputs(const std::vector<std::string>& specs, Repo* repo,
                                   const std::optional<Format>& format);

// The tabular sources of a content-addressed artifact (a run's dependency):
// a file object, or the CSV/TSV/JSON Lines files of a directory manifest.
// `display` names it in messages. Throws InputError (hint: mlo pull) when the
// object or manifest is not in the local cache.
std::vector<Source> artifact_sources(Repo& repo, const std::string& display, const std::string& sha256, bool is_dir,
                                     std::uint64_t size, const std::optional<Format>& format);
// Whether a file name looks like tabular data mlo monitor reads (.csv, .tsv, .jsonl, .ndjson, .json).
bool is_tabular_name(const std::string& name);

bool is_missing_token(std::string_view text, const std::vector<std::string>& tokens);
// Parses a whole cell as a double (leading/trailing blanks allowed; inf/nan spelled
// as numpy does). False when the cell is not a number.
bool parse_number_general(std::string_view text, double& out);
inline bool parse_number(std::string_view text, double& out) {
  if (text.size() - 1 < 8 && text.front() > ' ' && text.back() > ' ' &&
      number::parse_short_decimal(text.data(), text.size(), out))
    return true;
  return parse_number_general(text, out);
}

}  // namespace monitor
}  // namespace mlo
