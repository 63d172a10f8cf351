#include "options.h"

#include <charconv>
#include <cmath>
#include <sstream>
#include <string_view>

namespace mend::load {
namespace {

template <typename T>
bool parse_unsigned(std::string_view text, T& out) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  out = value;
  return true;
}

bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  std::size_t used = 0;
  try {
    const double value = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(value) || value < 0) return false;
    out = value;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void split_templates(const std::string& value, std::vector<std::string>& out) {
  std::stringstream stream(value);
  std::string name;
  while (std::getline(stream, name, ',')) {
    if (!name.empty()) out.push_back(name);
  }
}

// Flags that take no value.
bool is_switch(std::string_view flag) {
  return flag == "--observers" || flag == "--insecure" || flag == "--json" || flag == "--quiet";
}

// Applies one flag with a value; returns an error text, empty on success.
std::string apply(LoadOptions& o, std::string_view flag, const std::string& value) {
  const std::string bad = "invalid value for " + std::string(flag) + ": '" + value + "'";
  if (flag == "--server") {
    o.server = value;
  } else if (flag == "--template") {
    split_templates(value, o.templates);
  } else if (flag == "--rooms") {
    if (!parse_unsigned(value, o.rooms) || o.rooms == 0) return bad;
  } else if (flag == "--think-ms") {
    if (!parse_number(value, o.think_ms)) return bad;
  } else if (flag == "--rate") {
    if (!parse_number(value, o.rate)) return bad;
  } else if (flag == "--warmup") {
    if (!parse_number(value, o.warmup_s)) return bad;
  } else if (flag == "--duration") {
    if (!parse_number(value, o.duration_s) || o.duration_s <= 0) return bad;
  } else if (flag == "--idle") {
    if (!parse_unsigned(value, o.idle) || o.idle < 2) return bad + " (at least 2)";
  } else if (flag == "--ca") {
    o.ca_file = value;
  } else if (flag == "--api-key-file") {
    o.api_key_file = value;
  } else if (flag == "--server-pid") {
    if (!parse_unsigned(value, o.server_pid) || o.server_pid <= 0) return bad;
  } else if (flag == "--threads") {
    if (!parse_unsigned(value, o.threads) || o.threads == 0 || o.threads > 256) return bad;
  } else if (flag == "--seed") {
    if (!parse_unsigned(value, o.seed)) return bad;
  } else {
    return "unknown option " + std::string(flag);
  }
  return {};
}

}  // namespace

OptionsParse parse_options(const std::vector<std::string>& args) {
  OptionsParse parse;
  LoadOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    if (flag == "--help" || flag == "-h") {
      parse.help = true;
      return parse;
    }
    if (flag == "--observers") {
      options.observers = true;
    } else if (flag == "--insecure") {
      options.insecure = true;
    } else if (flag == "--json") {
      options.json = true;
    } else if (flag == "--quiet") {
      options.quiet = true;
    } else {
      std::string value;
      if (const auto eq = flag.find('='); eq != std::string::npos) {
        value = flag.substr(eq + 1);
        flag.resize(eq);
      } else if (flag.rfind("--", 0) == 0 && !is_switch(flag) && i + 1 < args.size()) {
        value = args[++i];
      } else {
        parse.error = flag.rfind("--", 0) == 0 ? "missing value for " + flag
                                               : "unexpected argument '" + flag + "'";
        return parse;
      }
      if (std::string error = apply(options, flag, value); !error.empty()) {
        parse.error = std::move(error);
        return parse;
      }
    }
  }
  if (options.templates.empty()) options.templates.push_back("imago-dialogue");
  if (!server_host_port(options.server)) {
    parse.error = "cannot read the server URL '" + options.server + "'";
    return parse;
  }
  if (options.insecure && !options.ca_file.empty()) {
    parse.error = "--ca and --insecure exclude each other";
    return parse;
  }
  if (options.idle > 0 && options.rate > 0) {
    parse.error = "--idle holds connections without commands; --rate does not apply";
    return parse;
  }
  parse.options = std::move(options);
  return parse;
}

std::optional<HostPort> server_host_port(const std::string& server) {
  std::string_view rest = server;
  std::uint16_t port = 0;
  for (const auto& [scheme, default_port] :
       {std::pair{"ws://", 80}, {"http://", 80}, {"wss://", 443}, {"https://", 443}}) {
    if (rest.rfind(scheme, 0) == 0) {
      rest.remove_prefix(std::string_view(scheme).size());
      port = static_cast<std::uint16_t>(default_port);
      break;
    }
  }
  if (port == 0) return std::nullopt;
  rest = rest.substr(0, rest.find('/'));
  HostPort out;
  std::string_view host = rest;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return std::nullopt;
      port_text = rest.substr(close + 2);
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  if (!port_text.empty() && (!parse_unsigned(port_text, port) || port == 0)) return std::nullopt;
  out.host = std::string(host);
  out.port = port;
  return out;
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string usage_text() {
  return R"(mend-load: plays couples through real templates against a running mendd and measures it.

usage: mend-load [options]

  --server URL          ws://, wss://, http:// or https:// (default ws://127.0.0.1:8480)
  --template NAME       template to play; repeat or comma-separate to mix
                        (default imago-dialogue)
  --rooms N             couples playing at once (default 10); a couple whose
                        conversation closes starts a new one in a new room
  --think-ms MS         mean think time before each step, randomized (exponential);
                        0 = closed loop (default 200)
  --rate CMDS_PER_S     open loop: target commands/s over all rooms (ready participants
                        are paced to this rate; think time is then not used)
  --observers           one named observer per room, approved by both partners, joined
  --warmup S            seconds of load before measuring (default 2)
  --duration S          measured seconds (default 10)
  --idle N              idle mode: open N authenticated connections (N/2 rooms, both
                        partners), report server memory per connection, hold them for
                        --duration seconds
  --ca FILE             wss: PEM certificate to trust (mendd's <data-dir>/tls-cert.pem)
  --insecure            wss: trust the certificate the server presents (dev only)
  --api-key-file FILE   API key for creating rooms (first line)
  --server-pid PID      the server process for RSS and CPU figures (default: found by
                        the listening port when the server is on this machine)
  --threads N           client I/O threads (default 2)
  --seed N              random seed for think times (default: random)
  --json                print the result as one JSON object on stdout
  --quiet               no progress lines on stderr
  --help                this text

Progress goes to stderr once per second. The result reports commands/s, the latency from
sending a command to the other partner receiving the event it caused (p50/p90/p99/p99.9/max),
accepted/rejected/error counts, connections, and the server's RSS and CPU time per 1,000
commands over the measured window.
)";
}

}  // namespace mend::load
