#include <catch2/catch.hpp>

#include "core/error.h"
#include "index/database.h"
#include "test_util.h"

using namespace mlo;

TEST_CASE("migrations run once per module, in order") {
  test::TempDir tmp;
  Migrations m{"things", {"CREATE TABLE things(id INTEGER PRIMARY KEY, name TEXT)",
                          "ALTER TABLE things ADD COLUMN size INTEGER DEFAULT 0"}};
  {
    Database db(tmp / "index.db");
    db.migrate(m);
    CHECK(db.schema_version("things") == 2);
    db.prepare("INSERT INTO things(name, size) VALUES(?, ?)").bind(1, "a").bind(2, std::int64_t{7}).run();
  }
  {
    Database db(tmp / "index.db");
    db.migrate(m);  // already at 2: nothing re-runs, data kept
    auto st = db.prepare("SELECT name, size FROM things");
    REQUIRE(st.step());
    CHECK(st.text(0) == "a");
    CHECK(st.int64(1) == 7);
  }
  {
    Database db(tmp / "index.db");
    Migrations older{"things", {"CREATE TABLE things(id INTEGER PRIMARY KEY, name TEXT)"}};
    CHECK_THROWS_AS(db.migrate(older), InputError);
  }
}

TEST_CASE("transactions roll back unless committed") {
  test::TempDir tmp;
  Database db(tmp / "index.db");
  db.exec("CREATE TABLE t(x INTEGER)");
  {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES(1)");
  }
  CHECK_FALSE(db.prepare("SELECT x FROM t").step());
  {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES(2)");
    tx.commit();
  }
  auto st = db.prepare("SELECT x FROM t");
  REQUIRE(st.step());
  CHECK(st.int64(0) == 2);
}

TEST_CASE("a corrupt index names the rebuild command") {
  test::TempDir tmp;
  test::write(tmp / "index.db", std::string(4096, 'x'));
  try {
    Database db(tmp / "index.db");
    FAIL("expected an error");
  } catch (const InputError& e) {
    CHECK(e.hint().find("mlo index rebuild") != std::string::npos);
  }
}
