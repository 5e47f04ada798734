#include "monitor/table.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "core/parse.h"
#include "data/manifest.h"
#include "data/tree.h"
#include "data/pointer.h"
#include "monitor/request_log.h"
#include "repo/repo.h"

namespace mlo::monitor {

namespace fs = std::filesystem;

std::string to_string(Format f) {
  switch (f) {
    case Format::csv: return "csv";
    case Format::tsv: return "tsv";
    case Format::jsonl: return "jsonl";
  }
  return "csv";
}

namespace {

Format format_for(const std::string& name) {
  std::string_view n = name;
  for (std::string_view z : {std::string_view(".gz"), std::string_view(".zst")})
    if (n.ends_with(z)) n.remove_suffix(z.size());
  if (n.ends_with(".tsv") || n.ends_with(".tab")) return Format::tsv;
  if (n.ends_with(".jsonl") || n.ends_with(".ndjson") || n.ends_with(".json") || n.ends_with(".log"))
    return Format::jsonl;
  return Format::csv;
}

inline std::string_view trim(std::string_view s) {
  if (s.empty() || (s.front() > ' ' && s.back() > ' ')) [[likely]] return s;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Reads a file in large chunks; the caller keeps unconsumed bytes at the front.
class ChunkReader {
 public:
  explicit ChunkReader(const fs::path& path) : path_(path) {
    fd_ = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_) throw_errno(path.string(), errno, "check that the file exists and is readable");
    ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  // Appends up to `want` bytes to buf; returns false at EOF.
  bool fill(std::string& buf, std::size_t want) {
    std::size_t old = buf.size();
    buf.resize(old + want);
    ssize_t n;
    do n = ::read(fd_.get(), buf.data() + old, want);
    while (n < 0 && errno == EINTR);
    if (n < 0) throw_errno(path_.string(), errno);
    buf.resize(old + static_cast<std::size_t>(n));
    bytes_ += static_cast<std::uint64_t>(n);
    return n > 0;
  }
  std::uint64_t bytes() const { return bytes_; }

 private:
  fs::path path_;
  UniqueFd fd_;
  std::uint64_t bytes_ = 0;
};

constexpr std::size_t kChunk = 1 << 20;

bool all_numbers(const std::vector<std::string_view>& cells) {
  if (cells.empty()) return false;
  for (const auto& c : cells) {
    double v;
    if (!parse_number(c, v)) return false;
  }
  return true;
}

// The first bytes of the missing tokens, so most cells are ruled out with one lookup.
struct MissingTable {
  std::array<bool, 256> first{};
  bool empty = false;
  const std::vector<std::string>* tokens;
  explicit MissingTable(const std::vector<std::string>& t) : tokens(&t) {
    for (const auto& x : t) {
      if (x.empty()) empty = true;
      else first[static_cast<unsigned char>(x[0])] = true;
    }
  }
  bool operator()(std::string_view text) const {
    if (text.empty()) return empty;
    if (!first[static_cast<unsigned char>(text[0])]) return false;
    for (const auto& x : *tokens)
      if (text == x) return true;
    return false;
  }
};

// Hands parsed records to the visitor: the first one decides the header,
// blank lines are skipped, records of the wrong width are malformed.
class RecordSink {
 public:
  RecordSink(const Source& src, const ReadOptions& opt, const RowVisitor& v)
      : src_(src), opt_(opt), v_(v), is_missing_(opt.missing) {}

  // `quoted` (one flag a field) is null when no field was quoted.
  void operator()(const std::vector<std::string_view>& views, const char* quoted, std::string_view raw,
                  std::uint64_t at_line) {
    if (!have_header_ && take_header(views)) return;
    if (views.size() == 1 && views[0].empty() && !(quoted && quoted[0]) && width_ != 1) return;  // blank line
    if (views.size() != width_) {
      v_.malformed({src_.display, at_line,
                    "expected " + std::to_string(width_) + " fields, found " + std::to_string(views.size())});
      return;
    }
    cells_.resize(width_);
    for (std::size_t i = 0; i < width_; ++i) {
      cells_[i].text = views[i];
      cells_[i].missing = !(quoted && quoted[i]) ? is_missing_(trim(views[i])) : views[i].empty();
    }
    if (v_.line) *v_.line = at_line;
    v_.row(cells_, raw);
    if ((++records_ & 0xffff) == 0) check_interrupted();
  }
  bool have_header() const { return have_header_; }

 private:
  // Returns true when the record was the header (and is not data).
  bool take_header(const std::vector<std::string_view>& views) {
    have_header_ = true;
    bool header = opt_.header.value_or(!all_numbers(views));
    std::vector<std::string> names;
    for (std::size_t i = 0; i < views.size(); ++i) {
      std::string n = header ? std::string(trim(views[i])) : std::string();
      names.push_back(n.empty() ? "column_" + std::to_string(i + 1) : n);
    }
    width_ = names.size();
    v_.header(names);
    return header;
  }

  const Source& src_;
  const ReadOptions& opt_;
  const RowVisitor& v_;
  MissingTable is_missing_;
  std::vector<Cell> cells_;
  bool have_header_ = false;
  std::size_t width_ = 0;
  std::uint64_t records_ = 0;
};

constexpr std::size_t kNotPlain = std::string_view::npos;

// Ends a plain record at the newline at `at`: its last field loses a '\r'
// before the newline (CRLF files), as in the general parser below.
inline std::size_t end_plain_record(const char* b, std::size_t start, std::size_t at,
                                    std::vector<std::string_view>& views) {
  std::size_t end = at;
  if (end > start && b[end - 1] == '\r') --end;
  views.emplace_back(b + start, end - start);
  return at + 1;
}

// The common record, with no quote before its newline, split at the
// delimiters into `views` in one scan (16 bytes a step where SSE2 is there).
// Returns where the next record starts, or kNotPlain when a quote comes first
// or the buffer holds no newline: the general parser then reads the record,
// so both give the same fields.
std::size_t split_plain_record(std::string_view buf, std::size_t pos, char delim,
                               std::vector<std::string_view>& views) {
  views.clear();
  const char* b = buf.data();
  const std::size_t size = buf.size();
  std::size_t start = pos, i = pos;
#if defined(__SSE2__)
  const __m128i vd = _mm_set1_epi8(delim), vn = _mm_set1_epi8('\n'), vq = _mm_set1_epi8('"');
  for (; i + 16 <= size; i += 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)), _mm_cmpeq_epi8(x, vq));
    for (auto m = static_cast<unsigned>(_mm_movemask_epi8(hits)); m != 0; m &= m - 1) {
      std::size_t at = i + static_cast<std::size_t>(__builtin_ctz(m));
      if (b[at] == delim) {
        views.emplace_back(b + start, at - start);
        start = at + 1;
      } else {
        return b[at] == '"' ? kNotPlain : end_plain_record(b, start, at, views);
      }
    }
  }
#endif
  for (; i < size; ++i) {
    if (b[i] == delim) {
      views.emplace_back(b + start, i - start);
      start = i + 1;
    } else if (b[i] == '\n' || b[i] == '"') {
      return b[i] == '"' ? kNotPlain : end_plain_record(b, start, i, views);
    }
  }
  return kNotPlain;
}

std::uint64_t read_delimited(const Source& src, const ReadOptions& opt, const RowVisitor& v, char delim) {
  RecordSink emit(src, opt, v);
  std::array<bool, 256> stop{};  // bytes that end an unquoted field's fast scan
  stop[static_cast<unsigned char>(delim)] = stop['\n'] = stop['"'] = true;
  ChunkReader in(src.path);
  std::string buf;
  std::size_t pos = 0;
  bool eof = false;
  std::uint64_t line = 1;  // physical line where the current record starts
  std::vector<std::string> fields;      // unescaped text of quoted fields
  std::vector<std::string_view> views;  // every field: into the buffer, or into fields[k] when quoted
  std::vector<char> quoted;  // (not vector<bool>: one byte a field, no bit twiddling per cell)
  std::vector<std::string_view> plain;  // the fields of a record split by split_plain_record

  while (true) {
    if (std::size_t next = split_plain_record(buf, pos, delim, plain); next != kNotPlain) {
      emit(plain, nullptr, std::string_view(buf.data() + pos, next - pos), line);
      ++line;
      pos = next;
      continue;
    }
    // Parse one record starting at pos; needs the whole record in buf.
    std::size_t i = pos;
    std::size_t nf = 0;
    std::uint64_t newlines = 0;
    bool complete = false;
    bool bad_quote = false;
    while (true) {
      if (views.size() <= nf) [[unlikely]] {
        fields.resize(nf + 1);
        quoted.resize(nf + 1);
        views.resize(nf + 1);
      }
      quoted[nf] = false;
      if (i < buf.size() && buf[i] == '"') {
        std::string& f = fields[nf];
        f.clear();
        quoted[nf] = true;
        ++i;
        bool closed = false;
        while (i < buf.size()) {
          char c = buf[i];
          if (c == '"') {
            if (i + 1 < buf.size() && buf[i + 1] == '"') { f.push_back('"'); i += 2; continue; }
            if (i + 1 >= buf.size() && !eof) break;  // need more bytes to decide
            ++i;
            closed = true;
            break;
          }
          if (c == '\n') ++newlines;
          f.push_back(c);
          ++i;
        }
        if (!closed) {
          if (!eof) break;  // refill
          bad_quote = true;
          complete = true;
          ++nf;
          i = buf.size();
          break;
        }
        // after the closing quote: delimiter, newline or end
        while (i < buf.size() && buf[i] != delim && buf[i] != '\n') {
          if (buf[i] != '\r') bad_quote = true;
          ++i;
        }
      } else {
        std::size_t start = i;
        {
          const char* b = buf.data();
          const std::size_t size = buf.size();
          while (i < size && !stop[static_cast<unsigned char>(b[i])]) ++i;
          while (i < size && b[i] == '"') {  // a quote inside an unquoted field
            bad_quote = true;
            ++i;
            while (i < size && !stop[static_cast<unsigned char>(b[i])]) ++i;
          }
        }
        std::size_t end = i;
        if (end > start && buf[end - 1] == '\r' && (i < buf.size() && buf[i] == '\n')) --end;
        if (i >= buf.size() && !eof) break;
        if (i >= buf.size() && end > start && buf[end - 1] == '\r') --end;
        views[nf] = std::string_view(buf.data() + start, end - start);
      }
      ++nf;
      if (i >= buf.size()) {
        if (!eof) break;
        complete = true;
        break;
      }
      if (buf[i] == delim) { ++i; continue; }
      // newline
      ++i;
      ++newlines;
      complete = true;
      break;
    }
    if (!complete) {
      // need more data: shift and refill
      buf.erase(0, pos);
      pos = 0;
      if (!in.fill(buf, std::max(kChunk, buf.size()))) eof = true;
      continue;
    }
    if (pos >= buf.size() && eof) break;
    views.resize(nf);
    quoted.resize(nf);
    for (std::size_t k = 0; k < nf; ++k)
      if (quoted[k]) views[k] = fields[k];
    std::string_view raw(buf.data() + pos, i - pos);
    if (bad_quote) {
      v.malformed({src.display, line, "bad quoting (RFC 4180: a quote inside a field must be doubled)"});
    } else {
      emit(views, quoted.data(), raw, line);
    }
    line += newlines;
    pos = i;
    if (pos >= buf.size() && eof) break;
  }
  if (!emit.have_header()) v.header({});
  return in.bytes();
}

// ordered_json keeps the keys in file order, so columns come out as written.
using Json = nlohmann::ordered_json;

// A request the model answered for the client: a 2xx status (when there is
// one, a number) and not a shadow copy. A log line is data: odd types are
// skipped, never thrown.
bool answered_for_client(const nlohmann::ordered_json& j) {
  auto status = j.find("status");
  if (status != j.end() && !(status->is_number() && *status >= 200 && *status < 300)) return false;
  auto role = j.find("role");
  return !(role != j.end() && role->is_string() && *role == "shadow");
}

std::uint64_t read_jsonl(const Source& src, const ReadOptions& opt, const RowVisitor& v) {
  ChunkReader in(src.path);
  std::string buf;
  std::size_t pos = 0;
  bool eof = false;
  std::uint64_t line = 0;
  std::vector<std::string> names;
  std::unordered_map<std::string, std::size_t> index;
  bool have_header = false;
  std::vector<std::string> texts;
  std::vector<Cell> cells;
  std::vector<FlatRow> request_rows;
  RequestLogContext log_context;
  log_context.feature_names = opt.feature_names;
  std::string row_bytes;
  while (true) {
    std::size_t nl = buf.find('\n', pos);
    if (nl == std::string::npos && !eof) {
      buf.erase(0, pos);
      pos = 0;
      if (!in.fill(buf, kChunk)) eof = true;
      continue;
    }
    if (nl == std::string::npos) nl = buf.size();
    if (pos >= buf.size() && eof) break;
    std::string_view raw(buf.data() + pos, nl - pos);
    pos = nl + 1;
    ++line;
    if (trim(raw).empty()) continue;
    if (!json_depth_within(raw)) {  // readers below recurse per level
      v.malformed({src.display, line, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"});
      continue;
    }
    Json j;
    try {
      j = Json::parse(raw);
    } catch (const std::exception& e) {
      v.malformed({src.display, line, std::string("not JSON: ") + e.what()});
      continue;
    }
    if (!j.is_object()) {
      v.malformed({src.display, line, "expected a JSON object"});
      continue;
    }
    // Request logs of `mlo deploy` hold a whole request per line: one row per
    // input row (monitor/request_log.h). Failed requests and shadow copies
    // are not traffic the model answered for the client: skipped.
    request_rows.clear();
    if (is_request_log_record(j)) {
      if (!answered_for_client(j)) continue;
      log_context.scratch.clear();
      request_log_rows(j, request_rows, log_context);
    } else {
      request_rows.emplace_back();
      flatten_into(j, "", request_rows.back());
    }
    for (const FlatRow& flat : request_rows) {
      if (!have_header) {
        have_header = true;
        for (auto& [k, _] : flat) {
          index.emplace(k, names.size());
          names.push_back(k);
        }
        v.header(names);
      }
      texts.assign(names.size(), std::string());
      cells.assign(names.size(), Cell{{}, true});
      for (auto& [k, val] : flat) {
        auto f = index.find(k);
        if (f == index.end()) continue;  // a key the first record lacked: not a column
        std::size_t c = f->second;
        if (val->is_null()) continue;
        if (val->is_string()) texts[c] = val->get<std::string>();
        else if (val->is_boolean()) texts[c] = val->get<bool>() ? "true" : "false";
        else texts[c] = val->dump();
        cells[c].missing = val->is_string() && is_missing_token(trim(texts[c]), opt.missing);
      }
      for (std::size_t c = 0; c < names.size(); ++c) cells[c].text = texts[c];
      if (v.line) *v.line = line;
      if (request_rows.size() == 1) {
        v.row(cells, raw);
      } else {
        // Rows of one request share its line: duplicates are judged on values.
        row_bytes.clear();
        for (const auto& t : texts) (row_bytes += t) += '\x1f';
        v.row(cells, row_bytes);
      }
    }
    if ((line & 0xffff) == 0) check_interrupted();
  }
  if (!have_header) v.header({});
  return in.bytes();
}

}  // namespace

bool is_missing_token(std::string_view text, const std::vector<std::string>& tokens) {
  // Fast path: numbers (the common cell) never start like the default tokens.
  if (!text.empty() && ((text[0] >= '0' && text[0] <= '9') || text[0] == '-' || text[0] == '.')) {
    bool numeric_token = false;
    for (const auto& t : tokens)
      if (!t.empty() && t[0] == text[0]) numeric_token = true;
    if (!numeric_token) return false;
  }
  for (const auto& t : tokens)
    if (text == t) return true;
  return false;
}

bool parse_number_general(std::string_view s, double& out) {
  using number::kPow10;
  s = trim(s);
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  if (s.size() <= 8 && number::parse_short_decimal(s.data(), s.size(), out)) return true;
  {
    // Fast path (Clinger): [-]digits[.digits] whose digits, as one integer m,
    // are at most 2^53 (exact in a double) with at most 22 after the point
    // (10^22 is exact): one IEEE division rounds m / 10^frac correctly, the
    // same double as from_chars. Two tight digit loops: this runs per cell.
    const char* q = s.data();
    const char* e = q + s.size();
    bool neg = *q == '-';
    if (neg) ++q;
    const char* int_start = q;
    std::uint64_t m = 0;
    while (q < e && static_cast<unsigned char>(*q - '0') < 10) m = m * 10 + static_cast<std::uint64_t>(*q++ - '0');
    std::ptrdiff_t int_digits = q - int_start, frac = 0;
    if (q < e && *q == '.') {
      const char* frac_start = ++q;
      while (q < e && static_cast<unsigned char>(*q - '0') < 10) m = m * 10 + static_cast<std::uint64_t>(*q++ - '0');
      frac = q - frac_start;
    }
    if (q == e && int_digits + frac > 0 && int_digits + frac <= 19 && frac <= 22 && m <= (std::uint64_t{1} << 53)) {
      double v = static_cast<double>(m) / kPow10[frac];
      out = neg ? -v : v;
      return true;
    }
  }
  // Text cells (categories read by an expression) leave here: from_chars
  // only takes a digit, a point, inf or nan after the sign.
  const char* first = s.data() + (s.front() == '-');
  if (first == s.data() + s.size()) return false;
  char c0 = *first;
  if (!((c0 >= '0' && c0 <= '9') || c0 == '.' || c0 == 'i' || c0 == 'I' || c0 == 'n' || c0 == 'N')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc() && p == s.data() + s.size()) return true;
  if (ec == std::errc::result_out_of_range && p == s.data() + s.size()) {
    // Too large (inf) or too small (0 or a subnormal, as pandas reads it:
    // 1e-400 is not infinite). strtod rounds both ways; no locale is set,
    // so its point is '.'.
    out = std::strtod(std::string(s).c_str(), nullptr);
    return true;
  }
  if (s.size() > 9 || (s.front() != 'i' && s.front() != 'I' && s.front() != '-')) return false;
  std::string low(s);
  for (auto& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (low == "inf" || low == "infinity") { out = HUGE_VAL; return true; }
  if (low == "-inf" || low == "-infinity") { out = -HUGE_VAL; return true; }
  return false;
}

std::uint64_t read_table(const Source& source, const ReadOptions& options, const RowVisitor& visitor) {
  if (source.path.empty())
    throw InputError(source.display + ": content " + source.identity.substr(7, 12) + " is not in the local cache",
                     "fetch it first ('mlo pull' / 'mlo data checkout'), or name a plain file");
  Format f = options.format.value_or(source.format);
  switch (f) {
    case Format::csv: return read_delimited(source, options, visitor, ',');
    case Format::tsv: return read_delimited(source, options, visitor, '\t');
    case Format::jsonl: return read_jsonl(source, options, visitor);
  }
  return 0;
}

namespace {

std::string stat_identity(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) throw_errno(p.string(), errno);
  return "stat:" + fs::absolute(p).lexically_normal().string() + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec);
}

Source plain_file(const std::string& path, const std::optional<Format>& format) {
  Source s;
  s.display = path;
  s.path = path;
  s.identity = stat_identity(path);
  s.size = fs::file_size(path);
  s.format = format.value_or(format_for(path));
  return s;
}

void add_tracked(Repo& repo, const Pointer& ptr, const std::string& rel, const std::string& display,
                 const std::optional<Format>& format, std::vector<Source>& out) {
  auto from_cache = [&](const std::string& hash, const std::string& name, std::uint64_t size, const std::string& disp) {
    Source s;
    s.display = disp;
    s.identity = "sha256:" + hash;
    s.size = size;
    s.format = format.value_or(format_for(name));
    // Not cached: an error only if the bytes are needed (a cached profile may make them unnecessary).
    if (repo.cache().has(hash)) s.path = repo.cache().object_path(hash);
    out.push_back(std::move(s));
  };
  if (ptr.type == EntryType::file) {
    from_cache(ptr.sha256, rel, ptr.size, display);
    return;
  }
  if (!repo.cache().has(ptr.sha256))
    throw InputError(display + ": directory manifest " + ptr.sha256.substr(0, 12) + " is not in the local cache",
                     "fetch it first ('mlo pull')");
  Manifest m = read_manifest(repo.cache(), ptr.sha256, display);
  for (const auto& e : m.entries) {
    Format ef = format.value_or(format_for(e.path));
    std::string n = e.path;
    if (!(n.ends_with(".csv") || n.ends_with(".tsv") || n.ends_with(".jsonl") || n.ends_with(".ndjson"))) continue;
    from_cache(e.sha256, e.path, e.size, display + "/" + e.path);
    out.back().format = ef;
  }
}

}  // namespace

bool is_tabular_name(const std::string& name) {
  std::string_view n = name;
  for (std::string_view z : {std::string_view(".gz"), std::string_view(".zst")})
    if (n.ends_with(z)) return false;  // compressed: not read
  return n.ends_with(".csv") || n.ends_with(".tsv") || n.ends_with(".tab") || n.ends_with(".jsonl") ||
         n.ends_with(".ndjson") || n.ends_with(".json");
}

std::vector<Source> artifact_sources(Repo& repo, const std::string& display, const std::string& sha256, bool is_dir,
                                     std::uint64_t size, const std::optional<Format>& format) {
  if (!repo.cache().has(sha256))
    throw InputError(display + ": " + (is_dir ? "directory manifest " : "content ") + sha256.substr(0, 12) +
                         " is not in the local cache",
                     "run 'mlo pull' to fetch it from the remote");
  Pointer p;
  p.path = display;
  p.type = is_dir ? EntryType::dir : EntryType::file;
  p.sha256 = sha256;
  p.size = size;
  std::vector<Source> out;
  add_tracked(repo, p, display, display, format, out);
  for (const auto& s : out)
    if (s.path.empty())
      throw InputError(s.display + ": content " + s.identity.substr(7, 12) + " is not in the local cache",
                       "run 'mlo pull' to fetch it from the remote");
  if (out.empty())
    throw InputError(display + ": the directory holds no CSV, TSV or JSON Lines files", "name the data with --reference PATH");
  return out;
}

std::vector<Source> resolve_inputs(const std::vector<std::string>& specs, Repo* repo,
                                   const std::optional<Format>& format) {
  std::vector<Source> out;
  for (const std::string& spec : specs) {
    // PATH@REV: a tracked dataset at a git revision.
    auto at = spec.rfind('@');
    if (at != std::string::npos && at > 0 && at + 1 < spec.size() && !fs::exists(spec)) {
      if (!repo)
        throw InputError(spec + ": PATH@REV needs an mlo repository", "run inside the repository (or use -C DIR)");
      std::string path = spec.substr(0, at), rev = spec.substr(at + 1);
      std::string rel = repo->relative(path);
      auto text = repo->git().read_file_at(rev, pointer_path_for(rel));
      if (!text) {
        repo->git().resolve_commit(rev);  // throws a clear error for an unknown revision
        throw InputError(spec + ": " + pointer_path_for(rel) + " does not exist at " + rev,
                         "name a dataset tracked with 'mlo data add' at that revision");
      }
      Pointer p = parse_pointer(*text, pointer_path_for(rel) + "@" + rev);
      add_tracked(*repo, p, rel, spec, format, out);
      continue;
    }
    // A tracked path whose pointer exists: read from the cache.
    if (repo && fs::exists(spec + kPointerSuffix)) {
      std::string rel = repo->relative(spec);
      Pointer p = parse_pointer(read_file(spec + kPointerSuffix), spec + kPointerSuffix);
      if (p.type == EntryType::file && !repo->cache().has(p.sha256) && fs::is_regular_file(spec)) {
        // Not cached (yet): the workspace copy is the data.
      } else {
        add_tracked(*repo, p, rel, spec, format, out);
        continue;
      }
    }
    if (fs::is_regular_file(spec)) {
      out.push_back(plain_file(spec, format));
      continue;
    }
    if (fs::is_directory(spec))
      throw InputError(spec + ": is a directory", "name files or a glob such as '" + spec + "/*.csv'");
    glob_t g{};
    int rc = ::glob(spec.c_str(), 0, nullptr, &g);
    std::vector<std::string> matches;
    if (rc == 0)
      for (std::size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    std::sort(matches.begin(), matches.end());
    std::size_t before = out.size();
    for (const auto& m : matches) {
      if (!fs::is_regular_file(m) || m.ends_with(kPointerSuffix)) continue;
      out.push_back(plain_file(m, format));
    }
    if (out.size() == before)
      throw InputError(spec + ": no such file, tracked dataset or glob match",
                       "check the path; a tracked dataset needs its PATH.mlo, PATH@REV a git revision");
  }
  return out;
}

}  // namespace mlo::monitor
