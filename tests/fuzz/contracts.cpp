// Fuzz target: data contracts (`checks:` in mlo.yaml, lib/contracts): the
// parser with its schema and the `expect:` expression language, then each
// parsed contract checked against a small fixed CSV (the validator's use of
// types, ranges, sets, regexes, keys and expressions), and the whole input
// as one expression evaluated on a row. Bad input must end in mlo::Error,
// never another exception (exit 70), a crash or a hang. Seeds:
// corpus/contracts/, written by tests/fuzz/contracts_seeds.sh from the
// contracts the CLI tests use.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "contracts/contract.h"
#include "contracts/expr.h"
#include "contracts/validate.h"
#include "monitor/table.h"
#include "scratch.h"

namespace {

using mlo::fuzz::expect_mlo_errors_only;

const std::vector<mlo::monitor::Source>& sample_table() {
  static const std::vector<mlo::monitor::Source> sources = [] {
    auto path = mlo::fuzz::scratch_dir() / "sample.csv";
    mlo::fuzz::write_file(path,
                          "id,a,b,x,age,income,city,label,signup\n"
                          "1,0.5,2,3,30,100.5,paris,a,2026-01-02\n"
                          "2,,1,-1,7,,lyon,b,2026-01-03T10:00:00Z\n"
                          "2,1e308,3,x,130,nan,\"ni,ce\",c,yesterday\n");
    return mlo::monitor::resolve_inputs({path.string()}, nullptr, std::nullopt);
  }();
  return sources;
}

void evaluate_as_expression(std::string_view text) {
  mlo::contracts::ExprError err;
  auto e = mlo::contracts::Expr::parse(text, err);
  if (!e) return;
  std::vector<mlo::contracts::ExprCell> cells(e->columns().size());
  for (std::size_t i = 0; i < cells.size(); ++i) {
    cells[i].missing = i % 3 == 2;
    cells[i].text = i % 3 == 0 ? "1.5" : "paris";
    cells[i].number = i % 3 == 0 ? 1 : 2;
    cells[i].num = 1.5;
  }
  (void)e->holds(cells.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = mlo::fuzz::scratch_dir();
  std::string_view text = mlo::fuzz::as_text(data, size);
  mlo::fuzz::write_file(dir / "mlo.yaml", text);
  std::vector<mlo::contracts::Contract> contracts;
  expect_mlo_errors_only([&] { contracts = mlo::contracts::load_contracts(dir); });
  mlo::contracts::ValidateOptions options;
  options.now = 1.8e9;  // freshness against a fixed clock
  options.unique_limit = 64;  // reach the sampling path too
  for (std::size_t i = 0; i < contracts.size() && i < 4; ++i) {
    auto& c = contracts[i];
    c.drift.clear();  // references name other files (monitor's readers have their own target)
    expect_mlo_errors_only([&] { mlo::contracts::validate(nullptr, c, sample_table(), options); });
  }
  evaluate_as_expression(text);
  return 0;
}
