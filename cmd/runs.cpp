// mlo runs ls|show|diff|log, mlo metrics show|diff, mlo params diff
#include <algorithm>
#include <ctime>
#include <fstream>
#include <set>

#include "command.h"
#include "environment/environment.h"
#include "step_summary.h"
#include "pipeline/metrics.h"
#include "pipeline/runs.h"
#include "repo/repo.h"

namespace mlo::cli {
namespace {

using json = nlohmann::json;

// Copies of an object field's members (iterating value(...).items() would dangle).
std::vector<std::pair<std::string, json>> json_items(const json& r, const char* key) {
  std::vector<std::pair<std::string, json>> out;
  if (r.contains(key) && r[key].is_object())
    for (auto it = r[key].begin(); it != r[key].end(); ++it) out.emplace_back(it.key(), it.value());
  return out;
}

std::string duration_text(double s) {
  char buf[32];
  if (s < 0) return "-";
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  return buf;
}

// Text table with aligned columns (or Markdown).
void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows, bool md) {
  std::cout << (md ? markdown_table(headers, rows) : text_table(headers, rows));
}

// Union of keys of an object field over rows, in first-seen order, at most `max`.
std::vector<std::string> keys_of(const std::vector<json>& rows, const char* field, size_t max) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const auto& r : rows) {
    if (!r.contains(field) || !r[field].is_object()) continue;
    for (auto it = r[field].begin(); it != r[field].end(); ++it)
      if (seen.insert(it.key()).second) keys.push_back(it.key());
    if (keys.size() >= max * 4) break;
  }
  std::sort(keys.begin(), keys.end());
  if (keys.size() > max) keys.resize(max);
  return keys;
}

std::string gib_text(const json& bytes) {
  if (!bytes.is_number()) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes.get<double>() / (1024.0 * 1024 * 1024));
  return buf;
}

// The run's environment, one line a part; every package with -v.
void print_environment(const json& e, bool verbose) {
  if (!e.is_object() || e.empty()) return;
  auto s = [&](const json& j, const char* k) { return j.is_object() && j.contains(k) ? value_text(j[k]) : std::string(); };
  std::cout << "environment:\n";
  if (e.contains("error")) std::cout << "  (not captured: " << s(e, "error") << ")\n";
  if (e.contains("os")) std::cout << "  os       " << s(e["os"], "name") << "\n";
  if (e.contains("kernel")) std::cout << "  kernel   " << s(e, "kernel") << " " << s(e, "arch") << ", " << s(e, "libc") << "\n";
  if (e.contains("cpu"))
    std::cout << "  cpu      " << s(e["cpu"], "model") << " (" << s(e["cpu"], "cores") << " cores), "
              << gib_text(e.value("memory_bytes", json())) << " memory\n";
  for (const auto& g : e.value("gpus", json::array()))
    std::cout << "  gpu      " << s(g, "name") << ", " << s(g, "memory_mib") << " MiB, driver " << s(g, "driver")
              << (g.contains("cuda") ? ", CUDA " + s(g, "cuda") : "") << "\n";
  if (e.contains("python")) {
    const json& py = e["python"];
    std::cout << "  python   " << s(py, "version") << " " << s(py, "path");
    if (py.contains("error")) std::cout << " (" << s(py, "error") << ")";
    if (py.contains("packages")) std::cout << ", " << py["packages"].size() << " packages" << (verbose ? ":" : " (-v lists them)");
    std::cout << "\n";
    if (verbose)
      for (const auto& [k, v] : json_items(py, "packages")) std::cout << "    " << k << " " << value_text(v) << "\n";
  }
  for (const auto& [k, v] : json_items(e, "lock_files")) std::cout << "  lock     " << k << " " << value_text(v).substr(0, 12) << "\n";
  for (const auto& [k, v] : json_items(e, "env_vars")) std::cout << "  var      " << k << "=" << value_text(v) << "\n";
  if (e.contains("container"))
    std::cout << "  image    " << s(e["container"], "image") << " " << s(e["container"], "digest") << " ("
              << s(e["container"], "engine") << ")\n";
}

void register_runs(CLI::App& app, Context& ctx) {
  auto* runs = add_command(app, "runs");
  runs->require_subcommand(1);

  auto q = std::make_shared<RunQuery>();
  auto md = std::make_shared<bool>(false);
  auto* ls = add_command(*runs, "ls", "List runs, newest first");
  ls->add_option("--stage", q->stage, "Only runs of this stage");
  ls->add_option("-w,--where", q->where, "Filter: FIELD OP VALUE, e.g. 'metrics.acc>0.9', 'status=failed' (repeatable, ANDed)");
  ls->add_option("-s,--sort", q->sort, "Sort by FIELD[:asc|:desc], e.g. metrics.acc:desc (default started_at:desc)");
  ls->add_option("-n,--limit", q->limit, "Show at most N runs (default 50; 0: all)");
  ls->add_flag("--md", *md, "Print a Markdown table (for pull-request comments)");
  q->limit = 50;
  ctx.on_run(ls, [&ctx, q, md] {
    q->count_more = q->limit > 0;
    auto rows = list_runs(ctx.repo(), *q);
    bool more = q->limit > 0 && static_cast<long>(rows.size()) > q->limit;
    if (more) rows.pop_back();
    if (more && !ctx.global.quiet)
      std::cerr << "(showing the first " << q->limit << " runs; --limit N for more, --limit 0 for all)\n";
    if (ctx.global.json) {
      json a = json::array();
      for (auto& r : rows) a.push_back(std::move(r));
      ctx.print_json(a);
      return;
    }
    auto pkeys = keys_of(rows, "params", 6);
    auto mkeys = keys_of(rows, "metrics", 8);
    std::vector<std::string> headers = {"id", "stage", "status", "started", "duration"};
    for (const auto& k : pkeys) headers.push_back(k);
    for (const auto& k : mkeys) headers.push_back(k);
    std::vector<std::vector<std::string>> table;
    table.reserve(rows.size());
    for (const auto& r : rows) {
      std::vector<std::string> row = {r["id"], r["stage"], r["status"], time_text(r["started_at"]),
                                      duration_text(r["duration_s"])};
      for (const auto& k : pkeys) row.push_back(r["params"].contains(k) ? value_text(r["params"][k]) : "-");
      for (const auto& k : mkeys) row.push_back(r["metrics"].contains(k) ? value_text(r["metrics"][k]) : "-");
      table.push_back(std::move(row));
    }
    print_table(headers, table, *md);
  });

  auto id = std::make_shared<std::string>();
  auto* show = add_command(*runs, "show", "Show a run's record (id or unique prefix)");
  show->add_option("id", *id, "Run id or prefix")->required();
  ctx.on_run(show, [&ctx, id] {
    json r = load_run(ctx.repo(), *id);
    if (ctx.global.json) {
      ctx.print_json(r);
      return;
    }
    auto job = r.value("job", json::object());
    std::cout << "run      " << r.value("run_id", "") << "\n"
              << "stage    " << r.value("stage", "") << "\n"
              << "status   " << r.value("status", "");
    if (!r.value("message", "").empty()) std::cout << " (" << r.value("message", "") << ")";
    std::cout << "\ncmd      " << (r["cmd"].is_string() ? r["cmd"].get<std::string>() : r["cmd"].dump()) << "\n"
              << "started  " << time_text(r.value("started_at", 0.0)) << "  duration "
              << duration_text(r.value("finished_at", 0.0) - r.value("started_at", 0.0)) << "\n"
              << "git      " << r["git"].value("commit", "") << (r["git"].value("dirty", false) ? " (dirty)" : "") << "\n"
              << "runner   " << r.value("runner", "") << " on " << r.value("host", "") << "\n"
              << "cpu      " << r.value("cpu_model", "") << "\n";
    if (r.contains("gpu_model")) std::cout << "gpu      " << value_text(r["gpu_model"]) << "\n";
    if (r.contains("sweep")) std::cout << "sweep    " << value_text(r["sweep"]) << "\n";
    if (r.contains("point") && r["point"].is_object()) {
      std::cout << "point   ";
      for (const auto& [k, v] : json_items(r, "point")) std::cout << " " << k << "=" << value_text(v);
      std::cout << "\n";
    }
    if (r.contains("restored_from"))
      std::cout << "restored from the run cache: the results of run " << value_text(r["restored_from"]) << "\n";
    std::cout << "record   " << r.value("record", "") << "\n";
    auto section = [](const char* title, const json& obj, bool hashes) {
      if (!obj.is_object() || obj.empty()) return;
      std::cout << title << ":\n";
      for (auto it = obj.begin(); it != obj.end(); ++it) {
        std::string v = hashes ? (it.value().is_string() ? it.value().get<std::string>()
                                                         : it.value().value("sha256", ""))
                                     .substr(0, 12)
                               : value_text(it.value());
        std::cout << "  " << it.key() << ": " << v << "\n";
      }
    };
    section("params", r.value("params", json::object()), false);
    section("metrics", r.value("metrics", json::object()), false);
    section("deps", r.value("deps", json::object()), true);
    section("outs", r.value("outs", json::object()), true);
    auto series = r.value("metric_series", json::object());
    for (auto it = series.begin(); it != series.end(); ++it)
      std::cout << "series " << it.key() << ": " << it.value().size() << " points\n";
    print_environment(r.value("environment", json()), ctx.global.verbose);
  });

  auto ids = std::make_shared<std::vector<std::string>>();
  auto dmd = std::make_shared<bool>(false);
  auto* diff = add_command(*runs, "diff", "Compare two runs: params, metrics, deps, outs, cmd, environment");
  diff->add_option("ids", *ids, "Two run ids (or prefixes)")->required()->expected(2);
  diff->add_flag("--md", *dmd, "Print a Markdown table");
  ctx.on_run(diff, [&ctx, ids, dmd] {
    json a = load_run(ctx.repo(), (*ids)[0]);
    json b = load_run(ctx.repo(), (*ids)[1]);
    json fa = json::object(), fb = json::object();
    auto flat = [](const json& r, json& f) {
      f["stage"] = r.value("stage", "");
      f["status"] = r.value("status", "");
      f["cmd"] = r["cmd"].is_string() ? r["cmd"] : json(r["cmd"].dump());
      f["git.commit"] = r["git"].value("commit", "");
      f["git.dirty"] = r["git"].value("dirty", false);
      f["runner"] = r.value("runner", "");
      f["host"] = r.value("host", "");
      for (const auto& [k, v] : json_items(r, "params")) f["params." + k] = v;
      for (const auto& [k, v] : json_items(r, "metrics")) f["metrics." + k] = v;
      for (const auto& [k, v] : json_items(r, "deps")) f["deps." + k] = v.get<std::string>().substr(0, 12);
      for (const auto& [k, v] : json_items(r, "outs")) f["outs." + k] = v.value("sha256", "").substr(0, 12);
      for (const auto& [k, v] : json_items(r, "resources")) f["resources." + k] = v;
      f["duration_s"] = r.value("finished_at", 0.0) - r.value("started_at", 0.0);
    };
    flat(a, fa);
    flat(b, fb);
    json rows = diff_values(fa, fb, false);
    json env = environment::diff(a.value("environment", json()), b.value("environment", json()));
    if (ctx.global.json) {
      ctx.print_json({{"a", a["run_id"]}, {"b", b["run_id"]}, {"changes", rows}, {"environment", env}});
      return;
    }
    std::vector<std::vector<std::string>> table;
    for (const auto& r : rows) {
      if (r["key"] == "duration_s") continue;
      table.push_back({r["key"], value_text(r["old"]), value_text(r["new"]),
                       r.contains("change") ? value_text(r["change"]) : ""});
    }
    for (const auto& e : env)  // package added / removed / changed, driver, OS, lock file, ...
      table.push_back({"environment." + e.value("field", ""), e.contains("old") ? value_text(e["old"]) : "-",
                       e.contains("new") ? value_text(e["new"]) : "-", e.value("change", "")});
    print_table({"field", a.value("run_id", ""), b.value("run_id", ""), "change"}, table, *dmd);
  });

  auto file = std::make_shared<std::string>("-");
  auto* imp = add_command(*runs, "import", "Add run records from JSON lines (one record a line; e.g. from another tracker)");
  imp->add_option("file", *file, "JSON-lines file, or - for stdin (default)");
  ctx.on_run(imp, [&ctx, file] {
    std::ifstream in;
    std::istream* src = &std::cin;
    if (*file != "-") {
      in.open(*file);
      if (!in) throw InputError("cannot read " + *file);
      src = &in;
    }
    std::vector<json> records;
    std::string line;
    long n = 0;
    while (std::getline(*src, line)) {
      ++n;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json r = json::parse(line, nullptr, false);
      if (r.is_discarded() || !r.is_object())
        throw InputError(*file + ":" + std::to_string(n) + ": not a JSON object", "one run record per line");
      if (!r.contains("version")) r["version"] = 1;
      records.push_back(std::move(r));
    }
    try {
      store_run_records(ctx.repo(), records);
    } catch (const InputError& e) {
      throw InputError(*file + ": " + e.what(), "each record needs run_id (8-64 of [0-9a-z_-]) and stage");
    }
    if (ctx.global.json) ctx.print_json({{"imported", records.size()}});
    else if (!ctx.global.quiet) std::cout << "Imported " << records.size() << " runs\n";
  });

  auto lid = std::make_shared<std::string>();
  auto* logc = add_command(*runs, "log", "Print a run's captured output");
  logc->add_option("id", *lid, "Run id or prefix")->required();
  ctx.on_run(logc, [&ctx, lid] {
    json r = load_run(ctx.repo(), *lid);
    std::string h = r.value("log", "");
    if (h.empty()) throw InputError("run " + r.value("run_id", "") + " has no captured log");
    if (!ctx.repo().cache().has(h))
      throw InputError("the log of run " + r.value("run_id", "") + " is not in the cache", "fetch it with 'mlo pull'");
    std::string text = ctx.repo().cache().read(h);
    if (ctx.global.json) ctx.print_json({{"run_id", r["run_id"]}, {"log", text}});
    else std::cout << text;
  });
}

// `mlo metrics diff` and `mlo params diff`: values at revision A (default
// HEAD) against B (default the work tree).
void add_rev_diff(Context& ctx, CLI::App& group, const std::string& what, const std::string& summary, bool metrics) {
  auto revs = std::make_shared<std::vector<std::string>>();
  auto md = std::make_shared<bool>(false);
  auto all = std::make_shared<bool>(false);
  auto* diff = add_command(group, "diff", summary);
  diff->add_option("revs", *revs, "A [B]: compare A with B (default B: the work tree; default A: HEAD)")->expected(0, 2);
  diff->add_flag("--md", *md, "Print a Markdown table");
  diff->add_flag("-a,--all", *all, "Also list " + what + " that did not change");
  ctx.on_run(diff, [&ctx, revs, md, all, metrics] {
    std::string a = revs->size() > 0 ? (*revs)[0] : "HEAD";
    std::string b = revs->size() > 1 ? (*revs)[1] : "";
    auto values = [&](const std::string& rev) { return metrics ? metrics_at(ctx.repo(), rev) : params_at(ctx.repo(), rev); };
    json rows = diff_values(values(a), values(b), metrics, *all);
    std::string b_name = b.empty() ? "workspace" : b;
    if (ctx.global.json) {
      ctx.print_json({{"a", a}, {"b", b_name}, {"changes", rows}});
      return;
    }
    std::vector<std::vector<std::string>> table;
    for (const auto& r : rows) {
      std::vector<std::string> row;
      if (metrics) row.push_back(r["path"]);
      row.insert(row.end(), {r["key"], value_text(r["old"]), value_text(r["new"])});
      if (metrics) row.push_back(r.contains("change") ? value_text(r["change"]) : "");
      table.push_back(std::move(row));
    }
    std::vector<std::string> headers = metrics ? std::vector<std::string>{"path", "metric", a, b_name, "change"}
                                               : std::vector<std::string>{"param", a, b_name};
    print_table(headers, table, *md);
    write_step_summary("### mlo " + std::string(metrics ? "metrics" : "params") + " diff " + a + " " + b_name + "\n\n" +
                       (table.empty() ? std::string("No changes.\n") : summary_table(headers, table)));
  });
}

void register_metrics(CLI::App& app, Context& ctx) {
  auto* metrics = add_command(app, "metrics");
  metrics->require_subcommand(1);
  auto rev = std::make_shared<std::string>();
  auto md = std::make_shared<bool>(false);
  auto* show = add_command(*metrics, "show", "Show the metrics files' values (work tree, or at a git revision)");
  show->add_option("rev", *rev, "A git revision (default: the work tree)");
  show->add_flag("--md", *md, "Print a Markdown table");
  ctx.on_run(show, [&ctx, rev, md] {
    json m = metrics_at(ctx.repo(), *rev);
    if (ctx.global.json) {
      ctx.print_json(m);
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (auto& [file, values] : m.items())
      for (auto& [k, v] : values.items()) rows.push_back({file, k, value_text(v)});
    print_table({"path", "metric", "value"}, rows, *md);
  });

  add_rev_diff(ctx, *metrics, "metrics", "Compare metrics between revisions (default: HEAD and the work tree)", true);
}

void register_params(CLI::App& app, Context& ctx) {
  auto* params = add_command(app, "params");
  params->require_subcommand(1);
  add_rev_diff(ctx, *params, "params", "Compare the stages' params between revisions (default: HEAD and the work tree)",
               false);
}

}  // namespace
MLO_REGISTER_COMMANDS(42, register_runs,
                      {"runs", "List, show, compare runs and print their logs"});
MLO_REGISTER_COMMANDS(43, register_metrics,
                      {"metrics", "Show and compare metrics across git revisions"});
MLO_REGISTER_COMMANDS(44, register_params,
                      {"params", "Compare params across git revisions"});
}  // namespace mlo::cli
