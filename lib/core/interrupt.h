// Cooperative cancellation: SIGINT/SIGTERM set a flag that long loops poll, so
// they stop at a safe point (temp files removed, nothing half-written).
#pragma once

namespace mlo {

// Installs handlers for SIGINT and SIGTERM. Idempotent.
void install_interrupt_handlers();
bool interrupted();
// Throws InterruptedError when a signal arrived.
void check_interrupted();
// Test hook: pretend a signal arrived (or clear it).
void set_interrupted(bool value);

}  // namespace mlo
