// lib/remote: SigV4 known answers (AWS's published examples), URL parsing,
// chunking, pack indexes, and push/fetch round trips through a directory
// remote (the HTTP and S3 backends are tested against real servers in
// tests/cli/remote_*.sh).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "core/error.h"
#include "core/hash.h"
#include "remote/backend.h"
#include "remote/gc_trash.h"
#include "remote/layout.h"
#include "remote/sigv4.h"
#include "remote/transfer.h"
#include "store/cache.h"
#include "test_util.h"

using namespace mlo;
using namespace mlo::remote;

namespace {

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

}  // namespace

TEST_CASE("SigV4: AWS S3 GET object example (examplebucket, Range)", "[remote_test]") {
  // docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "GET Object".
  AwsCredentials creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  SigV4Request req;
  req.method = "GET";
  req.canonical_uri = "/test.txt";
  req.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                 {"range", "bytes=0-9"},
                 {"x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
                 {"x-amz-date", "20130524T000000Z"}};
  req.payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  SigV4Result r = sigv4_sign(req, creds, "us-east-1", "s3", "20130524T000000Z");
  CHECK(r.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  CHECK(r.authorization ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("SigV4: AWS test suite get-vanilla and get-utf8", "[remote_test]") {
  AwsCredentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  SigV4Request req;
  req.method = "GET";
  req.canonical_uri = "/";
  req.headers = {{"host", "example.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}};
  req.payload_hash = sha256_hex("");
  SigV4Result r = sigv4_sign(req, creds, "us-east-1", "service", "20150830T123600Z");
  CHECK(r.canonical_request ==
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(r.signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  // get-utf8: the path is encoded once ("/ሴ" -> "/%E1%88%B4").
  req.canonical_uri = uri_encode("/\xe1\x88\xb4", true);
  CHECK(req.canonical_uri == "/%E1%88%B4");
}

TEST_CASE("SigV4: canonical query sorts and encodes", "[remote_test]") {
  CHECK(sigv4_canonical_query({{"prefix", "a b/c"}, {"list-type", "2"}}) == "list-type=2&prefix=a%20b%2Fc");
  CHECK(sigv4_canonical_query({{"uploads", ""}}) == "uploads=");
  CHECK(amz_date_now().size() == 16);
}

TEST_CASE("remote URLs: kinds and malformed ones", "[remote_test]") {
  CHECK(url_kind("s3://bucket/prefix") == "s3");
  CHECK(url_kind("s3://bucket") == "s3");
  CHECK(url_kind("https://host/path") == "http");
  CHECK(url_kind("http://127.0.0.1:8080") == "http");
  CHECK(url_kind("/srv/remote") == "dir");
  CHECK(url_kind("file:///srv/remote") == "dir");
  CHECK_THROWS_AS(url_kind(""), InputError);
  CHECK_THROWS_AS(url_kind("s3://"), InputError);
  CHECK_THROWS_AS(url_kind("s3://Bad_Bucket/x"), InputError);
  CHECK_THROWS_AS(url_kind("ftp://host/x"), InputError);
  CHECK_THROWS_AS(url_kind("relative/path"), InputError);
  CHECK_THROWS_AS(url_kind("file://relative"), InputError);
  CHECK_THROWS_AS(url_kind("http:///nohost"), InputError);
}

TEST_CASE("xml_values reads S3 and WebDAV answers", "[remote_test]") {
  std::string xml =
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b</Key><Size>3</Size></Contents>"
      "<Contents><Key>c</Key><Size>4</Size></Contents></ListBucketResult>";
  CHECK(xml_values(xml, "Key") == std::vector<std::string>{"a&b", "c"});
  CHECK(xml_values(xml, "Size") == std::vector<std::string>{"3", "4"});
  CHECK(xml_values("<D:multistatus><D:href>/x/y</D:href></D:multistatus>", "href") ==
        std::vector<std::string>{"/x/y"});
}

TEST_CASE("backoff grows and stays bounded", "[remote_test]") {
  for (int a = 0; a < 20; ++a) {
    int d = backoff_delay_ms(100, a);
    CHECK(d >= 50);
    CHECK(d <= 20000);
  }
  CHECK(http_status_retryable(503));
  CHECK(http_status_retryable(429));
  CHECK_FALSE(http_status_retryable(404));
  CHECK_FALSE(http_status_retryable(403));
  CHECK_FALSE(http_status_retryable(501));  // not implemented: the same answer every time
  CHECK_FALSE(http_status_retryable(505));
  CHECK(http_status_retryable(500));
  CHECK(http_status_retryable(502));
}

TEST_CASE("content-defined chunking: bounded sizes, local effect of edits", "[remote_test]") {
  std::string data = random_bytes(8 << 20, 1);
  auto a = cdc_split(data);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    total += a[i];
    CHECK(a[i] <= 512 * 1024);
    if (i + 1 < a.size()) CHECK(a[i] >= 32 * 1024);
  }
  CHECK(total == data.size());
  CHECK(a.size() > 16);
  CHECK(a.size() < 256);
  // Insert bytes in the middle: most chunks keep their hashes.
  std::string edited = data.substr(0, 4 << 20) + "inserted bytes" + data.substr(4 << 20);
  auto hashes = [](const std::string& d) {
    std::set<std::string> out;
    std::uint64_t off = 0;
    for (auto len : cdc_split(d)) {
      out.insert(sha256_hex(std::string_view(d).substr(off, len)));
      off += len;
    }
    return out;
  };
  auto ha = hashes(data), hb = hashes(edited);
  std::size_t shared = 0;
  for (auto& h : hb) shared += ha.count(h);
  CHECK(shared + 3 >= ha.size());
  // Deterministic: the same bytes always give the same boundaries.
  CHECK(cdc_split(data) == a);
}

TEST_CASE("pack index and recipe round trip; damage is reported", "[remote_test]") {
  PackIndex idx;
  idx.id = new_pack_id();
  idx.created = pack_time(idx.id);
  CHECK(idx.created > 1700000000);
  idx.blobs.push_back({BlobKind::object, sha256_hex("x"), 0, 10, 1});
  idx.blobs.push_back({BlobKind::chunk, sha256_hex("y"), 10, 20, 2});
  // The text is what a JSON library writes for the same document (the
  // format of every pack index already on remotes).
  nlohmann::json blobs = nlohmann::json::array();
  blobs.push_back({"o", sha256_hex("x"), 0, 10, 1});
  blobs.push_back({"c", sha256_hex("y"), 10, 20, 2});
  std::string expected =
      nlohmann::json({{"version", 1}, {"pack", idx.id}, {"created", idx.created}, {"blobs", blobs}}).dump();
  CHECK(zstd_decompress(serialize_pack_index(idx), expected.size(), "test") == expected);
  PackIndex back = parse_pack_index(serialize_pack_index(idx), "test");
  REQUIRE(back.blobs.size() == 2);
  CHECK(back.blobs[1].kind == BlobKind::chunk);
  CHECK(back.blobs[1].offset == 10);
  CHECK_THROWS_AS(parse_pack_index("garbage", "test"), RemoteError);
  Recipe r{3, {{sha256_hex("a"), 1}, {sha256_hex("bc"), 2}}};
  CHECK(parse_recipe(serialize_recipe(r), "t").chunks == r.chunks);
  CHECK_THROWS_AS(parse_recipe(R"({"size":5,"chunks":[]})", "t"), RemoteError);
  CHECK_THROWS_AS(zstd_decompress("not zstd", 3, "t"), RemoteError);
}

TEST_CASE("directory remote: push, fetch, dedup, corruption", "[remote_test]") {
  test::TempDir tmp;
  Cache a(tmp / "a"), b(tmp / "b");
  RemoteConfig rc{"origin", (tmp / "remote").string(), {}};
  auto backend = open_backend(rc);
  REQUIRE(backend->create_root());
  std::set<std::string> hashes;
  for (int i = 0; i < 300; ++i) hashes.insert(a.add_bytes("small object " + std::to_string(i), false));
  std::string big = random_bytes(5 << 20, 7);
  std::string big_hash = a.add_bytes(big, false);
  hashes.insert(big_hash);
  TransferOptions opts;
  opts.jobs = 3;
  opts.pack_size = 64 * 1024;

  TransferStats s = push_objects(*backend, a, tmp / "idx-a", hashes, opts);
  CHECK(s.objects == 301);
  CHECK(s.missing.empty());
  CHECK(s.packs >= 2);
  // 300 small objects share packs (far fewer uploads than objects); the big
  // object's chunks are each near the pack size, and how many packs the three
  // workers cut depends on scheduling, so the bound is loose.
  CHECK(s.packs < 100);
  // Nothing new: nothing sent.
  TransferStats again = push_objects(*backend, a, tmp / "idx-a", hashes, opts);
  CHECK(again.objects == 0);
  CHECK(again.up_to_date == 301);
  CHECK(again.packs == 0);

  TransferStats f = fetch_objects(*backend, b, tmp / "idx-b", hashes, opts);
  CHECK(f.missing.empty());
  CHECK(f.objects == 301);
  for (auto& h : hashes) CHECK(b.verify(h));
  CHECK(b.read(big_hash) == big);

  // A second version of the big object shares most chunks.
  std::string v2 = big;
  for (std::size_t p = 100000; p < v2.size(); p += 1500000) v2[p] ^= 0x5a;
  std::string v2_hash = a.add_bytes(v2, false);
  TransferStats s2 = push_objects(*backend, a, tmp / "idx-a", {v2_hash}, opts);
  CHECK(s2.reused_chunks > 5);
  CHECK(s2.wire_bytes < v2.size() * 7 / 10);
  TransferStats f2 = fetch_objects(*backend, b, tmp / "idx-b", {v2_hash}, opts);
  CHECK(b.read(v2_hash) == v2);

  // Unknown objects are reported missing, not invented.
  std::string ghost = sha256_hex("never pushed");
  CHECK(fetch_objects(*backend, b, tmp / "idx-b", {ghost}, opts).missing == std::vector<std::string>{ghost});

  // Corrupt every pack on the remote: a fetch into an empty cache fails
  // with a clear error and stores nothing.
  for (auto& blob : backend->list("packs/")) {
    if (blob.key.find(".pack") == std::string::npos) continue;
    auto path = tmp / "remote" / blob.key;
    std::string bytes = read_file(path);
    for (std::size_t i = 0; i < bytes.size(); i += 97) bytes[i] ^= 1;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    write_file_atomic(path, bytes, false);
  }
  Cache c(tmp / "c");
  CHECK_THROWS_AS(fetch_objects(*backend, c, tmp / "idx-c", hashes, opts), RemoteError);
  std::size_t stored = 0;
  c.for_each_object([&](const std::string& h, std::uint64_t) {
    CHECK(c.verify(h));
    ++stored;
  });
  CHECK(stored <= hashes.size());
}

TEST_CASE("directory remote: a missing folder is an error, never an empty remote", "[remote_test]") {
  test::TempDir tmp;
  RemoteConfig rc{"typo", (tmp / "no-such-mount" / "store").string(), {}};
  auto backend = open_backend(rc);
  // Reads and writes alike: nothing is created on the way.
  CHECK_THROWS_AS(backend->list("packs/"), RemoteError);
  CHECK_THROWS_AS(backend->has("packs/x.idx"), RemoteError);
  CHECK_THROWS_AS(backend->get("pushes/x.json"), RemoteError);
  CHECK_THROWS_AS(backend->put("locks/gc-1.json", "{}"), RemoteError);
  CHECK_FALSE(fs::exists(tmp / "no-such-mount"));
  try {
    backend->list("packs/");
  } catch (const RemoteError& e) {
    CHECK(std::string(e.what()).find("remote folder " + rc.url + " does not exist") != std::string::npos);
  }
  // Asked for (push --create): made, folders above it too; then it works.
  CHECK(backend->create_root());
  CHECK_FALSE(backend->create_root());
  backend->put("locks/gc-1.json", "{}");
  CHECK(backend->list("locks/").size() == 1);
}

TEST_CASE("remote trash: killed pushes' leftovers are kept, never restored", "[remote_test]") {
  test::TempDir tmp;
  RemoteConfig rc{"origin", (tmp / "remote").string(), {}};
  auto backend = open_backend(rc);
  REQUIRE(backend->create_root());
  backend->put("packs/0000000100-00000000000000aa.pack", "orphan");
  backend->put("runs/x.json", "{}");
  test::write(tmp / "remote" / "runs" / ".x.json.tmp.1.0", "partial");
  std::string batch = new_trash_batch(200);
  CHECK(move_to_trash(*backend, batch, "packs/0000000100-00000000000000aa.pack"));
  CHECK(move_to_trash(*backend, batch, "runs/.x.json.tmp.1.0"));
  CHECK_FALSE(move_to_trash(*backend, batch, "runs/.gone.tmp.1.0"));
  CHECK_FALSE(backend->has("packs/0000000100-00000000000000aa.pack"));
  CHECK(backend->get("trash/" + batch + "_runs~.x.json.tmp.1.0") == std::optional<std::string>("partial"));
  auto trash = list_trash(*backend);
  REQUIRE(trash.size() == 1);
  CHECK(trash[0].keys.size() == 2);
  CHECK(trash[0].packs.empty());  // a pack without its index is no pack
  CHECK(restore_trash(*backend, 0, false).packs == 0);
  CHECK_FALSE(backend->has("packs/0000000100-00000000000000aa.pack"));
  CHECK(empty_trash(*backend, 300, false).batches == 1);
  CHECK(backend->list("trash/").empty());
}

TEST_CASE("redact_url takes userinfo and credential query values out of any text", "[remote_test]") {
  CHECK(redact_url("http://alice:s3cret@host:8080/r") == "http://***@host:8080/r");
  CHECK(redact_url("PUT https://tok@dav.example/r/packs/x.pack: HTTP 500") ==
        "PUT https://***@dav.example/r/packs/x.pack: HTTP 500");
  CHECK(redact_url("https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc&partNumber=2") ==
        "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&partNumber=2");
  CHECK(redact_url("see https://h/p?sig=zz&token=yy#frag and s3://AK:SK@bucket/p") ==
        "see https://h/p?sig=***&token=***#frag and s3://***@bucket/p");
  // Nothing secret: unchanged.
  CHECK(redact_url("http://127.0.0.1:9000/bucket/key?uploadId=42") == "http://127.0.0.1:9000/bucket/key?uploadId=42");
  CHECK(redact_url("/data/remote") == "/data/remote");
  CHECK(redact_url("user@host:path") == "user@host:path");
  CHECK(url_has_userinfo("http://u:p@h/x"));
  CHECK(url_has_userinfo("https://token@h"));
  CHECK_FALSE(url_has_userinfo("http://h/x@y"));
  CHECK_FALSE(url_has_userinfo("/srv/remote"));
}

TEST_CASE("numbers from a remote are parsed with checks", "[remote_test]") {
  CHECK(parse_remote_u64("0", "t") == 0);
  CHECK(parse_remote_u64(" 18446744073709551615\r\n", "t") == UINT64_MAX);
  for (const char* bad : {"", "-1", "12x3", "1e9", "18446744073709551616", "99999999999999999999999", "0x10", " "})
    CHECK_THROWS_AS(parse_remote_u64(bad, "t"), RemoteError);
  CHECK(uri_decode("a%2Fb%2e") == std::optional<std::string>("a/b."));
  CHECK_FALSE(uri_decode("%zz").has_value());
  CHECK_FALSE(uri_decode("abc%2").has_value());
  CHECK_FALSE(uri_decode("%").has_value());
}

TEST_CASE("pack ids: only the shape mlo writes", "[remote_test]") {
  CHECK(is_pack_id(new_pack_id()));
  CHECK(is_pack_id("1700000000-0123456789abcdef"));
  for (const char* bad : {"", "-", "17-", "-ab", "../../x", "1700000000-ab/../../x", "17-AB", "17-ab.idx", "x-1"})
    CHECK_FALSE(is_pack_id(bad));
}

TEST_CASE("hostile pack indexes and recipes are refused before anything is allocated", "[remote_test]") {
  auto index_with = [](std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
    PackIndex idx;
    idx.id = new_pack_id();
    idx.blobs.push_back({BlobKind::object, sha256_hex("x"), offset, length, size});
    return serialize_pack_index(idx);
  };
  CHECK_NOTHROW(parse_pack_index(index_with(0, 100, 1000), "t"));
  CHECK_THROWS_AS(parse_pack_index(index_with(0, 100, 3000000000ull), "t"), RemoteError);  // 3 GB
  CHECK_THROWS_AS(parse_pack_index(index_with(0, 100, 1ull << 62), "t"), RemoteError);
  CHECK_THROWS_AS(parse_pack_index(index_with(0, 10, 10 * kMaxZstdRatio + 1), "t"), RemoteError);
  CHECK_THROWS_AS(parse_pack_index(index_with(UINT64_MAX - 5, 100, 10), "t"), RemoteError);  // offset + length wraps
  auto negative = zstd_compress(R"({"version":1,"pack":"1-a","blobs":[["o",")" + sha256_hex("x") +
                                    R"(",0,-5,1]]})", 3);
  CHECK_THROWS_AS(parse_pack_index(negative, "t"), RemoteError);
  auto fractional = zstd_compress(R"({"version":1,"pack":"1-a","blobs":[["o",")" + sha256_hex("x") +
                                      R"(",0,5,1.777e20]]})", 3);
  CHECK_THROWS_AS(parse_pack_index(fractional, "t"), RemoteError);
  // A frame that claims 2^62 bytes is not decompressed into a 2^62 buffer.
  CHECK_THROWS_AS(zstd_decompress(zstd_compress("abc", 1), 1ull << 62, "t"), RemoteError);
  // Chunk sizes that add up to the object's size only by wrapping past 2^64.
  std::string h = sha256_hex("c");
  std::string wrap = R"({"version":1,"size":4,"chunks":[[")" + h + R"(",9223372036854775810],[")" + h +
                     R"(",9223372036854775810]]})";
  CHECK_THROWS_AS(parse_recipe(wrap, "t"), RemoteError);
  CHECK_THROWS_AS(parse_recipe(R"({"size":-1,"chunks":[]})", "t"), RemoteError);
}

TEST_CASE("directory remote: a lost chunk pack makes the object absent; push repairs it", "[remote_test]") {
  test::TempDir tmp;
  Cache a(tmp / "a");
  RemoteConfig rc{"origin", (tmp / "remote").string(), {}};
  auto backend = open_backend(rc);
  REQUIRE(backend->create_root());
  std::string big = random_bytes(3 << 20, 11);
  std::string big_hash = a.add_bytes(big, false);
  std::string small_hash = a.add_bytes("small", false);
  TransferOptions opts;
  opts.jobs = 1;
  push_objects(*backend, a, tmp / "idx", {big_hash, small_hash}, opts);
  RemoteIndex before = RemoteIndex::load(*backend, tmp / "idx", 1);
  REQUIRE(before.has_object(big_hash));
  std::string chunk_pack = before.chunk(before.recipe_content(big_hash)->chunks[0].first)->pack;
  // The store lost the pack that holds the chunks (its index survived).
  std::filesystem::remove(tmp / "remote" / pack_key(chunk_pack));
  RemoteIndex after = RemoteIndex::load(*backend, tmp / "idx", 1);
  CHECK(after.recipe(big_hash).has_value());
  CHECK_FALSE(after.has_object(big_hash));
  CHECK_FALSE(after.lacking_chunks(big_hash).empty());
  VerifyReport lost = verify_objects(*backend, tmp / "idx", {big_hash, small_hash}, opts);
  CHECK(lost.objects == 2);
  // (the small object may have shared that pack: then it is missing too)
  bool big_missing = false;
  for (const auto& m : lost.missing) big_missing = big_missing || m.rfind(big_hash, 0) == 0;
  CHECK(big_missing);
  // Push sends it again (its chunks, and a recipe), and now all is there.
  TransferStats again = push_objects(*backend, a, tmp / "idx", {big_hash, small_hash}, opts);
  CHECK(again.objects == lost.missing.size());
  CHECK(again.chunks > 0);
  VerifyReport ok = verify_objects(*backend, tmp / "idx", {big_hash, small_hash}, opts);
  CHECK(ok.missing.empty());
  CHECK(ok.damaged.empty());
  CHECK(ok.bytes == big.size() + 5);
  Cache b(tmp / "b");
  TransferStats f = fetch_objects(*backend, b, tmp / "idx-b", {big_hash}, opts);
  CHECK(f.missing.empty());
  CHECK(b.read(big_hash) == big);
}

TEST_CASE("directory remote: many small objects: packs capped in blobs, sent and fetched in rounds", "[remote_test]") {
  // Small files compress to a few bytes each, so the 16 MiB pack target
  // alone would put every one in one pack (one index of N entries to build
  // and to parse) and one range read (N files decompressed at once).
  test::TempDir tmp;
  Cache a(tmp / "a"), b(tmp / "b");
  RemoteConfig rc{"origin", (tmp / "remote").string(), {}};
  auto backend = open_backend(rc);
  REQUIRE(backend->create_root());
  std::set<std::string> hashes;
  for (int i = 0; i < 1500; ++i) hashes.insert(a.add_bytes(std::string(512, 'a' + i % 26) + std::to_string(i), false));
  TransferOptions opts;
  opts.jobs = 1;  // one worker: every object goes to the same pack builder
  opts.pack_blobs = 600;
  opts.round_objects = 400;
  TransferStats pushed = push_objects(*backend, a, tmp / "idx", hashes, opts);
  CHECK(pushed.objects == 1500);
  CHECK(pushed.packs == 3);
  RemoteIndex index = RemoteIndex::load(*backend, tmp / "idx", 1);
  std::size_t blobs = 0;
  for (const auto& [id, pack] : index.packs()) {
    CHECK(pack.blobs.size() <= 600);
    blobs += pack.blobs.size();
  }
  CHECK(blobs == 1500);
  std::size_t found = 0;
  for (const auto& h : hashes) found += index.has_object(h) && index.object(h)->entry.size > 512;
  CHECK(found == 1500);
  CHECK_FALSE(index.has_object(sha256_hex("not pushed")));
  CHECK(push_objects(*backend, a, tmp / "idx", hashes, opts).up_to_date == 1500);
  TransferStats fetched = fetch_objects(*backend, b, tmp / "idx-b", hashes, opts);
  CHECK(fetched.objects == 1500);
  CHECK(fetched.missing.empty());
  std::size_t in_b = 0;
  for (const auto& h : hashes) in_b += b.has(h) && b.read(h) == a.read(h);
  CHECK(in_b == 1500);
}

TEST_CASE("an index loaded for a set of objects places them as the whole index does", "[remote_test]") {
  // load(..., only_objects) keeps those objects as places beside the set
  // (24 bytes each, no hash): every answer about them must be the one the
  // whole index gives, copies in two packs and a cut pack included.
  test::TempDir tmp;
  Cache a(tmp / "a");
  RemoteConfig rc{"origin", (tmp / "remote").string(), {}};
  auto backend = open_backend(rc);
  REQUIRE(backend->create_root());
  std::vector<std::string> hashes;
  for (int i = 0; i < 900; ++i) hashes.push_back(a.add_bytes(random_bytes(300, 1000 + i), false));
  std::string big = random_bytes(2 << 20, 77);  // chunked: a recipe, not an object blob
  hashes.push_back(a.add_bytes(big, false));
  HashSet all;
  for (const auto& h : hashes) all.insert(h);
  // An empty remote: nothing found, no table of places, every answer no.
  RemoteIndex empty = RemoteIndex::load(*backend, tmp / "idx-empty", 1, &all);
  CHECK_FALSE(empty.has_object(hashes[0]));
  CHECK_FALSE(empty.object(hashes[1]).has_value());
  TransferOptions opts;
  opts.jobs = 1;
  opts.pack_blobs = 300;
  push_objects(*backend, a, tmp / "idx", all, opts);
  // A second copy of one pack, listed first (so first in load order), cut
  // short: its first blobs are there twice, its last only in the original.
  auto packs_dir = tmp / "remote" / "packs";
  const std::string original = RemoteIndex::load(*backend, tmp / "idx-before", 1).object(hashes[0])->pack;
  const std::string copy = "1-abc";
  std::filesystem::copy_file(packs_dir / (original + ".idx"), packs_dir / (copy + ".idx"));
  std::filesystem::copy_file(packs_dir / (original + ".pack"), packs_dir / (copy + ".pack"));
  std::filesystem::resize_file(packs_dir / (copy + ".pack"), std::filesystem::file_size(packs_dir / (copy + ".pack")) / 2);

  HashSet some;
  for (std::size_t i = 0; i < hashes.size(); i += 2) some.insert(hashes[i]);
  some.insert(hashes.back());
  some.insert(sha256_hex("never pushed"));
  RemoteIndex whole = RemoteIndex::load(*backend, tmp / "idx-whole", 1);
  RemoteIndex part = RemoteIndex::load(*backend, tmp / "idx-part", 1, &some);
  std::size_t same = 0, in_copy = 0, in_original = 0;
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    const std::string& h = hashes[i];
    if (!some.contains(h)) {
      CHECK_FALSE(part.object(h).has_value());  // left out
      continue;
    }
    auto w = whole.object(h), p = part.object(h);
    REQUIRE(w.has_value() == p.has_value());
    CHECK(whole.has_object(h) == part.has_object(h));
    if (!w) continue;
    CHECK(p->pack == w->pack);
    CHECK(p->entry.hash == h);
    CHECK(p->entry.offset == w->entry.offset);
    CHECK(p->entry.length == w->entry.length);
    CHECK(p->entry.size == w->entry.size);
    CHECK(p->entry.kind == BlobKind::object);
    ++same;
    (w->pack == copy ? in_copy : in_original) += 1;
  }
  CHECK(same == 450);  // every other one of the 900 (the large one is a recipe, not an object blob)
  // Which copy serves depends on the listing's order (a directory's is not
  // sorted); the cut half is served by the original whatever it is.
  CHECK(in_original > 0);
  CHECK(in_copy + in_original == same);
  CHECK(part.has_object(hashes.back()));  // a complete recipe
  CHECK_FALSE(part.has_object(sha256_hex("never pushed")));
  // A fetch through the part index gets the bytes, the recipe's too.
  Cache b(tmp / "b");
  TransferStats got = fetch_objects(*backend, b, tmp / "idx-b", some, opts);
  CHECK(got.missing.size() == 1);
  CHECK(got.objects == 451);
  CHECK(b.read(hashes.back()) == big);
  CHECK(b.read(hashes[0]) == a.read(hashes[0]));
}
