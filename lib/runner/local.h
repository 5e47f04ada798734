#pragma once
#include "runner/runner.h"

namespace mlo {

class LocalRunner : public Runner {
 public:
  std::string name() const override { return "local"; }
  JobResult run(const JobSpec& spec) override;
};

}  // namespace mlo
