#include "cli_args.h"

#include <string_view>

#include <boost/program_options.hpp>

namespace mend::cli {
namespace {

namespace po = boost::program_options;

// Exact long names only (no abbreviations), values after '=' or as the next argument, and -h.
constexpr int kStyle = po::command_line_style::unix_style ^ po::command_line_style::allow_guessing;

constexpr const char* kDefaultServer = "http://127.0.0.1:8480";

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::optional<Subcommand> subcommand_named(std::string_view name) {
  if (name == "templates") return Subcommand::kTemplates;
  if (name == "create") return Subcommand::kCreate;
  if (name == "join") return Subcommand::kJoin;
  if (name == "transcript") return Subcommand::kTranscript;
  if (name == "audit") return Subcommand::kAudit;
  if (name == "erase") return Subcommand::kErase;
  if (name == "insights") return Subcommand::kInsights;
  if (name == "summary") return Subcommand::kSummary;
  return std::nullopt;
}

bool needs_token(Subcommand subcommand) {
  return subcommand != Subcommand::kTemplates && subcommand != Subcommand::kCreate;
}

bool needs_room(Subcommand subcommand) {
  return subcommand == Subcommand::kTranscript || subcommand == Subcommand::kAudit ||
         subcommand == Subcommand::kErase || subcommand == Subcommand::kInsights ||
         subcommand == Subcommand::kSummary;
}

// The flags `subcommand` accepts, writing into `o`.
po::options_description flags_of(Subcommand subcommand, CliOptions& o) {
  po::options_description d;
  // clang-format off
  d.add_options()
    ("help,h", "")
    ("server", po::value(&o.server), "")
    ("ca", po::value(&o.ca_file), "");
  if (subcommand == Subcommand::kCreate) {
    d.add_options()
      ("template", po::value(&o.template_name), "")
      ("topic", po::value(&o.topic), "")
      ("observer", po::value(&o.observers), "")
      ("partner-a", po::value(&o.partner_a), "")
      ("partner-b", po::value(&o.partner_b), "")
      ("api-key-file", po::value(&o.api_key_file), "");
  }
  if (needs_token(subcommand)) {
    d.add_options()
      ("token", po::value(&o.token), "")
      ("token-file", po::value(&o.token_file), "");
  }
  if (needs_room(subcommand)) d.add_options()("room", po::value(&o.room_id), "");
  // clang-format on
  return d;
}

// The usage error for a failure of po's parser or store, in the CLI's words.
std::string usage_error(const po::error& e, const std::string& command) {
  if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&e)) {
    const std::string flag = unknown->get_option_name();
    return "mend " + command + " does not take \"" + flag.substr(0, flag.find('=')) +
           "\". Try `mend --help`.";
  }
  if (const auto* repeated = dynamic_cast<const po::multiple_occurrences*>(&e)) {
    return "Please give " + repeated->get_option_name() + " only once.";
  }
  if (const auto* syntax = dynamic_cast<const po::invalid_command_line_syntax*>(&e)) {
    if (syntax->kind() == po::invalid_syntax::missing_parameter ||
        syntax->kind() == po::invalid_syntax::empty_adjacent_parameter) {
      return syntax->get_option_name() + " needs a value.";
    }
    if (syntax->kind() == po::invalid_syntax::extra_parameter) {
      return syntax->get_option_name() + " takes no value.";
    }
  }
  return std::string(e.what()) + ". Try `mend --help`.";
}

std::string check(const CliOptions& options) {
  if (options.subcommand == Subcommand::kCreate && options.template_name.empty()) {
    return "mend create needs --template NAME (see `mend templates`).";
  }
  if (options.partner_a.empty() != options.partner_b.empty()) {
    return "Please give both --partner-a and --partner-b, or neither.";
  }
  if (needs_token(options.subcommand)) {
    if (!options.token.empty() && !options.token_file.empty()) {
      return "Give the invite token either with --token or with --token-file, not both.";
    }
    if (options.token.empty() && options.token_file.empty()) {
      return "This needs your invite token: --token TOKEN or --token-file FILE (or MEND_TOKEN).";
    }
  }
  if (needs_room(options.subcommand) && options.room_id.empty()) {
    return "This needs the room id: --room ID (printed by `mend create`).";
  }
  return {};
}

}  // namespace

CliParse parse_cli(const std::vector<std::string>& args, const CliEnvironment& environment) {
  CliParse parse;
  if (args.empty()) {
    parse.error = "Which command? Try `mend --help`.";
    return parse;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    parse.help = true;
    return parse;
  }
  if (args[0] == "--version") {
    parse.version = true;
    return parse;
  }
  const auto subcommand = subcommand_named(args[0]);
  if (!subcommand) {
    parse.error = "Unknown command \"" + args[0] + "\". Try `mend --help`.";
    return parse;
  }
  CliOptions options;
  options.subcommand = *subcommand;
  const po::options_description flags = flags_of(*subcommand, options);
  po::variables_map vm;
  try {
    const po::parsed_options parsed =
        po::command_line_parser(std::vector<std::string>(args.begin() + 1, args.end()))
            .options(flags)
            .style(kStyle)
            .run();
    const auto extra = po::collect_unrecognized(parsed.options, po::include_positional);
    if (!extra.empty()) {
      parse.error = "mend " + args[0] + " does not take \"" + extra.front() +
                    "\". Try `mend --help`.";
      return parse;
    }
    po::store(parsed, vm);
    if (vm.count("help")) {
      parse.help = true;
      return parse;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    parse.error = usage_error(e, args[0]);
    return parse;
  }
  const bool token_given = vm.count("token") + vm.count("token-file") > 0;
  if (options.server.empty()) {
    options.server = environment.server.empty() ? kDefaultServer : environment.server;
  }
  if (needs_token(options.subcommand) && !token_given) options.token = environment.token;
  parse.error = check(options);
  if (parse.error.empty()) parse.options = std::move(options);
  return parse;
}

std::string http_base_url(const std::string& server) {
  std::string url = server;
  if (starts_with(url, "ws://")) url = "http://" + url.substr(5);
  if (starts_with(url, "wss://")) url = "https://" + url.substr(6);
  constexpr std::string_view kConnect = "/v1/connect";
  if (url.size() >= kConnect.size() &&
      std::string_view(url).substr(url.size() - kConnect.size()) == kConnect) {
    url.resize(url.size() - kConnect.size());
  }
  return url;
}

std::string websocket_url(const std::string& server) {
  std::string url = server;
  if (starts_with(url, "http://")) url = "ws://" + url.substr(7);
  if (starts_with(url, "https://")) url = "wss://" + url.substr(8);
  const auto scheme_end = url.find("://");
  const auto path = scheme_end == std::string::npos ? std::string::npos
                                                    : url.find('/', scheme_end + 3);
  if (path == std::string::npos) {
    url += "/v1/connect";
  } else if (path == url.size() - 1) {
    url += "v1/connect";
  }
  return url;
}

std::string usage_text() {
  return R"(mend: guided repair conversations from the terminal.

Usage:
  mend templates [--server URL]
  mend create --template NAME [--topic TEXT] [--partner-a NAME --partner-b NAME]
              [--observer NAME]... [--server URL] [--api-key-file FILE]
  mend join (--token TOKEN | --token-file FILE) [--server URL] [--ca FILE]
  mend transcript --room ID (--token TOKEN | --token-file FILE) [--server URL]
  mend audit      --room ID (--token TOKEN | --token-file FILE) [--server URL]
  mend erase      --room ID (--token TOKEN | --token-file FILE) [--server URL]
  mend insights   --room ID (--token TOKEN | --token-file FILE) [--server URL]
  mend summary    --room ID (--token TOKEN | --token-file FILE) [--server URL]

  templates   list the conversation templates of the server
  create      create a room; prints its id, one invite per person, and the
              `mend join` command for each of them
  join        take part in a conversation, as a partner or an observer; type /help
              inside for every command
  transcript  print the room's transcript (JSON), as far as your invite may see it
  audit       print the room's content-free audit log (JSON)
  erase       ask the server to erase your contributions (or the room, once both
              partners asked)
  insights    print the conversation's content-free figures as tables (floor time,
              shares, mirror rounds, reflections, pauses, refusals, the phases)
  summary     print the summary of a closed conversation (confirmed words and
              reflections, appreciations, agreements)

Options:
  --server URL        http(s):// or ws(s):// address of mendd
                      (default: $MEND_SERVER, else http://127.0.0.1:8480)
  --ca FILE           PEM certificate(s) to trust, e.g. mendd's self-signed tls-cert.pem
  --token TOKEN       your invite token (or $MEND_TOKEN; --token-file keeps it out of
                      the process list)
  --api-key-file F    the server's API key for creating rooms, when it has one
  --help, --version
)";
}

}  // namespace mend::cli
