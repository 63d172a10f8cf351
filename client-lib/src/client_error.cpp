#include "mend/client_error.h"

namespace mend::client {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone: return "none";
    case ErrorCode::kStopped: return "stopped";
    case ErrorCode::kTerminalClose: return "terminal_close";
    case ErrorCode::kGaveUp: return "gave_up";
    case ErrorCode::kTooManyPending: return "too_many_pending";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNetwork: return "network";
    case ErrorCode::kProtocol: return "protocol";
    case ErrorCode::kHttpStatus: return "http_status";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kFrameTooLarge: return "frame_too_large";
  }
  return "unknown";
}

}  // namespace mend::client
