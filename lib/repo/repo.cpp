#include "repo/repo.h"

#include <sys/stat.h>

#include "core/error.h"
#include "core/parse.h"
#include "core/fs.h"

namespace mlo {

fs::path Repo::find_work_tree(const fs::path& start) {
  std::error_code ec;
  fs::path dir = fs::weakly_canonical(fs::absolute(start), ec);
  if (ec) dir = fs::absolute(start);
  for (fs::path p = dir;; p = p.parent_path()) {
    struct stat st;
    if (::lstat((p / ".git").c_str(), &st) == 0) return p;
    if (p == p.parent_path()) break;
  }
  throw InputError("not a git repository (or any parent up to /): " + dir.string(),
                   "run 'git init' first, or 'mlo init --git' to create both");
}

Repo::Repo(fs::path root) : root_(std::move(root)) {}
Repo::Repo(Repo&&) noexcept = default;
Repo::~Repo() = default;

Repo Repo::open(const fs::path& start) {
  fs::path root = find_work_tree(start);
  struct stat st;
  if (::stat((root / ".mlo").c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw InputError("not an mlo repository: " + root.string() + " has no .mlo directory",
                     "run 'mlo init' in the repository first");
  return Repo(root);
}

Config& Repo::config() {
  if (!config_)
    config_ = std::make_unique<Config>(Config::load(mlo_dir() / "config.yaml", mlo_dir() / "config.local.yaml",
                                                      tmp_dir() / "schema-checks"));
  return *config_;
}

Cache& Repo::cache() {
  if (!cache_) {
    fs::path dir = cache_dir();
    if (auto custom = config().get("cache.dir")) {
      fs::path p(*custom);
      dir = p.is_absolute() ? p : root_ / p;
    }
    cache_ = std::make_unique<Cache>(dir);
    cache_->set_stage_dir(tmp_dir());
  }
  return *cache_;
}

Database& Repo::index() {
  if (!index_) index_ = std::make_unique<Database>(index_path());
  return *index_;
}

std::unique_ptr<Database> Repo::swap_index(std::unique_ptr<Database> replacement) {
  std::swap(index_, replacement);
  return replacement;
}

GitRepo& Repo::git() {
  if (!git_) git_ = std::make_unique<GitRepo>(root_);
  return *git_;
}

std::string Repo::relative(const fs::path& user_path) const {
  fs::path abs = fs::absolute(user_path).lexically_normal();
  // Resolve symlinks in the parent folders (not the last part, which may be a
  // symlink the user wants tracked, or may not exist yet).
  std::error_code ec;
  fs::path parent = fs::weakly_canonical(abs.parent_path(), ec);
  if (!ec && abs.has_filename()) abs = parent / abs.filename();
  fs::path root = fs::weakly_canonical(root_, ec);
  if (ec) root = root_;
  auto rel = relative_inside(abs, root);
  if (!rel)
    throw InputError(user_path.string() + ": outside the repository " + root.string(),
                     "mlo tracks paths inside the git work tree only");
  std::string first = rel->substr(0, rel->find('/'));
  if (first == ".git" || first == ".mlo")
    throw InputError(user_path.string() + ": inside " + first + ", which mlo manages itself",
                     "choose a path outside .git and .mlo");
  return *rel;
}

std::vector<LinkMode> Repo::link_modes() {
  return parse_link_modes(config().get_or("cache.link", "reflink,copy"), ".mlo/config.yaml: cache.link");
}

namespace {
ObjectFetcher& object_fetcher() {
  static ObjectFetcher fetcher;
  return fetcher;
}
}  // namespace

void set_object_fetcher(ObjectFetcher fetcher) { object_fetcher() = std::move(fetcher); }

void Repo::ensure_objects(const std::set<std::string>& hashes, const std::string& why) {
  std::set<std::string> missing;
  for (const auto& h : hashes)
    if (!cache().has(h)) missing.insert(h);
  if (missing.empty()) return;
  if (!object_fetcher())
    throw InputError(why + ": " + std::to_string(missing.size()) + " object(s) missing from the cache",
                     "run 'mlo pull' to fetch them from a remote");
  object_fetcher()(*this, missing, why);
}

int Repo::lock_timeout_ms() {
  std::string v = config().get_or("core.lock_timeout", "10");
  // Checked before the cast: a huge or negative value would overflow int.
  auto seconds = parse_double(v);
  if (!seconds || *seconds < 0 || *seconds > 86400)
    throw InputError(".mlo/config.yaml: core.lock_timeout: expected seconds from 0 to 86400, got '" + printable(v) + "'",
                     "edit core.lock_timeout in .mlo/config.yaml (seconds, such as 10)");
  return static_cast<int>(*seconds * 1000);
}

InitResult init_repo(const fs::path& start, const InitOptions& options) {
  InitResult result;
  fs::path root;
  try {
    root = Repo::find_work_tree(start);
  } catch (const InputError&) {
    if (!options.create_git) throw;
    fs::create_directories(start);
    GitRepo::init(start);
    root = fs::absolute(start).lexically_normal();
    result.created_git = true;
  }
  result.root = root;
  fs::path mlo = root / ".mlo";
  result.already_initialized = fs::exists(mlo / "config.yaml");
  fs::create_directories(mlo / "cache" / "objects");
  fs::create_directories(mlo / "tmp");
  if (!result.already_initialized || options.force) write_file_atomic(mlo / "config.yaml", Config::default_text());
  write_file_atomic(mlo / ".gitignore",
                    "# Local state of mlo: rebuildable, never shared through git.\n"
                    "/cache/\n/index.db\n/index.db-*\n/tmp/\n/config.local.yaml\n/*.lock\n");
  Repo repo = Repo::open(root);
  repo.index();  // creates index.db (module tables are created by their modules on first use)
  repo.git().stage({".mlo/config.yaml", ".mlo/.gitignore"});
  return result;
}

}  // namespace mlo
