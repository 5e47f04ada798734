#include "data/written_tree.h"

#include <algorithm>
#include <utility>

#include "data/helpers.h"
#include "data/stat_cache.h"

namespace mlo {

namespace {

// `folder` is `prefix` or inside it ("" holds everything).
bool within(std::string_view folder, std::string_view prefix) {
  return prefix.empty() || folder == prefix ||
         (folder.size() > prefix.size() && folder.substr(0, prefix.size()) == prefix && folder[prefix.size()] == '/');
}

}  // namespace

void WrittenTree::add(std::string_view rel, const std::optional<struct stat>& st) {
  if (broken_) return;
  // A scan would see another stat (a link), or the walk is not in path
  // order (then a folder left could come back): nothing is recorded.
  if (!st || (any_ && !(last_rel_ < rel))) {
    broken_ = true;
    open_.clear();
    std::vector<FolderDigest>().swap(done_);
    return;
  }
  last_rel_.assign(rel);
  any_ = true;
  close_to(parent_view(rel));
  WorkFile f;
  f.set_rel(rel);
  f.key = StatKey::of(*st);
  f.executable = (st->st_mode & S_IXUSR) != 0;
  chunk_.clear();
  append_file_stat(chunk_, f);
  Open& folder = open_.back();
  folder.digest->update(chunk_);
  folder.summary.files += 1;
  folder.summary.bytes += f.key.size;
  folder.summary.newest_mtime_ns = std::max(folder.summary.newest_mtime_ns, f.key.mtime_ns);
}

// Leaves the open folders `folder` is not in, and opens `folder` and the
// folders between it and the innermost one left open (a scan lists every
// folder, those holding only folders too).
void WrittenTree::close_to(std::string_view folder) {
  while (!open_.empty() && !within(folder, open_.back().summary.prefix)) close_top();
  if (open_.empty()) open_.emplace_back();  // the tracked folder itself, prefix ""
  while (open_.back().summary.prefix != folder) {
    const std::string& outer = open_.back().summary.prefix;
    const std::size_t from = outer.empty() ? 0 : outer.size() + 1;
    const std::size_t slash = folder.find('/', from);
    Open next;
    next.summary.prefix.assign(folder.substr(0, slash == std::string_view::npos ? folder.size() : slash));
    open_.push_back(std::move(next));
  }
}

void WrittenTree::close_top() {
  Open& top = open_.back();
  top.digest->digest(top.summary.digest.data());
  top.summary.dropped = true;
  done_.push_back(std::move(top.summary));
  open_.pop_back();
}

bool WrittenTree::record(StatCache& sc, const std::string& data_rel, const std::string& hash, std::int64_t now_ns) {
  if (broken_ || !any_) return false;
  while (!open_.empty()) close_top();
  WorkTree t;
  t.data_rel = data_rel;
  t.exists = true;
  t.type = EntryType::dir;
  t.folders = std::move(done_);
  std::sort(t.folders.begin(), t.folders.end(),
            [](const FolderDigest& a, const FolderDigest& b) { return a.prefix < b.prefix; });
  record_folder_digests(sc, t, {}, now_ns);
  sc.record_tree(data_rel, t.stat_fingerprint(), hash, t.newest_mtime_ns(), now_ns);
  return true;
}

}  // namespace mlo
