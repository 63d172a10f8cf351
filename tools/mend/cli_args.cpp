#include "cli_args.h"

#include <string_view>

namespace mend::cli {
namespace {

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
  return std::nullopt;
}

bool needs_token(Subcommand subcommand) {
  return subcommand != Subcommand::kTemplates && subcommand != Subcommand::kCreate;
}

bool needs_room(Subcommand subcommand) {
  return subcommand == Subcommand::kTranscript || subcommand == Subcommand::kAudit ||
         subcommand == Subcommand::kErase;
}

// Flags each subcommand accepts, and where their values go.
std::string* flag_target(CliOptions& options, std::string_view flag) {
  const Subcommand sub = options.subcommand;
  if (flag == "--server") return &options.server;
  if (flag == "--ca") return &options.ca_file;
  if (sub == Subcommand::kCreate) {
    if (flag == "--template") return &options.template_name;
    if (flag == "--topic") return &options.topic;
    if (flag == "--partner-a") return &options.partner_a;
    if (flag == "--partner-b") return &options.partner_b;
    if (flag == "--api-key-file") return &options.api_key_file;
  }
  if (needs_token(sub)) {
    if (flag == "--token") return &options.token;
    if (flag == "--token-file") return &options.token_file;
  }
  if (needs_room(sub) && flag == "--room") return &options.room_id;
  return nullptr;
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
  bool token_given = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string flag = args[i];
    if (flag == "--help" || flag == "-h") {
      parse.help = true;
      return parse;
    }
    std::optional<std::string> value;
    if (const auto eq = flag.find('='); starts_with(flag, "--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    const bool is_observer = options.subcommand == Subcommand::kCreate && flag == "--observer";
    std::string* target = is_observer ? nullptr : flag_target(options, flag);
    if (!is_observer && target == nullptr) {
      parse.error = "mend " + args[0] + " does not take \"" + flag + "\". Try `mend --help`.";
      return parse;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        parse.error = flag + " needs a value.";
        return parse;
      }
      value = args[++i];
    }
    if (is_observer) {
      options.observers.push_back(*value);
    } else {
      *target = *value;
      if (flag == "--token" || flag == "--token-file") token_given = true;
    }
  }
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

  templates   list the conversation templates of the server
  create      create a room; prints its id, one invite per person, and the
              `mend join` command for each of them
  join        take part in a conversation, as a partner or an observer; type /help
              inside for every command
  transcript  print the room's transcript (JSON), as far as your invite may see it
  audit       print the room's content-free audit log (JSON)
  erase       ask the server to erase your contributions (or the room, once both
              partners asked)

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
