// Registry events: tag messages (GTO's line plus mlo's metadata) and replaying
// a model's events, in their recorded order, into its state.
#include <algorithm>
#include <ctime>
#include <limits>

#include "registry/registry.h"

namespace mlo::registry {

// ---- messages -------------------------------------------------------------

std::string compose_message(const std::string& human, const nlohmann::json& meta) {
  std::string m = human + "\n";
  if (meta.is_object() && !meta.empty()) m += "\n" + std::string(kMetaMarker) + "\n" + meta.dump(2) + "\n";
  return m;
}

std::string_view meta_text(std::string_view message) {
  size_t at = message.find(std::string("\n") + kMetaMarker);
  if (at == std::string::npos) return {};
  size_t start = message.find('\n', at + 1);
  if (start == std::string::npos) return {};
  // A signed tag carries its signature after the message: stop there.
  size_t end = message.find("\n-----BEGIN ", start);
  return message.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

namespace {

void drop_unless(nlohmann::json& o, const char* key, bool (nlohmann::json::*is)() const noexcept) {
  if (o.contains(key) && !(o[key].*is)()) o.erase(key);
}

// Drops those of `keys` whose values in `o` are not strings.
void keep_string_fields(nlohmann::json& o, std::initializer_list<const char*> keys) {
  for (const char* k : keys) drop_unless(o, k, &nlohmann::json::is_string);
}

}  // namespace

nlohmann::json checked_meta(nlohmann::json meta) {
  if (!meta.is_object()) return nullptr;
  keep_string_fields(meta, {"version", "event", "reason", "run", "run_stage", "run_author", "run_author_email",
                            "model_type", "name", "description", "replaced_by", "replaces", "code_commit", "runner"});
  drop_unless(meta, "forced", &nlohmann::json::is_boolean);
  for (const char* k : {"time_ms", "seq", "seq_n"}) drop_unless(meta, k, &nlohmann::json::is_number_integer);
  for (const char* k : {"artifact", "labels", "metrics", "params"}) drop_unless(meta, k, &nlohmann::json::is_object);
  for (const char* k : {"data", "gates", "data_validation"}) drop_unless(meta, k, &nlohmann::json::is_array);
  if (meta.contains("artifact")) {
    keep_string_fields(meta["artifact"], {"sha256", "type", "path"});
    drop_unless(meta["artifact"], "size", &nlohmann::json::is_number_unsigned);
  }
  if (meta.contains("data")) {
    nlohmann::json data = nlohmann::json::array();
    for (auto& d : meta["data"])
      if (d.is_object()) {
        keep_string_fields(d, {"path", "sha256"});
        data.push_back(std::move(d));
      }
    meta["data"] = std::move(data);
  }
  return meta;
}

nlohmann::json extract_meta(const std::string& message) {
  std::string_view text = meta_text(message);
  if (text.empty()) return nullptr;
  auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return nullptr;
  return checked_meta(std::move(j));
}

std::int64_t Event::order_ms() const {
  if (meta.is_object() && meta.contains("time_ms") && meta["time_ms"].is_number_integer()) {
    std::int64_t ms = meta["time_ms"].get<std::int64_t>();
    if (ms / 1000 == time) return ms;  // trust it only when it agrees with the tagger's time
  }
  return time * 1000;
}

nlohmann::json Event::to_json() const {
  nlohmann::json j = {{"tag", tag},       {"event", to_string(kind)}, {"name", model},
                      {"time", time},     {"date", format_time(time)}, {"author", author},
                      {"author_email", email}, {"commit", commit},   {"message", message}};
  std::string v = meta.is_object() ? meta.value("version", version) : version;
  if (!v.empty()) j["version"] = v;
  if (!stage.empty()) j[is_alias() ? "alias" : "stage"] = stage;
  if (counter) j["counter"] = counter;
  j["forced"] = forced();
  if (meta.is_object()) {
    for (const char* k : {"reason", "replaced_by", "replaces", "gates"})
      if (meta.contains(k)) j[k] = meta[k];
  }
  return j;
}

// ---- state ---------------------------------------------------------------

const VersionInfo* ModelState::find(const std::string& version) const {
  for (const auto& v : versions)
    if (v.version == version) return &v;
  return nullptr;
}

const VersionInfo* ModelState::latest() const {
  const VersionInfo* best = nullptr;
  for (const auto& v : versions)
    if (v.active && (!best || v.order >= best->order)) best = &v;
  return best;
}

const VersionInfo* ModelState::greatest() const {
  const VersionInfo* best = nullptr;
  std::optional<SemVer> bv;
  for (const auto& v : versions) {
    if (!v.active) continue;
    auto sv = parse_semver(v.version);
    if (!sv) continue;
    if (!best || compare_semver(*sv, *bv) > 0) {
      best = &v;
      bv = sv;
    }
  }
  return best;
}

const VersionInfo* ModelState::holder(const std::string& stage) const {
  auto it = stages.find(stage);
  if (it == stages.end() || it->second.empty()) return nullptr;
  return find(it->second.back());
}

std::optional<std::pair<std::int64_t, std::int64_t>> Event::sequence() const {
  if (kind != TagKind::register_ && kind != TagKind::approval) {
    if (counter > 0) return std::make_pair(counter, std::int64_t{0});
    return std::nullopt;
  }
  if (!meta.is_object() || !meta.contains("seq") || !meta["seq"].is_number_integer()) return std::nullopt;
  std::int64_t n = 1;
  if (meta.contains("seq_n") && meta["seq_n"].is_number_integer()) n = std::max<std::int64_t>(1, meta["seq_n"].get<std::int64_t>());
  return std::make_pair(meta["seq"].get<std::int64_t>(), n);
}

std::int64_t ModelState::max_seq_n(std::int64_t seq) const {
  std::int64_t n = 0;
  for (const auto& e : events)
    if (auto s = e.sequence(); s && s->first == seq) n = std::max(n, s->second);
  return n;
}

std::int64_t ModelState::max_counter() const {
  std::int64_t c = 0;
  for (const auto& e : events)
    if (e.kind != TagKind::approval) c = std::max(c, e.counter);
  return c;
}

nlohmann::json ModelState::summary_json() const {
  nlohmann::json j;
  j["name"] = name;
  j["deprecated"] = deprecated;
  int active = 0;
  for (const auto& v : versions) active += v.active ? 1 : 0;
  j["versions"] = active;
  const VersionInfo* l = latest();
  const VersionInfo* g = greatest();
  j["latest"] = l ? nlohmann::json(l->version) : nlohmann::json(nullptr);
  j["greatest"] = g ? nlohmann::json(g->version) : nlohmann::json(nullptr);
  nlohmann::json st = nlohmann::json::object();
  for (const auto& [s, holders] : stages)
    if (!holders.empty()) st[s] = holders;
  j["stages"] = st;
  j["aliases"] = aliases;
  j["updated"] = events.empty() ? 0 : events.back().time;
  return j;
}

namespace {
// Where an event sits in the model's history. mlo and GTO number their stage,
// deregister and deprecate tags with the model's counter (NAME#STAGE#N); mlo's
// register and approval tags carry the counter they follow in their metadata
// ("seq", and "seq_n" among events after the same counter). Tags with neither
// (GTO's register tags, tags of older mlo) go after the last numbered event
// from an earlier second: clocks place only events that have no number.
struct OrderKey {
  std::int64_t major = 0, minor = 0, time = 0;
  const std::string* tag = nullptr;
  bool operator<(const OrderKey& o) const {
    if (major != o.major) return major < o.major;
    if (minor != o.minor) return minor < o.minor;
    if (time != o.time) return time < o.time;
    return *tag < *o.tag;
  }
};

}  // namespace

std::vector<Event> sort_events(std::vector<Event> events) {
  // (time, sequence) of every numbered event, to place the unnumbered ones.
  std::vector<std::pair<std::int64_t, std::int64_t>> numbered;
  for (const auto& e : events)
    if (auto s = e.sequence()) numbered.emplace_back(e.time, s->first);
  std::sort(numbered.begin(), numbered.end());
  std::vector<std::pair<OrderKey, std::size_t>> keys;
  keys.reserve(events.size());
  std::int64_t best = 0;
  std::size_t next = 0;
  std::vector<std::size_t> order(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return events[a].time < events[b].time; });
  for (std::size_t i : order) {
    const Event& e = events[i];
    OrderKey k{0, 0, e.time, &e.tag};
    if (auto s = e.sequence()) {
      k.major = s->first;
      k.minor = s->second;
    } else {
      // Approvals follow the numbered events of their own second; others precede them.
      bool same_second = e.kind == TagKind::approval;
      while (next < numbered.size() && (numbered[next].first < e.time || (same_second && numbered[next].first == e.time)))
        best = std::max(best, numbered[next++].second);
      k.major = best;
      k.minor = std::numeric_limits<std::int64_t>::max();
    }
    keys.emplace_back(k, i);
  }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Event> out;
  out.reserve(events.size());
  for (const auto& [k, i] : keys) out.push_back(std::move(events[i]));
  return out;
}

namespace {

void erase_value(std::vector<std::string>& v, const std::string& x) { v.erase(std::remove(v.begin(), v.end(), x), v.end()); }
}  // namespace

namespace {
// The version a stage or alias tag names: its metadata's, its tag's, or (GTO)
// the version registered at the same commit.
std::string version_of(const ModelState& m, const Event& e) {
  if (e.meta.is_object() && e.meta.contains("version") && e.meta["version"].is_string())
    return e.meta["version"].get<std::string>();
  if (!e.version.empty()) return e.version;
  const VersionInfo* found = nullptr;
  for (const auto& v : m.versions)
    if (v.commit == e.commit && v.active) found = &v;
  return found ? found->version : "";
}

void apply_register(ModelState& m, const Event& e, std::int64_t position) {
  VersionInfo* v = nullptr;
  for (auto& x : m.versions)
    if (x.version == e.version) v = &x;
  if (!v) {
    m.versions.emplace_back();
    v = &m.versions.back();
  }
  v->version = e.version;
  v->tag = e.tag;
  v->commit = e.commit;
  v->author = e.author;
  v->email = e.email;
  v->time = e.time;
  v->time_ms = e.order_ms();
  v->order = position;
  v->active = true;
  v->meta = e.meta.is_object() ? e.meta : nlohmann::json::object();
}

void apply_deregister(ModelState& m, const Event& e) {
  for (auto& x : m.versions)
    if (x.version == e.version) x.active = false;
  for (auto& [s, h] : m.stages) erase_value(h, e.version);
  for (auto it = m.aliases.begin(); it != m.aliases.end();)
    it = it->second == e.version ? m.aliases.erase(it) : std::next(it);
}

void apply_assign(ModelState& m, const Event& e) {
  std::string v = version_of(m, e);
  if (v.empty()) return;
  if (e.is_alias()) {
    m.aliases[e.stage] = v;
    return;
  }
  auto& h = m.stages[e.stage];
  erase_value(h, v);
  h.push_back(v);
}

void apply_unassign(ModelState& m, const Event& e) {
  std::string v = version_of(m, e);
  if (e.is_alias()) {
    auto it = m.aliases.find(e.stage);
    if (it != m.aliases.end() && (v.empty() || it->second == v)) m.aliases.erase(it);
  } else if (!v.empty()) {
    erase_value(m.stages[e.stage], v);
  }
}

void apply_event(ModelState& m, const Event& e, std::int64_t position) {
  switch (e.kind) {
    case TagKind::register_: apply_register(m, e, position); break;
    case TagKind::deregister: apply_deregister(m, e); break;
    case TagKind::assign: apply_assign(m, e); break;
    case TagKind::unassign: apply_unassign(m, e); break;
    case TagKind::deprecate: m.deprecated = true; break;
    case TagKind::approval: break;
  }
}

// Each version's stages and aliases, from the model's maps.
void link_versions(ModelState& m) {
  for (auto& v : m.versions) {
    v.stages.clear();
    v.aliases.clear();
  }
  for (auto& [s, holders] : m.stages)
    for (const auto& h : holders)
      for (auto& v : m.versions)
        if (v.version == h) v.stages.push_back(s);
  for (auto& [a, ver] : m.aliases)
    for (auto& v : m.versions)
      if (v.version == ver) v.aliases.push_back(a);
}
}  // namespace

ModelState replay(const std::string& model, std::vector<Event> events) {
  events = sort_events(std::move(events));
  ModelState m;
  m.name = model;
  for (std::size_t i = 0; i < events.size(); ++i) apply_event(m, events[i], static_cast<std::int64_t>(i));
  link_versions(m);
  m.events = std::move(events);
  return m;
}

}  // namespace mlo::registry
