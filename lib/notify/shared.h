// Notification state shared between clones (a target's `shared:` in the
// notify: section). Without it, de-duplication and cooldown live in the
// clone's .mlo/notify/state.json, so two machines that see the same drift
// both send it. With it, every delivery is first claimed on the repository's
// git remote as a create-only ref
//   refs/mlo/notify/TARGET/SUBJECT/k-KEY   the event (de-duplication)
//   refs/mlo/notify/TARGET/SUBJECT/c-SLOT  the cooldown period (conditions)
// (SUBJECT: a hash of the event kind and subject). The remote refuses a
// second push of the same ref, so one machine sends and the other sees
// "duplicate" or "cooldown"; the claims' times also carry the cooldown
// between machines. A claim whose delivery failed is withdrawn so a later
// report sends it. The remote being unreachable falls back to the local
// state with a warning: a notification is never lost to the sharing.
// The same create-only-ref scheme as trigger claims (lib/triggers).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace mlo::notify {

struct SharedGate {
  std::string status;  // claimed | duplicate | cooldown | unshared (remote unreachable)
  std::string detail;  // why, for the log
  std::vector<std::string> refs;  // what was claimed (withdrawn when delivery fails)
};

// Fetches the target's claims from `remote`, then decides and claims.
// cooldown_s <= 0: a decision (only exact repeats are dropped).
SharedGate claim_shared(const std::filesystem::path& root, const std::string& remote, const std::string& target,
                        const std::string& kind, const std::string& subject, const std::string& key, double cooldown_s,
                        double now_s);
// Withdraws claims (locally and on the remote) after a failed delivery.
void release_shared(const std::filesystem::path& root, const std::string& remote, const std::vector<std::string>& refs);

}  // namespace mlo::notify
