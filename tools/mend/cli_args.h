// The command line of `mend`: subcommands, flags, defaults from the environment, and the
// usage text. Pure: the caller passes argv and the environment values; nothing is read here.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mend::cli {

enum class Subcommand { kTemplates, kCreate, kJoin, kTranscript, kAudit, kErase, kInsights, kSummary };

struct CliOptions {
  Subcommand subcommand = Subcommand::kTemplates;
  // http(s):// or ws(s):// URL of mendd; default MEND_SERVER, else http://127.0.0.1:8480.
  std::string server;
  std::string ca_file;  // PEM with extra CA certificates (a self-signed server certificate)
  // create
  std::string template_name;
  std::string topic;
  std::vector<std::string> observers;
  std::string partner_a;
  std::string partner_b;
  std::string api_key_file;
  // join, transcript, audit, erase: the invite token, given directly or read from a file
  // (exactly one of them is set after a successful parse; MEND_TOKEN fills `token`).
  std::string token;
  std::string token_file;
  // transcript, audit, erase
  std::string room_id;
};

// Values of environment variables the CLI honours (empty when unset).
struct CliEnvironment {
  std::string server;  // MEND_SERVER
  std::string token;   // MEND_TOKEN
};

struct CliParse {
  std::optional<CliOptions> options;  // set on success
  bool help = false;                  // --help / help: print usage_text(), exit 0
  bool version = false;               // --version
  std::string error;                  // a usage error in plain words (exit 2)
};

// Parses argv[1..] (`args` excludes the program name): args[0] is the subcommand (or --help,
// -h, help, --version); the flags after it are parsed with Boost.Program_options against the
// flags that subcommand takes (exact names, value after '=' or as the next argument,
// --observer may repeat, any other flag given twice is an error). Errors are plain sentences.
CliParse parse_cli(const std::vector<std::string>& args, const CliEnvironment& environment);

// The usage text for --help (written by hand: one synopsis per subcommand).
std::string usage_text();

// The HTTP base URL for the API from a server URL: ws -> http, wss -> https, and a trailing
// "/v1/connect" dropped. Other URLs are returned unchanged.
std::string http_base_url(const std::string& server);
// The WebSocket URL for `mend join` from a server URL: http -> ws, https -> wss, and
// "/v1/connect" appended when the URL has no path.
std::string websocket_url(const std::string& server);

}  // namespace mend::cli
