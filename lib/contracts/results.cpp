#include "contracts/results.h"

#include <chrono>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "index/database.h"
#include "repo/repo.h"
#include "store/cache.h"

namespace fs = std::filesystem;

namespace mlo::contracts {

namespace {

const Migrations kMigrations = {
    "contracts",
    {"CREATE TABLE data_validations(id TEXT PRIMARY KEY, dataset TEXT NOT NULL, version TEXT NOT NULL,"
     " contract_digest TEXT NOT NULL, passed INTEGER NOT NULL, failed_checks INTEGER NOT NULL,"
     " rows INTEGER NOT NULL, created_at REAL NOT NULL);"
     "CREATE INDEX data_validations_by_version ON data_validations(dataset, version, created_at);"}};

fs::path results_log(Repo& repo) { return repo.cache_dir() / "contracts" / "results.log"; }

void index_result(Database& db, const std::string& id, const nlohmann::json& r) {
  auto st = db.prepare(
      "INSERT OR REPLACE INTO data_validations(id, dataset, version, contract_digest, passed, failed_checks, rows,"
      " created_at) VALUES(?,?,?,?,?,?,?,?)");
  st.bind(1, id).bind(2, r.value("dataset", "")).bind(3, r["version"].is_string() ? r["version"].get<std::string>() : "");
  st.bind(4, r.value("contract_digest", "")).bind(5, static_cast<std::int64_t>(r.value("passed", false)));
  st.bind(6, r.value("failed_checks", std::int64_t{0})).bind(7, r.value("rows", std::int64_t{0}));
  st.bind(8, r.value("created_at", 0.0));
  st.run();
}

}  // namespace

std::string record_validation(Repo& repo, const DatasetResult& result) {
  nlohmann::json doc = to_json({result})["datasets"][0];
  doc["created_at"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Values are the data's bytes: not always UTF-8.
  std::string id = repo.cache().add_bytes(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  fs::create_directories(results_log(repo).parent_path());
  {
    std::ofstream f(results_log(repo), std::ios::app);
    f << "result " << id << "\n";
    f.flush();
    if (!f) throw InputError(results_log(repo).string() + ": cannot append", "check permissions and free space");
  }
  Database& db = repo.index();
  db.migrate(kMigrations);
  Transaction tx(db);
  index_result(db, id, doc);
  tx.commit();
  return id;
}

std::optional<StoredValidation> latest_validation(Repo& repo, const std::string& dataset, const std::string& version) {
  if (version.size() < 12) return std::nullopt;
  Database& db = repo.index();
  db.migrate(kMigrations);
  auto st = db.prepare(
      "SELECT id, dataset, version, contract_digest, passed, failed_checks, rows, created_at FROM data_validations"
      " WHERE dataset = ? AND substr(version, 1, ?) = ? ORDER BY created_at DESC LIMIT 1");
  st.bind(1, dataset).bind(2, static_cast<std::int64_t>(version.size())).bind(3, version);
  if (!st.step()) return std::nullopt;
  StoredValidation v;
  v.id = st.text(0);
  v.dataset = st.text(1);
  v.version = st.text(2);
  v.contract_digest = st.text(3);
  v.passed = st.int64(4) != 0;
  v.failed_checks = static_cast<std::uint64_t>(st.int64(5));
  v.rows = static_cast<std::uint64_t>(st.int64(6));
  v.created_at = st.real(7);
  return v;
}

void rebuild_contracts_index(Repo& repo) {
  Database& db = repo.index();
  db.migrate(kMigrations);
  Transaction tx(db);
  db.exec("DELETE FROM data_validations;");
  if (auto log = read_file_if_exists(results_log(repo))) {
    std::size_t pos = 0;
    while (pos < log->size()) {
      std::size_t nl = log->find('\n', pos);
      if (nl == std::string::npos) nl = log->size();
      std::string line = log->substr(pos, nl - pos);
      pos = nl + 1;
      if (!line.starts_with("result ")) continue;
      std::string id = line.substr(7);
      if (!is_sha256_hex(id) || !repo.cache().has(id)) continue;
      auto j = nlohmann::json::parse(repo.cache().read(id), nullptr, false);
      if (j.is_object() && j.contains("version")) index_result(db, id, j);
    }
  }
  tx.commit();
}

}  // namespace mlo::contracts
