// Errors of the mend client SDK: values with stable codes, never exceptions across
// asynchronous boundaries.
//
// Thread safety: plain values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <string>

namespace mend::client {

enum class ErrorCode {
  kNone = 0,
  // The client was stopped (Client::stop or destruction) before the operation finished.
  kStopped,
  // The server closed the connection with a terminal close code (4500-4999; DESIGN 5).
  // ClientError::close_code holds it: 4501 unauthenticated or expired token, 4503 observer
  // consent revoked or room erased, 4529 rate-limit abuse, ...
  kTerminalClose,
  // Reconnecting gave up after BackoffPolicy::max_attempts consecutive failures.
  kGaveUp,
  // Too many commands waiting for a result (ClientOptions::max_pending_commands).
  kTooManyPending,
  // The call's arguments are unusable (a malformed URL, a command without a body, ...).
  kInvalidArgument,
  // Network or TLS failure of a one-shot call (HttpClient), including certificate
  // verification failures.
  kNetwork,
  // The server answered, but not with what the protocol promises (bad JSON, bad frame).
  kProtocol,
  // An HTTP call was answered with a non-2xx status; ClientError::http_status and
  // ClientError::server_code (ErrorResponse.code, e.g. "UNKNOWN_TEMPLATE") say which.
  kHttpStatus,
  // A one-shot call did not finish within its timeout.
  kTimeout,
  // The command's frame is over the server's frame limit: refused before sending (over
  // ClientOptions::max_command_bytes), or the server closed the connection with 1009 (frame too
  // large) while it was unanswered. Resending it would only repeat that, so this command fails;
  // the others are resent after the reconnect.
  kFrameTooLarge,
};

// Stable, lower-case name of a code, e.g. "terminal_close". Never changes meaning.
const char* error_code_name(ErrorCode code);

struct ClientError {
  ErrorCode code = ErrorCode::kNone;
  std::uint16_t close_code = 0;  // kTerminalClose: the WebSocket close code
  int http_status = 0;           // kHttpStatus
  std::string server_code;       // kHttpStatus: ErrorResponse.code when the body had one
  std::string message;           // human, never contains tokens or message content

  bool ok() const { return code == ErrorCode::kNone; }
  explicit operator bool() const { return !ok(); }  // true when there is an error
};

// Close codes of DESIGN 5 and how the SDK reacts to them:
// - 4500-4999 are terminal: the client closes for good (4500 malformed frame, 4501
//   unauthenticated, 4503 consent revoked or room erased, 4504 unknown room, 4529 rate-limit
//   abuse). So is 4400, the malformed-frame code of servers before 4500 took its place: a
//   retry would only repeat it.
// - 1009 (frame too large) is terminal for the command that caused it (kFrameTooLarge); the
//   client reconnects and resends the others.
// - every other code (4000-4399 and 4401-4499: 4001 shutdown, 4002 silent, 4008 slow
//   consumer, 4009 replaced; 1000, 1001, 1011, ...) and a dropped connection: reconnect with
//   backoff and resume.
inline constexpr std::uint16_t kCloseLegacyMalformed = 4400;
inline constexpr std::uint16_t kCloseFrameTooLarge = 1009;
inline bool is_terminal_close(std::uint16_t code) {
  return (code >= 4500 && code <= 4999) || code == kCloseLegacyMalformed;
}
inline bool is_resumable_close(std::uint16_t code) {
  return !is_terminal_close(code) && code != kCloseFrameTooLarge;
}

}  // namespace mend::client
