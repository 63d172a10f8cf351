// What both modes of mend-load need before they start: the server's URLs, the certificate to
// trust, the API key, the server process (for /proc figures), and enough file descriptors.
// Thread safety: call from the main thread before starting the run.
#pragma once

#include <optional>
#include <string>

#include "options.h"

namespace mend::load {

struct Setup {
  std::string http_base_url;    // for POST /v1/rooms
  std::string websocket_url;    // for the clients
  std::string ca_file;          // empty: system trust store only
  std::string api_key;
  std::optional<int> server_pid;
  unsigned long fd_limit = 0;   // RLIMIT_NOFILE after raising it to the hard limit
};

// Prepares a run; on failure returns nullopt and sets `error` (plain words).
// --insecure fetches the certificate the server presents (no verification) into a temporary
// PEM file and trusts it; the host name (or IP address) is still verified against it.
std::optional<Setup> prepare(const LoadOptions& options, std::string& error);

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the soft limit now in force.
unsigned long raise_fd_limit();

}  // namespace mend::load
