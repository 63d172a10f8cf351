#include "tests/privacy/privacy_support.h"

#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>

#include <boost/asio/post.hpp>
#include <google/protobuf/util/json_util.h>

#include "server/engine/templates.h"
#include "server/rooms/tokens.h"
#include "server/store/memory_store.h"
#include "server/store/sqlite_store.h"

namespace mend::testing {

std::optional<store::StoreError> wait_done(const std::function<void(store::StoreDone)>& call) {
  std::promise<std::optional<store::StoreError>> done;
  call([&done](std::optional<store::StoreError> error) { done.set_value(std::move(error)); });
  auto future = done.get_future();
  REQUIRE(future.wait_for(kBound) == std::future_status::ready);
  return future.get();
}

std::string read_all_files(const std::filesystem::path& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

v1::Command cmd(const std::function<void(v1::Command&)>& fill) {
  v1::Command command;
  fill(command);
  return command;
}

v1::Command consent(std::uint32_t retention_days, const std::vector<std::string>& observers,
                    bool transcript_to_observer, bool summary_to_observer) {
  return cmd([&](v1::Command& c) {
    v1::ConsentTerms* terms = c.mutable_consent()->mutable_terms();
    terms->set_retention_days(retention_days);
    for (const auto& name : observers) terms->add_observers(name);
    terms->set_transcript_to_observer(transcript_to_observer);
    terms->set_summary_to_observer(summary_to_observer);
  });
}

// ---------------------------------------------------------------------------------------------

PrivacyServer::PrivacyServer(StoreKind kind, std::vector<std::string> api_keys,
                             std::size_t log_window_events) {
  if (kind == StoreKind::kSqlite) {
    auto opened = store::SqliteStore::open({.data_dir = dir_.path()});
    REQUIRE(opened.store);
    store_ = opened.store;
  } else {
    store_ = std::make_shared<store::MemoryStore>();
  }
  auto loaded = engine::TemplateCatalog::load(std::string(MEND_SOURCE_DIR) + "/server/templates");
  REQUIRE(loaded.catalog);
  rooms::RoomServiceConfig config;
  if (log_window_events > 0) config.log_window_events = log_window_events;
  rooms_ = std::make_shared<rooms::RoomServiceImpl>(ioc_.get_executor(), store_,
                                                    std::move(*loaded.catalog),
                                                    rooms::TokenSigner(std::string(32, 'p')),
                                                    clock.clock(), config);
  net::ServerDeps deps;
  deps.rooms = rooms_;
  deps.verify_token = [rooms = rooms_](std::string_view token, std::int64_t now_ms)
      -> std::optional<rooms::Participant> {
    auto verified = rooms->tokens().verify(token, now_ms);
    auto* claims = std::get_if<rooms::TokenClaims>(&verified);
    if (!claims) return std::nullopt;
    return rooms::Participant{claims->room_id, claims->participant};
  };
  deps.now_ms = clock.clock();
  deps.api_keys = std::move(api_keys);
  server_ = std::make_unique<net::Server>(ioc_, net::NetConfig{}, std::move(deps));
  auto bound =
      server_->listen(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  REQUIRE(std::holds_alternative<asio::ip::tcp::endpoint>(bound));
  port_ = std::get<asio::ip::tcp::endpoint>(bound).port();
  thread_ = std::thread([this] { ioc_.run(); });
}

PrivacyServer::~PrivacyServer() {
  // Drain first: a live session and its room hold each other until the session detaches.
  std::promise<void> drained;
  server_->drain([&drained](bool) { drained.set_value(); });
  drained.get_future().wait_for(kBound);
  // A closed session detaches from its room in a handler on the room's strand; let the loop
  // run those (bounded) before stopping it, or a room and its closed session would keep each
  // other alive.
  const auto until = std::chrono::steady_clock::now() + kBound;
  while (rooms_->metrics().snapshot().participants_attached > 0 &&
         std::chrono::steady_clock::now() < until) {
    std::promise<void> turn;
    asio::post(ioc_, [&turn] { turn.set_value(); });
    turn.get_future().wait_for(kBound);
  }
  work_.reset();
  ioc_.stop();
  thread_.join();
  server_.reset();
  rooms_.reset();
  if (auto* sqlite = dynamic_cast<store::SqliteStore*>(store_.get())) sqlite->close();
}

std::string PrivacyServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
std::string PrivacyServer::ws_url() const {
  return "ws://127.0.0.1:" + std::to_string(port_) + "/v1/connect";
}

v1::CreateRoomResponse PrivacyServer::create_room(const std::vector<std::string>& observers,
                                                  const std::string& series_id,
                                                  const std::string& api_key) {
  client::HttpClient http({base_url(), api_key, {}, kBound});
  v1::CreateRoomRequest request;
  request.set_template_("speaker-listener");
  request.set_topic("TOPIC-SECRET evenings");
  request.set_partner_a_name("Alex");
  request.set_partner_b_name("Sam");
  for (const auto& name : observers) request.add_observers(name);
  request.set_series_id(series_id);
  auto created = http.create_room(request);
  REQUIRE(created.ok());
  return *created.value;
}

client::HttpResponse PrivacyServer::http(const std::string& method, const std::string& target,
                                         const std::string& token) {
  client::HttpClient http({base_url(), {}, {}, kBound});
  auto answer = http.request(method, target, {}, token);
  REQUIRE(answer.ok());
  return *answer.value;
}

rooms::SweepReport PrivacyServer::sweep() {
  std::promise<rooms::SweepReport> done;
  rooms_->sweep_retention([&done](rooms::SweepReport report) { done.set_value(report); });
  auto future = done.get_future();
  REQUIRE(future.wait_for(kBound) == std::future_status::ready);
  return future.get();
}

// ---------------------------------------------------------------------------------------------

Party::Party(const std::string& url, const std::string& token, std::uint64_t epoch,
             std::uint64_t resume_after_seq) {
  client::ClientOptions options;
  options.url = url;
  options.token = token;
  options.client_name = "mend-privacy-tests";
  options.room_epoch = epoch;
  options.resume_after_seq = resume_after_seq;
  options.backoff = {10ms, 100ms, 2.0, 0.5, 0};
  client::ClientHandlers handlers;
  handlers.on_event = [this](const v1::Event& e) { record([&] { events.push_back(e); }); };
  handlers.on_view = [this](const v1::RoomView&) { record([] {}); };
  handlers.on_welcome = [this](const v1::Welcome& w) { record([&] { welcomes.push_back(w); }); };
  handlers.on_content_erased = [this](const v1::ContentErased& e) {
    record([&] { erased.push_back(e); });
  };
  handlers.on_room_erasure_requested = [this](const v1::RoomErasureRequested& r) {
    record([&] { erasure_requests.push_back(r); });
  };
  handlers.on_insights = [this](const v1::Insights& i) { record([&] { insights.push_back(i); }); };
  handlers.on_reset = [this](const v1::RoomView& view) { record([&] { resets.push_back(view); }); };
  handlers.on_closed = [this](const client::ClientError& error) {
    record([&] {
      closed = error;
      erased_when_closed = erased.size();
    });
  };
  client_.emplace(std::move(options), std::move(handlers));
  REQUIRE(client_->start().ok());
}

Party::~Party() { client_->stop(); }

template <typename F>
void Party::record(F&& change) {
  {
    std::lock_guard lock(mutex_);
    change();
  }
  changed_.notify_all();
}

bool Party::wait(const std::function<bool()>& ready) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, kBound, ready);
}

bool Party::online() {
  return wait([this] { return client_->state() == client::ConnectionState::kOnline; });
}

client::CommandOutcome Party::send(v1::Command command, bool must_accept) {
  auto future = client_->send(std::move(command));
  REQUIRE(future.wait_for(kBound) == std::future_status::ready);
  auto outcome = future.get();
  if (must_accept) {
    INFO("rejected: " << outcome.result.rejection().message() << " / " << outcome.error.message);
    REQUIRE(outcome.accepted());
  }
  return outcome;
}

v1::RoomView Party::view() {
  auto view = client_->view();
  return view ? *view : v1::RoomView{};
}

// ---------------------------------------------------------------------------------------------

void check_error(const client::HttpResponse& response, int status, const std::string& code) {
  INFO("body: " << response.body);
  CHECK(response.status == status);
  auto error = parse<v1::ErrorResponse>(response);
  CHECK(error.code() == code);
  CHECK_FALSE(error.message().empty());
}

std::size_t count_kind(const v1::GetAuditResponse& audit, v1::AuditKind kind) {
  return static_cast<std::size_t>(
      std::count_if(audit.entries().begin(), audit.entries().end(),
                    [kind](const v1::AuditEntry& entry) { return entry.kind() == kind; }));
}

v1::Command open_with_secrets() {
  return cmd([](v1::Command& c) {
    c.mutable_open()->set_intention("INTENTION-SECRET-A");
    c.mutable_open()->set_topic("TOPIC-SECRET-A");
  });
}

Couple::Couple(PrivacyServer& s, const std::vector<std::string>& observers)
    : server(s),
      room(s.create_room(observers)),
      a(s.ws_url(), room.invites(0).token()),
      b(s.ws_url(), room.invites(1).token()) {
  REQUIRE(a.online());
  REQUIRE(b.online());
}

void Couple::talk(const v1::Command& consent_a, const v1::Command& consent_b) {
  a.send(consent_a);
  b.send(consent_b);
  a.send(open_with_secrets());
  a.send(cmd([](v1::Command& c) { c.mutable_share()->set_text("SHARE-SECRET-A"); }));
  server.clock.advance(5000);  // the reflection beat
  b.send(cmd([](v1::Command& c) {
    c.mutable_reflect()->set_kind(v1::MIRROR);
    c.mutable_reflect()->set_text("MIRROR-SECRET-B");
  }));
}

void Couple::a_leaves() { a.send(cmd([](v1::Command& c) { c.mutable_leave(); })); }

}  // namespace mend::testing
