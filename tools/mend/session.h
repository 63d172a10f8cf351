// `mend join`: the interactive, line-based session of one participant (partner or observer),
// built on mend::client::Client. Reads lines from `input_fd`, writes to `output`.
//
// What it shows: the events the SDK delivers (each exactly once, also across reconnects),
// rendered by EventRenderer; a status block whenever the situation or the allowed actions
// change; the step's prompt when it changes; countdowns of pauses, time-outs and breaks;
// rejections with their rule; hints; who is online. What a line does: line_commands.h.
//
// Threading: the SDK's thread runs the handlers; one timer thread prints countdowns and
// re-sends reflections refused as TOO_SOON after Rejection.retry_after_ms; the calling thread
// reads input. Output is serialized by one mutex.
#pragma once

#include <ostream>
#include <string>

namespace mend::cli {

struct JoinOptions {
  std::string url;      // ws(s):// or http(s):// URL of mendd
  std::string token;    // the invite token; never printed
  std::string ca_file;  // extra CA certificates (PEM), may be empty
};

// Runs the session until the input ends, /quit, or the server closes the connection for
// good. Returns the process exit code: 0 after a normal end, 1 when the server closed the
// connection for good (expired invite, observer no longer approved, ...), 2 for unusable
// options (e.g. a malformed URL).
int run_join(const JoinOptions& options, int input_fd, std::ostream& output);

}  // namespace mend::cli
