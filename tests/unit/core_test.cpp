#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/hash_set.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/parallel.h"
#include "core/parse.h"
#include "core/process.h"
#include "core/safe_path.h"
#include "test_util.h"

using namespace mlo;

TEST_CASE("sha256 matches the FIPS 180-2 test vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // An empty view whose data() is null (an S3 request without a body): UBSan
  // (make test-asan) caught memcpy being handed that null pointer.
  CHECK(sha256_hex(std::string_view()) == sha256_hex(""));
  CHECK(hmac_sha256(std::string_view(), std::string_view()) == hmac_sha256("", ""));
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  std::string million_a(1000000, 'a');
  h.update(million_a.substr(0, 333333));
  h.update(million_a.substr(333333));
  CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

namespace {

std::string hex_of(const unsigned char* d, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (std::size_t i = 0; i < n; ++i) hex += {digits[d[i] >> 4], digits[d[i] & 15]};
  return hex;
}

// The reference: OpenSSL's SHA-256 of the same bytes, in hex.
std::string openssl_sha256(std::string_view data) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), d, &n, EVP_sha256(), nullptr);
  return hex_of(d, n);
}

std::string random_bytes(std::size_t n, std::mt19937& rng) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Hex of a raw 32-byte state after one call of a block function.
std::string blocks_hex(void (*fn)(std::uint32_t*, const unsigned char*, std::size_t), const std::string& data) {
  std::uint32_t st[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  fn(st, reinterpret_cast<const unsigned char*>(data.data()), data.size() / 64);
  std::string out;
  for (auto w : st) out += std::to_string(w) + ",";
  return out;
}

}  // namespace

TEST_CASE("the built-in sha256 agrees with OpenSSL on every length up to 1100 and in any chunking") {
  std::mt19937 rng(14);
  for (std::size_t n = 0; n <= 1100; ++n) {
    std::string data = random_bytes(n, rng);
    INFO("length " << n);
    REQUIRE(sha256_hex(data) == openssl_sha256(data));
    // The same bytes fed in random pieces (crossing block edges).
    Sha256 h;
    for (std::size_t at = 0; at < n;) {
      std::size_t take = std::min<std::size_t>(n - at, rng() % 150);
      h.update(data.data() + at, take);
      at += take;
    }
    REQUIRE(h.hex_digest() == openssl_sha256(data));
  }
  std::string big = random_bytes((1 << 20) + 37, rng);
  CHECK(sha256_hex(big) == openssl_sha256(big));
}

TEST_CASE("both sha256 block functions give the same state") {
  std::mt19937 rng(7);
  std::string data = random_bytes(64 * 9, rng);
  if (!detail::sha256_has_shani()) SUCCEED("no SHA-NI on this CPU: only the portable path runs");
  else CHECK(blocks_hex(detail::sha256_blocks_shani, data) == blocks_hex(detail::sha256_blocks_portable, data));
  CHECK(std::string(sha256_implementation()) == (detail::sha256_has_shani() ? "SHA-NI" : "portable"));
}

TEST_CASE("hmac_sha256 matches RFC 4231 and OpenSSL for short and long keys") {
  auto hex = [](const std::string& raw) { return hex_of(reinterpret_cast<const unsigned char*>(raw.data()), raw.size()); };
  // RFC 4231 test case 2.
  CHECK(hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  std::mt19937 rng(4231);
  for (std::size_t klen : {0, 1, 32, 63, 64, 65, 131}) {
    std::string key = random_bytes(klen, rng), msg = random_bytes(klen * 3 + 5, rng);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
         msg.size(), d, &n);
    INFO("key length " << klen);
    CHECK(hmac_sha256(key, msg) == std::string(reinterpret_cast<char*>(d), n));
  }
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

TEST_CASE("HashSet holds each hash once, as bytes, and keeps odd names aside") {
  std::string a = sha256_hex("a"), b = sha256_hex("b");
  Sha256Bytes raw{};
  REQUIRE(sha256_from_hex(a, raw));
  CHECK(sha256_to_hex(raw) == a);
  CHECK_FALSE(sha256_from_hex("ABC", raw));
  CHECK_FALSE(sha256_from_hex(std::string(64, 'G'), raw));
  // Every byte value in one place: only 0-9 and a-f pass, in both checks.
  for (int c = 0; c < 256; ++c) {
    std::string h = a;
    h[37] = static_cast<char>(c);
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    CHECK(is_sha256_hex(h) == hex);
    CHECK(sha256_from_hex(h, raw) == hex);
    if (hex) CHECK(sha256_to_hex(raw) == h);
  }
  HashSet set;
  set.insert(b);
  set.insert(a);
  set.insert(b);
  set.insert("not-a-hash");
  CHECK(set.size() == 3);
  CHECK(set.contains(a));
  CHECK(set.contains("not-a-hash"));
  CHECK_FALSE(set.contains(sha256_hex("c")));
  std::vector<std::string> seen;
  set.for_each([&](const std::string& h) { seen.push_back(h); });
  std::vector<std::string> sorted_hex = {std::min(a, b), std::max(a, b), "not-a-hash"};
  CHECK(seen == sorted_hex);
  set.insert(sha256_hex("c"));  // an insert after a read is sorted in on the next
  CHECK(set.contains(sha256_hex("c")));
  CHECK(set.size() == 4);
}

TEST_CASE("HashSet drops repeats as it fills, so a hash inserted a million times costs one slot") {
  std::vector<std::string> three = {sha256_hex("x"), sha256_hex("y"), sha256_hex("z")};
  HashSet set;
  for (int i = 0; i < 1000000; ++i) set.insert(three[i % 3]);
  // Compacted whenever the unsorted part outgrew the sorted one (and 65,536):
  // the vector never held much more than that at once.
  CHECK(set.sorted().capacity() < 300000);
  CHECK(set.size() == 3);
  for (const auto& h : three) CHECK(set.contains(h));
}

TEST_CASE("sha256_file reports the bytes of every block it reads") {
  test::TempDir tmp;
  std::string big(3 * (1 << 20) + 5, 'x');  // more than one 1 MiB block
  test::write(tmp / "big", big);
  std::vector<std::size_t> blocks;
  CHECK(sha256_file(tmp / "big", [&](std::size_t n) { blocks.push_back(n); }) == sha256_hex(big));
  REQUIRE(blocks.size() >= 4);
  std::size_t sum = 0;
  for (auto n : blocks) sum += n;
  CHECK(sum == big.size());
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

TEST_CASE("run_process: cwd, and a child that cannot start exits 127 (posix_spawn)") {
  auto dir = std::filesystem::temp_directory_path() / ("mlo-proc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "pwd -P"};
  spec.cwd = dir;
  CHECK(run_process(spec).out == std::filesystem::canonical(dir).string() + "\n");
  spec.cwd = dir / "missing";
  spec.stdin_data = std::string(1 << 20, 'x');  // no reader: must not raise SIGPIPE
  auto r = run_process(spec);
  CHECK(r.exit_code == 127);
  CHECK(r.term_signal == 0);
  auto script = dir / "not-a-program";
  std::ofstream(script) << "\x7f" << "ELF garbage";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  spec.cwd.clear();
  spec.argv = {script.string()};
  CHECK(run_process(spec).exit_code == 127);
  std::filesystem::remove_all(dir);
}

TEST_CASE("interrupt flag turns into InterruptedError") {
  set_interrupted(true);
  CHECK_THROWS_AS(check_interrupted(), InterruptedError);
  set_interrupted(false);
  CHECK_NOTHROW(check_interrupted());
}

TEST_CASE("checked_relative refuses every path that could leave its root") {
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/.", "a\\..\\b", "a/\x01b"})
    CHECK_FALSE(is_checked_relative(bad));
  CHECK_FALSE(is_checked_relative(std::string("a\0b", 3)));
  CHECK_FALSE(is_checked_relative(std::string(kMaxPathBytes + 1, 'a')));
  std::string deep;
  for (std::size_t i = 0; i <= kMaxPathDepth; ++i) deep += "d/";
  deep += "f";
  CHECK_FALSE(is_checked_relative(deep));
  for (const char* good : {"a", "data/train.csv", ".hidden/x", "a..b/c", "caf\xc3\xa9"}) CHECK(is_checked_relative(good));
  CHECK_THROWS_WITH(checked_relative("../../home/x", "runs/abc.json"),
                    Catch::Contains("runs/abc.json") && Catch::Contains("unsafe path"));
}

TEST_CASE("TreeWriter never writes or deletes through a symlink") {
  test::TempDir tmp;
  fs::create_directories(tmp / "repo");
  fs::create_directories(tmp / "outside");
  test::write(tmp / "outside/keep.txt", "precious");
  fs::create_symlink(tmp / "outside", tmp / "repo/data");
  TreeWriter w(tmp / "repo", "test");

  // Writes under a symlinked folder are refused and touch nothing outside.
  CHECK_THROWS_WITH(w.write_file("data/keep.txt", "evil"), Catch::Contains("symbolic link"));
  CHECK_THROWS_WITH(w.check_parents("data/new.txt", true), Catch::Contains("symbolic link"));
  CHECK(read_file(tmp / "outside/keep.txt") == "precious");
  CHECK_FALSE(fs::exists(tmp / "outside/new.txt"));
  // Removing inside a symlinked folder is refused; removing the link removes only the link.
  CHECK_THROWS_WITH(w.remove_all("data/keep.txt"), Catch::Contains("symbolic link"));
  CHECK(w.remove_all("data"));
  CHECK_FALSE(fs::is_symlink(tmp / "repo/data"));
  CHECK(read_file(tmp / "outside/keep.txt") == "precious");

  // A symlink as the last component is replaced, not written through.
  fs::create_symlink(tmp / "outside/keep.txt", tmp / "repo/f.txt");
  w.write_file("f.txt", "new");
  CHECK_FALSE(fs::is_symlink(tmp / "repo/f.txt"));
  CHECK(read_file(tmp / "repo/f.txt") == "new");
  CHECK(read_file(tmp / "outside/keep.txt") == "precious");

  // place() moves a temp file in, creating real parent folders.
  test::write(tmp / "t", "moved");
  w.place(tmp / "t", "a/b/c.txt");
  CHECK(read_file(tmp / "repo/a/b/c.txt") == "moved");
  CHECK(w.remove_all("a"));
  CHECK_FALSE(w.remove_all("a"));
  CHECK_FALSE(w.remove_all("missing/x"));
  CHECK_THROWS_AS(w.write_file("../escape", "x"), InputError);
  CHECK_FALSE(fs::exists(tmp / "escape"));
}

TEST_CASE("closest_match suggests a command or key only when it is a likely typo") {
  CHECK(edit_distance("stauts", "status") == 1);  // adjacent swap counts once
  CHECK(edit_distance("", "abc") == 3);
  std::vector<std::string> words{"status", "stages", "add", "checkout"};
  CHECK(closest_match("stauts", words) == "status");
  CHECK(closest_match("stagse", words) == "stages");
  CHECK(closest_match("stat", words) == "status");  // unique prefix
  CHECK(closest_match("xyz", words).empty());
  CHECK(closest_match("sta", words).empty());  // prefix of two, too far from both
}

TEST_CASE("checked number parsing never throws a raw exception or casts out of range") {
  CHECK(parse_u64("0") == std::optional<std::uint64_t>(0));
  CHECK(parse_u64("18446744073709551615") == std::optional<std::uint64_t>(UINT64_MAX));
  CHECK_FALSE(parse_u64("18446744073709551616"));
  CHECK_FALSE(parse_u64("99999999999999999999999"));
  CHECK_FALSE(parse_u64("-1"));
  CHECK_FALSE(parse_u64("+1"));
  CHECK_FALSE(parse_u64("1x"));
  CHECK_FALSE(parse_u64(""));
  CHECK(parse_i64("-9223372036854775808") == std::optional<std::int64_t>(INT64_MIN));
  CHECK_FALSE(parse_i64("9223372036854775808"));
  CHECK(parse_double("1.5") == std::optional<double>(1.5));
  CHECK_FALSE(parse_double("1e999"));
  CHECK_FALSE(parse_double("nan"));
  CHECK_FALSE(parse_double("1.5s"));
  CHECK_THROWS_AS(parse_u64_or_throw("99999999999999999999999", "--since"), InputError);
}

TEST_CASE("JSON from untrusted text: depth bounded before parsing, errors never echo the document") {
  CHECK(json_depth_within("[[[]]]", 3));
  CHECK_FALSE(json_depth_within("[[[[]]]]", 3));
  CHECK(json_depth_within("[\"[[[[[[\"]", 1));  // brackets inside strings do not count
  CHECK(json_depth_within("[\"\\\"[[[[\"]", 1));
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  try {
    parse_json_checked(deep, "doc.json");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("nested more than") != std::string::npos);
    CHECK(std::string(e.what()).size() < 300);
  }
  std::string long_garbage = "[\"" + std::string(100000, 'x');
  try {
    parse_json_checked(long_garbage, "doc.json");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).size() < 400);
  }
  CHECK(json_u64(nlohmann::json::parse("7")) == std::optional<std::uint64_t>(7));
  CHECK_FALSE(json_u64(nlohmann::json::parse("1.777e20")));
  CHECK_FALSE(json_u64(nlohmann::json::parse("-3")));
  CHECK_FALSE(json_u64(nlohmann::json::parse("\"7\"")));
}

TEST_CASE("UTF-8 validation and printable names") {
  CHECK(is_valid_utf8("plain"));
  CHECK(is_valid_utf8("caf\xc3\xa9"));
  CHECK_FALSE(is_valid_utf8("bad\xff"));
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // a surrogate
  CHECK_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
  CHECK(printable("a\xff" "b\n") == "a\\xffb\\x0a");
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");
}
