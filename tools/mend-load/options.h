// The command line of `mend-load`, mend's load generator (DESIGN.md section 10). Pure: the caller
// passes argv[1..]; nothing is read or printed here.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mend::load {

struct LoadOptions {
  // ws://, wss://, http:// or https:// URL of mendd.
  std::string server = "ws://127.0.0.1:8480";
  // Templates to play; rooms take them in turn (room i plays templates[i % size]).
  std::vector<std::string> templates;  // default {"imago-dialogue"} after parsing
  std::uint32_t rooms = 10;            // couples playing at once
  double think_ms = 200.0;             // mean think time before each step; 0 = closed loop
  double rate = 0.0;                   // open-loop target, commands/s over all rooms; 0 = off
  bool observers = false;              // one named observer per room, approved and joined
  std::uint32_t chunks_per_turn = 1;   // shares per speaker's turn, each mirrored and confirmed
  bool relay = false;                  // the server is a bare relay: --rooms pairs ping-pong
  bool relay_acks = false;             // with relay: the relay also echoes to the sender
  double warmup_s = 2.0;               // not measured
  double duration_s = 10.0;            // measured
  std::uint32_t idle = 0;              // > 0: idle mode with this many connections
  std::string ca_file;                 // wss: PEM to trust (mendd's data-dir/tls-cert.pem)
  bool insecure = false;               // wss: trust whatever certificate the server presents
  std::string api_key_file;            // first line is the API key for POST /v1/rooms
  int server_pid = 0;                  // 0: found by the listening port when loopback
  unsigned threads = 2;                // I/O threads shared by all clients
  bool json = false;                   // one JSON object on stdout instead of text
  bool quiet = false;                  // no progress lines on stderr
  std::uint64_t seed = 0;              // 0: random
};

struct OptionsParse {
  std::optional<LoadOptions> options;  // set on success
  bool help = false;                   // --help: print usage_text(), exit 0
  std::string error;                   // a usage error in plain words (exit 2)
};

// Parses argv[1..] (`args` excludes the program name) with Boost.Program_options. Flags take
// their value as the next argument or after '=' (--rooms=10); names are exact (no
// abbreviations). --template may repeat and takes comma lists; any other flag given twice is a
// usage error. --help (or -h) wins over invalid values, not over unknown or malformed flags.
// Every error is one stable sentence:
// "unknown option --X", "missing value for --X", "--X takes no value", "--X is given more than
// once", "unexpected argument 'X'", "invalid value for --X: 'V'", or a rule between flags.
OptionsParse parse_options(const std::vector<std::string>& args);

// The usage text for --help (also for README).
std::string usage_text();

// "ws://127.0.0.1:8480" -> host "127.0.0.1", port 8480 (default 80/443 by scheme); nullopt when
// the URL cannot be read.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
std::optional<HostPort> server_host_port(const std::string& server);

// Whether `host` names this machine's loopback (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

}  // namespace mend::load
