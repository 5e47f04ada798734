#include "core/interrupt.h"

#include <atomic>
#include <csignal>

#include "core/error.h"

namespace mlo {
namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted.store(true); }
}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_interrupted.load(std::memory_order_relaxed); }

void check_interrupted() {
  if (interrupted()) throw InterruptedError();
}

void set_interrupted(bool value) { g_interrupted.store(value); }

}  // namespace mlo
