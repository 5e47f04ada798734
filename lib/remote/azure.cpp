// azure://CONTAINER/PREFIX: Azure Blob Storage over its REST API (the shared
// HttpClient: pooled connections, retries). Auth: Shared Key (HMAC-SHA256
// of the canonical request under the account key), a SAS token appended to
// every URL, or a connection string that names either. Writes are
// create-only (If-None-Match: *): mlo's names are unique, so a blob that is
// already there is either this write's earlier attempt or a conflict.
#include "remote/azure.h"

#include <ctime>

#include "core/hash.h"
#include "remote/backend_detail.h"
#include "remote/remotes.h"
#include "remote/timestamps.h"

namespace mlo::remote {

using namespace detail;

std::string azure_string_to_sign(const std::string& method, const std::map<std::string, std::string>& headers,
                                 const std::string& canonical_resource) {
  auto header = [&](const char* name) {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  };
  std::string length = header("content-length");
  if (length == "0") length.clear();  // versions since 2015-02-21 sign an empty body as ""
  std::string out = method + "\n" + header("content-encoding") + "\n" + header("content-language") + "\n" + length +
                    "\n" + header("content-md5") + "\n" + header("content-type") + "\n" + header("date") + "\n" +
                    header("if-modified-since") + "\n" + header("if-match") + "\n" + header("if-none-match") + "\n" +
                    header("if-unmodified-since") + "\n" + header("range") + "\n";
  for (const auto& [name, value] : headers)  // std::map: sorted, as the canonical form wants
    if (name.rfind("x-ms-", 0) == 0) out += name + ":" + value + "\n";
  return out + canonical_resource;
}

std::string azure_canonical_resource(const std::string& account, const std::string& path,
                                     const std::vector<std::pair<std::string, std::string>>& query) {
  std::map<std::string, std::string> sorted;
  for (const auto& [name, value] : query) {
    std::string& slot = sorted[lower(name)];
    slot += (slot.empty() ? "" : ",") + value;
  }
  std::string out = "/" + account + path;
  for (const auto& [name, value] : sorted) out += "\n" + name + ":" + value;
  return out;
}

std::map<std::string, std::string> parse_connection_string(std::string_view text) {
  std::map<std::string, std::string> out;
  while (!text.empty()) {
    auto semi = text.find(';');
    std::string_view part = text.substr(0, semi);
    auto eq = part.find('=');
    if (eq != std::string_view::npos) out[std::string(part.substr(0, eq))] = std::string(part.substr(eq + 1));
    if (semi == std::string_view::npos) break;
    text.remove_prefix(semi + 1);
  }
  return out;
}

namespace {

const char* kApiVersion = "2021-12-02";
const char* kDevAccount = "devstoreaccount1";
const char* kDevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

struct AzureAuth {
  std::string account;
  std::string key;  // decoded account key (Shared Key), or empty
  std::string sas;  // "sv=...&sig=..." without '?', or empty
  std::string endpoint;
};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string rfc1123_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// What AZURE_STORAGE_CONNECTION_STRING says (account, key or SAS, endpoint).
void read_connection_string(const std::string& remote_name, const std::string& text, AzureAuth& auth,
                            std::string& key_b64) {
  auto parts = parse_connection_string(text);
  if (parts["UseDevelopmentStorage"] == "true") {
    parts.emplace("AccountName", kDevAccount);
    parts.emplace("AccountKey", kDevKey);
    parts.emplace("BlobEndpoint", "http://127.0.0.1:10000/devstoreaccount1");
  }
  auth.account = parts["AccountName"];
  key_b64 = parts["AccountKey"];
  auth.sas = parts["SharedAccessSignature"];
  auth.endpoint = parts["BlobEndpoint"];
  if (auth.endpoint.empty() && !auth.account.empty()) {
    std::string proto = parts.count("DefaultEndpointsProtocol") ? parts["DefaultEndpointsProtocol"] : "https";
    std::string suffix = parts.count("EndpointSuffix") ? parts["EndpointSuffix"] : "core.windows.net";
    auth.endpoint = proto + "://" + auth.account + ".blob." + suffix;
  }
  if (key_b64.empty() && auth.sas.empty())
    throw RemoteError("remote '" + remote_name + "': AZURE_STORAGE_CONNECTION_STRING has neither AccountKey nor "
                      "SharedAccessSignature",
                      "copy the connection string from the portal (Access keys) or use a SAS connection string");
}

AzureAuth find_azure_auth(const RemoteConfig& remote) {
  AzureAuth auth;
  std::string key_b64;
  if (std::string cs = env("AZURE_STORAGE_CONNECTION_STRING"); !cs.empty()) {
    read_connection_string(remote.name, cs, auth, key_b64);
  } else {
    auth.account = remote.option("account", env("AZURE_STORAGE_ACCOUNT"));
    key_b64 = env("AZURE_STORAGE_KEY");
    auth.sas = env("AZURE_STORAGE_SAS_TOKEN");
    if (auth.account.empty() || (key_b64.empty() && auth.sas.empty()))
      throw RemoteError("remote '" + remote.name + "': no Azure credentials found",
                        "export AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT (or the remote's account "
                        "option) with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN (secrets never go in mlo's config)");
    auth.endpoint = "https://" + auth.account + ".blob.core.windows.net";
  }
  if (!auth.sas.empty() && auth.sas[0] == '?') auth.sas.erase(0, 1);
  if (!key_b64.empty()) {
    auto key = base64_decode(key_b64);
    if (!key || key->empty())
      throw RemoteError("remote '" + remote.name + "': the Azure account key is not base64",
                        "copy the key again from the portal (Storage account > Access keys)");
    auth.key = *key;
  }
  if (std::string e = remote.option("endpoint"); !e.empty()) auth.endpoint = e;
  while (!auth.endpoint.empty() && auth.endpoint.back() == '/') auth.endpoint.pop_back();
  if (auth.endpoint.find("://") == std::string::npos) auth.endpoint = "https://" + auth.endpoint;
  return auth;
}

class AzureBackend : public Backend {
 public:
  AzureBackend(const RemoteConfig& remote, AzureAuth auth)
      : client_(http_options(remote)), name_(remote.name), auth_(std::move(auth)) {
    std::string rest = remote.url.substr(8);  // after azure://
    auto slash = rest.find('/');
    container_ = rest.substr(0, slash);
    prefix_ = slash == std::string::npos ? "" : trim_slashes(rest.substr(slash + 1));
    if (!prefix_.empty()) prefix_ += '/';
    auto scheme_end = auth_.endpoint.find("://") + 3;
    auto path_start = auth_.endpoint.find('/', scheme_end);
    endpoint_path_ = path_start == std::string::npos ? "" : auth_.endpoint.substr(path_start);
    block_threshold_ = config_u64(remote, "multipart_threshold", 64ull << 20);
    block_size_ = std::max<std::uint64_t>(1, config_u64(remote, "part_size", 16ull << 20));
    if (remote.options.count("multipart_threshold") && block_threshold_ < block_size_)
      block_size_ = std::max<std::uint64_t>(block_threshold_, 1);  // tests use small blocks
    page_size_ = std::clamp<std::uint64_t>(config_u64(remote, "list_page", 5000), 1, 5000);
  }

  std::string describe() const override { return "azure://" + container_ + "/" + prefix_; }

  std::optional<std::string> get(const std::string& key) override {
    HttpResponse r = request("GET", blob_path(key), {}, {}, {});
    if (r.status == 404) return std::nullopt;
    check(r, "GET", key);
    return std::move(r.body);
  }

  std::string get_range(const std::string& key, std::uint64_t offset, std::uint64_t length) override {
    std::string range = "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
    HttpResponse r = request("GET", blob_path(key), {}, {}, {{"x-ms-range", range}});
    check(r, "GET", key);
    if (r.status == 200 && r.body.size() >= offset + length) r.body = r.body.substr(offset, length);
    if (r.body.size() != length)
      throw RemoteError(describe() + key + ": got " + std::to_string(r.body.size()) + " bytes, expected " +
                            std::to_string(length) + " (truncated response)",
                        "try again; if it persists the remote's pack is damaged");
    return std::move(r.body);
  }

  bool has(const std::string& key) override { return size(key).has_value(); }

  std::optional<std::uint64_t> size(const std::string& key) override {
    HttpResponse r = request("HEAD", blob_path(key), {}, {}, {});
    if (r.status == 404) return std::nullopt;
    check(r, "HEAD", key);
    return parse_remote_u64(r.headers["content-length"], "HEAD " + describe() + key + ": Content-Length");
  }

  void put(const std::string& key, std::string_view data) override {
    if (data.size() > block_threshold_) return put_blocks(key, data);
    HttpResponse r = with_container([&] {
      return request("PUT", blob_path(key), {}, data, {{"x-ms-blob-type", "BlockBlob"}, {"if-none-match", "*"}});
    });
    finish_create_only(r, "PUT", key, data);
  }

  std::vector<BlobInfo> list(const std::string& prefix) override {
    std::vector<BlobInfo> out;
    std::string marker;
    do {
      auto ask = [&] {
        std::vector<std::pair<std::string, std::string>> q = {{"restype", "container"},
                                                              {"comp", "list"},
                                                              {"prefix", prefix_ + prefix},
                                                              {"maxresults", std::to_string(page_size_)}};
        if (!marker.empty()) q.emplace_back("marker", marker);
        HttpResponse r = request("GET", container_path(), q, {}, {});
        if (r.status == 404 && r.headers["x-ms-error-code"] == "ContainerNotFound") return r;  // nothing pushed yet
        check(r, "List Blobs", prefix);
        return r;
      };
      marker = retry_malformed(ask, [&](const HttpResponse& r) {
        return r.status == 404 ? std::string() : parse_list_page(r.body, prefix, out, marker);
      });
    } while (!marker.empty());
    return out;
  }

  void remove(const std::string& key) override {
    HttpResponse r = request("DELETE", blob_path(key), {}, {}, {});
    if (r.status == 404) return;
    check(r, "DELETE", key);
  }

  HttpStats stats() const override { return client_.stats(); }

 private:
  using Query = std::vector<std::pair<std::string, std::string>>;

  std::string container_path() const { return "/" + container_; }
  std::string blob_path(const std::string& key) const { return "/" + container_ + "/" + uri_encode(prefix_ + key, true); }

  // Blocks of block_size_, then a block list that commits them (create-only).
  // Uncommitted blocks of a failed upload are discarded by the service.
  void put_blocks(const std::string& key, std::string_view data) {
    std::string list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
    int n = 0;
    for (std::uint64_t off = 0; off < data.size(); off += block_size_, ++n) {
      char id[32];
      std::snprintf(id, sizeof id, "mlo-block-%08d", n);  // ids of one blob have one length
      std::string block_id = base64_encode(id);
      HttpResponse r = with_container([&] {
        return request("PUT", blob_path(key), {{"comp", "block"}, {"blockid", block_id}}, data.substr(off, block_size_),
                       {});
      });
      check(r, "Put Block", key);
      list += "<Latest>" + block_id + "</Latest>";
    }
    list += "</BlockList>";
    HttpResponse r = request("PUT", blob_path(key), {{"comp", "blocklist"}}, list, {{"if-none-match", "*"}});
    finish_create_only(r, "Put Block List", key, data);
  }

  // A write that finds the blob there already: the same size is an earlier
  // attempt of this write whose answer was lost. mlo's names are unique to
  // their writer (content hashes, time + random), so another size is this
  // writer's own damaged earlier attempt (a server that kept half a PUT):
  // replaced once, unconditionally.
  void finish_create_only(const HttpResponse& r, const std::string& op, const std::string& key, std::string_view data) {
    if (r.status != 409 && r.status != 412) return check(r, op, key);
    std::optional<std::uint64_t> there = size(key);
    if (there && *there == data.size()) return;
    log::warn(describe() + key + " holds " + (there ? std::to_string(*there) : "?") + " bytes of an earlier attempt, not " +
              std::to_string(data.size()) + "; replacing it");
    HttpResponse again = request("PUT", blob_path(key), {}, data, {{"x-ms-blob-type", "BlockBlob"}});
    check(again, op, key);
  }

  // Runs a write; when the container does not exist yet, creates it and
  // runs the write again (the first push to a new container).
  template <class Write>
  HttpResponse with_container(Write write) {
    HttpResponse r = write();
    if (r.status != 404 || r.headers["x-ms-error-code"] != "ContainerNotFound") return r;
    HttpResponse c = request("PUT", container_path(), {{"restype", "container"}}, {}, {});
    if (c.status != 409) check(c, "Create Container", "");
    else log::debug(describe() + ": container created meanwhile by another writer");
    return write();
  }

  // One List Blobs page: appends its blobs; returns the next marker ("" at the end).
  std::string parse_list_page(std::string_view body, const std::string& prefix, std::vector<BlobInfo>& out,
                              const std::string& marker) const {
    if (body.find("EnumerationResults") == std::string_view::npos)
      throw RemoteError("List Blobs " + describe() + prefix + ": the answer is not an EnumerationResults",
                        "try again; if it persists, check the endpoint");
    std::vector<BlobInfo> page;
    for (const auto& blob : xml_values(body, "Blob")) {
      auto name = xml_values(blob, "Name");
      auto length = xml_values(blob, "Content-Length");
      if (name.size() != 1 || length.size() != 1)
        throw RemoteError("List Blobs " + describe() + prefix + ": an entry without one Name and one Content-Length",
                          "try again; if it persists, check the endpoint");
      std::uint64_t bytes = parse_remote_u64(length[0], "List Blobs " + describe() + prefix + ": Content-Length");
      if (name[0].rfind(prefix_, 0) != 0) continue;
      std::string rel = name[0].substr(prefix_.size());
      auto modified = xml_values(blob, "Last-Modified");
      if (acceptable_key(rel, prefix, describe()))
        page.push_back({rel, bytes, modified.empty() ? 0 : parse_http_date(modified[0])});
    }
    auto next = xml_values(body, "NextMarker");
    std::string next_marker = next.empty() ? "" : next[0];
    if (!next_marker.empty() && next_marker == marker)
      throw RemoteError("List Blobs " + describe() + prefix + ": a continuation marker that does not move on",
                        "try again; if it persists, check the endpoint");
    out.insert(out.end(), page.begin(), page.end());
    return next_marker;
  }

  HttpResponse request(const std::string& method, const std::string& path, const Query& query, std::string_view body,
                       std::map<std::string, std::string> headers) {
    std::string target = auth_.endpoint + path;
    std::string q;
    for (const auto& [name, value] : query) q += (q.empty() ? "" : "&") + uri_encode(name, false) + "=" + uri_encode(value, false);
    if (!auth_.sas.empty()) q += (q.empty() ? "" : "&") + auth_.sas;
    if (!q.empty()) target += "?" + q;
    std::string resource = azure_canonical_resource(auth_.account, endpoint_path_ + path, query);
    return client_.perform(
        [&] {
          std::map<std::string, std::string> signed_headers = headers;
          signed_headers["x-ms-date"] = rfc1123_now();
          signed_headers["x-ms-version"] = kApiVersion;
          if (method == "PUT") signed_headers["content-length"] = std::to_string(body.size());
          HttpRequest req;
          req.method = method;
          req.url = target;
          req.body = body;
          for (const auto& [k, v] : signed_headers)
            if (k != "content-length") req.headers.emplace_back(k, v);
          if (!auth_.key.empty())
            req.headers.emplace_back("Authorization",
                                     "SharedKey " + auth_.account + ":" +
                                         base64_encode(hmac_sha256(auth_.key, azure_string_to_sign(method, signed_headers,
                                                                                                   resource))));
          return req;
        },
        method + " " + redact_url(target));
  }

  void check(const HttpResponse& r, const std::string& op, const std::string& key) const {
    if (r.status >= 200 && r.status < 300) return;
    auto it = r.headers.find("x-ms-error-code");
    std::string code = it == r.headers.end() ? "" : it->second;
    if (code == "ContainerNotFound")
      throw RemoteError("remote '" + name_ + "': container '" + container_ + "' does not exist",
                        "'mlo push' creates it; or fix the URL with 'mlo remote modify " + name_ +
                            " url azure://CONTAINER/PREFIX'");
    std::string msg = "remote '" + name_ + "': " + op + " " + describe() + key + ": HTTP " + std::to_string(r.status);
    if (!code.empty()) msg += " " + code;
    if (r.status == 403)
      throw RemoteError(msg + " (access denied)",
                        code == "AuthenticationFailed" || code == "AuthorizationFailure"
                            ? "check AZURE_STORAGE_KEY / AZURE_STORAGE_SAS_TOKEN / AZURE_STORAGE_CONNECTION_STRING "
                              "(and the clock: signatures expire after 15 minutes)"
                            : "the SAS token or role lacks a permission this command needs (read, write, delete, "
                              "list, create)");
    throw RemoteError(msg, status_hint(r.status));
  }

  HttpClient client_;
  std::string name_;
  AzureAuth auth_;
  std::string container_, prefix_, endpoint_path_;
  std::uint64_t block_threshold_ = 64ull << 20;
  std::uint64_t block_size_ = 16ull << 20;
  std::uint64_t page_size_ = 5000;
};

}  // namespace

std::unique_ptr<Backend> detail::open_azure(const RemoteConfig& remote) {
  return std::make_unique<AzureBackend>(remote, find_azure_auth(remote));
}

}  // namespace mlo::remote
