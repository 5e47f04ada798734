// lib/remote's cloud backends: Azure Shared Key known answer (the string
// to sign and the signature Azurite 3.35 computed for the same request),
// connection strings, base64, URL kinds of azure://, gs://, ssh://, and the
// diagnosis of `mlo remote check`. The backends themselves are tested
// against real servers (tests/cli/remote_conformance_*.sh).
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/hash.h"
#include "remote/azure.h"
#include "remote/backend.h"
#include "remote/backend_detail.h"
#include "remote/probe.h"

using namespace mlo;
using namespace mlo::remote;

TEST_CASE("Azure Shared Key: Azurite's string to sign and signature", "[remote_cloud_test]") {
  std::map<std::string, std::string> headers = {{"x-ms-date", "Fri, 04 Dec 2026 10:39:46 GMT"},
                                                {"x-ms-version", "2021-12-02"}};
  std::string resource = azure_canonical_resource(
      "devstoreaccount1", "/devstoreaccount1/mlo",
      {{"restype", "container"}, {"comp", "list"}, {"prefix", "team/probe/"}, {"maxresults", "5000"}});
  std::string to_sign = azure_string_to_sign("GET", headers, resource);
  // As Azurite logged it ([STRING TO SIGN]) for this request.
  CHECK(to_sign ==
        "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Fri, 04 Dec 2026 10:39:46 GMT\nx-ms-version:2021-12-02\n"
        "/devstoreaccount1/devstoreaccount1/mlo\ncomp:list\nmaxresults:5000\nprefix:team/probe/\nrestype:container");
  auto key = remote::detail::base64_decode(
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==");
  REQUIRE(key);
  CHECK(key->size() == 64);
  // The signature Azurite calculated with its development key.
  CHECK(remote::detail::base64_encode(hmac_sha256(*key, to_sign)) == "i/q+AQ3S42PPlkes+AkbxAtJIqKVsk1zNJiNvVWEdmc=");
}

TEST_CASE("Azure Shared Key: standard headers, empty length, repeated query names", "[remote_cloud_test]") {
  std::string s = azure_string_to_sign(
      "PUT", {{"content-length", "0"}, {"if-none-match", "*"}, {"x-ms-blob-type", "BlockBlob"}}, "/a/c/b");
  CHECK(s == "PUT\n\n\n\n\n\n\n\n\n*\n\n\nx-ms-blob-type:BlockBlob\n/a/c/b");
  CHECK(azure_string_to_sign("PUT", {{"content-length", "12"}}, "/a").find("\n\n\n12\n") != std::string::npos);
  CHECK(azure_canonical_resource("acct", "/c", {{"B", "2"}, {"a", "1"}, {"b", "3"}}) == "/acct/c\na:1\nb:2,3");
}

TEST_CASE("connection strings and base64", "[remote_cloud_test]") {
  auto cs = parse_connection_string("DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=a2V5;"
                                    "BlobEndpoint=http://127.0.0.1:10000/dev;SharedAccessSignature=sv=1&sig=x=");
  CHECK(cs["AccountName"] == "dev");
  CHECK(cs["AccountKey"] == "a2V5");
  CHECK(cs["BlobEndpoint"] == "http://127.0.0.1:10000/dev");
  CHECK(cs["SharedAccessSignature"] == "sv=1&sig=x=");
  CHECK(remote::detail::base64_decode("a2V5") == std::optional<std::string>("key"));
  CHECK(remote::detail::base64_encode("key") == "a2V5");
  for (const std::string& text : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
    CHECK(remote::detail::base64_decode(remote::detail::base64_encode(text)) == std::optional<std::string>(text));
  CHECK_FALSE(remote::detail::base64_decode("a2V*"));
  CHECK_FALSE(remote::detail::base64_decode("a2V5a"));  // a last group with no whole byte
}

TEST_CASE("remote URLs: azure, gs, ssh", "[remote_cloud_test]") {
  CHECK(url_kind("azure://container/prefix") == "azure");
  CHECK(url_kind("gs://my_bucket/p") == "gs");
  CHECK(url_kind("ssh://alice@host:2222/srv/data") == "ssh");
  CHECK(url_kind("sftp://host/~/data") == "ssh");
  CHECK_THROWS_AS(url_kind("azure://ab/x"), InputError);         // too short a container
  CHECK_THROWS_AS(url_kind("azure://Upper/x"), InputError);
  CHECK_THROWS_AS(url_kind("gs:///x"), InputError);
  CHECK_THROWS_AS(url_kind("ssh://host"), InputError);           // no path
  CHECK_THROWS_AS(url_kind("ssh://alice:pw@host/x"), InputError);  // a password
  CHECK_THROWS_AS(url_kind("ssh:///x"), InputError);
}

TEST_CASE("remote check: what kind of failure a message is", "[remote_cloud_test]") {
  CHECK(classify_remote_failure("list", "GET http://x.invalid/: Couldn't resolve host name") == "dns");
  CHECK(classify_remote_failure("list", "Couldn't connect to server (Failed to connect to 127.0.0.1 port 9)") ==
        "connect");
  CHECK(classify_remote_failure("list", "TLS certificate verification failed") == "tls");
  CHECK(classify_remote_failure("list", "remote 'r': bucket 'b' does not exist") == "missing_bucket");
  CHECK(classify_remote_failure("list", "List Blobs: HTTP 403 AuthorizationFailure (access denied)") == "auth");
  CHECK(classify_remote_failure("write", "PUT: HTTP 403 AuthorizationPermissionMismatch (access denied)") ==
        "permission");
  CHECK(classify_remote_failure("list", "read: host key unknown: not in /h/.ssh/known_hosts") == "host_key");
  CHECK(classify_remote_failure("connect", "remote 'r': no S3 credentials found") == "credentials");
  CHECK(classify_remote_failure("read", "something else") == "other");
  // S3's wording for an unknown key id is about the key, not a bucket.
  CHECK(classify_remote_failure("list", "HTTP 403 InvalidAccessKeyId (The AWS Access Key Id you provided does not "
                                        "exist in our records.)") == "auth");
}

TEST_CASE("OAuth bearer tokens are fetched again before they expire", "[remote_cloud_test]") {
  int fetches = 0;
  SECTION("an hour's token is kept for the transfer's next requests") {
    remote::detail::BearerToken token([&] {
      ++fetches;
      return remote::detail::BearerToken::Fetched{"tok-" + std::to_string(fetches), 3599};
    });
    CHECK(token.current() == "tok-1");
    CHECK(token.current() == "tok-1");
    CHECK(fetches == 1);
  }
  SECTION("a short-lived token is fetched again after half its life") {
    remote::detail::BearerToken token([&] {
      ++fetches;
      return remote::detail::BearerToken::Fetched{"tok-" + std::to_string(fetches), 0.2};
    });
    CHECK(token.current() == "tok-1");
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    CHECK(token.current() == "tok-2");
    CHECK(fetches == 2);
  }
  SECTION("a token given as is (lifetime 0) is never fetched again") {
    remote::detail::BearerToken token([&] {
      ++fetches;
      return remote::detail::BearerToken::Fetched{"given", 0};
    });
    token.current();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(token.current() == "given");
    CHECK(fetches == 1);
  }
}
