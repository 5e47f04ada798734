#include "repo/git.h"

#include <git2.h>

#include <cstdlib>
#include <mutex>

#include "core/error.h"

namespace mlo {

namespace {
void ensure_libgit2() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

template <typename T, void (*Free)(T*)>
struct GitPtr {
  T* p = nullptr;
  ~GitPtr() {
    if (p) Free(p);
  }
  T** out() { return &p; }
  T* get() const { return p; }
};
using IndexPtr = GitPtr<git_index, git_index_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using TreePtr = GitPtr<git_tree, git_tree_free>;
using TreeEntryPtr = GitPtr<git_tree_entry, git_tree_entry_free>;
using BlobPtr = GitPtr<git_blob, git_blob_free>;
using RevwalkPtr = GitPtr<git_revwalk, git_revwalk_free>;
using RefIterPtr = GitPtr<git_reference_iterator, git_reference_iterator_free>;
using DiffPtr = GitPtr<git_diff, git_diff_free>;
using ConfigPtr = GitPtr<git_config, git_config_free>;

std::string oid_str(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}
}  // namespace

void git_check(int rc, const std::string& what) {
  if (rc >= 0) return;
  const git_error* e = git_error_last();
  std::string message = what + ": " + (e && e->message ? e->message : "git error");
  // git's own lock, left by a git or mlo process that was killed mid-write
  // (git never removes it by itself either): name it and the way out.
  if (rc == GIT_ELOCKED)
    throw InputError(message + " (.git/index.lock or a ref's .lock exists)",
                     "if no git or mlo command is running in this repository, remove the .lock file and run the "
                     "command again (the data and pointer files are intact)");
  throw InputError(message);
}

GitRepo::GitRepo(const std::filesystem::path& workdir) : workdir_(workdir) {
  ensure_libgit2();
  git_check(git_repository_open(&repo_, workdir.c_str()), "cannot open the git repository at " + workdir.string());
}

GitRepo::~GitRepo() {
  if (odb_) git_odb_free(odb_);
  git_repository_free(repo_);
}

void GitRepo::init(const std::filesystem::path& dir) {
  ensure_libgit2();
  git_repository* repo = nullptr;
  git_check(git_repository_init(&repo, dir.c_str(), 0), "git init " + dir.string());
  git_repository_free(repo);
}

void GitRepo::stage(const std::vector<std::string>& paths) {
  IndexPtr index;
  git_check(git_repository_index(index.out(), repo_), "cannot open the git index");
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(workdir_ / p, ec)))
      git_check(git_index_add_bypath(index.get(), p.c_str()), "git add " + p);
    else
      git_index_remove_bypath(index.get(), p.c_str());
  }
  git_check(git_index_write(index.get()), "cannot write the git index");
}

void GitRepo::unstage_remove(const std::vector<std::string>& paths) {
  IndexPtr index;
  git_check(git_repository_index(index.out(), repo_), "cannot open the git index");
  for (const auto& p : paths) git_index_remove_bypath(index.get(), p.c_str());
  git_check(git_index_write(index.get()), "cannot write the git index");
}

bool GitRepo::is_tracked(const std::string& path) const {
  IndexPtr index;
  git_check(git_repository_index(index.out(), repo_), "cannot open the git index");
  return git_index_get_bypath(index.get(), path.c_str(), 0) != nullptr;
}

bool GitRepo::tracks_under(const std::string& dir) const {
  IndexPtr index;
  git_check(git_repository_index(index.out(), repo_), "cannot open the git index");
  std::string prefix = dir.empty() ? "" : dir + "/";
  size_t pos = 0;
  if (git_index_find_prefix(&pos, index.get(), prefix.c_str()) == 0) return true;
  return git_index_get_bypath(index.get(), dir.c_str(), 0) != nullptr;
}

bool GitRepo::is_ignored(const std::string& path) const {
  int ignored = 0;
  git_check(git_ignore_path_is_ignored(&ignored, repo_, path.c_str()), "cannot check ignore rules for " + path);
  return ignored == 1;
}

bool GitRepo::has_commits() const { return git_repository_head_unborn(repo_) == 0; }

std::optional<std::string> GitRepo::head_commit() const {
  git_oid oid;
  if (git_reference_name_to_id(&oid, repo_, "HEAD") != 0) return std::nullopt;
  return oid_str(&oid);
}

bool GitRepo::is_dirty() const {
  git_status_options opts = GIT_STATUS_OPTIONS_INIT;
  opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
  opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
  git_status_list* list = nullptr;
  git_check(git_status_list_new(&list, repo_, &opts), "git status");
  size_t n = git_status_list_entrycount(list);
  git_status_list_free(list);
  return n > 0;
}

std::string GitRepo::resolve_commit(const std::string& rev) const {
  ObjectPtr obj;
  if (git_revparse_single(obj.out(), repo_, rev.c_str()) != 0)
    throw InputError("unknown revision '" + rev + "'", "use a commit, branch or tag that exists (see 'git log')");
  ObjectPtr commit;
  if (git_object_peel(commit.out(), obj.get(), GIT_OBJECT_COMMIT) != 0)
    throw InputError("revision '" + rev + "' is not a commit");
  return oid_str(git_object_id(commit.get()));
}

namespace {
// The root tree of a revision's commit (owned by the caller); returns the commit id.
std::string commit_tree(git_repository* repo, const std::string& id, git_tree** out) {
  git_oid oid;
  git_oid_fromstr(&oid, id.c_str());
  CommitPtr commit;
  git_check(git_commit_lookup(commit.out(), repo, &oid), "cannot read commit " + id);
  git_check(git_commit_tree(out, commit.get()), "cannot read the tree of " + id);
  return id;
}
}  // namespace

std::string GitRepo::tree_at(const std::string& rev, git_tree** out) const {
  return commit_tree(repo_, resolve_commit(rev), out);
}

std::optional<std::string> GitRepo::read_file_at(const std::string& rev, const std::string& path) const {
  TreePtr tree;
  std::string id = tree_at(rev, tree.out());
  TreeEntryPtr entry;
  if (git_tree_entry_bypath(entry.out(), tree.get(), path.c_str()) != 0) return std::nullopt;
  if (git_tree_entry_type(entry.get()) != GIT_OBJECT_BLOB) return std::nullopt;
  BlobPtr blob;
  git_check(git_blob_lookup(blob.out(), repo_, git_tree_entry_id(entry.get())), "cannot read " + path);
  return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                     static_cast<size_t>(git_blob_rawsize(blob.get())));
}

namespace {
struct WalkState {
  git_repository* repo;
  const std::string* suffix;
  const std::function<void(const std::string&, const std::string&)>* visit;
};

int walk_cb(const char* root, const git_tree_entry* entry, void* payload) {
  auto* st = static_cast<WalkState*>(payload);
  if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) return 0;
  std::string name = git_tree_entry_name(entry);
  const std::string& suffix = *st->suffix;
  if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return 0;
  git_blob* blob = nullptr;
  if (git_blob_lookup(&blob, st->repo, git_tree_entry_id(entry)) != 0) return 0;
  std::string content(static_cast<const char*>(git_blob_rawcontent(blob)), static_cast<size_t>(git_blob_rawsize(blob)));
  git_blob_free(blob);
  (*st->visit)(std::string(root) + name, content);
  return 0;
}
}  // namespace

void GitRepo::for_each_file_at(const std::string& rev, const std::string& suffix,
                               const std::function<void(const std::string&, const std::string&)>& visit) const {
  TreePtr tree;
  std::string id = tree_at(rev, tree.out());
  WalkState st{repo_, &suffix, &visit};
  git_check(git_tree_walk(tree.get(), GIT_TREEWALK_PRE, walk_cb, &st), "cannot walk the tree of " + id);
}

std::vector<std::string> GitRepo::all_commits() const {
  std::vector<std::string> out;
  if (!has_commits()) return out;
  RevwalkPtr walk;
  git_check(git_revwalk_new(walk.out(), repo_), "git rev-list");
  git_revwalk_push_glob(walk.get(), "refs/heads/*");
  git_revwalk_push_glob(walk.get(), "refs/tags/*");
  git_revwalk_push_head(walk.get());
  git_oid oid;
  while (git_revwalk_next(&oid, walk.get()) == 0) out.push_back(oid_str(&oid));
  return out;
}

namespace {
std::vector<std::string> refs_matching(git_repository* repo, const char* glob) {
  std::vector<std::string> out;
  RefIterPtr it;
  if (git_reference_iterator_glob_new(it.out(), repo, glob) != 0) return out;
  git_reference* ref = nullptr;
  while (git_reference_next(&ref, it.get()) == 0) {
    git_object* obj = nullptr;
    if (git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) == 0) {
      out.push_back(oid_str(git_object_id(obj)));
      git_object_free(obj);
    }
    git_reference_free(ref);
  }
  return out;
}
}  // namespace

std::vector<std::string> GitRepo::branch_heads() const { return refs_matching(repo_, "refs/heads/*"); }
std::vector<std::string> GitRepo::tag_targets() const { return refs_matching(repo_, "refs/tags/*"); }

GitIdentity GitRepo::identity() const {
  GitIdentity id;
  git_signature* sig = nullptr;
  if (git_signature_default(&sig, repo_) == 0) {
    id.name = sig->name;
    id.email = sig->email;
    git_signature_free(sig);
  } else {
    const char* user = std::getenv("USER");
    id.name = user ? user : "unknown";
    id.email = id.name + "@localhost";
  }
  return id;
}

GitIdentity GitRepo::tagger_identity() const {
  GitIdentity id = identity();
  if (const char* n = std::getenv("GIT_COMMITTER_NAME"); n && *n) id.name = n;
  if (const char* e = std::getenv("GIT_COMMITTER_EMAIL"); e && *e) id.email = e;
  return id;
}

std::optional<GitIdentity> GitRepo::commit_author(const std::string& commit) const {
  git_oid oid;
  if (git_oid_fromstr(&oid, commit.c_str()) != 0) return std::nullopt;
  CommitPtr c;
  if (git_commit_lookup(c.out(), repo_, &oid) != 0) return std::nullopt;
  const git_signature* a = git_commit_author(c.get());
  if (!a) return std::nullopt;
  return GitIdentity{a->name ? a->name : "", a->email ? a->email : ""};
}

std::filesystem::path GitRepo::common_dir() const { return git_repository_commondir(repo_); }

std::vector<std::pair<std::string, std::string>> GitRepo::list_tag_refs() const {
  std::vector<std::pair<std::string, std::string>> out;
  RefIterPtr it;
  if (git_reference_iterator_glob_new(it.out(), repo_, "refs/tags/*") != 0) return out;
  git_reference* ref = nullptr;
  while (git_reference_next(&ref, it.get()) == 0) {
    const git_oid* oid = git_reference_target(ref);
    if (oid) out.emplace_back(std::string(git_reference_name(ref) + 10), oid_str(oid));
    git_reference_free(ref);
  }
  return out;
}

std::optional<GitTag> GitRepo::read_tag(const std::string& name) const {
  GitPtr<git_reference, git_reference_free> ref;
  if (git_reference_lookup(ref.out(), repo_, ("refs/tags/" + name).c_str()) != 0) return std::nullopt;
  const git_oid* target = git_reference_target(ref.get());
  if (!target) return std::nullopt;
  return read_tag_object(name, oid_str(target));
}

namespace {
// Parses a raw tag object ("object X\ntype T\ntag N\ntagger WHO <EMAIL> TIME TZ\n\nMESSAGE").
bool parse_raw_tag(std::string_view raw, GitTag& out, std::string& target, std::string& target_type) {
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t nl = raw.find('\n', pos);
    if (nl == std::string_view::npos) return false;
    std::string_view line = raw.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) break;  // the message follows
    if (line.rfind("object ", 0) == 0) {
      target = line.substr(7);
    } else if (line.rfind("type ", 0) == 0) {
      target_type = line.substr(5);
    } else if (line.rfind("tagger ", 0) == 0) {
      std::string_view who = line.substr(7);
      size_t gt = who.rfind('>');
      size_t lt = who.rfind('<', gt);
      if (gt == std::string_view::npos || lt == std::string_view::npos) return false;
      std::string_view name = who.substr(0, lt);
      while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
      out.tagger_name = name;
      out.tagger_email = who.substr(lt + 1, gt - lt - 1);
      std::int64_t t = 0;
      size_t i = gt + 1;
      while (i < who.size() && who[i] == ' ') ++i;
      while (i < who.size() && who[i] >= '0' && who[i] <= '9') t = t * 10 + (who[i++] - '0');
      out.time = t;
    }
  }
  if (target.empty()) return false;
  out.message = pos < raw.size() ? std::string(raw.substr(pos)) : std::string();
  return true;
}
}  // namespace

GitTag GitRepo::read_tag_object(const std::string& name, const std::string& oid) const {
  GitTag out;
  out.name = name;
  out.oid = oid;
  git_oid id;
  if (git_oid_fromstr(&id, oid.c_str()) != 0) return out;
  // The raw object, parsed here: no git_tag object built and cached for each of
  // thousands of tags. Anything but a tag pointing at a commit goes the slow way.
  if (!odb_ && git_repository_odb(&odb_, repo_) != 0) odb_ = nullptr;
  if (odb_) {
    git_odb_object* raw = nullptr;
    if (git_odb_read(&raw, odb_, &id) == 0) {
      bool done = false;
      if (git_odb_object_type(raw) == GIT_OBJECT_TAG) {
        std::string target, type;
        std::string_view data(static_cast<const char*>(git_odb_object_data(raw)), git_odb_object_size(raw));
        if (parse_raw_tag(data, out, target, type) && type == "commit") {
          out.annotated = true;
          out.commit = target;
          done = true;
        }
      } else if (git_odb_object_type(raw) == GIT_OBJECT_COMMIT) {
        out.commit = oid;  // a lightweight tag
        done = true;
      }
      git_odb_object_free(raw);
      if (done) return out;
      out = GitTag{};
      out.name = name;
      out.oid = oid;
    }
  }
  ObjectPtr obj;
  if (git_object_lookup(obj.out(), repo_, &id, GIT_OBJECT_ANY) != 0) return out;
  if (git_object_type(obj.get()) == GIT_OBJECT_TAG) {
    auto* tag = reinterpret_cast<git_tag*>(obj.get());
    out.annotated = true;
    if (const git_signature* sig = git_tag_tagger(tag)) {
      out.tagger_name = sig->name ? sig->name : "";
      out.tagger_email = sig->email ? sig->email : "";
      out.time = static_cast<std::int64_t>(sig->when.time);
    }
    if (const char* m = git_tag_message(tag)) out.message = m;
    if (git_tag_target_type(tag) == GIT_OBJECT_COMMIT) {
      out.commit = oid_str(git_tag_target_id(tag));
      return out;
    }
  }
  ObjectPtr commit;
  if (git_object_peel(commit.out(), obj.get(), GIT_OBJECT_COMMIT) == 0) out.commit = oid_str(git_object_id(commit.get()));
  return out;
}

bool GitRepo::create_annotated_tag(const std::string& name, const std::string& commit, const std::string& message,
                                   const GitIdentity& tagger) {
  git_oid target_id;
  git_check(git_oid_fromstr(&target_id, commit.c_str()), "bad commit id " + commit);
  ObjectPtr target;
  git_check(git_object_lookup(target.out(), repo_, &target_id, GIT_OBJECT_COMMIT), "cannot read commit " + commit);
  GitPtr<git_signature, git_signature_free> sig;
  // MLO_TEST_CLOCK_MS (tests only) pins the tagger time, as the registry's clock.
  const char* pinned = std::getenv("MLO_TEST_CLOCK_MS");
  int sig_rc = pinned && *pinned ? git_signature_new(sig.out(), tagger.name.c_str(), tagger.email.c_str(),
                                                     std::atoll(pinned) / 1000, 0)
                                 : git_signature_now(sig.out(), tagger.name.c_str(), tagger.email.c_str());
  git_check(sig_rc,
            "bad tagger identity '" + tagger.name + " <" + tagger.email + ">'");
  git_oid tag_id;
  int rc = git_tag_create(&tag_id, repo_, name.c_str(), target.get(), sig.get(), message.c_str(), 0);
  if (rc == GIT_EEXISTS) return false;
  git_check(rc, "cannot create tag " + name);
  return true;
}

bool GitRepo::delete_tag(const std::string& name) {
  int rc = git_tag_delete(repo_, name.c_str());
  if (rc == GIT_ENOTFOUND) return false;
  git_check(rc, "cannot delete tag " + name);
  return true;
}

}  // namespace mlo
