// The per-experiment tables (experiment_index.h): rewritten from the runs of
// each experiment a write touched, read by experiment_page, which seeks in an
// index to a page in the order list_experiments gives instead of grouping
// every run first.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <optional>
#include <tuple>

#include "core/error.h"
#include "pipeline/experiment_index.h"
#include "pipeline/runs_index.h"

namespace mlo {

using json = nlohmann::json;

namespace {

// Writes one experiment's rows from its runs.
class ExperimentWriter {
 public:
  explicit ExperimentWriter(Database& db)
      : runs_(db.prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE " + kExperimentKey +
                         " = ? ORDER BY started_at DESC, id DESC")),
        known_(db.prepare("SELECT 1 FROM experiments WHERE key = ?")),
        drop_(db.prepare("DELETE FROM experiments WHERE key = ?")),
        drop_values_(db.prepare("DELETE FROM experiment_values WHERE experiment = ?")),
        put_(db.prepare("INSERT INTO experiments(key, first_started, first_id) VALUES (?, ?, ?)")),
        put_value_(db.prepare("INSERT INTO experiment_values(kind, name, experiment, cat, num, txt, first_started, "
                              "first_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {}

  // Rewrites one experiment's rows from its runs in the index.
  void rewrite(const std::string& key) {
    drop_.bind(1, key).run();
    drop_values_.bind(1, key).run();
    std::vector<json> rows;
    runs_.reset();
    runs_.bind(1, key);
    while (runs_.step()) rows.push_back(summary_from_row(runs_));
    if (rows.empty()) return;  // none of its runs is left
    Experiment e = group_runs(rows).front();
    // group_runs ranks experiments by their first run: its start, then its id.
    put(key, rows.back().value("started_at", 0.0), rows.back().value("id", ""), e.params, e.metrics);
  }

  // The rows of an experiment not indexed before, from its runs in memory:
  // merged oldest first, as group_runs merges them.
  void write_fresh(const std::string& key, std::vector<IndexedRun>& runs) {
    std::sort(runs.begin(), runs.end(),
              [](const IndexedRun& a, const IndexedRun& b) { return std::tie(a.started, a.id) < std::tie(b.started, b.id); });
    if (runs.size() == 1) {  // the common case (an import): nothing to merge
      const IndexedRun& r = runs.front();
      put(key, r.started, r.id, r.params.is_object() ? r.params : json::object(),
          r.metrics.is_object() ? r.metrics : json::object());
      return;
    }
    json params = json::object(), metrics = json::object();
    for (const auto& r : runs) {
      if (r.params.is_object()) params.update(r.params);
      if (r.metrics.is_object()) metrics.update(r.metrics);
    }
    put(key, runs.front().started, runs.front().id, params, metrics);
  }

  bool indexed(const std::string& key) {
    known_.reset();
    return known_.bind(1, key).step();
  }

 private:
  void put(const std::string& key, double started, const std::string& first, const json& params, const json& metrics) {
    put_.bind(1, key).bind(2, started).bind(3, first).run();
    write_values(0, params, key, started, first);
    write_values(1, metrics, key, started, first);
  }

  void write_values(std::int64_t kind, const json& values, const std::string& key, double started,
                    const std::string& first) {
    for (auto it = values.begin(); it != values.end(); ++it) {
      const json& v = it.value();
      put_value_.bind(1, kind).bind(2, it.key()).bind(3, key);
      // As list_experiments' sort compares: numbers by value, before anything else by its JSON text.
      if (v.is_null()) put_value_.bind_null(4).bind_null(5).bind_null(6);
      else if (v.is_number()) put_value_.bind(4, std::int64_t{0}).bind(5, v.get<double>()).bind_null(6);
      else put_value_.bind(4, std::int64_t{1}).bind_null(5).bind(6, v.dump());
      put_value_.bind(7, started).bind(8, first).run();
    }
  }

  Statement runs_, known_, drop_, drop_values_, put_, put_value_;
};

struct SortField {
  std::int64_t kind = 1;  // 0 params, 1 metrics
  std::string name;
};

bool has_field(Database& db, std::int64_t kind, const std::string& name) {
  auto q = db.prepare("SELECT 1 FROM experiment_values WHERE kind = ? AND name = ? LIMIT 1");
  q.bind(1, kind).bind(2, name);
  return q.step();
}

// The field a sort key names, chosen as list_experiments chooses it.
SortField sort_field_of(Database& db, const std::string& key) {
  for (auto [prefix, kind] : {std::pair<std::string, std::int64_t>{"metrics.", 1}, {"params.", 0}})
    if (key.rfind(prefix, 0) == 0 && has_field(db, kind, key.substr(prefix.size())))
      return {kind, key.substr(prefix.size())};
  if (has_field(db, 1, key)) return {1, key};
  if (has_field(db, 0, key)) return {0, key};
  std::set<std::string> names[2];
  auto q = db.prepare("SELECT DISTINCT kind, name FROM experiment_values");
  while (q.step()) names[q.int64(0) == 1].insert(q.text(1));
  unknown_sort_key(key, names[1], names[0]);
}

}  // namespace

void index_experiments(Database& db, const std::set<std::string>& keys) {
  if (keys.empty()) return;
  ExperimentWriter writer(db);
  for (const auto& key : keys) writer.rewrite(key);
}

void index_experiments(Database& db, ExperimentChanges& changes) {
  if (changes.runs.empty() && changes.left.empty()) return;
  ExperimentWriter writer(db);
  for (auto& [key, runs] : changes.runs)
    if (changes.left.count(key) || writer.indexed(key)) writer.rewrite(key);
    else writer.write_fresh(key, runs);
  for (const auto& key : changes.left)
    if (!changes.runs.count(key)) writer.rewrite(key);
  changes = {};
}

void fill_pending_experiments(Database& db) {
  if (!db.prepare("SELECT 1 FROM runs_backfill WHERE task = 'experiments'").step()) return;
  std::optional<Transaction> tx;
  if (sqlite3_get_autocommit(db.handle())) tx.emplace(db);
  std::set<std::string> keys;
  auto q = db.prepare(std::string("SELECT DISTINCT ") + kExperimentKey + " FROM runs");
  while (q.step()) keys.insert(q.text(0));
  index_experiments(db, keys);
  db.exec("DELETE FROM runs_backfill WHERE task = 'experiments'");
  if (tx) tx->commit();
}

namespace {

// ---- keyset pages ----------------------------------------------------------
// The order is up to three segments: the experiments whose value is a number
// ('n'), those whose value is anything else ('t'), ascending numbers first
// and descending text first, then those without the value ('m'); newest
// first (no sort) is the 'm' segment of every experiment. Within a segment,
// rows are by value, ties newest first by (first_started, first_id), which
// is unique (a run belongs to one experiment). A cursor is a row's place in
// that order, so a page seeks to it in an index however deep it is.

constexpr std::size_t kMaxCursor = 1100;  // as the runs table's (ui addresses end at 4096 bytes)
// A row whose text value is longer is named by its experiment ("kKEY:") and
// found in the index again: its link stays within what a cursor may be.
constexpr std::size_t kMaxCursorText = 900;

struct Place {
  char seg = 'm';
  double num = 0;    // seg 'n'
  std::string txt;   // seg 't': the value's JSON text
  double started = 0;
  std::string first;
};

struct Order {
  std::optional<SortField> field;  // none: newest first
  bool ascending = false;
  std::vector<char> segments() const {
    if (!field) return {'m'};
    return ascending ? std::vector<char>{'n', 't', 'm'} : std::vector<char>{'t', 'n', 'm'};
  }
};

[[noreturn]] void bad_cursor(const std::string& why) {
  throw UsageError("bad page cursor: " + why, "open the experiments table's first page and follow its links");
}

std::string real_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

double parse_real(const std::string& text, const char* what) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !std::isfinite(v)) bad_cursor(std::string("the ") + what + " is not a finite number");
  return v;
}

// SEGMENT FIRST_ID ":" STARTED ":" VALUE (the value last: text may hold ':').
std::string format_place(const Place& p) {
  std::string s = p.seg + p.first + ":" + real_text(p.started) + ":";
  return s + (p.seg == 'n' ? real_text(p.num) : p.seg == 't' ? p.txt : std::string());
}

Place parse_place(const std::string& text) {
  if (text.size() > kMaxCursor) bad_cursor("longer than " + std::to_string(kMaxCursor) + " bytes");
  if (!text.empty() && text[0] == 'k') {  // an experiment's key
    std::string key = text.substr(1, text.size() - 2);
    if (text.back() != ':' || key.empty() || key.size() > 80 ||
        key.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz-_") != std::string::npos)
      bad_cursor("not kEXPERIMENT:");
    return {'k', 0, {}, 0, key};
  }
  std::size_t c1 = text.find(':'), c2 = c1 == std::string::npos ? c1 : text.find(':', c1 + 1);
  if (text.empty() || c2 == std::string::npos) bad_cursor("not SEGMENT RUN_ID:STARTED:VALUE");
  Place p;
  p.seg = text[0];
  p.first = text.substr(1, c1 - 1);
  if (p.first.size() < 4 || p.first.size() > 64 ||
      p.first.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz-_") != std::string::npos)
    bad_cursor("not a run id");
  p.started = parse_real(text.substr(c1 + 1, c2 - c1 - 1), "start time");
  std::string value = text.substr(c2 + 1);
  if (p.seg == 'n') p.num = parse_real(value, "value");
  else if (p.seg == 't') p.txt = value;
  else if (p.seg != 'm') bad_cursor("unknown segment '" + std::string(1, p.seg) + "' (n, t, m or k)");
  else if (!value.empty()) bad_cursor("a value in the segment without values");
  return p;
}

struct Picked {
  std::string key;
  Place at;
};

std::string format_cursor(const Picked& p) {
  return p.at.seg == 't' && p.at.txt.size() > kMaxCursorText ? "k" + p.key + ":" : format_place(p.at);
}

// Where a "kKEY:" cursor's experiment stands in this order now.
Place place_of(Database& db, const Order& o, const std::string& key) {
  auto e = db.prepare("SELECT first_started, first_id FROM experiments WHERE key = ?");
  if (!e.bind(1, key).step()) bad_cursor("experiment '" + key + "' is not in the index");
  Place p{'m', 0, {}, e.real(0), e.text(1)};
  if (!o.field) return p;
  auto v = db.prepare("SELECT cat, num, txt FROM experiment_values WHERE experiment = ? AND kind = ? AND name = ?");
  v.bind(1, key).bind(2, o.field->kind).bind(3, o.field->name);
  if (v.step() && !v.is_null(0)) {
    p.seg = v.int64(0) == 0 ? 'n' : 't';
    if (p.seg == 'n') p.num = v.real(1);
    else p.txt = v.text(2);
  }
  return p;
}

// Reads of one segment in one direction. The value index (experiment_values_up:
// values ascending, ties newest first) serves a read either way, so a page
// walks the values one at a time: the next value past the last one (a seek),
// then its ties in tie order. Within one value the rows are in first-run
// order, which reads as newest first forwards and oldest first backwards.
class Segment {
 public:
  Segment(Database& db, const Order& o, char seg, bool forward) : db_(db), o_(o), seg_(seg), forward_(forward) {}

  // The rows with the value of `at` (all of them, or those past `at`
  // itself), or in the segment without values those past `at` (all: none).
  std::vector<Picked> ties(const Place* at, bool past_at, long limit) {
    std::string sql = select(false);
    if (valued()) sql += " AND " + column() + " = ?";
    if (past_at) sql += forward_ ? " AND (first_started, first_id) < (?, ?)" : " AND (first_started, first_id) > (?, ?)";
    std::string tie = forward_ ? " DESC" : "";  // newest first when reading forwards
    auto q = db_.prepare(sql + " ORDER BY first_started" + tie + ", first_id" + tie + " LIMIT ?");
    int i = bind_field(q);
    if (valued()) i = bind_value(q, i, *at);
    if (past_at) q.bind(i, at->started).bind(i + 1, at->first), i += 2;
    q.bind(i, static_cast<std::int64_t>(limit));
    return picks(q);
  }

  // The value after `at`'s (or the segment's first value) in this direction.
  std::optional<Place> next_value(const Place* at) {
    bool up = values_up();
    std::string sql = "SELECT num, txt FROM experiment_values WHERE " + where();
    if (at) sql += " AND " + column() + (up ? " > ?" : " < ?");
    auto q = db_.prepare(sql + " ORDER BY " + column() + (up ? "" : " DESC") + " LIMIT 1");
    int i = bind_field(q);
    if (at) bind_value(q, i, *at);
    if (!q.step()) return std::nullopt;
    Place p;
    p.seg = seg_;
    if (seg_ == 'n') p.num = q.real(0);
    else p.txt = q.text(1);
    return p;
  }

  // From the segment's start, skipping `offset` rows (old page=N links): SQLite sorts ties as needed.
  std::vector<Picked> from_start(long limit, long offset) {
    std::string tie = forward_ ? " DESC" : "";
    std::string order = (valued() ? column() + (values_up() ? "" : " DESC") + ", " : std::string()) + "first_started" +
                        tie + ", first_id" + tie;
    auto q = db_.prepare(select(false) + " ORDER BY " + order + " LIMIT ? OFFSET ?");
    int i = bind_field(q);
    q.bind(i, static_cast<std::int64_t>(limit)).bind(i + 1, static_cast<std::int64_t>(offset));
    return picks(q);
  }

  long count() {
    auto q = db_.prepare(select(true));
    bind_field(q);
    return q.step() ? static_cast<long>(q.int64(0)) : 0;
  }

  bool valued() const { return seg_ != 'm'; }

  // Whether an experiment lacks the value: two counts, where finding the
  // rows without it walks every experiment (and each probe misses).
  bool any_missing() {
    auto q = db_.prepare("SELECT (SELECT count(*) FROM experiments) > (SELECT count(*) FROM experiment_values WHERE "
                         "kind = ? AND name = ? AND cat IS NOT NULL)");
    bind_field(q);
    return q.step() && q.int64(0) != 0;
  }

 private:
  std::string column() const { return seg_ == 'n' ? "num" : "txt"; }
  bool values_up() const { return o_.ascending == forward_; }

  // The segment's rows. The other value column IS NULL (always, in this
  // segment) lets the index reach first_started.
  std::string where() const {
    return std::string("kind = ? AND name = ? AND cat = ") + (seg_ == 'n' ? "0 AND txt" : "1 AND num") + " IS NULL";
  }

  std::string select(bool count) const {
    if (valued())
      return std::string("SELECT ") + (count ? "count(*)" : "experiment, num, txt, first_started, first_id") +
             " FROM experiment_values WHERE " + where();
    std::string s = std::string("SELECT ") + (count ? "count(*)" : "key, NULL, NULL, first_started, first_id") +
                    " FROM experiments e WHERE 1";
    if (o_.field)
      s += " AND NOT EXISTS (SELECT 1 FROM experiment_values v WHERE v.experiment = e.key AND v.kind = ? AND "
           "v.name = ? AND v.cat IS NOT NULL)";
    return s;
  }

  int bind_field(Statement& q) const {
    if (!o_.field) return 1;
    q.bind(1, o_.field->kind).bind(2, o_.field->name);
    return 3;
  }

  int bind_value(Statement& q, int i, const Place& at) const {
    if (seg_ == 'n') q.bind(i, at.num);
    else q.bind(i, at.txt);
    return i + 1;
  }

  std::vector<Picked> picks(Statement& q) const {
    std::vector<Picked> out;
    while (q.step()) {
      Place p{seg_, q.is_null(1) ? 0 : q.real(1), q.is_null(2) ? "" : q.text(2), q.real(3), q.text(4)};
      out.push_back({q.text(0), std::move(p)});
    }
    return out;
  }

  Database& db_;
  const Order& o_;
  char seg_;
  bool forward_;
};

// `want` rows in one direction: from a place (the rest of its segment, then
// the segments after it whole), or from the start skipping `offset` rows.
std::vector<Picked> walk(Database& db, const Order& o, const Place* at, bool forward, long want, long offset) {
  std::vector<char> segs = o.segments();
  if (!forward) std::reverse(segs.begin(), segs.end());
  std::size_t i = 0;
  if (at) {
    while (i < segs.size() && segs[i] != at->seg) ++i;
    if (i == segs.size()) bad_cursor("its segment '" + std::string(1, at->seg) + "' is not in this order");
  }
  std::vector<Picked> out;
  auto left = [&] { return want - static_cast<long>(out.size()); };
  auto append = [&](std::vector<Picked> rows) { std::move(rows.begin(), rows.end(), std::back_inserter(out)); };
  for (; i < segs.size() && left() > 0; ++i) {
    Segment s(db, o, segs[i], forward);
    bool here = at && at->seg == segs[i];
    if (offset > 0 && !here) {  // an old page=N link: whole segments skipped by their counts
      long n = s.count();
      if (n <= offset) {
        offset -= n;
        continue;
      }
      append(s.from_start(left(), offset));
      offset = 0;
      continue;
    }
    if (!s.valued()) {
      if (!here && o.field && !s.any_missing()) continue;  // else a scan of every experiment finds none
      append(s.ties(at, here, left()));
      continue;
    }
    std::optional<Place> value;
    if (here) append(s.ties(at, true, left())), value = *at;
    while (left() > 0 && (value = s.next_value(value ? &*value : nullptr))) append(s.ties(&*value, false, left()));
  }
  return out;
}

}  // namespace

ExperimentPage experiment_page(Repo& repo, const ExperimentPageQuery& query) {
  if (query.order.limit <= 0 || query.offset < 0)
    throw UsageError("experiment_page needs a limit of 1 or more and an offset of 0 or more");
  Database& db = runs_db(repo);
  Order o;
  o.ascending = query.order.ascending;
  if (!query.order.sort.empty()) {
    if (!db.prepare("SELECT 1 FROM experiments LIMIT 1").step()) return {};  // no runs: nothing to sort
    o.field = sort_field_of(db, query.order.sort);
  }
  bool backwards = !query.before.empty();
  std::optional<Place> at;
  if (backwards || !query.after.empty()) at = parse_place(backwards ? query.before : query.after);
  if (at && at->seg == 'k') at = place_of(db, o, at->first);
  long limit = query.order.limit;
  auto picks = walk(db, o, at ? &*at : nullptr, !backwards, limit + 1, at ? 0 : query.offset);
  ExperimentPage page;
  page.more = static_cast<long>(picks.size()) > limit;
  if (page.more) picks.resize(static_cast<std::size_t>(limit));
  if (backwards) std::reverse(picks.begin(), picks.end());
  if (picks.empty()) return page;
  page.first = format_cursor(picks.front());
  page.last = format_cursor(picks.back());
  std::vector<std::string> keys;
  for (const auto& p : picks) keys.push_back(p.key);
  std::map<std::string, Experiment> by_key;
  for (auto& e : experiments_of(db, keys)) by_key.emplace(e.id, std::move(e));
  for (const auto& k : keys)
    if (auto it = by_key.find(k); it != by_key.end()) page.rows.push_back(std::move(it->second));
  return page;
}

}  // namespace mlo
