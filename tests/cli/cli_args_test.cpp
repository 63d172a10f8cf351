// The command line of `mend`.
#include <doctest/doctest.h>

#include "cli_args.h"

using mend::cli::CliEnvironment;
using mend::cli::parse_cli;
using mend::cli::Subcommand;

TEST_CASE("create takes a template, a topic, partner names and repeated observers") {
  const auto parse = parse_cli({"create", "--template", "imago-dialogue", "--topic",
                                "the holidays", "--observer", "counselor", "--observer=coach",
                                "--partner-a", "Sam", "--partner-b", "Alex", "--server",
                                "http://127.0.0.1:9000", "--api-key-file", "/k"},
                               {});
  REQUIRE(parse.options);
  const auto& options = *parse.options;
  CHECK(options.subcommand == Subcommand::kCreate);
  CHECK(options.template_name == "imago-dialogue");
  CHECK(options.topic == "the holidays");
  CHECK(options.observers == std::vector<std::string>{"counselor", "coach"});
  CHECK(options.partner_a == "Sam");
  CHECK(options.partner_b == "Alex");
  CHECK(options.server == "http://127.0.0.1:9000");
  CHECK(options.api_key_file == "/k");
}

TEST_CASE("create without a template, or with only one partner name, is a usage error") {
  CHECK(parse_cli({"create"}, {}).error.find("--template") != std::string::npos);
  const auto parse = parse_cli({"create", "--template", "t", "--partner-a", "Sam"}, {});
  CHECK_FALSE(parse.options);
  CHECK(parse.error.find("--partner-b") != std::string::npos);
}

TEST_CASE("join needs a token from --token, --token-file or MEND_TOKEN, not two of them") {
  CHECK_FALSE(parse_cli({"join"}, {}).options);
  CHECK(parse_cli({"join", "--token", "T"}, {}).options->token == "T");
  CHECK(parse_cli({"join", "--token-file", "/t"}, {}).options->token_file == "/t");
  CHECK(parse_cli({"join"}, CliEnvironment{"", "E"}).options->token == "E");
  CHECK_FALSE(parse_cli({"join", "--token", "T", "--token-file", "/t"}, {}).options);
}

TEST_CASE("the server defaults to MEND_SERVER, then to the local default") {
  CHECK(parse_cli({"templates"}, {}).options->server == "http://127.0.0.1:8480");
  CHECK(parse_cli({"templates"}, CliEnvironment{"https://mend.example", ""}).options->server ==
        "https://mend.example");
  CHECK(parse_cli({"templates", "--server", "ws://h:1"}, CliEnvironment{"x", ""}).options->server ==
        "ws://h:1");
}

TEST_CASE("transcript, audit and erase need a room and a token") {
  const auto parse = parse_cli({"transcript", "--room", "r1", "--token", "T"}, {});
  REQUIRE(parse.options);
  CHECK(parse.options->subcommand == Subcommand::kTranscript);
  CHECK(parse.options->room_id == "r1");
  CHECK(parse_cli({"audit", "--token", "T"}, {}).error.find("--room") != std::string::npos);
  CHECK(parse_cli({"erase", "--room", "r"}, {}).error.find("token") != std::string::npos);
}

TEST_CASE("unknown commands and flags, and flags without values, are usage errors") {
  CHECK_FALSE(parse_cli({"frobnicate"}, {}).options);
  CHECK_FALSE(parse_cli({"templates", "--topic", "x"}, {}).options);
  CHECK_FALSE(parse_cli({"join", "--token"}, {}).options);
  CHECK_FALSE(parse_cli({}, {}).options);
  CHECK(parse_cli({"--help"}, {}).help);
  CHECK(parse_cli({"join", "--help"}, {}).help);
  CHECK(parse_cli({"--version"}, {}).version);
}

TEST_CASE("every usage error of the command line has its own plain sentence") {
  auto error = [](std::vector<std::string> args) { return parse_cli(args, {}).error; };
  CHECK(error({}) == "Which command? Try `mend --help`.");
  CHECK(error({"frobnicate"}) == "Unknown command \"frobnicate\". Try `mend --help`.");
  CHECK(error({"templates", "--topic", "x"}) ==
        "mend templates does not take \"--topic\". Try `mend --help`.");
  CHECK(error({"templates", "--topic=x"}) ==
        "mend templates does not take \"--topic\". Try `mend --help`.");
  CHECK(error({"join", "--tok", "T"}) == "mend join does not take \"--tok\". Try `mend --help`.");
  CHECK(error({"join", "T"}) == "mend join does not take \"T\". Try `mend --help`.");
  CHECK(error({"join", "--token"}) == "--token needs a value.");
  CHECK(error({"join", "--token="}) == "--token needs a value.");
  CHECK(error({"join", "--help=1"}) == "--help takes no value.");
  CHECK(error({"join", "--token", "T", "--token", "U"}) == "Please give --token only once.");
  CHECK(error({"create"}) == "mend create needs --template NAME (see `mend templates`).");
  CHECK(error({"create", "--template", "t", "--partner-b", "Alex"}) ==
        "Please give both --partner-a and --partner-b, or neither.");
  CHECK(error({"join", "--token", "T", "--token-file", "/t"}) ==
        "Give the invite token either with --token or with --token-file, not both.");
  CHECK(error({"join"}) ==
        "This needs your invite token: --token TOKEN or --token-file FILE (or MEND_TOKEN).");
  CHECK(error({"erase", "--token", "T"}) ==
        "This needs the room id: --room ID (printed by `mend create`).");
}

TEST_CASE("-h and help ask for the usage, and --token-file keeps MEND_TOKEN out") {
  CHECK(parse_cli({"join", "-h"}, {}).help);
  CHECK(parse_cli({"help"}, {}).help);
  CHECK(parse_cli({"join", "--token-file", "/t"}, CliEnvironment{"", "E"}).options->token.empty());
}

TEST_CASE("server URLs convert between the HTTP API and the WebSocket endpoint") {
  using mend::cli::http_base_url;
  using mend::cli::websocket_url;
  CHECK(http_base_url("ws://127.0.0.1:8480/v1/connect") == "http://127.0.0.1:8480");
  CHECK(http_base_url("wss://h:1") == "https://h:1");
  CHECK(http_base_url("http://h:1") == "http://h:1");
  CHECK(websocket_url("http://127.0.0.1:8480") == "ws://127.0.0.1:8480/v1/connect");
  CHECK(websocket_url("https://h/") == "wss://h/v1/connect");
  CHECK(websocket_url("wss://h:1/v1/connect") == "wss://h:1/v1/connect");
}
