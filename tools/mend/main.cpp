// mend: the command-line client of mend (DESIGN.md section 8, tools/). Subcommands: templates,
// create, join, transcript, audit, erase, insights, summary; see `mend --help` and cli_args.cpp.
// Built on the SDK (client-lib) only.
#include "mend/proto.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_args.h"
#include "http_text.h"
#include "insights_text.h"
#include "mend/http_client.h"
#include "session.h"

namespace {

namespace cli = mend::cli;
namespace mc = mend::client;

constexpr const char* kVersion = "mend 0.1.0";

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

int local_utc_offset_s() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  return static_cast<int>(local.tm_gmtoff);
}

// The first line of a file without surrounding whitespace (a token or an API key).
std::optional<std::string> read_secret(const std::string& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::string line;
  std::getline(file, line);
  const auto first = line.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return std::string();
  const auto last = line.find_last_not_of(" \t\r\n");
  return line.substr(first, last - first + 1);
}

mc::HttpClient http_client(const cli::CliOptions& options, std::string api_key = {}) {
  mc::HttpOptions http;
  http.base_url = cli::http_base_url(options.server);
  http.ca_file = options.ca_file;
  http.api_key = std::move(api_key);
  return mc::HttpClient(std::move(http));
}

int list_templates(const cli::CliOptions& options) {
  const auto result = http_client(options).list_templates();
  if (!result.ok()) {
    std::cerr << "Could not list the templates: " << cli::describe_http_error(result.error)
              << "\n";
    return 1;
  }
  std::cout << cli::render_templates(*result.value);
  return 0;
}

int create_room(const cli::CliOptions& options) {
  std::string api_key;
  if (!options.api_key_file.empty()) {
    const auto key = read_secret(options.api_key_file);
    if (!key || key->empty()) {
      std::cerr << "Cannot read an API key from " << options.api_key_file << ".\n";
      return 2;
    }
    api_key = *key;
  }
  mend::v1::CreateRoomRequest request;
  request.set_template_(options.template_name);
  request.set_topic(options.topic);
  request.set_partner_a_name(options.partner_a);
  request.set_partner_b_name(options.partner_b);
  for (const std::string& observer : options.observers) request.add_observers(observer);
  const auto result = http_client(options, std::move(api_key)).create_room(request);
  if (!result.ok()) {
    std::cerr << "Could not create the room: " << cli::describe_http_error(result.error) << "\n";
    return 1;
  }
  std::cout << cli::render_created(*result.value, options.server, local_utc_offset_s());
  return 0;
}

// transcript, audit, erase: one raw call with the invite token.
int room_api_call(const cli::CliOptions& options, const std::string& token) {
  std::string method = "GET";
  std::string target = "/v1/rooms/" + options.room_id;
  std::string what;
  switch (options.subcommand) {
    case cli::Subcommand::kTranscript:
      target += "/transcript";
      what = "transcripts";
      break;
    case cli::Subcommand::kAudit:
      target += "/audit";
      what = "audit logs";
      break;
    default:
      method = "DELETE";
      what = "erasure";
      break;
  }
  const auto result = http_client(options).request(method, target, {}, token);
  if (!result.ok()) {
    std::cerr << "Could not reach the server: " << cli::describe_http_error(result.error) << "\n";
    return 1;
  }
  const cli::ApiAnswer answer = cli::interpret_api_answer(*result.value, what);
  (answer.ok ? std::cout : std::cerr) << answer.text << (answer.text.ends_with('\n') ? "" : "\n");
  return answer.ok ? 0 : 1;
}

// insights, summary: a typed call, printed for people.
template <typename T>
int print_room_part(const cli::CliOptions& options, const std::string& token,
                    mc::HttpResult<T> (mc::HttpClient::*call)(std::string_view, std::string_view) const,
                    const std::function<std::string(const T&)>& render) {
  const auto result = (http_client(options).*call)(options.room_id, token);
  if (!result.ok()) {
    std::cerr << "Could not get it: " << cli::describe_http_error(result.error) << "\n";
    return 1;
  }
  std::cout << render(*result.value);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const cli::CliParse parse = cli::parse_cli(args, {env("MEND_SERVER"), env("MEND_TOKEN")});
  if (parse.help) {
    std::cout << cli::usage_text();
    return 0;
  }
  if (parse.version) {
    std::cout << kVersion << "\n";
    return 0;
  }
  if (!parse.options) {
    std::cerr << parse.error << "\n";
    return 2;
  }
  const cli::CliOptions& options = *parse.options;
  std::string token = options.token;
  if (!options.token_file.empty()) {
    const auto secret = read_secret(options.token_file);
    if (!secret || secret->empty()) {
      std::cerr << "Cannot read an invite token from " << options.token_file << ".\n";
      return 2;
    }
    token = *secret;
  }
  switch (options.subcommand) {
    case cli::Subcommand::kTemplates: return list_templates(options);
    case cli::Subcommand::kCreate: return create_room(options);
    case cli::Subcommand::kJoin:
      return cli::run_join({options.server, token, options.ca_file}, STDIN_FILENO, std::cout);
    case cli::Subcommand::kInsights:
      return print_room_part<mend::v1::GetInsightsResponse>(
          options, token, &mc::HttpClient::get_insights,
          [](const auto& r) { return cli::render_insights(r.insights()); });
    case cli::Subcommand::kSummary:
      return print_room_part<mend::v1::GetSummaryResponse>(
          options, token, &mc::HttpClient::get_summary,
          [](const auto& r) { return cli::render_summary(r.summary()); });
    default: return room_api_call(options, token);
  }
}
