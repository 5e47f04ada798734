// list_runs: the runs table filtered (--where), sorted (--sort) and paged.
// A sort is two segments: the runs that have the sort key (by key, then id)
// and those that lack it (by id), which always come last. Params and metrics
// are read from run_values, sorted by (kind, name, value, run), so a sort or
// a filter on them walks an index instead of parsing every run's JSON.
// Pages are keyset pages: a cursor is a row's sort key and id, and the next
// page starts just past it, at the cost of one index seek however deep.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <optional>
#include <cstdlib>
#include <regex>

#include "core/error.h"
#include "pipeline/runs.h"
#include "pipeline/runs_index.h"
#include "repo/repo.h"

namespace mlo {

namespace {

constexpr std::size_t kMaxCursor = 1100;
// A longer text key is not carried: the cursor names its run ("kID:") and
// the key is read back from the index (ui addresses end at 4096 bytes).
constexpr std::size_t kMaxCursorText = 900;

// A value bound to a statement as SQLite stores it.
struct SqlValue {
  char type = 't';  // 'i' integer, 'r' real, 't' text
  std::string text;
  double real = 0;
  std::int64_t integer = 0;
};

SqlValue text_value(std::string s) { return {'t', std::move(s), 0, 0}; }
SqlValue real_value(double d) { return {'r', {}, d, 0}; }
SqlValue int_value(std::int64_t i) { return {'i', {}, 0, i}; }

void bind_all(Statement& st, const std::vector<SqlValue>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    int at = static_cast<int>(i + 1);
    const SqlValue& v = values[i];
    if (v.type == 'i') st.bind(at, v.integer);
    else if (v.type == 'r') st.bind(at, v.real);
    else st.bind(at, v.text);
  }
}

// A field of --where / --sort: a runs column (expr) or a param or metric
// (kind 0 or 1, name).
struct Field {
  std::string expr;
  int kind = -1;
  std::string name;
  bool value() const { return kind >= 0; }
};

Field parse_field(const std::string& field) {
  for (auto [prefix, kind] : {std::pair<const char*, int>{"params.", 0}, {"metrics.", 1}}) {
    std::string p = prefix;
    if (field.rfind(p, 0) != 0) continue;
    std::string key = field.substr(p.size());
    if (key.empty() || key.find_first_of("\"'\\") != std::string::npos)
      throw UsageError("bad key '" + key + "' in " + p.substr(0, p.size() - 1) + " field");
    return {{}, kind, key};
  }
  static const std::vector<std::string> columns = {"id", "stage", "status", "started_at", "finished_at", "exit_code",
                                                   "runner", "host", "git_commit", "sweep", "experiment"};
  for (const auto& c : columns)
    if (field == c) return {c, -1, {}};
  if (field == "duration") return {"(finished_at - started_at)", -1, {}};
  throw UsageError("unknown field '" + field + "'",
                   "use metrics.NAME, params.NAME, or one of id, stage, status, started_at, finished_at, duration, "
                   "exit_code, runner, host, git_commit, sweep, experiment");
}

// The ANDed conditions on runs (columns unqualified) and their values.
struct Filter {
  std::vector<std::string> conds;
  std::vector<SqlValue> binds;
  std::string sql() const {
    std::string s;
    for (const auto& c : conds) s += " AND " + c;
    return s;
  }
};

void add_condition(Filter& f, const std::string& w) {
  static const std::regex where_re(R"(^\s*([A-Za-z_][A-Za-z0-9_.:/-]*)\s*(>=|<=|!=|==|=|>|<|~)\s*(.*?)\s*$)");
  std::smatch m;
  if (!std::regex_match(w, m, where_re))
    throw UsageError("bad --where '" + w + "'",
                     "write FIELD OP VALUE, e.g. 'metrics.acc>0.9' or 'status=failed' (OP: = != < <= > >= ~)");
  Field field = parse_field(m[1]);
  std::string op = m[2], value = m[3];
  if (!value.empty() && std::string("<>=!~").find(value[0]) != std::string::npos)
    throw UsageError("bad --where '" + w + "': unknown operator", "operators: = != < <= > >= ~ (contains)");
  if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') && value.back() == value.front())
    value = value.substr(1, value.size() - 2);
  char* end = nullptr;
  double number = std::strtod(value.c_str(), &end);
  bool numeric = !value.empty() && *end == 0;
  if (op == "==") op = "=";
  std::string test = op == "~" ? " LIKE ?" : " " + op + " ?";
  if (field.value()) {
    f.conds.push_back("EXISTS (SELECT 1 FROM run_values f WHERE f.run = runs.id AND f.kind = " +
                      std::to_string(field.kind) + " AND f.name = ? AND f.value" + test + ")");
    f.binds.push_back(text_value(field.name));
  } else {
    f.conds.push_back(field.expr + test);
  }
  f.binds.push_back(op == "~" ? text_value("%" + value + "%") : numeric ? real_value(number) : text_value(value));
}

Filter filter_of(const RunQuery& query) {
  Filter f;
  if (!query.stage.empty()) {
    f.conds.push_back("stage = ?");
    f.binds.push_back(text_value(query.stage));
  }
  for (const auto& w : query.where) add_condition(f, w);
  return f;
}

struct Order {
  Field field;
  bool desc = true;
  bool nullable = true;  // has a segment of runs without the key
};

Order order_of(const RunQuery& query) {
  std::string sort = query.sort.empty() ? "started_at:desc" : query.sort;
  Order o;
  o.desc = false;
  if (auto c = sort.rfind(':'); c != std::string::npos && (sort.substr(c) == ":desc" || sort.substr(c) == ":asc")) {
    o.desc = sort.substr(c) == ":desc";
    sort = sort.substr(0, c);
  }
  o.field = parse_field(sort);
  o.nullable = o.field.value() || (o.field.expr != "started_at" && o.field.expr != "id");  // never NULL
  return o;
}

// A row's place in an order: in the null segment, or its key; and its id.
// `by_run`: only the id is known yet (a "kID:" cursor).
struct Cursor {
  bool null = false;
  SqlValue key;
  std::string id;
  bool by_run = false;
};

[[noreturn]] void bad_cursor(const std::string& why) {
  throw UsageError("bad page cursor: " + why, "open the table's first page and follow its links");
}

std::string format_cursor(const Cursor& c) {
  if (c.null) return "n" + c.id + ":";
  if (c.key.type == 't' && c.key.text.size() > kMaxCursorText) return "k" + c.id + ":";
  if (c.key.type == 'i') return "i" + c.id + ":" + std::to_string(c.key.integer);
  if (c.key.type == 'r') {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", c.key.real);
    return "r" + c.id + ":" + buf;
  }
  return "t" + c.id + ":" + c.key.text;
}

Cursor parse_cursor(const std::string& text) {
  if (text.size() > kMaxCursor) bad_cursor("longer than " + std::to_string(kMaxCursor) + " bytes");
  std::size_t colon = text.find(':');
  if (text.empty() || colon == std::string::npos) bad_cursor("not TYPE ID:KEY");
  Cursor c;
  c.id = text.substr(1, colon - 1);
  if (c.id.size() < 4 || c.id.size() > 64 || c.id.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz-_") != std::string::npos)
    bad_cursor("not a run id");
  std::string key = text.substr(colon + 1);
  char* end = nullptr;
  errno = 0;
  switch (text[0]) {
    case 'n':
      c.null = true;
      if (!key.empty()) bad_cursor("a key after n");
      break;
    case 'i':
      c.key = int_value(std::strtoll(key.c_str(), &end, 10));
      if (key.empty() || *end || errno) bad_cursor("not an integer key");
      break;
    case 'r':
      c.key = real_value(std::strtod(key.c_str(), &end));
      if (key.empty() || *end || !std::isfinite(c.key.real)) bad_cursor("not a number key");
      break;
    case 't':
      c.key = text_value(key);
      break;
    case 'k':
      c.by_run = true;
      if (!key.empty()) bad_cursor("a key after k");
      break;
    default:
      bad_cursor("unknown key type");
  }
  return c;
}

// A picked row: its rowid and where it stands in the order.
struct Pick {
  std::int64_t rowid = 0;
  Cursor at;
};

struct SegmentQuery {
  const Order& order;
  const Filter& filter;
  bool null_segment = false;
  bool desc = true;              // reading direction of this call
  const Cursor* from = nullptr;  // rows strictly past it
  long limit = 0, offset = 0;
};

std::string segment_sql(const SegmentQuery& s, std::vector<SqlValue>& binds) {
  const Field& f = s.order.field;
  std::string dir = s.desc ? " DESC" : " ASC", op = s.desc ? " < " : " > ";
  std::string sql;
  if (s.null_segment) {
    sql = "SELECT runs.rowid, NULL, 'null', runs.id FROM runs WHERE ";
    if (f.value()) {
      sql += "NOT EXISTS (SELECT 1 FROM run_values v WHERE v.run = runs.id AND v.kind = " + std::to_string(f.kind) +
             " AND v.name = ?)";
      binds.push_back(text_value(f.name));
    } else {
      sql += "(" + f.expr + ") IS NULL";
    }
    if (s.from) sql += " AND runs.id" + op + "?", binds.push_back(text_value(s.from->id));
    sql += s.filter.sql() + " ORDER BY runs.id" + dir;
  } else if (f.value()) {
    // run_values drives (its key order is the order shown); each run is then checked against the filter.
    sql = "SELECT runs.rowid, v.value, typeof(v.value), runs.id FROM run_values v CROSS JOIN runs ON runs.id = v.run "
          "WHERE v.kind = " + std::to_string(f.kind) + " AND v.name = ?";
    binds.push_back(text_value(f.name));
    if (s.from) sql += " AND (v.value, v.run)" + op + "(?, ?)", binds.push_back(s.from->key), binds.push_back(text_value(s.from->id));
    sql += s.filter.sql() + " ORDER BY v.value" + dir + ", v.run" + dir;
  } else {
    std::string e = f.expr;
    sql = "SELECT rowid, " + e + ", typeof(" + e + "), id FROM runs WHERE " + (s.order.nullable ? e + " IS NOT NULL" : "1");
    if (s.from) sql += " AND (" + e + ", id)" + op + "(?, ?)", binds.push_back(s.from->key), binds.push_back(text_value(s.from->id));
    sql += s.filter.sql() + " ORDER BY " + e + dir + ", id" + dir;
  }
  binds.insert(binds.end(), s.filter.binds.begin(), s.filter.binds.end());
  if (s.limit > 0) sql += " LIMIT " + std::to_string(s.limit) + " OFFSET " + std::to_string(s.offset);
  return sql;
}

SqlValue key_at(Statement& q, int column) {
  std::string type = q.text(column + 1);
  if (type == "integer") return int_value(q.int64(column));
  if (type == "real") return real_value(q.real(column));
  return text_value(q.text(column));
}

std::vector<Pick> read_segment(Database& db, const SegmentQuery& s) {
  std::vector<SqlValue> binds;
  auto q = db.prepare(segment_sql(s, binds));
  bind_all(q, binds);
  std::vector<Pick> out;
  while (q.step()) {
    Pick p;
    p.rowid = q.int64(0);
    p.at.null = s.null_segment;
    if (!p.at.null) p.at.key = key_at(q, 1);
    p.at.id = q.text(3);
    out.push_back(std::move(p));
  }
  return out;
}

// How many rows a segment has (to carry an OFFSET past it).
long segment_size(Database& db, SegmentQuery s) {
  s.limit = 0;
  std::vector<SqlValue> binds;
  auto q = db.prepare("SELECT count(*) FROM (" + segment_sql(s, binds) + ")");
  bind_all(q, binds);
  return q.step() ? static_cast<long>(q.int64(0)) : 0;
}

// Where a "kID:" cursor's run stands in this order now.
Cursor place_of_run(Database& db, const Order& order, const std::string& id) {
  const Field& f = order.field;
  std::string sql = f.value() ? "SELECT v.value, typeof(v.value) FROM runs LEFT JOIN run_values v ON v.run = runs.id "
                                "AND v.kind = " + std::to_string(f.kind) + " AND v.name = ?1 WHERE runs.id = ?2"
                              : "SELECT " + f.expr + ", typeof(" + f.expr + ") FROM runs WHERE id = ?2";
  auto q = db.prepare(sql);
  if (f.value()) q.bind(1, f.name);
  q.bind(2, id);
  if (!q.step()) bad_cursor("run '" + id + "' is not in the index");
  Cursor c;
  c.id = id;
  c.null = q.text(1) == "null";
  if (!c.null) c.key = key_at(q, 0);
  return c;
}

// Up to `want` rows (0: all) in the order, or read backwards from `before`.
std::vector<Pick> pick_rows(Database& db, const Order& order, const Filter& filter, const RunQuery& query, long want) {
  bool backwards = !query.before.empty();
  std::optional<Cursor> from;
  if (!query.after.empty() || backwards) from = parse_cursor(backwards ? query.before : query.after);
  if (from && from->by_run) from = place_of_run(db, order, from->id);
  std::vector<bool> segments = {false};
  if (order.nullable) segments.push_back(true);
  if (backwards) std::reverse(segments.begin(), segments.end());
  long offset = from ? 0 : query.offset;
  std::vector<Pick> out;
  for (bool null_segment : segments) {
    if (from && null_segment != from->null && (null_segment < from->null) != backwards) continue;  // before the cursor
    SegmentQuery s{order, filter, null_segment, order.desc != backwards,
                   from && null_segment == from->null ? &*from : nullptr, want > 0 ? want - static_cast<long>(out.size()) : 0, offset};
    auto rows = read_segment(db, s);
    if (rows.empty() && offset > 0) offset -= std::min(offset, segment_size(db, s));
    else offset = 0;
    out.insert(out.end(), rows.begin(), rows.end());
    if (want > 0 && static_cast<long>(out.size()) >= want) break;
  }
  return out;
}

std::vector<nlohmann::json> read_rows(Database& db, const std::vector<Pick>& picks) {
  auto q = db.prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE rowid = ?");
  std::vector<nlohmann::json> out;
  for (const auto& p : picks) {
    q.reset();
    q.bind(1, p.rowid);
    if (q.step()) out.push_back(summary_from_row(q));
  }
  return out;
}

// The picks of one page in the order shown, with one more past the
// limit (farthest from the cursor) when there are more.
std::vector<Pick> page_picks(Database& db, const RunQuery& query, long extra) {
  Order order = order_of(query);
  Filter filter = filter_of(query);
  long want = query.limit > 0 ? query.limit + extra : 0;
  std::vector<Pick> picks = pick_rows(db, order, filter, query, want);
  if (!query.before.empty()) std::reverse(picks.begin(), picks.end());  // the extra one is first then
  return picks;
}

}  // namespace

RunPage list_run_page(Repo& repo, const RunQuery& query) {
  Database& db = runs_db(repo);
  std::vector<Pick> picks = page_picks(db, query, 1);
  RunPage page;
  page.more = query.limit > 0 && static_cast<long>(picks.size()) > query.limit;
  if (page.more) picks.erase(query.before.empty() ? picks.end() - 1 : picks.begin());
  if (!picks.empty()) page.first = format_cursor(picks.front().at), page.last = format_cursor(picks.back().at);
  page.rows = read_rows(db, picks);
  return page;
}

std::vector<std::string> runs_with_hash(Repo& repo, const std::string& sha256, int dir, bool succeeded,
                                        const std::string& stage) {
  Database& db = runs_db(repo);
  auto q = db.prepare(
      "SELECT DISTINCT runs.id, runs.started_at FROM run_edges e JOIN runs ON runs.id = e.run WHERE e.sha = ?1 "
      "AND (?2 < 0 OR e.dir = ?2) AND (?3 = 0 OR runs.status = 'succeeded') AND (?4 = '' OR runs.stage = ?4) "
      "ORDER BY runs.started_at DESC, runs.id DESC");
  q.bind(1, sha256).bind(2, static_cast<std::int64_t>(dir)).bind(3, static_cast<std::int64_t>(succeeded)).bind(4, stage);
  std::vector<std::string> ids;
  while (q.step()) ids.push_back(q.text(0));
  return ids;
}

std::vector<nlohmann::json> list_runs(Repo& repo, const RunQuery& query) {
  Database& db = runs_db(repo);
  return read_rows(db, page_picks(db, query, query.count_more ? 1 : 0));  // with count_more: limit + 1 when more
}

}  // namespace mlo
