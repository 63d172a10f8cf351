// The two modes of mend-load. Each runs to completion, prints its progress to stderr once a
// second (unless --quiet) and returns its report; main prints it.
// Thread safety: call from the main thread; each run owns its threads and joins them.
#pragma once

#include "options.h"
#include "report.h"
#include "setup.h"

namespace mend::load {

// Plays options.rooms couples for warmup + duration seconds (see couple.h).
LoadReport run_load(const LoadOptions& options, const Setup& setup);

// --relay: options.rooms pairs play ping-pong through a bare WebSocket relay (relay_run.cpp),
// closed loop or paced to options.rate.
LoadReport run_relay(const LoadOptions& options, const Setup& setup);

// Opens options.idle authenticated connections, holds them for options.duration seconds.
IdleReport run_idle(const LoadOptions& options, const Setup& setup);

}  // namespace mend::load
