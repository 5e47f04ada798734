// A runner's worker processes (serving.workers): forked copies of the runner
// that each listen on the same port (SO_REUSEPORT), supervised by the process
// that forked them. A worker that dies stops the whole runner, so the router
// sees one runner exit and restarts it (as it does a runner that crashed).
#pragma once
#include <functional>
#include <string>

namespace mlo::deploy {

// Serves in one worker: binds `port` with reuse_port, calls ready(port) once
// it accepts requests, returns the exit status after SIGTERM or SIGINT (which
// the caller has blocked, so it waits for them with sigwait).
using ServeWorker = std::function<int(int port, const std::function<void(int port)>& ready)>;

// Forks `workers` processes running `serve` on one port (0: a free one) and
// calls on_ready(port) when every one of them listens. Then supervises them
// until SIGTERM or SIGINT (stops them, returns 0) or until one exits on its
// own (stops the others, returns 1). The caller blocks SIGTERM and SIGINT
// before and has started no thread (fork copies only the calling thread).
// Throws InputError when the port is in use, Error when a worker exits before
// it listens.
int run_worker_processes(const std::string& host, int port, int workers, const ServeWorker& serve,
                         const std::function<void(int port)>& on_ready);

}  // namespace mlo::deploy
