#include "server/app/config.h"

#include <charconv>
#include <sstream>
#include <thread>

#include <boost/program_options.hpp>

#include "server/net/proxy_protocol.h"
#include "server/net/request_checks.h"

namespace mend::app {
namespace {

namespace po = boost::program_options;

// "MEND_MAX_CONNECTIONS_PER_IP" -> "max-connections-per-ip"; "" for other variables.
std::string option_of_variable(const std::string& variable) {
  constexpr std::string_view kPrefix = "MEND_";
  if (variable.rfind(kPrefix, 0) != 0) return {};
  std::string option = variable.substr(kPrefix.size());
  for (char& c : option) {
    c = (c == '_') ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return option;
}

po::options_description describe(AppConfig& c) {
  po::options_description d(
      "mendd: the mend conversation server.\n"
      "Every option is also an environment variable: --max-connections-per-ip is\n"
      "MEND_MAX_CONNECTIONS_PER_IP. Flags win over the environment.\n\nOptions");
  auto ms = [](net::Millis value) { return static_cast<std::uint32_t>(value.count()); };
  // clang-format off
  d.add_options()
    ("help", "print this help and exit")
    ("version", "print the version and exit")
    ("listen", po::value(&c.listen)->default_value(kDefaultListen),
     "address:port to listen on (TLS and plaintext on one port)")
    ("data-dir", po::value<std::string>()->default_value(kDefaultDataDir),
     "directory for the database, the generated certificate, keys and token secret")
    ("tls-cert", po::value<std::string>(), "PEM certificate chain (default: generated)")
    ("tls-key", po::value<std::string>(), "PEM private key (default: generated)")
    ("api-key-file", po::value<std::string>(),
     "file of API keys, one per line; POST /v1/rooms then needs Authorization: Bearer <key>")
    ("token-secret-file", po::value<std::string>(),
     "token signing secret, >= 32 bytes (default: <data-dir>/token-secret.bin, generated)")
    ("templates-dir", po::value<std::string>(), "directory of *.textpb conversation templates")
    ("web-dir", po::value<std::string>(),
     "the built browser app served at / (default: the checkout's web/dist)")
    ("log-format", po::value(&c.log_format)->default_value("text"), "text | json")
    ("log-level", po::value(&c.log_level)->default_value("info"),
     "trace | debug | info | warn | error")
    ("threads", po::value<unsigned>(),
     "I/O threads, each a shard with its own rooms and their connections (default: "
     "hardware concurrency)")
    ("allow-plaintext", po::value<bool>()->default_value(false)->implicit_value(true),
     "accept plaintext HTTP/WebSocket from non-loopback peers")
    ("allowed-origins", po::value<std::string>(),
     "comma-separated origins (https://app.example.org) whose web pages may create rooms and "
     "open WebSockets, besides mendd's own origin")
    ("proxy-protocol-from", po::value<std::string>(),
     "comma-separated addresses or CIDR blocks of proxies (HAProxy with send-proxy-v2) whose "
     "connections start with a PROXY protocol header (v2 or v1); its client address is the one "
     "every per-address limit sees. Their connections without a valid header are closed; no "
     "other peer's header is ever read (default: none)")
    ("store", po::value(&c.store)->default_value(c.store),
     "event store: sqlite (durable: <data-dir>/mend.db) | postgres (durable, shared by several "
     "nodes: --postgres-url) | memory (lost on exit; for tests)")
    ("postgres-url", po::value(&c.postgres_url),
     "--store postgres: libpq connection URI, e.g. postgresql://mend@db.internal/mend (never "
     "logged; keep the password in ~/.pgpass or PGPASSFILE, not on the command line)")
    ("node-id", po::value(&c.node_id),
     "--store postgres: this node's name in room leases, unique among the nodes sharing the "
     "database (default: <hostname>-<pid>)")
    ("lease-ms", po::value(&c.lease_ms)->default_value(c.lease_ms),
     "--store postgres: how long a node's lease on a room runs (renewed every third of it); "
     "when a node dies its rooms move to another node after about this long")
    ("durability", po::value(&c.durability)->default_value(c.durability),
     "sqlite commits: full (fsync each group commit; survives power loss) | normal "
     "(synchronous=NORMAL: survives a process crash; power loss may lose the last commits)")
    ("master-key-file", po::value<std::string>(),
     "key wrapping every room's data key (default: <data-dir>/master.key, generated 0600)")
    ("room-idle-evict", po::value(&c.room_idle_evict_s)->default_value(c.room_idle_evict_s),
     "seconds a room without connections stays in memory before it is unloaded (0: never)")
    ("max-connections-per-ip", po::value(&c.net.max_connections_per_ip)
        ->default_value(c.net.max_connections_per_ip), "open connections per peer address")
    ("commands-per-second", po::value(&c.commands_per_second)
        ->default_value(c.commands_per_second), "sustained commands per participant")
    ("command-burst", po::value(&c.command_burst)->default_value(c.command_burst),
     "commands a participant may send at once")
    ("rate-limit-abuse-refusals", po::value(&c.rate_limit_abuse_refusals)
        ->default_value(c.rate_limit_abuse_refusals),
     "RATE_LIMITED refusals of one connection within --rate-limit-abuse-window-ms that close "
     "it with 4529 (persistent abuse)")
    ("rate-limit-abuse-window-ms", po::value(&c.rate_limit_abuse_window_ms)
        ->default_value(c.rate_limit_abuse_window_ms),
     "the window of --rate-limit-abuse-refusals")
    ("rooms-per-api-key", po::value(&c.net.rooms_per_api_key)
        ->default_value(c.net.rooms_per_api_key),
     "rooms one API key (or one address, without API keys) may create")
    ("invite-ttl", po::value(&c.invite_ttl_s)->default_value(c.invite_ttl_s),
     "default invite lifetime in seconds")
    ("retention-sweep-interval", po::value(&c.retention_sweep_interval_s)
        ->default_value(c.retention_sweep_interval_s),
     "seconds between sweeps that purge content whose consented retention ended")
    ("read-message-max", po::value(&c.net.read_message_max)
        ->default_value(c.net.read_message_max), "largest client frame, bytes")
    ("max-queued-bytes", po::value(&c.net.max_queued_bytes)
        ->default_value(c.net.max_queued_bytes), "outgoing queue bound per connection, bytes")
    ("max-queued-frames", po::value(&c.net.max_queued_frames)
        ->default_value(c.net.max_queued_frames), "outgoing queue bound per connection, frames")
    ("max-body-bytes", po::value(&c.net.max_http_body_bytes)
        ->default_value(c.net.max_http_body_bytes), "largest HTTP request body, bytes")
    ("hello-timeout-ms", po::value<std::uint32_t>()->default_value(ms(c.net.hello_timeout)),
     "upgrade to Hello")
    ("heartbeat-ms", po::value<std::uint32_t>()->default_value(ms(c.net.heartbeat_interval)),
     "server silence before a Heartbeat")
    ("client-silence-ms",
     po::value<std::uint32_t>()->default_value(ms(c.net.client_silence_timeout)),
     "client silence before the connection is closed (4002)")
    ("write-stall-ms", po::value<std::uint32_t>()->default_value(ms(c.net.write_stall_timeout)),
     "one write in flight this long drops the connection")
    ("handshake-timeout-ms",
     po::value<std::uint32_t>()->default_value(ms(c.net.handshake_timeout)),
     "TLS handshake, HTTP request, WebSocket upgrade and close")
    ("drain-timeout-ms", po::value<std::uint32_t>()->default_value(ms(c.net.drain_timeout)),
     "graceful shutdown bound, after the grace")
    ("drain-grace-ms", po::value<std::uint32_t>()->default_value(ms(c.net.drain_grace)),
     "SIGTERM: /readyz answers 503 this long, everything else still served, before the "
     "listener closes and clients are closed with 4001");
  // clang-format on
  return d;
}

// "a, b,,c" -> {"a", "b", "c"}: a comma-separated flag's entries, trimmed, empty ones skipped.
std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> entries;
  std::istringstream in(list);
  for (std::string entry; std::getline(in, entry, ',');) {
    entry.erase(0, entry.find_first_not_of(" \t"));
    entry.erase(entry.find_last_not_of(" \t") + 1);
    if (!entry.empty()) entries.push_back(std::move(entry));
  }
  return entries;
}

// "10.0.0.5, 10.1.0.0/16" -> address ranges; Exit 2 naming a bad one.
std::variant<std::vector<net::AddressRange>, Exit> parse_proxy_peers(const std::string& list) {
  std::vector<net::AddressRange> ranges;
  for (const std::string& entry : split_list(list)) {
    auto range = net::proxy::parse_range(entry);
    if (!range) {
      return Exit{2, "mendd: --proxy-protocol-from: \"" + entry +
                         "\" is not an address or a CIDR block (e.g. 10.0.0.5, 10.0.0.0/24)\n"};
    }
    ranges.push_back(*range);
  }
  return ranges;
}

// "https://a.example, http://localhost:3000" -> normalized origins; Exit 2 naming a bad one.
std::variant<std::vector<std::string>, Exit> parse_origins(const std::string& list) {
  std::vector<std::string> origins;
  for (const std::string& entry : split_list(list)) {
    auto origin = net::normalize_origin(entry);
    if (!origin) {
      return Exit{2, "mendd: --allowed-origins: \"" + entry +
                         "\" is not an origin (scheme://host[:port], e.g. "
                         "https://app.example.org)\n"};
    }
    origins.push_back(std::move(*origin));
  }
  return origins;
}

}  // namespace

std::variant<AppConfig, Exit> parse_config(int argc, const char* const* argv,
                                           const std::vector<std::string>& env,
                                           const std::filesystem::path& default_templates_dir,
                                           const std::filesystem::path& default_web_dir) {
  AppConfig config;
  config.threads = std::max(1U, std::thread::hardware_concurrency());
  auto description = describe(config);
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, description), vm);
    // Only MEND_* variables naming an option; other MEND_* names (tools, SDK) are ignored.
    std::vector<std::string> options;
    po::parsed_options from_env(&description);
    for (const auto& entry : env) {
      const auto equals = entry.find('=');
      if (equals == std::string::npos) continue;
      const std::string option = option_of_variable(entry.substr(0, equals));
      if (option.empty()) continue;
      if (!description.find_nothrow(option, false)) continue;
      po::option parsed(option, {entry.substr(equals + 1)});
      parsed.original_tokens = {entry.substr(0, equals)};
      from_env.options.push_back(std::move(parsed));
    }
    po::store(from_env, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Exit{2, std::string("mendd: ") + e.what() + "\n(see mendd --help)\n"};
  }
  if (vm.count("help")) {
    std::ostringstream out;
    out << description << "\n";
    return Exit{0, out.str()};
  }
  if (vm.count("version")) return Exit{0, "mendd " MEND_VERSION "\n"};

  config.data_dir = vm["data-dir"].as<std::string>();
  if (vm.count("tls-cert")) config.tls_cert = vm["tls-cert"].as<std::string>();
  if (vm.count("tls-key")) config.tls_key = vm["tls-key"].as<std::string>();
  if (config.tls_cert.has_value() != config.tls_key.has_value()) {
    return Exit{2, "mendd: --tls-cert and --tls-key go together\n"};
  }
  if (vm.count("api-key-file")) config.api_key_file = vm["api-key-file"].as<std::string>();
  if (vm.count("token-secret-file")) {
    config.token_secret_file = vm["token-secret-file"].as<std::string>();
  }
  config.templates_dir = vm.count("templates-dir")
                             ? std::filesystem::path(vm["templates-dir"].as<std::string>())
                             : default_templates_dir;
  config.web_dir = vm.count("web-dir") ? std::filesystem::path(vm["web-dir"].as<std::string>())
                                       : default_web_dir;
  if (vm.count("threads")) config.threads = vm["threads"].as<unsigned>();
  if (config.threads == 0) return Exit{2, "mendd: --threads must be at least 1\n"};
  config.net.allow_plaintext = vm["allow-plaintext"].as<bool>();
  if (vm.count("allowed-origins")) {
    auto origins = parse_origins(vm["allowed-origins"].as<std::string>());
    if (auto* bad = std::get_if<Exit>(&origins)) return *bad;
    config.net.allowed_origins = std::get<std::vector<std::string>>(std::move(origins));
  }
  if (vm.count("proxy-protocol-from")) {
    auto peers = parse_proxy_peers(vm["proxy-protocol-from"].as<std::string>());
    if (auto* bad = std::get_if<Exit>(&peers)) return *bad;
    config.net.proxy_protocol_from = std::get<std::vector<net::AddressRange>>(std::move(peers));
  }
  config.net.hello_timeout = net::Millis(vm["hello-timeout-ms"].as<std::uint32_t>());
  config.net.heartbeat_interval = net::Millis(vm["heartbeat-ms"].as<std::uint32_t>());
  config.net.client_silence_timeout = net::Millis(vm["client-silence-ms"].as<std::uint32_t>());
  config.net.write_stall_timeout = net::Millis(vm["write-stall-ms"].as<std::uint32_t>());
  config.net.handshake_timeout = net::Millis(vm["handshake-timeout-ms"].as<std::uint32_t>());
  config.net.drain_timeout = net::Millis(vm["drain-timeout-ms"].as<std::uint32_t>());
  config.net.drain_grace = net::Millis(vm["drain-grace-ms"].as<std::uint32_t>());
  if (config.log_format != "text" && config.log_format != "json") {
    return Exit{2, "mendd: --log-format is text or json\n"};
  }
  if (config.store != "sqlite" && config.store != "postgres" && config.store != "memory") {
    return Exit{2, "mendd: --store is sqlite, postgres or memory\n"};
  }
  if ((config.store == "postgres") != !config.postgres_url.empty()) {
    return Exit{2, "mendd: --postgres-url goes with --store postgres, and only with it\n"};
  }
  if (config.lease_ms < 300) {
    return Exit{2, "mendd: --lease-ms must be at least 300 (renewals every third of it)\n"};
  }
  if (config.durability != "full" && config.durability != "normal") {
    return Exit{2, "mendd: --durability is full or normal\n"};
  }
  if (vm.count("master-key-file")) config.master_key_file = vm["master-key-file"].as<std::string>();
  if (!split_host_port(config.listen)) {
    return Exit{2, "mendd: --listen wants host:port, e.g. 127.0.0.1:8480 or [::1]:8480\n"};
  }
  if (config.retention_sweep_interval_s == 0) {
    return Exit{2, "mendd: --retention-sweep-interval must be at least 1 second\n"};
  }
  if (config.commands_per_second <= 0 || config.command_burst < 1) {
    return Exit{2, "mendd: --commands-per-second must be > 0 and --command-burst >= 1\n"};
  }
  if (config.rate_limit_abuse_refusals == 0 || config.rate_limit_abuse_window_ms == 0) {
    return Exit{2, "mendd: --rate-limit-abuse-refusals and --rate-limit-abuse-window-ms must be "
                   "at least 1\n"};
  }
  return config;
}

std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  std::uint16_t port = 0;
  const char* begin = text.data() + colon + 1;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc() || ptr != end || begin == end) return std::nullopt;
  return std::make_pair(host, port);
}

}  // namespace mend::app
