// Test support for the privacy tests: a temporary data directory, the real server in-process
// (RoomServiceImpl over SqliteStore or MemoryStore, net::Server on 127.0.0.1:<ephemeral>, a
// ManualClock for the rooms, tokens and retention), and SDK participants that record what
// they saw. Every wait is bounded.
#pragma once

// Protobuf headers first: <netdb.h> (via Asio) defines TRY_AGAIN, a RepairKind value.
#include "mend/v1/api.pb.h"
#include "mend/v1/frames.pb.h"
#include "mend/v1/insights.pb.h"
#include "server/rooms/room_service_impl.h"

#include <doctest/doctest.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "mend/client.h"
#include "mend/http_client.h"
#include "server/net/server.h"
#include "server/rooms/clock.h"
#include "server/store/store.h"
#include "tests/common/temp_dir.h"

namespace mend::testing {

using namespace std::chrono_literals;
namespace asio = boost::asio;

inline constexpr auto kBound = 10s;  // upper bound of every wait
inline constexpr std::int64_t kStartMs = 1'800'000'000'000;
inline constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

// Calls a Store method through `call(done)` and waits for its StoreDone.
std::optional<store::StoreError> wait_done(const std::function<void(store::StoreDone)>& call);

// Every byte of every file under `dir`.
std::string read_all_files(const std::filesystem::path& dir);

v1::Command cmd(const std::function<void(v1::Command&)>& fill);

// The real server in-process.
class PrivacyServer {
 public:
  enum class StoreKind { kSqlite, kMemory };
  // `api_keys`: the server's API keys (empty: none needed, rooms are the caller address's).
  // `log_window_events`: a loaded room's latest events kept in memory (0: the default).
  explicit PrivacyServer(StoreKind kind = StoreKind::kSqlite,
                         std::vector<std::string> api_keys = {},
                         std::size_t log_window_events = 0);
  ~PrivacyServer();
  PrivacyServer(const PrivacyServer&) = delete;
  PrivacyServer& operator=(const PrivacyServer&) = delete;

  std::string base_url() const;
  std::string ws_url() const;
  const std::filesystem::path& data_dir() const { return dir_.path(); }

  // POST /v1/rooms with the speaker-listener template, names "Alex" / "Sam".
  v1::CreateRoomResponse create_room(const std::vector<std::string>& observers = {},
                                     const std::string& series_id = {},
                                     const std::string& api_key = {});
  // Any HTTP request with a bearer token.
  client::HttpResponse http(const std::string& method, const std::string& target,
                            const std::string& token);
  // One retention sweep at the clock's now, waited for.
  rooms::SweepReport sweep();

  rooms::ManualClock clock{kStartMs};

 private:
  TempDir dir_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<rooms::RoomServiceImpl> rooms_;
  std::unique_ptr<net::Server> server_;
  std::thread thread_;
  unsigned short port_ = 0;
};

// One participant through the SDK, recording what it saw.
class Party {
 public:
  Party(const std::string& url, const std::string& token, std::uint64_t epoch = 0,
        std::uint64_t resume_after_seq = 0);
  ~Party();

  // Waits (bounded) until `ready()` holds; checked under the party's lock.
  bool wait(const std::function<bool()>& ready);
  bool online();
  // Sends and waits for the outcome; fails the test when not accepted.
  client::CommandOutcome send(v1::Command command, bool must_accept = true);
  v1::RoomView view();
  std::uint64_t last_seq() { return client_->last_delivered_seq(); }
  void stop() { client_->stop(); }
  // Drops the connection as a network failure would; the SDK reconnects and resumes.
  void drop_connection() { client_->drop_connection(); }

  // Under the lock of wait(); read after a wait.
  std::vector<v1::Event> events;
  std::vector<v1::ContentErased> erased;
  std::vector<v1::Welcome> welcomes;
  std::vector<v1::RoomView> resets;  // the views of on_reset (a resume was not recovered)
  std::vector<v1::RoomErasureRequested> erasure_requests;
  std::vector<v1::Insights> insights;  // live insights items (admitted observers)
  std::optional<client::ClientError> closed;
  std::size_t erased_when_closed = 0;  // erased.size() when on_closed ran

 private:
  template <typename F>
  void record(F&& change);
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<client::Client> client_;
};

// Consent terms with the given retention, observer list, transcript and summary flags.
v1::Command consent(std::uint32_t retention_days, const std::vector<std::string>& observers = {},
                    bool transcript_to_observer = false, bool summary_to_observer = false);

// An HTTP answer's JSON body as `T` (fails the test when it does not parse).
template <typename T>
T parse(const client::HttpResponse& response) {
  T message;
  INFO("body: " << response.body);
  REQUIRE(google::protobuf::util::JsonStringToMessage(response.body, &message).ok());
  return message;
}

// A rejection: the status, a stable code and a human message.
void check_error(const client::HttpResponse& response, int status, const std::string& code);

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::size_t count_kind(const v1::GetAuditResponse& audit, v1::AuditKind kind);

// A's opening with intention "INTENTION-SECRET-A" and topic "TOPIC-SECRET-A".
v1::Command open_with_secrets();

// Two partners of a fresh room, online through the SDK.
struct Couple {
  explicit Couple(PrivacyServer& s, const std::vector<std::string>& observers = {});
  const std::string& token(int index) const { return room.invites(index).token(); }
  std::string path(const std::string& suffix = {}) const {
    return "/v1/rooms/" + room.room_id() + suffix;
  }
  client::HttpResponse http(const std::string& method, const std::string& suffix, int who) {
    return server.http(method, path(suffix), token(who));
  }

  // Both consent; A opens and shares; B mirrors after the reflection beat.
  void talk(const v1::Command& consent_a, const v1::Command& consent_b);
  void a_leaves();

  PrivacyServer& server;
  v1::CreateRoomResponse room;
  Party a;
  Party b;
};

}  // namespace mend::testing
