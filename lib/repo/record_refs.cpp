#include "repo/record_refs.h"

#include "core/error.h"
#include "core/process.h"

namespace mlo {
namespace {

ProcessResult git(const std::filesystem::path& root, std::vector<std::string> args, const std::string& input = "") {
  ProcessSpec p;
  p.argv = {"git"};
  p.argv.insert(p.argv.end(), args.begin(), args.end());
  p.cwd = root;
  p.stdin_data = input;
  return run_process(p);
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// "<oid> <ref>" lines of for-each-ref into oids (for cat-file) and ref names.
void split_listing(const std::string& listing, std::string& oids, std::vector<std::string>& refs) {
  for (size_t pos = 0; pos < listing.size();) {
    size_t nl = listing.find('\n', pos);
    std::string line = listing.substr(pos, nl - pos);
    pos = nl == std::string::npos ? listing.size() : nl + 1;
    if (line.size() < 42) continue;
    oids += line.substr(0, 40) + "\n";
    refs.push_back(line.substr(41));
  }
}

}  // namespace

bool create_record_ref(const std::filesystem::path& root, const std::string& ref, const std::string& text) {
  return create_record_refs(root, {ref}, text);
}

bool create_record_refs(const std::filesystem::path& root, const std::vector<std::string>& refs, const std::string& text) {
  ProcessResult h = git(root, {"hash-object", "-w", "--stdin"}, text);
  if (!h.ok()) throw InputError("git hash-object failed: " + first_line(h.err), "check the repository with 'git fsck'");
  std::string oid = first_line(h.out);
  for (size_t i = 0; i < refs.size(); ++i) {
    if (git(root, {"update-ref", refs[i], oid, ""}).ok()) continue;
    for (size_t j = 0; j < i; ++j) git(root, {"update-ref", "-d", refs[j]});
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, nlohmann::json>> read_record_refs(const std::filesystem::path& root,
                                                                     const std::string& prefix) {
  std::vector<std::pair<std::string, nlohmann::json>> out;
  ProcessResult list = git(root, {"for-each-ref", "--format=%(objectname) %(refname)", prefix});
  if (!list.ok() || list.out.empty()) return out;
  std::vector<std::string> refs;
  std::string oids;
  split_listing(list.out, oids, refs);
  ProcessResult cat = git(root, {"cat-file", "--batch"}, oids);
  size_t pos = 0;
  for (const auto& ref : refs) {
    size_t nl = cat.out.find('\n', pos);
    if (nl == std::string::npos) break;
    std::string header = cat.out.substr(pos, nl - pos);  // "<oid> <type> <size>", or "<oid> missing"
    pos = nl + 1;
    size_t sp = header.rfind(' ');
    std::string digits = sp == std::string::npos ? "" : header.substr(sp + 1);
    if (digits.empty() || digits.size() > 12 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    std::size_t size = std::stoull(digits);
    bool blob = header.find(" blob ") != std::string::npos;
    nlohmann::json doc = blob ? nlohmann::json::parse(cat.out.substr(pos, size), nullptr, false) : nlohmann::json();
    pos += size + 1;
    if (doc.is_object()) out.emplace_back(ref, std::move(doc));  // anything else is not ours
  }
  return out;
}

}  // namespace mlo
