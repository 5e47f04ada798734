// The init step of the Deployment that `mlo deploy --target k8s` renders: an
// init container fetches the model artifact from the repository's remote by
// its SHA-256 into the pod's /models (an emptyDir), so a registered version
// deploys without being baked into an image or copied onto a volume by hand.
// It runs mlo itself (the rendered Dockerfile's image carries mlo and git):
// a scratch repository, the remote as configured here (its tracked options;
// credentials from the optional Secret mlo-remote, as environment variables),
// the artifact's pointer file, `mlo pull` (which verifies the hash on
// download) and a sha256sum check of the copy the runner will read.
// Man page: mlo-deploy(1), "Kubernetes".
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "deploy/model_source.h"

namespace mlo {
class Repo;
}

namespace mlo::deploy {

struct ModelFetch {
  std::string remote;             // the remote's name
  nlohmann::json init_container;  // the pod's initContainers[0]
  nlohmann::json files;           // ConfigMap data: model.mlo (pointer), fetch-model.sh (the script)
};

// The fetch step for `m` from the remote `remote_name` ("" = the default one).
// InputError when no remote is configured (the pods would have nowhere to
// fetch from).
ModelFetch model_fetch_step(Repo& repo, const DeployModel& m, const std::string& image, const std::string& remote_name = "");

}  // namespace mlo::deploy
