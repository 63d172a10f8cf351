// mendd's configuration: flags and MEND_* environment variables (DESIGN.md section 9).
#include "server/app/config.h"

#include <doctest/doctest.h>

namespace mend::app {
namespace {

std::variant<AppConfig, Exit> parse(std::vector<const char*> args,
                                    const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), "mendd");
  return parse_config(static_cast<int>(args.size()), args.data(), env, "/templates");
}

TEST_CASE("defaults listen on loopback 8480 with the durable sqlite store") {
  auto parsed = parse({});
  REQUIRE(std::holds_alternative<AppConfig>(parsed));
  const auto& config = std::get<AppConfig>(parsed);
  CHECK(config.listen == "127.0.0.1:8480");
  CHECK(config.store == "sqlite");
  CHECK(config.durability == "full");
  CHECK_FALSE(config.master_key_file);
  CHECK(config.room_idle_evict_s == 600);
  CHECK(config.templates_dir == "/templates");
  CHECK_FALSE(config.net.allow_plaintext);
  CHECK(config.threads >= 1);
}

TEST_CASE("the web app directory defaults to the given one and is set by --web-dir or MEND_WEB_DIR") {
  std::vector<const char*> argv = {"mendd"};
  auto defaulted = parse_config(1, argv.data(), {}, "/templates", "/checkout/web/dist");
  REQUIRE(std::holds_alternative<AppConfig>(defaulted));
  CHECK(std::get<AppConfig>(defaulted).web_dir == "/checkout/web/dist");
  auto from_env = parse({}, {"MEND_WEB_DIR=/srv/mend-web"});
  REQUIRE(std::holds_alternative<AppConfig>(from_env));
  CHECK(std::get<AppConfig>(from_env).web_dir == "/srv/mend-web");
  auto from_flag = parse({"--web-dir", "/opt/web"}, {"MEND_WEB_DIR=/srv/mend-web"});
  REQUIRE(std::holds_alternative<AppConfig>(from_flag));
  CHECK(std::get<AppConfig>(from_flag).web_dir == "/opt/web");
}

TEST_CASE("every flag is also a MEND_ variable and the flag wins") {
  auto parsed = parse({"--max-connections-per-ip", "7"},
                      {"MEND_MAX_CONNECTIONS_PER_IP=9", "MEND_LISTEN=0.0.0.0:9000",
                       "MEND_ALLOW_PLAINTEXT=true", "MEND_HELLO_TIMEOUT_MS=1500",
                       "MEND_SDK_URL=ignored", "PATH=/bin"});
  REQUIRE(std::holds_alternative<AppConfig>(parsed));
  const auto& config = std::get<AppConfig>(parsed);
  CHECK(config.net.max_connections_per_ip == 7);
  CHECK(config.listen == "0.0.0.0:9000");
  CHECK(config.net.allow_plaintext);
  CHECK(config.net.hello_timeout == std::chrono::milliseconds(1500));
}

TEST_CASE("--proxy-protocol-from takes a list of addresses and CIDR blocks, and anything "
          "else exits 2") {
  auto none = parse({});
  REQUIRE(std::holds_alternative<AppConfig>(none));
  CHECK(std::get<AppConfig>(none).net.proxy_protocol_from.empty());
  auto parsed = parse({}, {"MEND_PROXY_PROTOCOL_FROM=10.0.0.5, 10.1.0.0/16,fd00::/8"});
  REQUIRE(std::holds_alternative<AppConfig>(parsed));
  const auto& ranges = std::get<AppConfig>(parsed).net.proxy_protocol_from;
  REQUIRE(ranges.size() == 3);
  CHECK(ranges[0].prefix == 32);
  CHECK(ranges[1].prefix == 16);
  CHECK(ranges[2].network.is_v6());
  const auto bad = std::get<Exit>(parse({"--proxy-protocol-from", "10.0.0.5,haproxy"}));
  CHECK(bad.code == 2);
  CHECK(bad.text.find("\"haproxy\"") != std::string::npos);
}

TEST_CASE("help and version exit 0, and bad values exit 2 with a reason") {
  CHECK(std::get<Exit>(parse({"--help"})).code == 0);
  CHECK(std::get<Exit>(parse({"--version"})).text.find("mendd ") == 0);
  CHECK(std::get<Exit>(parse({"--store", "postgres"})).code == 2);
  CHECK(std::get<Exit>(parse({"--durability", "off"})).code == 2);
  CHECK(std::get<Exit>(parse({"--listen", "nowhere"})).code == 2);
  CHECK(std::get<Exit>(parse({"--log-format", "xml"})).code == 2);
  CHECK(std::get<Exit>(parse({"--tls-cert", "c.pem"})).code == 2);
  CHECK(std::get<Exit>(parse({"--no-such-flag"})).code == 2);
}

TEST_CASE("store flags: memory store, normal durability, master key file, idle eviction") {
  auto parsed = parse({"--store", "memory", "--master-key-file", "/keys/master.key"},
                      {"MEND_DURABILITY=normal", "MEND_ROOM_IDLE_EVICT=30"});
  REQUIRE(std::holds_alternative<AppConfig>(parsed));
  const auto& config = std::get<AppConfig>(parsed);
  CHECK(config.store == "memory");
  CHECK(config.durability == "normal");
  CHECK(config.master_key_file == std::filesystem::path("/keys/master.key"));
  CHECK(config.room_idle_evict_s == 30);
  const std::string help = std::get<Exit>(parse({"--help"})).text;
  for (const char* flag : {"--store", "--durability", "--master-key-file", "--room-idle-evict"}) {
    CHECK(help.find(flag) != std::string::npos);
  }
}

TEST_CASE("--store postgres needs --postgres-url, and --postgres-url needs --store postgres") {
  auto parsed = parse({"--store", "postgres"}, {"MEND_POSTGRES_URL=postgresql://mend@db/mend"});
  REQUIRE(std::holds_alternative<AppConfig>(parsed));
  CHECK(std::get<AppConfig>(parsed).postgres_url == "postgresql://mend@db/mend");
  CHECK(std::get<Exit>(parse({"--store", "postgres"})).code == 2);
  CHECK(std::get<Exit>(parse({"--postgres-url", "postgresql://db/mend"})).code == 2);
}

TEST_CASE("listen addresses split into host and port, IPv6 in brackets") {
  CHECK(split_host_port("127.0.0.1:8480") == std::make_pair(std::string("127.0.0.1"),
                                                            std::uint16_t{8480}));
  CHECK(split_host_port("[::1]:80") == std::make_pair(std::string("::1"), std::uint16_t{80}));
  CHECK_FALSE(split_host_port("127.0.0.1"));
  CHECK_FALSE(split_host_port("host:99999"));
}

}  // namespace
}  // namespace mend::app
