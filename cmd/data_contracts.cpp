// mlo data validate | mlo data schema infer: data contracts (lib/contracts).
#include <cstdlib>
#include <fstream>

#include "command.h"
#include "contracts/run.h"
#include "core/fs.h"
#include "core/log.h"

namespace mlo::cli {

namespace {

bool in_github_actions() {
  const char* v = std::getenv("GITHUB_ACTIONS");
  return v && std::string(v) == "true";
}

struct ValidateArgs {
  std::vector<std::string> paths;
  bool markdown = false;
  bool skip_unchecked = false;
  bool no_record = false;
  std::size_t examples = 5;
};

void render(Context& ctx, const ValidateArgs& a, const contracts::RunResult& r) {
  if (ctx.global.json) {
    nlohmann::json doc = contracts::to_json(r.datasets);
    doc["skipped"] = r.skipped;
    ctx.print_json(doc);
  } else if (a.markdown) {
    std::cout << contracts::to_markdown(r.datasets);
  } else if (!ctx.global.quiet) {
    std::cout << contracts::to_text(r.datasets, ctx.global.verbose);
    if (r.datasets.empty()) std::cout << "No checked datasets among the paths given.\n";
  }
  if (in_github_actions()) {
    std::cout << std::flush;  // annotations never inside --json stdout
    std::cerr << contracts::to_annotations(r.datasets) << std::flush;
    if (const char* sum = std::getenv("GITHUB_STEP_SUMMARY"); sum && *sum && !r.datasets.empty()) {
      std::ofstream f(sum, std::ios::app);
      f << contracts::to_markdown(r.datasets);
    }
  }
}

void add_validate(CLI::App& data, Context& ctx) {
  auto* cmd = add_wanted_command(data, ctx, "validate", "Check data against its contract (checks: in mlo.yaml)");
  if (!cmd) return;
  auto a = std::make_shared<ValidateArgs>();
  cmd->add_option("paths", a->paths, "Datasets, files in them or their PATH.mlo pointers (default: every checked dataset)");
  cmd->add_flag("--markdown", a->markdown, "Print a Markdown report (for PR comments)");
  cmd->add_flag("--skip-unchecked", a->skip_unchecked, "Skip paths that have no checks (the pre-commit hook)");
  cmd->add_flag("--no-record", a->no_record, "Do not store the results (lineage, data_valid gate)");
  cmd->add_option("--examples", a->examples, "Example rows kept per failed check (default 5)")->check(CLI::Range(0, 1000));
  ctx.on_run(cmd, [&ctx, a] {
    contracts::RunOptions o;
    o.skip_unchecked = a->skip_unchecked;
    o.record = !a->no_record;
    o.validate.max_examples = a->examples;
    contracts::RunResult r = contracts::validate_paths(ctx.repo(), a->paths, o);
    render(ctx, *a, r);
    if (!r.passed()) ctx.exit_code = 1;
  });
}

void add_schema(CLI::App& data, Context& ctx) {
  auto* schema = add_wanted_command(data, ctx, "schema", "Data contracts: write a starting contract from the data");
  if (!schema) return;
  schema->require_subcommand(1);
  auto path = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  auto* infer = add_command(*schema, "infer", "Write the checks: YAML for PATH from its data (types, ranges, categories)");
  infer->add_option("path", *path, "A tracked path, a file or a folder of CSV/TSV/JSON Lines")->required();
  infer->add_option("-o,--output", *output, "Write to FILE instead of standard output");
  ctx.on_run(infer, [&ctx, path, output] {
    Repo& repo = ctx.repo();
    std::string rel = repo.relative(*path);
    if (rel.ends_with(".mlo")) rel.resize(rel.size() - 4);
    std::string yaml = contracts::infer_contract(&repo, rel, contracts::dataset_sources(&repo, rel));
    if (output->empty()) {
      std::cout << yaml;
      return;
    }
    write_file_atomic(*output, yaml);
    if (!ctx.global.quiet) std::cout << "Wrote " << *output << ": merge its checks: into mlo.yaml\n";
  });
}

}  // namespace

void register_data_contracts(CLI::App& data, Context& ctx) {
  add_validate(data, ctx);
  add_schema(data, ctx);
}

}  // namespace mlo::cli
