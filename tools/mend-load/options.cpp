#include "options.h"

#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <boost/program_options.hpp>

namespace mend::load {
namespace {

namespace po = boost::program_options;

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

void split_templates(const std::vector<std::string>& values, std::vector<std::string>& out) {
  for (const auto& value : values) {
    std::stringstream stream(value);
    std::string name;
    while (std::getline(stream, name, ',')) {
      if (!name.empty()) out.push_back(name);
    }
  }
}

// A value that a checked flag refused; what() is the usage error.
struct InvalidValue : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The value of a numeric flag, taken as text and converted by `accept` (into its field) when
// the parsed options are notified. Not po's lexical_cast: it wraps "-1" into an unsigned and
// takes "nan" for a double. A text `accept` refuses throws InvalidValue
// "invalid value for --NAME: 'TEXT'" followed by `hint`.
template <typename Accept>
po::typed_value<std::string>* checked(std::string name, const char* value_name, Accept accept,
                                      std::string hint = {}) {
  auto notify = [name = std::move(name), accept, hint = std::move(hint)](const std::string& text) {
    if (!accept(text)) {
      throw InvalidValue("invalid value for --" + name + ": '" + text + "'" + hint);
    }
  };
  return po::value<std::string>()->value_name(value_name)->notifier(notify);
}

constexpr unsigned kMaxThreads = 256;
constexpr std::uint32_t kMaxChunksPerTurn = 1000;
constexpr unsigned kHelpLineLength = 92;

// Every flag, writing into `o` (numbers when notified) and `templates` (as given, unsplit).
po::options_description describe(LoadOptions& o, std::vector<std::string>& templates) {
  po::options_description d(
      "mend-load: plays couples through real templates against a running mendd and measures "
      "it.\n\nusage: mend-load [options]\n\noptions",
      kHelpLineLength);
  // clang-format off
  d.add_options()
    ("server", po::value(&o.server)->value_name("URL"),
     "ws://, wss://, http:// or https:// (default ws://127.0.0.1:8480)")
    ("template", po::value(&templates)->value_name("NAME"),
     "template to play; repeat or comma-separate to mix (default imago-dialogue)")
    ("rooms", checked("rooms", "N", [&o](const std::string& t) {
       return parse_unsigned(t, o.rooms) && o.rooms > 0; }),
     "couples playing at once (default 10); a couple whose conversation closes starts a new "
     "one in a new room")
    ("think-ms", checked("think-ms", "MS", [&o](const std::string& t) {
       return parse_number(t, o.think_ms); }),
     "mean think time before each step, randomized (exponential); 0 = closed loop "
     "(default 200)")
    ("rate", checked("rate", "CMDS_PER_S", [&o](const std::string& t) {
       return parse_number(t, o.rate); }),
     "open loop: target commands/s over all rooms (ready participants are paced to this "
     "rate; think time is then not used)")
    ("observers", po::bool_switch(&o.observers),
     "one named observer per room, approved by both partners, joined")
    ("chunks-per-turn", checked("chunks-per-turn", "N", [&o](const std::string& t) {
       return parse_unsigned(t, o.chunks_per_turn) && o.chunks_per_turn > 0 &&
              o.chunks_per_turn <= kMaxChunksPerTurn; }, " (1 to 1000)"),
     "long conversations: each speaker shares N chunks per turn, each mirrored and confirmed, "
     "so per-command cost shows apart from per-conversation cost (default 1)")
    ("relay", po::bool_switch(&o.relay),
     "anchor mode: --server is a bare WebSocket relay (tools/bench-relay); --rooms pairs of "
     "connections pass one 200-byte message back and forth, closed loop (with --rate: each "
     "send waits for its slot of the open-loop schedule); the report's server CPU per "
     "command is the relay's CPU per relayed message")
    ("relay-acks", po::bool_switch(&o.relay_acks),
     "with --relay: the relay also sends each message back to its sender (relay.mjs --ack), "
     "and the sender reads it before the next send: one message in, two out, like mendd's "
     "answer to a command")
    ("warmup", checked("warmup", "S", [&o](const std::string& t) {
       return parse_number(t, o.warmup_s); }),
     "seconds of load before measuring (default 2); above 0 it also lasts until every room "
     "has opened once (at most 120 s longer); 0 measures from the start")
    ("duration", checked("duration", "S", [&o](const std::string& t) {
       return parse_number(t, o.duration_s) && o.duration_s > 0; }),
     "measured seconds (default 10)")
    ("idle", checked("idle", "N", [&o](const std::string& t) {
       return parse_unsigned(t, o.idle) && o.idle >= 2; }, " (at least 2)"),
     "idle mode: open N authenticated connections (N/2 rooms, both partners), report server "
     "memory per connection, hold them for --duration seconds")
    ("ca", po::value(&o.ca_file)->value_name("FILE"),
     "wss: PEM certificate to trust (mendd's <data-dir>/tls-cert.pem)")
    ("insecure", po::bool_switch(&o.insecure),
     "wss: trust the certificate the server presents (dev only)")
    ("api-key-file", po::value(&o.api_key_file)->value_name("FILE"),
     "API key for creating rooms (first line)")
    ("server-pid", checked("server-pid", "PID", [&o](const std::string& t) {
       return parse_unsigned(t, o.server_pid) && o.server_pid > 0; }),
     "the server process for RSS and CPU figures (default: found by the listening port when "
     "the server is on this machine)")
    ("threads", checked("threads", "N", [&o](const std::string& t) {
       return parse_unsigned(t, o.threads) && o.threads > 0 && o.threads <= kMaxThreads; }),
     "client I/O threads (default 2)")
    ("seed", checked("seed", "N", [&o](const std::string& t) {
       return parse_unsigned(t, o.seed); }),
     "random seed for think times (default: random)")
    ("json", po::bool_switch(&o.json), "print the result as one JSON object on stdout")
    ("quiet", po::bool_switch(&o.quiet), "no progress lines on stderr")
    ("help,h", "this text");
  // clang-format on
  return d;
}

// Exact long names only (no abbreviations, no "-long"), values after '=' or as the next
// argument, and -h.
constexpr int kStyle = po::command_line_style::unix_style ^ po::command_line_style::allow_guessing;

// The usage error for a failure of po's parser or store, in the tool's stable wording.
std::string usage_error(const po::error& e) {
  if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&e)) {
    std::string name = unknown->get_option_name();
    return "unknown option " + name.substr(0, name.find('='));
  }
  if (const auto* repeated = dynamic_cast<const po::multiple_occurrences*>(&e)) {
    return repeated->get_option_name() + " is given more than once";
  }
  if (const auto* syntax = dynamic_cast<const po::invalid_command_line_syntax*>(&e)) {
    switch (syntax->kind()) {
      case po::invalid_syntax::missing_parameter:
      case po::invalid_syntax::empty_adjacent_parameter:
        return "missing value for " + syntax->get_option_name();
      case po::invalid_syntax::extra_parameter:
        return syntax->get_option_name() + " takes no value";
      default:
        break;
    }
  }
  return e.what();
}

// The rules between flags; an error text, empty when the options go together.
std::string check(const LoadOptions& options) {
  if (!server_host_port(options.server)) {
    return "cannot read the server URL '" + options.server + "'";
  }
  if (options.insecure && !options.ca_file.empty()) return "--ca and --insecure exclude each other";
  if (options.idle > 0 && options.rate > 0) {
    return "--idle holds connections without commands; --rate does not apply";
  }
  if (options.relay && (options.idle > 0 || options.observers || options.chunks_per_turn != 1)) {
    return "--relay plays ping-pong; --idle, --observers and --chunks-per-turn do not apply";
  }
  if (options.relay_acks && !options.relay) return "--relay-acks needs --relay";
  if (options.relay && options.server.rfind("ws://", 0) != 0) {
    return "--relay needs a ws:// server URL";
  }
  return {};
}

}  // namespace

OptionsParse parse_options(const std::vector<std::string>& args) {
  OptionsParse parse;
  LoadOptions options;
  std::vector<std::string> templates;
  const po::options_description description = describe(options, templates);
  try {
    const po::parsed_options parsed =
        po::command_line_parser(args).options(description).style(kStyle).run();
    const auto extra = po::collect_unrecognized(parsed.options, po::include_positional);
    if (!extra.empty()) {
      parse.error = "unexpected argument '" + extra.front() + "'";
      return parse;
    }
    po::variables_map vm;
    po::store(parsed, vm);
    if (vm.count("help")) {
      parse.help = true;
      return parse;
    }
    po::notify(vm);
  } catch (const InvalidValue& e) {
    parse.error = e.what();
    return parse;
  } catch (const po::error& e) {
    parse.error = usage_error(e);
    return parse;
  }
  split_templates(templates, options.templates);
  if (options.templates.empty()) options.templates.push_back("imago-dialogue");
  parse.error = check(options);
  if (parse.error.empty()) parse.options = std::move(options);
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
  LoadOptions ignored;
  std::vector<std::string> ignored_templates;
  std::ostringstream out;
  out << describe(ignored, ignored_templates) << R"(
Progress goes to stderr once per second. The result reports commands/s, the latency from
sending a command to the other partner receiving the event it caused (p50/p90/p99/p99.9/max),
accepted/rejected/error counts, connections, and the server's RSS and CPU time per 1,000
commands over the measured window; and, over the whole run, whether anything was lost or
doubled: gaps and duplicates in each partner's delivered seqs, accepted commands whose events
never reached their sender (exit code 1 when any). A command answered UNAVAILABLE is retried
with its command_id. SIGINT or SIGTERM ends the run early; the result is printed as usual.
)";
  std::string text = out.str();
  // po leaves a space at the end of each line it wraps.
  for (auto space = text.find(" \n"); space != std::string::npos; space = text.find(" \n")) {
    text.erase(space, 1);
  }
  return text;
}

}  // namespace mend::load
