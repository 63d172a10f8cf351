// spdlog set-up for mendd: text or one JSON object per line. Logs never carry message
// content or tokens (callers' duty; nothing here inspects messages).
#pragma once

#include <string>

namespace mend::app {

// Configures the default logger on stderr. `format`: "text" | "json"; `level`: spdlog name.
// Protobuf's log messages go through it too, at debug level (FATAL: critical). Call once, at
// start, before other threads run (both loggers are process-wide).
void setup_logging(const std::string& format, const std::string& level);

}  // namespace mend::app
