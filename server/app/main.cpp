// mendd: wires configuration, key material, templates, the rooms and the network layer, and
// shuts down gracefully on SIGTERM/SIGINT (DESIGN.md section 9).
#include "server/rooms/room_service_impl.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "server/app/config.h"
#include "server/app/data_dir.h"
#include "server/app/logging.h"
#include "server/engine/templates.h"
#include "server/net/credentials.h"
#include "server/net/server.h"
#include "server/rooms/tokens.h"
#include "server/store/memory_store.h"
#include "server/store/postgres_store.h"
#include "server/store/sqlite_store.h"

namespace {

namespace asio = boost::asio;
using mend::app::AppConfig;

constexpr int kExitConfig = 2;
constexpr int kExitStore = 3;  // the event store could not be opened

// One shard: an io_context run by one thread. Handlers queued on one shard may hold objects
// with I/O objects of another (a room's operation holding a connection served elsewhere), so
// every shard's handlers are destroyed (shut_down) before any shard is.
class Shard : public asio::io_context {
 public:
  Shard() : asio::io_context(1) {}  // concurrency hint: one thread
  void shut_down() { shutdown(); }
};

// The configured event store, opened. SqliteStore also has a close() for shutdown.
struct OpenedStore {
  std::shared_ptr<mend::store::Store> store;
  std::shared_ptr<mend::store::SqliteStore> sqlite;  // set for --store sqlite
  std::shared_ptr<mend::store::PostgresStore> postgres;  // set for --store postgres
};

// A name for this node in room leases, unique among the nodes of one database: host and pid.
std::string default_node_id() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  const std::string name = host[0] != '\0' ? std::string(host.data()) : "mendd";
  return name + "-" + std::to_string(::getpid());
}

std::optional<OpenedStore> open_postgres(const AppConfig& config) {
  mend::store::PostgresStoreOptions options;
  options.url = config.postgres_url;
  options.master_key_file = config.master_key_file
                                ? *config.master_key_file
                                : config.data_dir / mend::store::SqliteStore::kMasterKeyFile;
  auto opened = mend::store::PostgresStore::open(std::move(options));
  if (!opened.store) {
    // The message is libpq's or the schema check's, never the URL.
    spdlog::error("cannot open the event store on PostgreSQL: {} ({})", opened.error->message,
                  mend::store::to_string(opened.error->code));
    return std::nullopt;
  }
  spdlog::info("event store opened on PostgreSQL");
  return OpenedStore{opened.store, nullptr, opened.store};
}

std::optional<OpenedStore> open_store(const AppConfig& config) {
  if (config.store == "memory") {
    spdlog::warn("--store memory: conversations are lost when mendd stops");
    auto memory = std::make_shared<mend::store::MemoryStore>();
    return OpenedStore{memory, nullptr, nullptr};
  }
  if (config.store == "postgres") return open_postgres(config);
  mend::store::SqliteStoreOptions options;
  options.data_dir = config.data_dir;
  if (config.master_key_file) options.master_key_file = *config.master_key_file;
  options.durability = config.durability == "normal" ? mend::store::Durability::kNormal
                                                     : mend::store::Durability::kFull;
  const auto opening = std::chrono::steady_clock::now();
  auto opened = mend::store::SqliteStore::open(std::move(options));
  if (!opened.store) {
    const auto& error = *opened.error;
    spdlog::error("cannot open the event store in {}: {} ({})", config.data_dir.string(),
                  error.message, mend::store::to_string(error.code));
    if (error.code == mend::store::StoreErrorCode::kCorrupt) {
      spdlog::error("the database is damaged or does not match the master key; mendd will not "
                    "start on it. Restore it from a backup, or move it away to start empty.");
    }
    return std::nullopt;
  }
  const auto opened_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - opening)
                             .count();
  spdlog::info("event store opened in {} ms ({})", opened_ms,
               opened.store->stats().integrity_from_seal
                   ? "unchanged since its last clean close: its digest matched the seal"
                   : "whole integrity check");
  return OpenedStore{opened.store, opened.store, nullptr};
}

std::vector<std::string> environment() {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
  return env;
}

std::filesystem::path default_templates_dir() {
  const std::filesystem::path source = std::filesystem::path(MEND_SOURCE_DIR) / "server/templates";
  std::error_code ec;
  if (std::filesystem::is_directory(source, ec)) return source;
  return "/usr/share/mend/templates";
}

// The checkout's web/dist when mendd runs from a checkout (built or not yet: it is read per
// request), else the installed app; a missing app is served as "not built" (static_files.h).
std::filesystem::path default_web_dir() {
  const std::filesystem::path web = std::filesystem::path(MEND_SOURCE_DIR) / "web";
  std::error_code ec;
  if (std::filesystem::is_directory(web, ec)) return web / "dist";
  return "/usr/share/mend/web";
}

// API keys: one per line; blank lines and lines starting with '#' are skipped.
std::optional<std::vector<std::string>> read_api_keys(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    std::size_t start = 0;
    while (start < line.size() && std::isspace(static_cast<unsigned char>(line[start]))) ++start;
    line.erase(0, start);
    if (!line.empty() && line.front() != '#') keys.push_back(line);
  }
  return keys;
}

std::optional<mend::engine::TemplateCatalog> load_templates(const std::filesystem::path& dir) {
  auto loaded = mend::engine::TemplateCatalog::load(dir);
  if (!loaded.catalog) {
    for (const auto& error : loaded.errors) spdlog::error("template: {}", error.to_string());
    return std::nullopt;
  }
  return std::move(loaded.catalog);
}

std::optional<mend::net::TlsFiles> tls_files(const AppConfig& config) {
  if (config.tls_cert) return mend::net::TlsFiles{*config.tls_cert, *config.tls_key};
  auto generated = mend::net::ensure_self_signed_certificate(config.data_dir);
  if (auto* error = std::get_if<mend::net::SetupError>(&generated)) {
    spdlog::error("{}: {}", error->code, error->message);
    return std::nullopt;
  }
  return std::get<mend::net::TlsFiles>(generated);
}

int serve(const AppConfig& config) {
  if (auto failed = mend::app::secure_data_dir(config.data_dir)) {
    spdlog::error("DATA_DIR: {}", *failed);
    return kExitConfig;
  }
  auto lock = mend::app::DataDirLock::take(config.data_dir);  // held until serve() returns
  if (auto* refused = std::get_if<mend::app::DataDirLock::Refusal>(&lock)) {
    spdlog::error("{}: {}", refused->code, refused->message);
    return kExitConfig;
  }
  auto files = tls_files(config);
  if (!files) return kExitConfig;
  auto tls = mend::net::make_tls_context(*files);
  if (auto* error = std::get_if<mend::net::SetupError>(&tls)) {
    spdlog::error("{}: {}", error->code, error->message);
    return kExitConfig;
  }
  auto signer = mend::rooms::TokenSigner::from_file(
      config.token_secret_file.value_or(config.data_dir / mend::rooms::kTokenSecretFile));
  if (auto* error = std::get_if<mend::rooms::SecretFileError>(&signer)) {
    spdlog::error("{}: {}", error->code, error->message);
    return kExitConfig;
  }
  std::vector<std::string> api_keys;
  if (config.api_key_file) {
    auto keys = read_api_keys(*config.api_key_file);
    if (!keys || keys->empty()) {
      spdlog::error("cannot read API keys from {}", config.api_key_file->string());
      return kExitConfig;
    }
    api_keys = std::move(*keys);
  }
  auto templates = load_templates(config.templates_dir);
  if (!templates) return kExitConfig;
  auto opened = open_store(config);
  if (!opened) return kExitStore;

  // --threads shards, each an io_context run by exactly one thread. A room and the
  // connections that name it live on one shard
  // (rooms/shard.h), so a command's hand-off to another thread is only the store writer's.
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<asio::io_context*> shard_contexts;
  std::vector<asio::any_io_executor> shard_executors;
  for (unsigned i = 0; i < config.threads; ++i) {
    shards.push_back(std::make_unique<Shard>());
    shard_contexts.push_back(shards.back().get());
    shard_executors.emplace_back(shards.back()->get_executor());
  }
  asio::io_context& ioc = *shards.front();
  // Installed before "listening" is logged: a SIGTERM from then on is queued for the drain
  // below instead of killing mendd without closing the store.
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  mend::rooms::RoomServiceConfig room_config;
  room_config.commands_per_second = config.commands_per_second;
  room_config.command_burst = config.command_burst;
  room_config.rate_limit_abuse_refusals = config.rate_limit_abuse_refusals;
  room_config.rate_limit_abuse_window_ms = config.rate_limit_abuse_window_ms;
  room_config.default_invite_ttl_s = config.invite_ttl_s;
  room_config.room_idle_evict_ms = mend::engine::TimeMs{config.room_idle_evict_s} * 1000;
  room_config.retention_sweep_interval = std::chrono::seconds(config.retention_sweep_interval_s);
  if (opened->postgres) {
    // Several nodes may share the database: rooms are served under leases.
    room_config.node_id = config.node_id.empty() ? default_node_id() : config.node_id;
    room_config.lease_ms = config.lease_ms;
    spdlog::info("room leases: node {}, lease {} ms", room_config.node_id, config.lease_ms);
  }
  const std::size_t template_count = templates->size();
  auto rooms = std::make_shared<mend::rooms::RoomServiceImpl>(
      std::move(shard_executors), opened->store, std::move(*templates),
      std::move(std::get<mend::rooms::TokenSigner>(signer)), mend::rooms::system_clock(),
      room_config);

  mend::net::ServerDeps deps;
  deps.rooms = rooms;
  deps.verify_token = [rooms](std::string_view token, std::int64_t now_ms)
      -> std::optional<mend::rooms::Participant> {
    auto verified = rooms->tokens().verify(token, now_ms);
    auto* claims = std::get_if<mend::rooms::TokenClaims>(&verified);
    if (!claims) return std::nullopt;
    return mend::rooms::Participant{claims->room_id, claims->participant};
  };
  deps.api_keys = std::move(api_keys);
  deps.tls = std::get<std::shared_ptr<asio::ssl::context>>(tls);
  deps.web_dir = config.web_dir;
  deps.extra_metrics = [rooms, sqlite = opened->sqlite, postgres = opened->postgres] {
    std::string text = rooms->metrics().prometheus_text();
    if (sqlite) text += mend::store::prometheus_text(sqlite->stats());
    if (postgres) text += mend::store::prometheus_text(postgres->stats());
    return text;
  };
  rooms->start_retention_sweeps();
  mend::net::Server server(shard_contexts, config.net, std::move(deps));

  const auto [host, port] = *mend::app::split_host_port(config.listen);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    spdlog::error("--listen: {} is not an IP address", host);
    return kExitConfig;
  }
  auto bound = server.listen(asio::ip::tcp::endpoint(address, port));
  if (auto* error = std::get_if<mend::net::SetupError>(&bound)) {
    spdlog::error("{}: {}", error->code, error->message);
    return kExitConfig;
  }
  const auto endpoint = std::get<asio::ip::tcp::endpoint>(bound);
  spdlog::info("mendd {} listening on {}:{} (TLS and {} plaintext), {} threads, {} templates, "
               "store {}{}", MEND_VERSION, endpoint.address().to_string(), endpoint.port(),
               config.net.allow_plaintext ? "any" : "loopback-only", config.threads,
               template_count, config.store,
               config.store == "sqlite" ? " (durability " + config.durability + ")" : "");
  std::error_code web_ec;
  if (!std::filesystem::is_regular_file(config.web_dir / "index.html", web_ec)) {
    spdlog::warn("the web app is not built ({} has no index.html): / answers a 404 page",
                 config.web_dir.string());
  }
  rooms->start_housekeeping();
  rooms->recover_timers();

  // Every shard runs until the rooms stopped (a shard without work would end its thread).
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  for (auto& shard : shards) work.push_back(asio::make_work_guard(*shard));
  auto stop_shards = [&shards] {
    for (auto& shard : shards) shard->stop();
  };
  bool draining = false;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& error, int number) {
        if (error) return;
        if (draining) {
          spdlog::warn("second signal {}: stopping now", number);
          stop_shards();
          return;
        }
        draining = true;
        spdlog::info("signal {}: draining (readiness fails, clients closed with 4001)", number);
        server.drain([&](bool all_closed) {
          spdlog::info("drain finished ({}); exiting",
                       all_closed ? "every connection closed" : "deadline reached");
          rooms->stop([&work, stop_shards] {  // once, on a shard's thread
            work.clear();
            stop_shards();
          });
        });
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  std::vector<std::jthread> workers;
  for (std::size_t i = 1; i < shards.size(); ++i) {
    workers.emplace_back([&shard = *shards[i]] { shard.run(); });
  }
  ioc.run();
  for (auto& worker : workers) worker.join();
  // Shutdown order: the rooms stopped in the drain (no connection, no housekeeping), the I/O
  // threads ended; then the store completes every queued write and closes its files, while the
  // io_contexts its completions are posted to still exist.
  if (opened->sqlite) {
    opened->sqlite->close();
    spdlog::info("event store closed");
  }
  if (opened->postgres) {
    opened->postgres->close();
    spdlog::info("event store closed");
  }
  for (auto& shard : shards) shard->shut_down();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mend::app::restrict_file_creation();  // before anything is written (README "Security")
  auto parsed = mend::app::parse_config(argc, argv, environment(), default_templates_dir(),
                                           default_web_dir());
  if (auto* exit = std::get_if<mend::app::Exit>(&parsed)) {
    (exit->code == 0 ? std::cout : std::cerr) << exit->text;
    return exit->code;
  }
  const auto& config = std::get<AppConfig>(parsed);
  mend::app::setup_logging(config.log_format, config.log_level);
  return serve(config);
}
