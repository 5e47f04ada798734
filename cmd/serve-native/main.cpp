// mlo-serve-native: the native inference runner for mlo-linear JSON models.
//   mlo-serve-native --spec SPEC.json
// serve mode: answers the Open Inference Protocol (v2) and MLflow scoring
// routes, prints "mlo-inference-runner ready port=P" when it accepts requests,
// and exits cleanly on SIGTERM/SIGINT. batch mode: scores a CSV into a CSV.
// Contract: mlo-inference-runners(7), schemas/inference-spec.schema.json.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "deploy/batcher.h"
#include "deploy/http_server.h"
#include "deploy/inference.h"
#include "deploy/worker_processes.h"

using namespace mlo;
using namespace mlo::deploy;

namespace {
int usage() {
  std::cerr << "usage: mlo-serve-native --spec SPEC.json\n"
               "       (see man mlo-inference-runners)\n";
  return 2;
}

// Fault injection for tests (MLO_SERVE_FAULT): exit-at-start, never-ready,
// crash-after=N, error, delay=MS (before the request is taken up),
// model-delay=MS (inside each batched model call: requests that arrive meanwhile queue
// and are merged by the batcher, whatever the machine's load).
struct Faults {
  std::string kind = std::getenv("MLO_SERVE_FAULT") ? std::getenv("MLO_SERVE_FAULT") : "";
  long crash_after = kind.rfind("crash-after=", 0) == 0 ? std::atol(kind.c_str() + 12) : -1;
  long delay_ms = kind.rfind("delay=", 0) == 0 ? std::atol(kind.c_str() + 6) : 0;
  long model_delay_ms = kind.rfind("model-delay=", 0) == 0 ? std::atol(kind.c_str() + 12) : 0;
  std::atomic<long> served{0};

  // Answers resp and returns true when a fault answers the request instead of the model.
  bool answer(const HttpRequest& req, HttpResponse& resp) const {
    if (kind == "never-ready" && (req.path == "/v2/health/ready" || req.path == "/ping")) {
      resp = error_response(503, "not ready (injected fault)");
      return true;
    }
    if (delay_ms > 0 && req.method == "POST") std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    if (kind == "error" && req.method == "POST") {
      resp = error_response(500, "injected fault: prediction failed");
      return true;
    }
    return false;
  }
  void after(const HttpRequest& req) {
    if (crash_after >= 0 && req.method == "POST" && ++served >= crash_after) {
      std::cerr << "mlo-serve-native: injected fault: crashing" << std::endl;
      std::_Exit(3);
    }
  }
};

// Serves until SIGTERM or SIGINT (blocked by main, taken here with sigwait);
// calls ready(port) once requests are accepted. With max_batch_size > 1,
// predictions go through an adaptive batcher, whose counts are printed at exit.
int serve(const InferenceSpec& spec, const ModelServer& ms, Faults& faults, int port, bool reuse_port,
          const std::function<void(int)>& ready) {
  std::unique_ptr<AdaptiveBatcher> batcher;  // outlives the server: answers may still be on their way
  ComputeOutputs compute = ms.compute;
  if (faults.model_delay_ms > 0)
    compute = [&ms, ms_delay = faults.model_delay_ms](const Table& rows, const std::vector<std::string>& names) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms_delay));
      return ms.compute(rows, names);
    };
  if (spec.max_batch_size > 1)
    batcher = std::make_unique<AdaptiveBatcher>(compute, spec.max_batch_size, spec.max_batch_time_ms);
  AsyncHandler model = batcher ? batched_handler(ms, *batcher) : AsyncHandler([&ms](HttpRequest& req, HttpResponse& resp, Reply&) {
    ms.handle(req, resp);
    return true;
  });
  HttpServerOptions options{spec.host, port, spec.threads};
  options.reuse_port = reuse_port;
  HttpServer server(options);
  server.start_async([&](HttpRequest& req, HttpResponse& resp, Reply& reply) {
    if (faults.answer(req, resp)) return true;
    bool now = model(req, resp, reply);
    faults.after(req);
    return now;
  });
  ready(server.port());
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  server.stop();
  if (batcher) {
    AdaptiveBatcher::Stats st = batcher->stats();
    // One write: the workers share the log, and pieces of two lines would interleave.
    std::string line = "mlo-serve-native: " + std::to_string(st.requests) + " requests in " + std::to_string(st.calls) +
                       " model calls (at most " + std::to_string(st.largest) + " rows in one)\n";
    [[maybe_unused]] auto n = ::write(2, line.data(), line.size());
  }
  return 0;
}

// The model's outputs with their datatypes and widths (mlo-inference-runners(7)).
std::vector<OutputInfo> outputs_of(const LinearModel& model) {
  std::vector<OutputInfo> out;
  std::size_t k = model.classes.size();
  for (const auto& n : model.output_names()) {
    if (n == "predict") out.push_back({n, model.labels_are_numbers() ? "FP64" : "BYTES", 0});
    else if (n == "predict_proba") out.push_back({n, "FP64", k});
    else out.push_back({n, "FP64", k == 2 ? 0 : k});
  }
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  std::string spec_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--spec" && i + 1 < argc) spec_path = argv[++i];
    else if (a.rfind("--spec=", 0) == 0) spec_path = a.substr(7);
    else if (a == "--help" || a == "-h") return usage(), 0;
    else return usage();
  }
  if (spec_path.empty()) return usage();
  try {
    nlohmann::json doc = nlohmann::json::parse(read_file(spec_path), nullptr, false);
    if (doc.is_discarded()) throw InputError(spec_path + ": not valid JSON");
    InferenceSpec spec = spec_from_json(doc, spec_path);
    if (!spec.sha256.empty() && sha256_file(spec.artifact) != spec.sha256)
      throw InputError(spec.artifact.string() + ": content does not match sha256 " + spec.sha256,
                       "the artifact changed since it was registered");
    LinearModel model = LinearModel::load(spec.artifact);
    ComputeOutputs compute = [&model](const Table& t, const std::vector<std::string>& names) {
      return model.outputs(t, names);
    };
    std::vector<OutputInfo> offered = outputs_of(model);

    if (spec.mode == "batch") {
      for (const auto& n : spec.batch_outputs) {
        try {
          requested_outputs(nlohmann::json{{"outputs", {{{"name", n}}}}}, offered);
        } catch (const BadRequest& e) {
          throw InputError(spec_path + ": batch.outputs: " + e.what(), "name outputs the model has");
        }
      }
      std::size_t n = score_csv_file(spec.batch_input, spec.batch_output, compute, spec.batch_outputs, model.classes);
      std::cout << "mlo-inference-runner done rows=" << n << std::endl;
      return 0;
    }

    Faults faults;
    if (faults.kind == "exit-at-start") {
      std::cerr << "mlo-serve-native: injected fault: exiting at start\n";
      return 1;
    }
    ModelServer ms;
    ms.name = spec.model_name;
    ms.version = spec.model_version;
    ms.platform = "mlo-linear";
    ms.runner_name = "mlo-serve-native";
    ms.features = model.features;
    ms.outputs = offered;
    if (model.task == "classification") ms.classes = model.classes;
    ms.compute = compute;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // threads and workers inherit the mask; serve() waits for them
    auto say_ready = [](int port) { std::cout << "mlo-inference-runner ready port=" << port << std::endl; };
    if (spec.workers <= 1) return serve(spec, ms, faults, spec.port, false, say_ready);
    return run_worker_processes(
        spec.host, spec.port, spec.workers,
        [&](int port, const std::function<void(int)>& ready) { return serve(spec, ms, faults, port, true, ready); },
        say_ready);
  } catch (const Error& e) {
    std::cerr << "mlo-serve-native: error: " << e.what() << "\n";
    if (!e.hint().empty()) std::cerr << "hint: " << e.hint() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << "mlo-serve-native: error: " << e.what() << "\n";
    return 1;
  }
}
