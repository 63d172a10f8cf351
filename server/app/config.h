// mendd's configuration (DESIGN.md section 9): every option is a command-line flag and a
// MEND_* environment variable (flag --max-connections-per-ip <-> MEND_MAX_CONNECTIONS_PER_IP);
// a flag wins over the environment. Parsing is pure (no I/O besides what it returns).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "server/net/config.h"

namespace mend::app {

inline constexpr const char* kDefaultListen = "127.0.0.1:8480";
inline constexpr const char* kDefaultDataDir = "./data";

struct AppConfig {
  std::string listen = kDefaultListen;           // host:port, [v6]:port
  std::filesystem::path data_dir = kDefaultDataDir;
  std::optional<std::filesystem::path> tls_cert;  // both or neither
  std::optional<std::filesystem::path> tls_key;
  std::optional<std::filesystem::path> api_key_file;
  std::optional<std::filesystem::path> token_secret_file;  // default data_dir/token-secret.bin
  std::filesystem::path templates_dir;
  std::filesystem::path web_dir;                 // the built browser app (web/dist)
  std::string log_format = "text";               // text | json
  std::string log_level = "info";                // trace debug info warn error
  unsigned threads = 1;
  std::string store = "sqlite";                  // sqlite (durable, in data_dir) | postgres | memory
  std::string postgres_url;                      // --store postgres: libpq URI; never logged
  std::string node_id;                           // this node in room leases ("": hostname-pid)
  std::uint32_t lease_ms = 5000;                 // --store postgres: room lease time
  std::string durability = "full";               // sqlite: full | normal
  std::optional<std::filesystem::path> master_key_file;  // default data_dir/master.key
  std::uint32_t room_idle_evict_s = 600;         // unload rooms idle this long (0: never)
  double commands_per_second = 20.0;             // per participant (rooms)
  double command_burst = 40.0;
  std::uint32_t rate_limit_abuse_refusals = 100;  // RATE_LIMITED this often within the
  std::uint32_t rate_limit_abuse_window_ms = 10'000;  // window: closed 4529
  std::uint32_t invite_ttl_s = 7 * 24 * 3600;    // default invite lifetime
  std::uint32_t retention_sweep_interval_s = 3600;  // retention purge sweep period (DESIGN 7)
  net::NetConfig net;                            // limits and timings of the network layer
};

// What main should do after parsing.
struct Exit {
  int code = 0;
  std::string text;  // printed to stdout (code 0) or stderr
};

// Parses argv and `env` (entries "NAME=value", e.g. from `environ`). Returns the
// configuration, or an Exit for --help, --version and errors (code 2, with the reason).
// `default_templates_dir` is used when neither --templates-dir nor MEND_TEMPLATES_DIR is set,
// `default_web_dir` likewise for --web-dir / MEND_WEB_DIR.
std::variant<AppConfig, Exit> parse_config(int argc, const char* const* argv,
                                           const std::vector<std::string>& env,
                                           const std::filesystem::path& default_templates_dir,
                                           const std::filesystem::path& default_web_dir = {});

// Splits "host:port" / "[v6]:port" into host and port; nullopt when malformed.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text);

}  // namespace mend::app
