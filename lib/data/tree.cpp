#include "data/tree.h"
#include "data/tree_walk.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/parse.h"
#include "core/safe_path.h"
#include "store/cache.h"

namespace mlo {

// Walking folders in this order lists full paths in bytewise order.
bool tree_order(const TreeEntry& a, const TreeEntry& b) {
  std::string_view x = a.name, y = b.name;
  std::size_t n = std::min(x.size(), y.size());
  int c = x.substr(0, n).compare(y.substr(0, n));
  if (c != 0) return c < 0;
  auto next = [n](std::string_view s, bool tree) -> int {
    if (s.size() > n) return static_cast<unsigned char>(s[n]);
    return tree ? '/' : -1;
  };
  return next(x, a.is_tree) < next(y, b.is_tree);
}

namespace {

[[noreturn]] void bad_tree(const std::string& where, const std::string& what) {
  throw InputError(where + ": " + what, "the tree manifest is damaged or hostile; run 'mlo fsck' to check the cache");
}

std::uint64_t add_checked(std::uint64_t a, std::uint64_t b, const std::string& where) {
  std::uint64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) bad_tree(where, "sizes add up to more than 2^64-1 bytes");
  return sum;
}

}  // namespace

std::string serialize_tree(const std::vector<TreeEntry>& entries) {
  const std::vector<TreeEntry>* list = &entries;
  std::vector<TreeEntry> sorted;
  if (!std::is_sorted(entries.begin(), entries.end(), tree_order)) {
    sorted = entries;
    std::sort(sorted.begin(), sorted.end(), tree_order);
    list = &sorted;
  }
  std::string out = "{\"version\":2,\"entries\":[\n";
  out.reserve(out.size() + list->size() * 110);
  bool first = true;
  for (const auto& e : *list) {
    if (!first) out += ",\n";
    first = false;
    out += "{\"name\":";
    append_json_name(out, e.name);
    out += e.is_tree ? ",\"tree\":\"" : ",\"sha256\":\"";
    out += e.sha256;
    out += "\",\"size\":";
    out += std::to_string(e.size);
    if (e.is_tree) out += ",\"files\":" + std::to_string(e.files);
    if (e.executable) out += ",\"exec\":true";
    out += "}";
  }
  out += "\n]}\n";
  return out;
}

// ---- building ----------------------------------------------------------------

// Serialises the innermost open folder and names it in its parent.
void TreeBuilder::close_innermost() {
  Open done = std::move(open_.back());
  open_.pop_back();
  std::string bytes = serialize_tree(done.entries);
  std::string hash = sha256_hex(bytes);
  if (sink_) sink_(hash, bytes);
  if (folders_) folders_(std::string_view(done.prefix).substr(0, done.prefix.empty() ? 0 : done.prefix.size() - 1), hash);
  if (open_.empty()) {
    root_ = hash;
    files_ = done.files;
    size_ = done.size;
    return;
  }
  Open& parent = open_.back();
  std::string name = done.prefix.substr(parent.prefix.size(), done.prefix.size() - parent.prefix.size() - 1);
  parent.entries.push_back({name, hash, done.size, done.files, false, true});
  parent.files += done.files;
  parent.size += done.size;
}

TreeBuilder::TreeBuilder(TreeSink sink, FolderHashSink folders)
    : sink_(std::move(sink)), folders_(std::move(folders)), open_(1) {}

void TreeBuilder::add(const TreeFileRef& e) {
  std::size_t slash = e.path.rfind('/');
  std::string_view dir = slash == std::string::npos ? std::string_view() : e.path.substr(0, slash + 1);
  // Close folders this path is not inside, then open the ones it is.
  while (dir.substr(0, std::min(dir.size(), open_.back().prefix.size())) != open_.back().prefix) close_innermost();
  while (open_.back().prefix.size() < dir.size()) {
    std::size_t end = dir.find('/', open_.back().prefix.size());
    open_.push_back(Open{std::string(dir.substr(0, end + 1)), {}, 0, 0});
  }
  Open& here = open_.back();
  here.entries.push_back({std::string(e.path.substr(dir.size())), std::string(e.sha256), e.size,
                          e.is_tree ? e.files : 0, e.executable && !e.is_tree, e.is_tree});
  here.files += e.is_tree ? e.files : 1;
  here.size += e.size;
}

std::string TreeBuilder::finish() {
  while (!open_.empty()) close_innermost();
  return root_;
}

TreeSink store_missing(Cache& cache, std::uint64_t& written) {
  return [&cache, &written](const std::string& hash, const std::string& bytes) {
    if (cache.has(hash)) return;
    cache.add_bytes(bytes, /*durable=*/false);
    ++written;
  };
}

std::string build_tree(const Manifest& m, const TreeSink& sink) {
  return build_tree(
      m.entries.size(),
      [&](std::size_t i) {
        const ManifestEntry& e = m.entries[i];
        return TreeFileRef{e.path, e.sha256, e.size, e.executable};
      },
      sink);
}

std::string build_tree(std::size_t count, const std::function<TreeFileRef(std::size_t)>& file, const TreeSink& sink,
                       const FolderHashSink& folders) {
  TreeBuilder builder(sink, folders);
  for (std::size_t i = 0; i < count; ++i) builder.add(file(i));
  return builder.finish();
}

// ---- reading -----------------------------------------------------------------

namespace {

TreeEntry parse_tree_entry(const nlohmann::json& f, const std::string& at) {
  if (!f.is_object()) bad_tree(at, "is not an object");
  TreeEntry e;
  auto name = f.find("name"), sha = f.find("sha256"), tree = f.find("tree"), size = f.find("size");
  if (name == f.end() || !name->is_string()) bad_tree(at, "has no 'name' string");
  e.name = name->get<std::string>();
  std::string why;
  if (!is_checked_relative(e.name, &why)) bad_tree(at, "unsafe name '" + printable(e.name) + "' (" + why + ")");
  if (e.name.find('/') != std::string::npos) bad_tree(at, "name '" + printable(e.name) + "' holds a '/'");
  e.is_tree = tree != f.end();
  if (e.is_tree == (sha != f.end())) bad_tree(at, "needs exactly one of 'sha256' (a file) and 'tree' (a folder)");
  const nlohmann::json& h = e.is_tree ? *tree : *sha;
  if (!h.is_string() || !is_sha256_hex(h.get<std::string>())) bad_tree(at, "bad hash for " + printable(e.name));
  e.sha256 = h.get<std::string>();
  std::optional<std::uint64_t> bytes = size == f.end() ? std::nullopt : json_u64(*size);
  if (!bytes) bad_tree(at, "'size' must be a whole number from 0 to 2^64-1");
  e.size = *bytes;
  if (e.is_tree) {
    auto files = f.find("files");
    std::optional<std::uint64_t> n = files == f.end() ? std::nullopt : json_u64(*files);
    if (!n) bad_tree(at, "'files' must be a whole number");
    e.files = *n;
  } else {
    e.files = 1;
    auto exec = f.find("exec");
    if (exec != f.end() && !exec->is_boolean()) bad_tree(at, "'exec' must be true or false");
    e.executable = exec != f.end() && exec->get<bool>();
  }
  return e;
}

// One folder object's entries, in canonical order (strictly: no duplicates).
std::vector<TreeEntry> parse_tree_entries(const nlohmann::json& doc, const std::string& where) {
  auto list = doc.find("entries");
  if (list == doc.end() || !list->is_array()) bad_tree(where, "has no 'entries' list");
  if (list->size() > kMaxTreeEntries)
    bad_tree(where, "lists " + std::to_string(list->size()) + " entries (at most " + std::to_string(kMaxTreeEntries) +
                        " in one folder)");
  std::vector<TreeEntry> out;
  out.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    out.push_back(parse_tree_entry((*list)[i], where + ": entry " + std::to_string(i + 1)));
    if (i > 0 && !tree_order(out[i - 1], out[i]))
      bad_tree(where, "entry " + std::to_string(i + 1) + " ('" + printable(out[i].name) +
                          "') is out of order or repeats a name");
  }
  // A file and a folder of the same name sort apart ("a" < "a.txt" < "a/").
  for (const auto& e : out) {
    if (!e.is_tree) continue;
    TreeEntry file{e.name, "", 0, 0, false, false};
    auto at = std::lower_bound(out.begin(), out.end(), file, tree_order);
    if (at != out.end() && !at->is_tree && at->name == e.name)
      bad_tree(where, "'" + printable(e.name) + "' is both a file and a folder");
  }
  return out;
}

struct Totals {
  std::uint64_t files = 0, size = 0;
};

Totals totals_of(const std::vector<TreeEntry>& entries, const std::string& where) {
  Totals t;
  for (const auto& e : entries) {
    t.files = add_checked(t.files, e.files, where);
    t.size = add_checked(t.size, e.size, where);
  }
  return t;
}

// Reads an object and checks it against its name; nullopt when absent.
std::optional<nlohmann::json> read_object(const Cache& cache, const std::string& hash, const std::string& where) {
  // A huge object named where a manifest should be is refused unread.
  std::error_code ec;
  std::uintmax_t size = fs::file_size(cache.object_path(hash), ec);
  if (!ec && size > kMaxManifestBytes)
    bad_tree(where, "is " + std::to_string(size) + " bytes, more than a manifest may be (" +
                        std::to_string(kMaxManifestBytes) + ")");
  auto bytes = read_file_if_exists(cache.object_path(hash));
  if (!bytes) return std::nullopt;
  if (sha256_hex(*bytes) != hash) bad_tree(where, "damaged: its bytes do not match its hash");
  try {
    return parse_json_checked(*bytes, where);
  } catch (const InputError& e) {
    bad_tree(where, e.what());
  }
}

struct Frame {
  std::string hash, prefix;
  std::vector<TreeEntry> entries;
  std::size_t next = 0;
};

// The folder object `e` (a subfolder of `parent`), checked to hold what
// its parent claims for it: then the root's counts bound the whole walk.
std::optional<Frame> open_subtree(const Cache& cache, const Frame& parent, const TreeEntry& e, const std::string& where) {
  std::string at = where + ", folder " + parent.prefix + e.name + " (tree " + e.sha256 + ")";
  auto doc = read_object(cache, e.sha256, at);
  if (!doc) return std::nullopt;
  if (!doc->is_object() || json_u64(doc->value("version", nlohmann::json())) != std::optional<std::uint64_t>(2))
    bad_tree(at, "not a version 2 folder object");
  Frame f{e.sha256, parent.prefix + e.name + "/", parse_tree_entries(*doc, at), 0};
  Totals t = totals_of(f.entries, at);
  if (t.files != e.files || t.size != e.size)
    bad_tree(at, "holds " + std::to_string(t.files) + " files of " + std::to_string(t.size) +
                     " bytes, but its parent says " + std::to_string(e.files) + " files of " + std::to_string(e.size));
  return f;
}

// Depth-first in canonical order, so files come out sorted by path; only the
// folders on the current path are held. No recursion: the depth is input.
void expand_tree(const Cache& cache, Frame root, const std::string& where,
                 const std::function<void(ManifestEntry&&)>& file,
                 const std::function<void(const std::string&)>& folder, std::vector<std::string>* missing,
                 const std::function<bool(const std::string&, std::uint64_t, const std::string&)>& descend) {
  std::vector<Frame> stack;
  stack.push_back(std::move(root));
  while (!stack.empty()) {
    Frame& top = stack.back();
    if (top.next == top.entries.size()) {
      stack.pop_back();
      continue;
    }
    const TreeEntry e = top.entries[top.next++];
    if (!e.is_tree) {
      file({top.prefix + e.name, e.sha256, e.size, e.executable});
      continue;
    }
    if (stack.size() > kMaxTreeDepth)
      bad_tree(where, "folders nest deeper than " + std::to_string(kMaxTreeDepth) + " levels at " + top.prefix + e.name);
    for (const auto& f : stack)
      if (f.hash == e.sha256) bad_tree(where, "folder " + top.prefix + e.name + " contains itself (tree " + e.sha256 + ")");
    if (descend && !descend(e.sha256, e.files, top.prefix + e.name)) continue;
    folder(e.sha256);
    auto sub = open_subtree(cache, top, e, where);
    if (!sub && !missing)
      throw InputError(where + ": folder object " + e.sha256 + " (" + top.prefix + e.name + ") is missing from the cache",
                       "run 'mlo pull' to fetch it from a remote, or re-add the folder with 'mlo data add'");
    if (!sub) {
      missing->push_back(e.sha256);
      continue;
    }
    stack.push_back(std::move(*sub));
  }
}

}  // namespace

std::optional<std::vector<TreeEntry>> read_tree_level(const Cache& cache, const std::string& hash,
                                                      const std::string& where) {
  auto doc = read_object(cache, hash, where);
  if (!doc || !doc->is_object() || json_u64(doc->value("version", nlohmann::json())) != std::optional<std::uint64_t>(2))
    return std::nullopt;
  return parse_tree_entries(*doc, where);
}

std::vector<TreeEntry> parse_tree_level(const std::string& bytes, const std::string& where) {
  nlohmann::json doc;
  try {
    doc = parse_json_checked(bytes, where);
  } catch (const InputError& e) {
    bad_tree(where, e.what());
  }
  return parse_tree_entries(doc, where);
}

void walk_manifest(const Cache& cache, const std::string& hash, const std::string& where,
                   const std::function<void(ManifestEntry&&)>& file,
                   const std::function<void(const std::string&)>& folder, std::vector<std::string>* missing,
                   const std::function<void(std::uint64_t)>& files_claimed,
                   const std::function<bool(const std::string&, std::uint64_t, const std::string&)>& descend) {
  auto doc = read_object(cache, hash, where);
  if (!doc) {
    if (missing) {
      missing->push_back(hash);
      return;
    }
    throw InputError(where + ": the manifest (object " + hash + ") is missing from the cache",
                     "run 'mlo pull' to fetch it from a remote, or re-add the folder with 'mlo data add'");
  }
  if (doc->is_object() && json_u64(doc->value("version", nlohmann::json())) == std::optional<std::uint64_t>(2)) {
    Frame root{hash, "", parse_tree_entries(*doc, where), 0};
    Totals t = totals_of(root.entries, where);
    if (t.files > kMaxTreeFiles)
      bad_tree(where, "claims " + std::to_string(t.files) + " files (at most " + std::to_string(kMaxTreeFiles) + ")");
    if (files_claimed) files_claimed(t.files);
    expand_tree(cache, std::move(root), where, file, folder, missing, descend);
    return;
  }
  Manifest flat = parse_manifest_json(*doc, where);
  if (files_claimed) files_claimed(flat.entries.size());
  for (auto& e : flat.entries) file(std::move(e));
}

Manifest read_manifest(const Cache& cache, const std::string& hash, const std::string& where,
                       std::vector<std::string>* missing) {
  Manifest m;
  walk_manifest(
      cache, hash, where, [&](ManifestEntry&& e) { m.entries.push_back(std::move(e)); },
      [&](const std::string& h) { m.trees.push_back(h); }, missing,
      [&](std::uint64_t files) { m.entries.reserve(std::min(files, kMaxClaimReserve)); });
  return m;
}

}  // namespace mlo
