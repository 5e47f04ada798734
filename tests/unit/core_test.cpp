#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <atomic>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/parallel.h"
#include "core/process.h"
#include "test_util.h"

using namespace mlo;

TEST_CASE("sha256 matches the FIPS 180-2 test vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  std::string million_a(1000000, 'a');
  h.update(million_a.substr(0, 333333));
  h.update(million_a.substr(333333));
  CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256_file hashes a file and names an unreadable one") {
  test::TempDir tmp;
  test::write(tmp / "f", "abc");
  CHECK(sha256_file(tmp / "f") == sha256_hex("abc"));
  CHECK_THROWS_AS(sha256_file(tmp / "missing"), InputError);
  CHECK(is_sha256_hex(sha256_hex("x")));
  CHECK_FALSE(is_sha256_hex("ABC"));
  CHECK_FALSE(is_sha256_hex(std::string(64, 'g')));
}

TEST_CASE("atomic files appear whole or not at all") {
  test::TempDir tmp;
  write_file_atomic(tmp / "a.txt", "one");
  CHECK(read_file(tmp / "a.txt") == "one");
  {
    AtomicFile f(tmp / "a.txt");
    f.write("two");
    // not committed: the old content stays and the temp file goes away
  }
  CHECK(read_file(tmp / "a.txt") == "one");
  int entries = 0;
  for (auto& e : fs::directory_iterator(tmp.path())) { (void)e; ++entries; }
  CHECK(entries == 1);
  CHECK_FALSE(read_file_if_exists(tmp / "nope").has_value());
}

TEST_CASE("relative paths stay inside their base") {
  CHECK(relative_inside("/r/a/b", "/r").value() == "a/b");
  CHECK(relative_inside("/r", "/r").value() == "");
  CHECK(relative_inside("/r/a/../b", "/r").value() == "b");
  CHECK_FALSE(relative_inside("/r/../x", "/r").has_value());
  CHECK_FALSE(relative_inside("/other", "/r").has_value());
  CHECK(is_safe_relative("data/train.csv"));
  CHECK_FALSE(is_safe_relative("../x"));
  CHECK_FALSE(is_safe_relative("a/../../x"));
  CHECK_FALSE(is_safe_relative("/etc/passwd"));
  CHECK_FALSE(is_safe_relative("a//b"));
  CHECK_FALSE(is_safe_relative(""));
}

TEST_CASE("parallel_for visits every item once and propagates errors") {
  std::vector<std::atomic<int>> seen(1000);
  parallel_for(seen.size(), 4, [&](size_t i) { seen[i]++; });
  for (auto& s : seen) CHECK(s.load() == 1);
  CHECK_THROWS_AS(parallel_for(100, 4, [](size_t i) { if (i == 50) throw InputError("boom"); }), InputError);
}

TEST_CASE("run_process captures output and exit status") {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo out; echo err >&2; cat; exit 3"};
  spec.stdin_data = "in";
  spec.env["MLO_X"] = "y";
  auto r = run_process(spec);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "out\nin");
  CHECK(r.err == "err\n");
  spec.argv = {"sh", "-c", "printf %s \"$MLO_X\""};
  spec.stdin_data.clear();
  CHECK(run_process(spec).out == "y");
  spec.argv = {"mlo-no-such-program-xyz"};
  CHECK_THROWS_AS(run_process(spec), InputError);
  spec.argv = {"sh", "-c", "kill -9 $$"};
  CHECK(run_process(spec).term_signal == 9);
}

TEST_CASE("interrupt flag turns into InterruptedError") {
  set_interrupted(true);
  CHECK_THROWS_AS(check_interrupted(), InterruptedError);
  set_interrupted(false);
  CHECK_NOTHROW(check_interrupted());
}
