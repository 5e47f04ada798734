#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/unnamed_file.h"
#include "remote/layout.h"
#include "store/cache.h"
#include "test_util.h"

using namespace mlo;

TEST_CASE("link modes parse, with auto as the safe default") {
  CHECK(parse_link_modes("auto", "x") == std::vector<LinkMode>{LinkMode::reflink, LinkMode::copy});
  CHECK(parse_link_modes("hardlink, copy", "x") == std::vector<LinkMode>{LinkMode::hardlink, LinkMode::copy});
  CHECK_THROWS_AS(parse_link_modes("teleport", "cfg"), InputError);
}

TEST_CASE("an object's name as a string is the path's, byte for byte") {
  // Stat cache rows are keyed by this string, so it must not change form.
  const std::string h = sha256_hex("x");
  for (const char* root : {"/r/.mlo/cache", "/r/.mlo/cache/", "rel/cache", ""}) {
    Cache cache{fs::path(root)};
    CHECK(cache.object_file(h) == (fs::path(root) / "objects" / h.substr(0, 2) / h.substr(2)).native());
    CHECK(cache.object_path(h).native() == cache.object_file(h));
  }
}

TEST_CASE("cache stores bytes under their hash, read-only") {
  test::TempDir tmp;
  Cache cache(tmp / "cache");
  test::write(tmp / "w/a.txt", "hello");
  std::string h = cache.add_file(tmp / "w/a.txt", {LinkMode::copy});
  CHECK(h == sha256_hex("hello"));
  CHECK(cache.has(h));
  CHECK(cache.read(h) == "hello");
  struct stat st;
  REQUIRE(::stat(cache.object_path(h).c_str(), &st) == 0);
  CHECK((st.st_mode & 0222) == 0);
  CHECK(cache.verify(h));
  // Adding the same bytes again is a no-op.
  CHECK(cache.add_bytes("hello") == h);
  int count = 0;
  cache.for_each_object([&](const std::string& hash, std::uint64_t size) {
    CHECK(hash == h);
    CHECK(size == 5);
    ++count;
  });
  CHECK(count == 1);
}

TEST_CASE("copy mode keeps the workspace independent of the cache") {
  test::TempDir tmp;
  Cache cache(tmp / "cache");
  test::write(tmp / "w/a.txt", "v1");
  std::string h = cache.add_file(tmp / "w/a.txt", {LinkMode::copy});
  cache.materialize(h, tmp / "w/b.txt", {LinkMode::reflink, LinkMode::copy});
  test::write(tmp / "w/b.txt", "edited");
  CHECK(cache.read(h) == "v1");
  CHECK(cache.verify(h));
}

TEST_CASE("hardlink mode shares the inode") {
  test::TempDir tmp;
  Cache cache(tmp / "cache");
  test::write(tmp / "w/a.txt", "shared");
  std::string h = cache.add_file(tmp / "w/a.txt", {LinkMode::hardlink});
  struct stat ws, cs;
  ::stat((tmp / "w/a.txt").c_str(), &ws);
  ::stat(cache.object_path(h).c_str(), &cs);
  CHECK(ws.st_ino == cs.st_ino);
  CHECK(cache.materialize(h, tmp / "w/c.txt", {LinkMode::hardlink}) == LinkMode::hardlink);
  CHECK(cache.materialize(h, tmp / "w/d.txt", {LinkMode::symlink}) == LinkMode::symlink);
  CHECK(fs::is_symlink(tmp / "w/d.txt"));
  CHECK(read_file(tmp / "w/d.txt") == "shared");
}

TEST_CASE("verify catches a corrupted object; a missing one is a clear error") {
  test::TempDir tmp;
  Cache cache(tmp / "cache");
  std::string h = cache.add_bytes("precious");
  fs::permissions(cache.object_path(h), fs::perms::owner_write, fs::perm_options::add);
  test::write(cache.object_path(h), "tampered");
  CHECK_FALSE(cache.verify(h));
  cache.remove(h);
  CHECK_FALSE(cache.has(h));
  CHECK_THROWS_AS(cache.read(h), InputError);
  CHECK_THROWS_AS(cache.materialize(h, tmp / "x", {LinkMode::copy}), InputError);
}

TEST_CASE("an object added again keeps its inode (hardlinks to it stay shared)") {
  test::TempDir tmp;
  Cache cache(tmp / "cache");
  test::write(tmp / "w/a.txt", "same bytes");
  std::string h = cache.add_file(tmp / "w/a.txt", {LinkMode::hardlink});
  struct stat before, after;
  REQUIRE(::stat(cache.object_path(h).c_str(), &before) == 0);
  CHECK(cache.add_bytes("same bytes") == h);
  cache.add_verified_bytes(h, "same bytes");
  REQUIRE(::stat(cache.object_path(h).c_str(), &after) == 0);
  CHECK(before.st_ino == after.st_ino);
  CHECK(fs::is_empty(tmp / "cache" / "tmp"));  // no temp file left behind
}

TEST_CASE("verified bytes are remembered for this command only, by their hash's first 128 bits") {
  test::TempDir tmp;
  Cache cache(tmp / "cache");
  std::string h = sha256_hex("fetched");
  CHECK_FALSE(cache.verified_this_command(h));
  cache.add_verified_bytes(h, "fetched", false);
  CHECK(cache.read(h) == "fetched");
  CHECK(cache.verified_this_command(h));
  std::string other = cache.add_bytes("added, not fetched");
  CHECK_FALSE(cache.verified_this_command(other));
  std::string near = h;  // differs in the 128th bit's hex digit
  near[31] = near[31] == '0' ? '1' : '0';
  CHECK_FALSE(cache.verified_this_command(near));
  // Past the first 128 bits nothing is kept (16 bytes a fetched object):
  // finding such a twin of a fetched hash takes a 128-bit partial preimage.
  std::string twin = h;
  twin.back() = twin.back() == '0' ? '1' : '0';
  CHECK(cache.verified_this_command(twin));
  CHECK_FALSE(cache.verified_this_command("not a hash"));
  struct stat st;
  REQUIRE(::stat(cache.object_path(h).c_str(), &st) == 0);
  CHECK((st.st_mode & 0222) == 0);  // read-only from the start
  CHECK_FALSE(Cache(tmp / "cache").verified_this_command(h));
}

TEST_CASE("stage falls back from reflink to copy in one temp file and says which it used") {
  test::TempDir tmp;
  Cache cache(tmp / "cache");
  std::string h = cache.add_bytes("staged bytes");
  fs::create_directories(tmp / "stage");
  for (int round = 0; round < 2; ++round) {  // the second time, reflink is known not to work (or works again)
    LinkMode used = LinkMode::symlink;
    fs::path staged = cache.stage(h, tmp / "stage", {LinkMode::reflink, LinkMode::copy}, true, &used);
    CHECK(read_file(staged) == "staged bytes");
    CHECK((used == LinkMode::reflink || used == LinkMode::copy));
    struct stat st;
    REQUIRE(::stat(staged.c_str(), &st) == 0);
    CHECK((st.st_mode & 0100) != 0);  // executable as asked
    fs::remove(staged);
  }
  CHECK(fs::is_empty(tmp / "stage"));
  cache.remove(h);
  CHECK_THROWS_WITH(cache.stage(h, tmp / "stage", {LinkMode::reflink, LinkMode::copy}),
                    Catch::Contains("missing from the cache"));
  CHECK_THROWS_WITH(cache.stage(h, tmp / "stage", {LinkMode::hardlink}), Catch::Contains("missing from the cache"));
  CHECK(fs::is_empty(tmp / "stage"));
}

TEST_CASE("an unnamed file is linked in once, never over a name that is taken") {
  test::TempDir tmp;
  test::write(tmp / "d/taken", "old");
  UniqueFd dir(::open((tmp / "d").c_str(), O_RDONLY | O_DIRECTORY));
  REQUIRE(dir);
  UnnamedFile f(dir.get(), ".", 0644);
  REQUIRE(f.fd);
  REQUIRE(::write(f.fd.get(), "new", 3) == 3);
  CHECK(!f.link_as(dir.get(), "taken"));
  CHECK(errno == EEXIST);
  CHECK(read_file(tmp / "d/taken") == "old");
  REQUIRE(f.link_as(dir.get(), "fresh"));
  CHECK(read_file(tmp / "d/fresh") == "new");
  int names = 0;
  for (auto& e : fs::directory_iterator(tmp / "d")) names += e.is_regular_file();
  CHECK(names == 2);  // nothing else was left in the folder
}

TEST_CASE("write_file_at writes a new file, leaves one that stands there to the caller, and leaves no temp") {
  test::TempDir tmp;
  Cache cache(tmp / "cache");
  const std::string h = cache.add_bytes("content");
  test::write(tmp / "w/old.txt", "stale");
  UniqueFd dir(::open((tmp / "w").c_str(), O_RDONLY | O_DIRECTORY));
  REQUIRE(dir);
  const std::vector<LinkMode> modes{LinkMode::reflink, LinkMode::copy};
  REQUIRE(cache.write_file_at(h, dir.get(), "new.txt", modes, false));
  REQUIRE(cache.write_file_at(h, dir.get(), "run.sh", modes, true));
  // A file stands there: not replaced here (a temp name beside it could
  // outlive a kill -9 inside tracked data); the caller stages and renames.
  CHECK(!cache.write_file_at(h, dir.get(), "old.txt", modes, false));
  CHECK(read_file(tmp / "w/old.txt") == "stale");
  CHECK(read_file(tmp / "w/new.txt") == "content");
  CHECK(read_file(tmp / "w/run.sh") == "content");
  struct stat st;
  REQUIRE(::stat((tmp / "w/run.sh").c_str(), &st) == 0);
  CHECK((st.st_mode & 0100) != 0);  // executable as asked
  REQUIRE(::stat((tmp / "w/new.txt").c_str(), &st) == 0);
  CHECK((st.st_mode & 0111) == 0);
  CHECK((st.st_mode & 0200) != 0);  // a workspace file, not a read-only object
  int names = 0;
  for (auto& e : fs::directory_iterator(tmp / "w")) names += e.is_regular_file();
  CHECK(names == 3);
  // An edit does not reach the cache (a copy, not a link).
  test::write(tmp / "w/new.txt", "edited");
  CHECK(cache.verify(h));
  // A link mode first: the caller stages it the named way.
  CHECK(!cache.write_file_at(h, dir.get(), "linked.txt", {LinkMode::hardlink, LinkMode::copy}, false));
  CHECK(!fs::exists(tmp / "w/linked.txt"));
  // A missing object is the usual clear error.
  CHECK_THROWS_AS(cache.write_file_at(std::string(64, 'a'), dir.get(), "x.txt", modes, false), InputError);
}

TEST_CASE("adding an unreadable file fails cleanly") {
  test::TempDir tmp;
  Cache cache(tmp / "cache");
  CHECK_THROWS_AS(cache.add_file(tmp / "missing", {LinkMode::copy}), InputError);
}

// ---- hostile pack indexes and recipes (issue 11) --------------------------


namespace {
std::string index_with_blob(const std::string& size_json, const char* kind = "o") {
  std::string doc = std::string("{\"version\":1,\"pack\":\"1-a\",\"created\":1,\"blobs\":[[\"") + kind + "\",\"" +
                    sha256_hex("x") + "\",0,10," + size_json + "]]}";
  return remote::zstd_compress(doc, 1);
}
// The same blob in the canonical layout serialize_pack_index writes, which
// is read without a JSON document (CanonicalIndexReader).
std::string canonical_index_with_blob(const std::string& size_json, const char* kind = "o") {
  std::string doc = std::string("{\"blobs\":[[\"") + kind + "\",\"" + sha256_hex("x") + "\",0,10," + size_json +
                    "]],\"created\":1,\"pack\":\"1-a\",\"version\":1}";
  return remote::zstd_compress(doc, 1);
}
}  // namespace

TEST_CASE("a pack index in either layout reads the same, and a damaged canonical one is refused as JSON is") {
  auto canonical = remote::parse_pack_index(canonical_index_with_blob("1000"), "idx");
  auto other = remote::parse_pack_index(index_with_blob("1000"), "idx");
  REQUIRE(canonical.blobs.size() == 1);
  REQUIRE(other.blobs.size() == 1);
  CHECK(canonical.id == "1-a");
  CHECK(canonical.id == other.id);
  CHECK(canonical.created == other.created);
  CHECK(canonical.blobs[0].hash == other.blobs[0].hash);
  CHECK(canonical.blobs[0].length == 10);
  CHECK(canonical.blobs[0].size == other.blobs[0].size);
  for (const char* bad : {"3000000000", "18446744073709551615", "18446744073709551616", "1.777e20", "-1", "01", "1e3",
                          "\"7\"", ""})
    CHECK_THROWS_AS(remote::parse_pack_index(canonical_index_with_blob(bad), "idx"), RemoteError);
  CHECK_THROWS_AS(remote::parse_pack_index(canonical_index_with_blob("10", "x"), "idx"), RemoteError);
  CHECK_THROWS_AS(remote::parse_pack_index(canonical_index_with_blob("2000000000", "r"), "idx"), RemoteError);
  // Whitespace and an empty list: not the canonical bytes, still an index.
  std::string spaced = "{ \"blobs\": [], \"created\": 5, \"pack\": \"1-a\", \"version\": 1 }\n";
  auto empty = remote::parse_pack_index(remote::zstd_compress(spaced, 1), "idx");
  CHECK(empty.blobs.empty());
  CHECK(empty.created == 5);
  // Cut anywhere, the canonical text is refused.
  std::string whole = "{\"blobs\":[[\"o\",\"" + sha256_hex("x") + "\",0,10,1]],\"created\":1,\"pack\":\"1-a\",\"version\":1}";
  for (std::size_t cut = 1; cut < whole.size(); cut += 7)
    CHECK_THROWS_AS(remote::parse_pack_index(remote::zstd_compress(whole.substr(0, cut), 1), "idx"), RemoteError);
}

TEST_CASE("a pack index claiming a huge uncompressed size is refused before anything is allocated") {
  CHECK(remote::parse_pack_index(index_with_blob("1000"), "idx").blobs.at(0).size == 1000);
  for (const char* huge : {"3000000000", "4611686018427387904", "18446744073709551615"})
    CHECK_THROWS_AS(remote::parse_pack_index(index_with_blob(huge), "idx"), RemoteError);
  CHECK_THROWS_AS(remote::parse_pack_index(index_with_blob("2000000000", "r"), "idx"), RemoteError);
  // Floats and negatives are not sizes (a cast would be undefined behaviour).
  CHECK_THROWS_AS(remote::parse_pack_index(index_with_blob("1.777e20"), "idx"), RemoteError);
  CHECK_THROWS_AS(remote::parse_pack_index(index_with_blob("-1"), "idx"), RemoteError);
  std::string nested = "{\"version\":1,\"pack\":" + std::string(100000, '[') + "}";
  CHECK_THROWS_AS(remote::parse_pack_index(remote::zstd_compress(nested, 1), "idx"), RemoteError);
}

TEST_CASE("a recipe whose chunk sizes wrap around 2^64 is refused") {
  std::string h = sha256_hex("c");
  auto recipe = [&](const std::string& size, const std::string& a, const std::string& b) {
    return "{\"version\":1,\"size\":" + size + ",\"chunks\":[[\"" + h + "\"," + a + "],[\"" + h + "\"," + b + "]]}";
  };
  CHECK(remote::parse_recipe(recipe("30", "10", "20"), "r").chunks.size() == 2);
  // 2^64 - 5 + 10 wraps to 5: the sum would "match" a size of 5.
  CHECK_THROWS_AS(remote::parse_recipe(recipe("5", "18446744073709551611", "10"), "r"), RemoteError);
  CHECK_THROWS_AS(remote::parse_recipe(recipe("31", "10", "20"), "r"), RemoteError);
  CHECK_THROWS_AS(remote::parse_recipe(recipe("30", "10.5", "19.5"), "r"), RemoteError);
}
