#include "notify/notify.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "notify/shared.h"
#include "remote/http.h"
#include "repo/config.h"
#include "repo/yaml_schema.h"

namespace mlo::notify {
namespace {

using json = nlohmann::json;

// Text of a document built from user data (column names, paths): bytes that
// are not UTF-8 become U+FFFD instead of an exception.
std::string json_text(const json& j, int indent = -1) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string at(const YAML::Node& n, const std::string& file) { return file + ":" + std::to_string(n.Mark().line + 1); }

// "90", "45s", "10m", "1h", "2d", "1w" in seconds (the schema's pattern).
double duration_at(const YAML::Node& n, const std::string& file, const std::string& key) {
  std::string t = n.as<std::string>();
  static const std::string units = "smhdw";
  static const double scale[] = {1, 60, 3600, 86400, 604800};
  std::size_t u = t.empty() ? std::string::npos : units.find(t.back());
  std::string digits = u == std::string::npos ? t : t.substr(0, t.size() - 1);
  char* end = nullptr;
  double v = digits.empty() ? -1 : std::strtod(digits.c_str(), &end);
  if (v < 0 || !end || *end != '\0' || !std::isfinite(v))
    throw InputError(at(n, file) + ": '" + key + "' must be a duration, not '" + t + "'", "write e.g. " + key + ": 30s, 10m or 1h");
  return v * (u == std::string::npos ? 1 : scale[u]);
}

std::vector<std::string> strings(const YAML::Node& n, const std::string& file, const std::string& key) {
  std::vector<std::string> out;
  if (n.IsScalar()) return {n.as<std::string>()};
  if (!n.IsSequence()) throw InputError(at(n, file) + ": '" + key + "' must be a string or a list of strings");
  for (const auto& e : n) out.push_back(e.as<std::string>());
  return out;
}

// Checks what the schema's shape check leaves to the module: the type's needs.
void check_target(const Target& t, const YAML::Node& n, const std::string& file) {
  std::string where = at(n, file) + ": notify target '" + t.name + "'";
  if (t.type != "webhook" && t.type != "slack" && t.type != "command")
    throw InputError(where + " has type '" + t.type + "'", "write type: webhook, slack or command");
  if (t.type == "command" && t.command.empty())
    throw InputError(where + " (command) has no command:", "add command: [PROGRAM, ARG...]; it reads the event JSON on stdin");
  if (t.type != "command" && t.url.empty() && t.url_env.empty())
    throw InputError(where + " (" + t.type + ") has no url: or url_env:", "add url: https://... or url_env: VARIABLE");
  if (t.type != "webhook" && !t.secret_env.empty())
    throw InputError(where + ": secret_env signs webhook bodies only", "use type: webhook, or remove secret_env");
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string hex(const std::string& raw) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// `shared: true` is the remote "origin"; a name is that remote; false: none.
// Only a remote's name: a cloned mlo.yaml must not hand git a URL or option.
std::string shared_remote(const YAML::Node& n, const std::string& file) {
  std::string v = n.as<std::string>();
  if (v == "true") return "origin";
  if (v == "false") return "";
  bool name = !v.empty() && std::isalnum(static_cast<unsigned char>(v[0])) &&
              v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
  if (!name) throw InputError(at(n, file) + ": shared: '" + v + "' is not a git remote's name",
                              "write shared: true (the remote origin) or the name 'git remote' lists");
  return v;
}

// ---- de-duplication and cooldown: .mlo/notify/state.json under a lock ----

class StateFile {
 public:
  explicit StateFile(const fs::path& dir) : path_(dir / "state.json") {
    fs::create_directories(dir);
    if (!fs::exists(dir / ".gitignore")) write_file_atomic(dir / ".gitignore", "*\n", false);  // local state
    lock_ = UniqueFd(::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (lock_) ::flock(lock_.get(), LOCK_EX);  // short: held while one event is delivered
    auto text = read_file_if_exists(path_);
    state_ = text ? json::parse(*text, nullptr, false) : json::object();
    if (!state_.is_object()) state_ = json::object();  // a torn file only loses cooldowns
  }
  json& entry(const std::string& key) { return state_[key]; }
  void save() { write_file_atomic(path_, json_text(state_, 1)); }

 private:
  fs::path path_;
  UniqueFd lock_;
  json state_;
};

// ---- delivery ----

struct Attempt {
  bool ok = false;
  std::string error;
  bool retryable = true;
};

Attempt post_once(remote::HttpClient& http, const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body) {
  try {
    auto resp = http.perform(
        [&] {
          remote::HttpRequest r;
          r.method = "POST";
          r.url = url;
          r.headers = headers;
          r.body = body;
          return r;
        },
        "notification");
    if (resp.status >= 200 && resp.status < 300) return {true, "", false};
    std::string text = resp.body.substr(0, 200);
    return {false, "HTTP " + std::to_string(resp.status) + (text.empty() ? "" : ": " + text),
            remote::http_status_retryable(resp.status)};
  } catch (const std::exception& e) {
    return {false, remote::redact_url(e.what()), true};
  }
}

// Runs argv with `input` on stdin; killed (with its process group) after timeout_s.
Attempt run_command_once(const std::vector<std::string>& argv, const std::string& input, const fs::path& cwd,
                         const fs::path& log, double timeout_s) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return {false, "pipe failed", true};
  pid_t pid = ::fork();
  if (pid < 0) return {false, "fork failed", true};
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(in[0], 0);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) { ::dup2(out, 1); ::dup2(out, 2); }
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  auto old = ::signal(SIGPIPE, SIG_IGN);  // a command that exits without reading stdin is fine
  (void)!::write(in[1], input.data(), input.size());
  ::close(in[1]);
  ::signal(SIGPIPE, old);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int st = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return {false, "timed out after " + std::to_string(static_cast<int>(timeout_s)) + "s (killed)", true};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return {true, "", false};
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return {false, "cannot run " + argv[0] + " (exit 127)", false};
  return {false, WIFEXITED(st) ? "exit " + std::to_string(WEXITSTATUS(st)) : "killed by signal " + std::to_string(WTERMSIG(st)),
          true};
}

std::string env_value(const std::string& name) {
  const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
  return v ? v : "";
}

std::string slack_text(const Event& e) {
  return "*mlo " + e.kind + "*: " + e.summary + (e.subject.empty() ? "" : " (" + e.subject + ")");
}

// One target: attempts with exponential backoff until success, a final
// failure, or the deadline (4 attempt timeouts) passes.
Delivery deliver(const Target& t, const Event& e, const fs::path& root, const std::string& id) {
  Delivery d{t.name, "failed", 0, ""};
  std::string body = webhook_body(e, id, now_iso());
  std::string url = t.url.empty() ? env_value(t.url_env) : t.url;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"}, {"X-Mlo-Event", e.kind}, {"X-Mlo-Delivery", id}};
  if (t.type != "command" && url.empty()) {
    d.error = "environment variable " + t.url_env + " (url_env) is not set";
    return d;
  }
  if (t.type == "webhook" && !t.secret_env.empty()) {
    std::string secret = env_value(t.secret_env);
    if (secret.empty()) {
      d.error = "environment variable " + t.secret_env + " (secret_env) is not set: not sending unsigned";
      return d;
    }
    headers.emplace_back("X-Mlo-Signature-256", signature_header(secret, body));
  }
  if (t.type == "slack") body = json_text(json{{"text", slack_text(e)}});
  remote::HttpOptions ho;
  ho.retries = 0;  // the loop below retries, within the deadline
  ho.connect_timeout_s = std::max(1L, static_cast<long>(t.timeout_s));
  ho.low_speed_time_s = ho.connect_timeout_s;
  remote::HttpClient http(ho);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(4 * t.timeout_s);
  for (int attempt = 0; attempt <= t.retries; ++attempt) {
    ++d.attempts;
    Attempt a = t.type == "command"
                    ? run_command_once(t.command, webhook_body(e, id, now_iso()), root, root / ".mlo/notify/command.log", t.timeout_s)
                    : post_once(http, url, headers, body);
    if (a.ok) {
      d.status = "sent";
      d.error.clear();
      return d;
    }
    d.error = a.error;
    if (!a.retryable) break;
    auto wait = std::chrono::milliseconds(remote::backoff_delay_ms(250, attempt));
    if (attempt == t.retries || std::chrono::steady_clock::now() + wait >= deadline) break;
    std::this_thread::sleep_for(wait);
  }
  return d;
}

bool takes(const Target& t, const std::string& kind) {
  if (t.events.empty()) return true;
  return std::find(t.events.begin(), t.events.end(), kind) != t.events.end();
}

void append_log(const fs::path& dir, const Event& e, const Delivery& d) {
  json line = {{"ts", now_iso()}, {"event", e.kind}, {"subject", e.subject}, {"summary", e.summary}};
  line.update(d.to_json());
  UniqueFd fd(::open((dir / "log.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  std::string text = json_text(line) + "\n";
  if (fd) (void)!::write(fd.get(), text.data(), text.size());
}

// Conditions (drift, decay, a failed contract) repeat while they last: they
// wait out the cooldown. Decisions (a refusal, a forced promotion, a
// rollback, a fired trigger) are each news: only exact repeats are dropped.
bool has_cooldown(const std::string& kind) {
  return kind == kDrift || kind == kPerformance || kind == kContractFailed;
}

// De-dup and cooldown, then delivery; the state changes only on success so
// a failed event is tried again by the next command that reports it.
Delivery gate_and_deliver(const Target& t, const Event& e, const fs::path& root, StateFile& state) {
  std::string key = e.dedup_key.empty() ? sha256_hex(json_text(e.detail)) : e.dedup_key;
  json& last = state.entry(t.name + "\t" + e.kind + "\t" + e.subject);
  if (last.is_object() && last.value("key", "") == key) return {t.name, "duplicate", 0, ""};
  if (last.is_object() && has_cooldown(e.kind) && now_s() - last.value("at", 0.0) < t.cooldown_s)
    return {t.name, "cooldown", 0, "last sent " + last.value("ts", "") + "; cooldown " + std::to_string(static_cast<long>(t.cooldown_s)) + "s"};
  SharedGate shared;
  if (!t.shared_remote.empty()) {
    shared = claim_shared(root, t.shared_remote, t.name, e.kind, e.subject, key, has_cooldown(e.kind) ? t.cooldown_s : 0, now_s());
    if (shared.status == "duplicate" || shared.status == "cooldown") return {t.name, shared.status, 0, shared.detail};
    if (shared.status == "unshared")
      std::cerr << "mlo: warning: notify target " << t.name << ": " << shared.detail << "; sending without the shared state\n";
  }
  std::string id = sha256_hex(key + t.name + std::to_string(now_s()) + std::to_string(::getpid())).substr(0, 16);
  Delivery d = deliver(t, e, root, id);
  if (d.status != "sent") release_shared(root, t.shared_remote, shared.refs);
  if (d.status == "sent") {
    last = {{"key", key}, {"at", now_s()}, {"ts", now_iso()}};
    state.save();
  }
  return d;
}

// The result with its current data named relative to the repository, so
// clones at other paths fingerprint the same drift alike (shared: targets).
json with_relative_sources(json result, const fs::path& root) {
  std::string prefix = root.lexically_normal().string();
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  json* sources = result.contains("current") && result["current"].is_object() && result["current"].contains("sources")
                      ? &result["current"]["sources"]
                      : nullptr;
  if (!sources || !sources->is_array()) return result;
  for (auto& src : *sources)
    if (src.is_string() && src.get<std::string>().rfind(prefix, 0) == 0) src = src.get<std::string>().substr(prefix.size());
  return result;
}

}  // namespace

json Delivery::to_json() const {
  json j = {{"target", target}, {"status", status}, {"attempts", attempts}};
  if (!error.empty()) j["error"] = error;
  return j;
}

std::vector<Target> load_targets(const fs::path& mlo_yaml) {
  std::vector<Target> out;
  if (!fs::exists(mlo_yaml)) return out;
  const std::string file = mlo_yaml.filename().string();
  YAML::Node root = load_yaml_file(mlo_yaml);
  if (root && root.IsMap()) check_mlo_yaml(root, file);  // a typo must not drop a trigger or a target
  if (!root || !root.IsMap() || !root["notify"]) return out;
  YAML::Node sec = root["notify"];
  if (!sec.IsMap()) throw InputError(at(sec, file) + ": 'notify' must map target names to settings",
                                     "see man mlo-notify(5)");
  for (auto it = sec.begin(); it != sec.end(); ++it) {
    Target t;
    t.name = it->first.as<std::string>();
    YAML::Node n = it->second;
    if (!n.IsMap()) throw InputError(at(n, file) + ": notify target '" + t.name + "' must be a map", "add type: webhook and url:");
    if (n["type"]) t.type = n["type"].as<std::string>();
    if (n["url"]) t.url = n["url"].as<std::string>();
    if (n["url_env"]) t.url_env = n["url_env"].as<std::string>();
    if (n["secret_env"]) t.secret_env = n["secret_env"].as<std::string>();
    if (n["command"]) t.command = strings(n["command"], file, "command");
    if (n["events"]) t.events = strings(n["events"], file, "events");
    if (n["cooldown"]) t.cooldown_s = duration_at(n["cooldown"], file, "cooldown");
    if (n["timeout"]) t.timeout_s = duration_at(n["timeout"], file, "timeout");
    if (n["retries"]) t.retries = std::clamp(n["retries"].as<int>(), 0, 10);
    if (n["shared"]) t.shared_remote = shared_remote(n["shared"], file);
    check_target(t, n, file);
    out.push_back(std::move(t));
  }
  return out;
}

std::string webhook_body(const Event& e, const std::string& id, const std::string& time_iso) {
  json j = {{"event", e.kind}, {"subject", e.subject}, {"summary", e.summary}, {"detail", e.detail},
            {"delivery", id}, {"time", time_iso}, {"source", "mlo"}};
  return json_text(j);
}

std::string signature_header(const std::string& secret, const std::string& body) {
  return "sha256=" + hex(hmac_sha256(secret, body));
}

std::vector<Delivery> send(const fs::path& root, const Event& e) {
  std::vector<Delivery> out;
  try {
    std::vector<Target> targets = load_targets(root / "mlo.yaml");
    if (targets.empty()) return out;
    fs::path dir = root / ".mlo" / "notify";
    StateFile state(dir);
    for (const auto& t : targets) {
      if (!takes(t, e.kind)) continue;
      out.push_back(gate_and_deliver(t, e, root, state));
      append_log(dir, e, out.back());
      if (out.back().status == "failed")
        std::cerr << "mlo: warning: notification '" << e.kind << "' to " << t.name << " failed after "
                  << out.back().attempts << " attempt(s): " << out.back().error << " (logged in .mlo/notify/log.jsonl)\n";
    }
  } catch (const std::exception& ex) {
    // A bad notify: section must not fail the command being reported on.
    std::cerr << "mlo: warning: notification '" << e.kind << "' not sent: " << ex.what() << "\n";
    out.push_back({"", "failed", 0, ex.what()});
  }
  return out;
}

std::vector<Delivery> drift(const fs::path& root, const std::string& monitor, const json& result) {
  if (!result.contains("summary") || result["summary"].value("drift", "") != "drift") return {};
  const json& cols = result["summary"].value("drifted_columns", json::array());
  json current = result.contains("current") ? result["current"].value("sources", json()) : json();
  std::string names;
  for (const auto& c : cols) names += (names.empty() ? "" : ", ") + (c.is_string() ? c.get<std::string>() : json_text(c));
  Event e;
  e.kind = kDrift;
  e.subject = monitor;
  e.summary = "monitor " + monitor + ": dataset drift (" + names + ")";
  e.detail = {{"monitor", monitor}, {"result_id", result.value("id", "")}, {"drifted_columns", cols}, {"current", current}};
  e.dedup_key = drift_fingerprint(result, root);
  return send(root, e);
}

std::string drift_fingerprint(const json& result, const fs::path& root) {
  json current = with_relative_sources(result, root).value("current", json::object());
  current.erase("since");
  current.erase("until");
  json summary = result.value("summary", json::object());
  return sha256_hex(json_text(current) + json_text(summary.value("drifted_columns", json::array())) +
                    json_text(result.value("metrics", json())));
}

std::vector<Delivery> contract_failed(const fs::path& root, const std::string& contract, const std::string& dataset,
                                      const json& failures) {
  Event e;
  e.kind = kContractFailed;
  e.subject = dataset;
  e.summary = "data contract " + contract + " failed on " + dataset;
  e.detail = {{"contract", contract}, {"dataset", dataset}, {"failures", failures}};
  return send(root, e);
}

}  // namespace mlo::notify
