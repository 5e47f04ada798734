// The SQLite mirror of the registry's tags: kept up to date with refs/tags
// (a stat fingerprint makes the unchanged case cheap), rebuilt on demand.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <queue>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/parallel.h"
#include "index/database.h"
#include "registry/registry.h"
#include "repo/refs.h"
#include "repo/repo.h"

namespace mlo::registry {

// ---- the index -------------------------------------------------------------

namespace {
void migrate(Database& db) {
  db.migrate({"registry",
              {"CREATE TABLE registry_tags(tag TEXT PRIMARY KEY, oid TEXT NOT NULL, model TEXT NOT NULL,"
               " kind TEXT NOT NULL, version TEXT, stage TEXT, counter INTEGER, time INTEGER, author TEXT,"
               " email TEXT, commit_id TEXT, message TEXT, meta TEXT) WITHOUT ROWID;"
               "CREATE INDEX registry_tags_model ON registry_tags(model);"
               "CREATE TABLE registry_models(model TEXT PRIMARY KEY, summary TEXT NOT NULL) WITHOUT ROWID;"
               "CREATE TABLE registry_state(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
               // v2: each loose ref's stat, so a refresh reads only ref files that changed;
               // a rowid table (rows of ~400 bytes are too big for WITHOUT ROWID's pages).
               "DROP TABLE registry_tags; DELETE FROM registry_models; DELETE FROM registry_state;"
               "CREATE TABLE registry_tags(tag TEXT PRIMARY KEY, oid TEXT NOT NULL, ref_stat TEXT NOT NULL,"
               " model TEXT NOT NULL, kind TEXT NOT NULL, version TEXT, stage TEXT, counter INTEGER, time INTEGER,"
               " author TEXT, email TEXT, commit_id TEXT, message TEXT, meta TEXT);"
               "CREATE INDEX registry_tags_model ON registry_tags(model);",
               // v3: the newest events without a scan (mlo ui's audit page pages back from now).
               "CREATE INDEX registry_tags_time ON registry_tags(time);"}});
}

// The newest mtime seen while fingerprinting (seconds).
thread_local std::int64_t g_newest_mtime = 0;

void hash_stat(Sha256& h, const fs::path& p) {
  struct stat st;
  std::string line = p.string();
  if (::stat(p.c_str(), &st) == 0) {
    g_newest_mtime = std::max<std::int64_t>(g_newest_mtime, st.st_mtim.tv_sec);
    line += " " + std::to_string(st.st_ino) + " " + std::to_string(st.st_size) + " " +
            std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  }
  h.update(line + "\n");
}

void hash_dirs(Sha256& h, const fs::path& dir) {
  hash_stat(h, dir);
  // A folder's link count is 2 + its subfolders on the usual file systems:
  // 2 means no subfolders, so its own mtime says all (no need to list 50,000 refs).
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0 && st.st_nlink == 2) return;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> subdirs;
  std::size_t entries = 0;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    ++entries;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::stat((dir / n).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) subdirs.push_back(n);
  }
  ::closedir(d);
  h.update(" entries " + std::to_string(entries) + "\n");
  std::sort(subdirs.begin(), subdirs.end());
  for (const auto& s : subdirs) hash_dirs(h, dir / s);
}

// Changes whenever a tag is created, moved or deleted: git writes refs by
// renaming into refs/tags/ (its folder's mtime changes) or rewrites packed-refs.
// Like git's "racily clean" index entries: a folder changed within the last
// two seconds may change again within the same timestamp tick, so such a
// fingerprint is stored marked racy and never matches (the next command
// re-reads the refs). Found without libgit2 (whose start-up parses the CA
// bundle): a read that finds the index fresh opens no git library at all.
std::string tags_fingerprint(const fs::path& common) {
  Sha256 h;
  h.update("registry-fingerprint-v2\n");
  g_newest_mtime = 0;
  hash_stat(h, common / "packed-refs");
  hash_dirs(h, common / "refs" / "tags");
  std::string fp = h.hex_digest();
  if (g_newest_mtime + 2 >= static_cast<std::int64_t>(std::time(nullptr))) fp = "racy:" + fp;
  return fp;
}

std::string state_value(Database& db, const std::string& key) {
  auto st = db.prepare("SELECT value FROM registry_state WHERE key = ?");
  st.bind(1, key);
  return st.step() ? st.text(0) : std::string();
}

void set_state_value(Database& db, const std::string& key, const std::string& value) {
  auto st = db.prepare("INSERT OR REPLACE INTO registry_state(key, value) VALUES(?, ?)");
  st.bind(1, key).bind(2, value);
  st.run();
}

// JSON text without the whitespace between tokens (mlo writes its metadata
// indented for people reading `git show`; the index needs none of that).
std::string compact_json(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      out.push_back(c);
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '"') in_string = true;
    out.push_back(c);
  }
  return out;
}

Event event_from_tag(const GitTag& t, const TagName& n) {
  Event e;
  e.tag = t.name;
  e.oid = t.oid;
  e.kind = n.kind;
  e.model = n.model;
  e.version = n.version;
  e.stage = n.stage;
  e.counter = n.counter;
  e.time = t.time;
  e.author = t.tagger_name;
  e.email = t.tagger_email;
  e.commit = t.commit;
  size_t nl = t.message.find('\n');
  e.message = t.message.substr(0, nl);
  e.meta = extract_meta(t.message);
  if (e.meta.is_object()) e.meta_text = compact_json(meta_text(t.message));
  if (n.kind == TagKind::approval && e.meta.is_object()) {
    // The tag name spells the model with '=' for ':'; the metadata has it exactly.
    if (e.meta.contains("name") && e.meta["name"].is_string()) e.model = e.meta["name"];
  }
  return e;
}

Event event_from_row(Statement& st) {
  Event e;
  e.tag = st.text(0);
  e.oid = st.text(1);
  e.model = st.text(2);
  std::string kind = st.text(3);
  for (TagKind k : {TagKind::register_, TagKind::deregister, TagKind::assign, TagKind::unassign, TagKind::deprecate,
                    TagKind::approval})
    if (kind == to_string(k)) e.kind = k;
  e.version = st.text(4);
  e.stage = st.text(5);
  e.counter = st.int64(6);
  e.time = st.int64(7);
  e.author = st.text(8);
  e.email = st.text(9);
  e.commit = st.text(10);
  e.message = st.text(11);
  if (!st.is_null(12)) e.meta = nlohmann::json::parse(st.text(12), nullptr, false);
  e.meta = e.meta.is_discarded() ? nullptr : checked_meta(std::move(e.meta));  // the index stores the tag's text
  return e;
}

constexpr const char* kSelectEvents =
    "SELECT tag, oid, model, kind, version, stage, counter, time, author, email, commit_id, message, meta "
    "FROM registry_tags";

std::vector<Event> model_events(Database& db, const std::string& model) {
  std::vector<Event> out;
  auto st = db.prepare(std::string(kSelectEvents) + " WHERE model = ?");
  st.bind(1, model);
  while (st.step()) out.push_back(event_from_row(st));
  return out;
}

// A tag ref as found now: the object it names and the stat of its loose file
// ("packed" for packed-refs, "" when written too recently to be trusted).
struct RefNow {
  std::string oid, stat;
};

// Reads the tag objects of `names` (registry tags only) into events, on up to
// four threads for big batches, each with its own libgit2 handle.
std::vector<std::optional<Event>> read_events(Repo& repo, const std::vector<std::string>& names,
                                              const std::vector<std::string>& oids) {
  std::vector<std::optional<Event>> out(names.size());
  auto work = [&](GitRepo& git, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      if ((i & 255) == 0) check_interrupted();
      auto parsed = parse_tag_name(names[i]);
      if (!parsed) continue;
      GitTag tag = git.read_tag_object(names[i], oids[i]);
      // GTO reads annotated tags only; lightweight ones are not registry events.
      if (!tag.annotated) continue;
      out[i] = event_from_tag(tag, *parsed);
    }
  };
  unsigned jobs = names.size() < 2000 ? 1u : std::min(4u, default_jobs());
  if (jobs <= 1) {
    work(repo.git(), 0, names.size());
    return out;
  }
  parallel_for(jobs, jobs, [&](std::size_t j) {
    std::size_t begin = names.size() * j / jobs, end = names.size() * (j + 1) / jobs;
    if (j == 0) {
      work(repo.git(), begin, end);
    } else {
      GitRepo git(repo.root());
      work(git, begin, end);
    }
  });
  return out;
}

struct KnownTag {
  std::string oid, model, stat;
};
using KnownTags = std::unordered_map<std::string, KnownTag>;

KnownTags known_tags(Database& db, bool full) {
  KnownTags known;
  if (full) return known;
  auto st = db.prepare("SELECT tag, oid, model, ref_stat FROM registry_tags");
  while (st.step()) known.emplace(st.text(0), KnownTag{st.text(1), st.text(2), st.text(3)});
  return known;
}

// The refs as they are now: packed-refs, overridden by loose files. A loose
// file whose stat matches the index is not read again.
std::unordered_map<std::string, RefNow> tag_refs_now(Repo& repo, const fs::path& common, const KnownTags& known) {
  std::unordered_map<std::string, RefNow> now;
  for (auto& p : read_packed_refs(common, "tags")) now[std::move(p.name)] = RefNow{std::move(p.oid), "packed"};
  const std::int64_t racy_after = static_cast<std::int64_t>(std::time(nullptr)) - 2;
  std::vector<LooseRef> loose = list_loose_refs(common, "tags");
  std::vector<std::string> loose_oid(loose.size());
  std::vector<std::size_t> to_read;
  for (std::size_t i = 0; i < loose.size(); ++i) {
    auto it = known.find(loose[i].name);
    if (it != known.end() && !it->second.stat.empty() && it->second.stat == loose[i].stat) loose_oid[i] = it->second.oid;
    else to_read.push_back(i);
  }
  // Reading 50,000 ref files is I/O when they are not cached: several reads in
  // flight keep the disk busy (the threads mostly wait, so more than the cores).
  parallel_for(to_read.size(), to_read.size() < 256 ? 1u : 8u, [&](std::size_t k) {
    std::size_t i = to_read[k];
    loose_oid[i] = read_loose_ref(common, "tags", loose[i].name);
  });
  for (std::size_t i = 0; i < loose.size(); ++i) {
    LooseRef& l = loose[i];
    if (loose_oid[i].empty()) {
      // A symbolic ref (or one being rewritten): let libgit2 resolve it.
      auto t = repo.git().read_tag(l.name);
      if (!t) continue;
      loose_oid[i] = t->oid;
      l.stat.clear();
    }
    now[l.name] = RefNow{std::move(loose_oid[i]), l.mtime >= racy_after ? std::string() : std::move(l.stat)};
  }
  return now;
}

struct TagChanges {
  std::set<std::string> affected;  // models whose state must be replayed
  std::vector<std::string> read_names, read_oids;
  std::vector<std::pair<std::string, std::string>> restat;  // same object, new file stat
  std::vector<std::string> removed;
};

TagChanges tag_changes(const KnownTags& known, const std::unordered_map<std::string, RefNow>& now) {
  TagChanges c;
  for (const auto& [name, ref] : now) {
    auto it = known.find(name);
    if (it != known.end() && it->second.oid == ref.oid) {
      if (it->second.stat != ref.stat) c.restat.emplace_back(name, ref.stat);
      continue;
    }
    if (it != known.end() && !it->second.model.empty()) c.affected.insert(it->second.model);
    c.read_names.push_back(name);
    c.read_oids.push_back(ref.oid);
  }
  for (const auto& [name, k] : known)
    if (!now.count(name)) {
      c.removed.push_back(name);
      if (!k.model.empty()) c.affected.insert(k.model);
    }
  return c;
}

void drop_and_restat(Database& db, const TagChanges& c) {
  auto del = db.prepare("DELETE FROM registry_tags WHERE tag = ?");
  for (const auto& r : c.removed) {
    del.bind(1, r);
    del.run();
  }
  auto upd = db.prepare("UPDATE registry_tags SET ref_stat = ? WHERE tag = ?");
  for (const auto& [name, stat] : c.restat) {
    upd.bind(1, stat).bind(2, name);
    upd.run();
  }
}

// Inserts the rows of the tags read (in key order: the b-tree pages fill front
// to back); events of models the index did not have move into `fresh`.
void insert_tags(Database& db, TagChanges& c, std::vector<std::optional<Event>>& events,
                 std::unordered_map<std::string, RefNow>& now, const std::set<std::string>& had,
                 std::map<std::string, std::vector<Event>>& fresh) {
  std::vector<std::size_t> order(c.read_names.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return c.read_names[a] < c.read_names[b]; });
  auto ins = db.prepare(
      "INSERT OR REPLACE INTO registry_tags(tag, oid, ref_stat, model, kind, version, stage, counter, time, author,"
      " email, commit_id, message, meta) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  for (std::size_t i : order) {
    const std::string& stat = now[c.read_names[i]].stat;
    ins.bind(1, c.read_names[i]).bind(2, c.read_oids[i]).bind(3, stat);
    if (!events[i]) {
      // Not the registry's: remembered with no model, so it is read once.
      ins.bind(4, "").bind(5, "").bind_null(6).bind_null(7).bind(8, std::int64_t{0}).bind(9, std::int64_t{0});
      ins.bind_null(10).bind_null(11).bind_null(12).bind_null(13).bind_null(14);
      ins.run();
      continue;
    }
    Event& e = *events[i];
    ins.bind(4, e.model).bind(5, to_string(e.kind)).bind(6, e.version).bind(7, e.stage).bind(8, e.counter);
    ins.bind(9, e.time).bind(10, e.author).bind(11, e.email).bind(12, e.commit).bind(13, e.message);
    if (e.meta.is_object()) ins.bind(14, e.meta_text.empty() ? e.meta.dump() : e.meta_text);
    else ins.bind_null(14);
    ins.run();
    c.affected.insert(e.model);
    if (!had.count(e.model)) fresh[e.model].push_back(std::move(e));
  }
}

void update_summaries(Database& db, const std::set<std::string>& affected,
                      std::map<std::string, std::vector<Event>>& fresh) {
  auto del_model = db.prepare("DELETE FROM registry_models WHERE model = ?");
  auto put_model = db.prepare("INSERT OR REPLACE INTO registry_models(model, summary) VALUES(?, ?)");
  for (const auto& m : affected) {
    auto f = fresh.find(m);
    auto evs = f != fresh.end() ? std::move(f->second) : model_events(db, m);
    if (evs.empty()) {
      del_model.bind(1, m);
      del_model.run();
      continue;
    }
    ModelState s = replay(m, std::move(evs));
    put_model.bind(1, m).bind(2, s.summary_json().dump());
    put_model.run();
  }
}

void sync_tags(Repo& repo, Database& db, const fs::path& common, const std::string& fingerprint, bool full) {
  KnownTags known = known_tags(db, full);
  auto now = tag_refs_now(repo, common, known);
  TagChanges changes = tag_changes(known, now);
  auto events = read_events(repo, changes.read_names, changes.read_oids);
  if (changes.read_names.size() > 1000) db.exec("PRAGMA cache_size = -131072");  // the whole batch in memory until commit

  std::set<std::string> had;
  for (const auto& [tag, k] : known) had.insert(k.model);
  std::map<std::string, std::vector<Event>> fresh;  // models the index did not have: all their events are here

  Transaction tx(db);
  if (full) db.exec("DELETE FROM registry_tags; DELETE FROM registry_models; DELETE FROM registry_state;");
  drop_and_restat(db, changes);
  insert_tags(db, changes, events, now, had, fresh);
  update_summaries(db, changes.affected, fresh);
  set_state_value(db, "fingerprint", fingerprint);
  tx.commit();
}
}  // namespace

void refresh_index(Repo& repo) {
  Database& db = repo.index();
  migrate(db);
  // Fingerprint first: a tag written while we read is seen by the next command.
  fs::path common = git_common_dir(repo.root());
  std::string fp = tags_fingerprint(common);
  if (fp.rfind("racy:", 0) != 0 && state_value(db, "fingerprint") == fp) return;
  sync_tags(repo, db, common, fp, false);
}

void rebuild_registry_index(Repo& repo) { rebuild_registry_index(repo, repo.index()); }

void rebuild_registry_index(Repo& repo, Database& db) {
  migrate(db);
  fs::path common = git_common_dir(repo.root());
  sync_tags(repo, db, common, tags_fingerprint(common), true);
}

std::vector<nlohmann::json> list_models(Repo& repo) {
  refresh_index(repo);
  std::vector<nlohmann::json> out;
  auto st = repo.index().prepare("SELECT summary FROM registry_models ORDER BY model");
  while (st.step()) out.push_back(nlohmann::json::parse(st.text(0)));
  return out;
}

std::optional<ModelState> find_model(Repo& repo, const std::string& name) {
  refresh_index(repo);
  auto events = model_events(repo.index(), name);
  if (events.empty()) return std::nullopt;
  return replay(name, std::move(events));
}

ModelState load_model(Repo& repo, const std::string& name) {
  auto m = find_model(repo, name);
  if (!m)
    throw InputError("no model named '" + name + "' in the registry",
                     "see 'mlo models ls', or register it with 'mlo register " + name + " PATH'");
  return std::move(*m);
}

std::vector<Event> all_events(Repo& repo, const std::string& model, std::int64_t since) {
  refresh_index(repo);
  std::string sql = std::string(kSelectEvents) + " WHERE model != '' AND time >= ?";
  if (!model.empty()) sql += " AND model = ?";
  auto st = repo.index().prepare(sql);
  st.bind(1, since);
  if (!model.empty()) st.bind(2, model);
  std::map<std::string, std::vector<Event>> by_model;
  while (st.step()) {
    Event e = event_from_row(st);
    by_model[e.model].push_back(std::move(e));
  }
  // Each model's events in their recorded order; models interleaved by time
  // (counters are per model, so only the clock relates two models).
  std::vector<std::vector<Event>> lists;
  for (auto& [m, evs] : by_model) lists.push_back(sort_events(std::move(evs)));
  std::vector<std::size_t> head(lists.size(), 0);
  // A min-heap of (time of the list's next event, list).
  std::priority_queue<std::pair<std::int64_t, std::size_t>, std::vector<std::pair<std::int64_t, std::size_t>>,
                      std::greater<>>
      next;
  for (std::size_t i = 0; i < lists.size(); ++i)
    if (!lists[i].empty()) next.emplace(lists[i][0].time, i);
  std::vector<Event> out;
  while (!next.empty()) {
    std::size_t i = next.top().second;
    next.pop();
    out.push_back(std::move(lists[i][head[i]++]));
    if (head[i] < lists[i].size()) next.emplace(lists[i][head[i]].time, i);
  }
  return out;
}

}  // namespace mlo::registry
