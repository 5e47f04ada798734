#include "notify/shared.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "core/error.h"
#include "core/hash.h"
#include "core/process.h"
#include "core/random.h"
#include "repo/record_refs.h"

namespace mlo::notify {
namespace {

namespace fs = std::filesystem;

const std::string kPrefix = "refs/mlo/notify/";

ProcessResult git(const fs::path& root, const std::vector<std::string>& args, const std::string& input = "") {
  ProcessSpec p;
  // A remote that does not answer must not stall the command being reported on.
  if (find_program("timeout")) p.argv = {"timeout", "20"};
  p.argv.push_back("git");
  p.argv.insert(p.argv.end(), args.begin(), args.end());
  p.cwd = root;
  p.stdin_data = input;
  p.env = {{"GIT_TERMINAL_PROMPT", "0"}};
  return run_process(p);
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

bool has_ref(const fs::path& root, const std::string& ref) {
  return git(root, {"rev-parse", "--verify", "--quiet", ref}).ok();
}

void delete_local(const fs::path& root, const std::vector<std::string>& refs) {
  for (const auto& r : refs) git(root, {"update-ref", "-d", r});
}

std::string record_of(const std::string& kind, const std::string& subject, const std::string& key, double now_s) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  // The nonce keeps two clones' claims distinct blobs: a push of the very
  // object the remote already holds succeeds ("up to date"), so two equal
  // claims made in the same second would both win.
  nlohmann::json j = {{"kind", kind}, {"subject", subject}, {"key", key}, {"at", static_cast<long long>(now_s)},
                      {"host", host}, {"nonce", random_hex(8)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

SharedGate claim_shared(const fs::path& root, const std::string& remote, const std::string& target, const std::string& kind,
                        const std::string& subject, const std::string& key, double cooldown_s, double now_s) {
  std::string mine = kPrefix + target + "/";
  ProcessResult f = git(root, {"fetch", "--quiet", remote, "+" + mine + "*:" + mine + "*"});
  if (!f.ok()) return {"unshared", "git fetch " + remote + " failed: " + first_line(f.err), {}};
  std::string sub = mine + sha256_hex(kind + "\t" + subject).substr(0, 16) + "/";
  std::vector<std::string> refs = {sub + "k-" + sha256_hex(key).substr(0, 16)};
  if (has_ref(root, refs[0])) return {"duplicate", "already sent from a clone of " + remote, {}};
  if (cooldown_s > 0) {
    // Periods aligned to the epoch: one delivery per period between all clones.
    refs.push_back(sub + "c-" + std::to_string(static_cast<long long>(std::floor(now_s / cooldown_s))));
    if (has_ref(root, refs[1])) return {"cooldown", "sent from a clone of " + remote + " in this cooldown period", {}};
  }
  try {
    if (!create_record_refs(root, refs, record_of(kind, subject, key, now_s)))
      return {"duplicate", "claimed by another process in this clone", {}};
  } catch (const Error& e) {  // no claim could be written here: send, as without a remote
    return {"unshared", e.what(), {}};
  }
  std::vector<std::string> push = {"push", "--quiet", "--atomic", remote};
  for (const auto& r : refs) push.push_back(r + ":" + r);
  ProcessResult p = git(root, push);
  if (p.ok()) return {"claimed", "", refs};
  delete_local(root, refs);
  ProcessResult ls = git(root, {"ls-remote", remote, sub + "*"});
  if (!ls.ok()) return {"unshared", "git push " + remote + " failed: " + first_line(p.err), {}};
  git(root, {"fetch", "--quiet", remote, "+" + mine + "*:" + mine + "*"});
  bool same_event = ls.out.find(refs[0]) != std::string::npos;
  bool same_period = refs.size() > 1 && ls.out.find(refs[1]) != std::string::npos;
  if (!same_event && !same_period) return {"unshared", "git push " + remote + " failed: " + first_line(p.err), {}};
  return {same_event ? "duplicate" : "cooldown", "another clone of " + remote + " sent it first", {}};
}

void release_shared(const fs::path& root, const std::string& remote, const std::vector<std::string>& refs) {
  if (refs.empty()) return;
  delete_local(root, refs);
  std::vector<std::string> push = {"push", "--quiet", remote};
  for (const auto& r : refs) push.push_back(":" + r);
  git(root, push);  // best effort: a stale claim only suppresses until the next period or event
}

}  // namespace mlo::notify
