// Checking the rows of a serving request against the column rules (type,
// nullable, min/max, in, regex) of the contract of a model's training data:
// deployments.ENV.validate_requests (man mlo-deploy). Dataset-wide checks
// (unique, rows, drift, expect) say nothing about one request and are not used.
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "contracts/contract.h"

namespace mlo {
class Repo;
}

namespace mlo::contracts {

struct RequestFailure {
  std::string check, column, value;  // value: the offending cell, shortened ("null" for a missing one)
  std::size_t row = 0;               // 0-based row of the request
  nlohmann::json to_json() const;
};

class RequestChecker {
 public:
  // The column rules of the contracts of a version's training data (its
  // "data": [{path, ...}]); a column declared by several keeps the first.
  // Throws InputError for a malformed contract.
  static RequestChecker for_data(Repo& repo, const nlohmann::json& data);
  bool empty() const { return rules_.empty(); }
  // "data/train.csv (mlo.yaml:4:3)": where the rules come from.
  const std::string& source() const { return source_; }
  // One cell (nullopt: null or absent). Columns without rules pass.
  void check(std::size_t row, const std::string& column, const std::optional<std::string>& text,
             std::vector<RequestFailure>& out) const;

 private:
  struct Rule;
  std::map<std::string, std::shared_ptr<const Rule>> rules_;
  std::string source_;
};

}  // namespace mlo::contracts
