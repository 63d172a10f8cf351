// mend::client::Client: one participant's live connection to a mend room.
//
// A Client connects to `GET /v1/connect` (WebSocket, subprotocol `mend.v1`, binary frames; TLS
// with certificate and host name verification for wss://), sends Hello with its invite token,
// and keeps the connection alive: after a drop it reconnects with exponential backoff and
// jitter and resumes after the last event it delivered. The application sees every event of
// the room exactly once, in seq order, and always has the latest RoomView (with the actions
// allowed now) at hand.
//
// Usage:
//   mend::client::ClientOptions options;
//   options.url = "ws://127.0.0.1:8480/v1/connect";
//   options.token = invite.token();
//   mend::client::ClientHandlers handlers;
//   handlers.on_event = [](const mend::v1::Event& e) { ... };
//   handlers.on(mend::v1::Event::kShared, [](const mend::v1::Event& e) { ... });
//   mend::client::Client client(std::move(options), std::move(handlers));
//   client.start();
//   mend::v1::Command share;
//   share.mutable_share()->set_text("...");
//   mend::client::CommandOutcome outcome = client.send(std::move(share)).get();
//
// Threading model: the Client owns one io_context and one thread that runs it, unless
// ClientOptions::executor is given, in which case it runs on a strand of that executor and owns
// no thread. All network work and every handler call happen on that thread (strand), one at a
// time, in order. Every public method is safe to call from any thread, including from inside a
// handler. Handlers must not block: in particular, never wait on a command's std::future inside
// a handler (the result is delivered by the very thread that would be blocked).
//
// Exactly once, in order: an event is delivered to on_event only if its seq is above the last
// delivered seq; replays overlapping what was delivered are dropped. Seq gaps are normal (some
// events are not visible to every participant). When the server cannot replay the gap
// (Welcome.recovered == false), on_reset is called with the full view: drop what you showed.
//
// Close codes (client_error.h has the list): 4000-4499 but 4400 (and transport failures,
// normal closes by the server) -> reconnect and resume; 4500-4999 and 4400 -> terminal:
// on_closed is called with ErrorCode::kTerminalClose and the code (4500 malformed frame, 4501
// unauthenticated or expired token, 4503 observer consent revoked or room erased, ...),
// pending commands fail with the same error, and the client stays closed. 1009 (frame too
// large) fails the largest unanswered command sent on that connection with kFrameTooLarge,
// then reconnects and resends the others (terminal when no command was unanswered).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>

#include "mend/backoff.h"
#include "mend/client_error.h"
#include "mend/pending_commands.h"
#include "mend/proto.h"

namespace mend::client {

// The WebSocket subprotocol of this SDK's wire format (DESIGN 5).
inline constexpr const char* kSubprotocol = "mend.v1";

enum class ConnectionState {
  kIdle,        // constructed, start() not called
  kConnecting,  // TCP/TLS/WebSocket handshake and Hello under way
  kOnline,      // Welcome received: events flow, commands are sent at once
  kWaiting,     // connection lost; waiting out the backoff delay before reconnecting
  kOffline,     // set_online(false): disconnected on purpose until set_online(true)
  kClosed,      // stopped, terminal close code, or gave up; final
};

const char* connection_state_name(ConnectionState state);

struct ClientOptions {
  // ws://host:port/path or wss://...; http:// and https:// are accepted as ws:// and wss://.
  // A URL without a path ("ws://127.0.0.1:8480") or with /v1/connect connects to
  // /v1/connect/{room}, the room read from the token (connect_target in url.h), so a router can
  // send every participant of a room to the node that serves it.
  std::string url;
  // The invite token (bearer credential). Sent only inside Hello; never logged by the SDK.
  std::string token;
  // For the server's logs and metrics only.
  std::string client_name = "mend-client/0.1";
  // wss: PEM file with CA certificates to trust in addition to the system's trust store (e.g.
  // the server's self-signed certificate). Certificates and the host name (or IP address) are
  // always verified.
  std::string ca_file;
  // Where to resume when the application persisted a position from an earlier run
  // (Client::epoch(), Client::last_delivered_seq()); 0, 0 replays the room from the start.
  std::uint64_t room_epoch = 0;
  std::uint64_t resume_after_seq = 0;
  // Reconnect schedule; the client gives up (ErrorCode::kGaveUp) only if max_attempts > 0.
  BackoffPolicy backoff;
  // Random bits for backoff jitter and command ids; empty means system_random().
  RandomSource random;
  // Bound on TCP connect + TLS + WebSocket handshakes (and on the closing handshake).
  std::chrono::milliseconds connect_timeout{10'000};
  // The connection is considered lost after this long without any frame from the server
  // (the server sends a Heartbeat after 25 s of silence).
  std::chrono::milliseconds idle_timeout{75'000};
  // When the client has sent nothing for this long while online, it sends an unsolicited
  // HeartbeatAck (its cumulative position), so that a quiet participant (an observer) in a busy
  // room, where the server never needs to send a Heartbeat, is not taken for silent.
  // 0 disables it (heartbeats are then only answered).
  std::chrono::milliseconds keepalive_interval{20'000};
  // Commands that may wait for a result at once; more fail with kTooManyPending.
  std::size_t max_pending_commands = 1024;
  // Largest server frame accepted; a larger one drops the connection (then reconnects).
  std::size_t max_frame_bytes = 4u << 20;
  // Largest client frame the server takes (mendd --read-message-max, default 64 KiB): a command
  // whose frame is larger fails at once with kFrameTooLarge instead of being sent.
  std::size_t max_command_bytes = 64u << 10;
  // Run on a strand of this executor instead of an own thread (see "Threading model").
  std::optional<boost::asio::any_io_executor> executor;
};

using EventHandler = std::function<void(const v1::Event&)>;

// Application callbacks; all optional. Called on the client's thread (strand), one at a time.
// Within one server frame: on_welcome / on_reset, then each item's handler in order
// (on_event then the per-kind handler for each new event), then on_view, then the completions
// of the commands the frame answered. So when a command's handle resolves, the events it caused
// were delivered and view() shows their effect.
struct ClientHandlers {
  // Every new event, exactly once, in seq order.
  EventHandler on_event;
  // Per-kind dispatch, after on_event: by_kind[v1::Event::kShared] etc.
  std::unordered_map<int, EventHandler> by_kind;
  // The latest view after it changed (also after a Welcome).
  std::function<void(const v1::RoomView&)> on_view;
  // Each Welcome (first connect and every resume).
  std::function<void(const v1::Welcome&)> on_welcome;
  // Welcome.recovered was false: drop what was shown; `view` is the full current state and
  // delivery continues after view.last_seq().
  std::function<void(const v1::RoomView&)> on_reset;
  // End of the replay after a Welcome: live events follow.
  std::function<void(std::uint64_t last_seq)> on_replay_done;
  // Who is connected now (ephemeral).
  std::function<void(const v1::Presence&)> on_presence;
  // Another participant started (typing true) or stopped (false) typing (ephemeral: never
  // replayed after a resume, no seq). The server relays only a partner's typing, while their
  // view offers a text action, at most one "typing" per second per partner; a partner that
  // goes offline or sends a command sends no "stopped" of its own, so apps hide the indicator
  // after a few seconds without a new notice (or on the next event of that partner).
  std::function<void(const v1::TypingNotice&)> on_typing;
  // The room's stored history was rewritten (DESIGN 7): a partner erased their contributions
  // or the retention ended. Replace the events in `erased.events()` (same seqs, texts now
  // "[erased]") in what you show. The room's epoch changed: the next resume of this client
  // gets on_reset with the full, erased view. For ERASURE_WHOLE_ROOM a terminal close (4503)
  // follows: the server writes this item before the close frame, so on_content_erased runs
  // before on_closed (unless the connection was lost first: a later connect is closed with
  // 4504, unknown room).
  std::function<void(const v1::ContentErased&)> on_content_erased;
  // Observers admitted by both partners (counselors): the room's content-free insights after
  // each frame of events and after the replay (issue 14; never sent to partners, who ask
  // HttpClient::get_insights).
  std::function<void(const v1::Insights&)> on_insights;
  // A partner asked to erase the whole room; it is erased when the other partner asks too
  // (HttpClient::request("DELETE", "/v1/rooms/<id>", {}, token)).
  std::function<void(const v1::RoomErasureRequested&)> on_room_erasure_requested;
  // Every change of ConnectionState; `error` says why for kWaiting and kClosed.
  std::function<void(ConnectionState, const ClientError& error)> on_state;
  // The client closed for good because of the server or the network (terminal close code or
  // gave up); not called for stop().
  std::function<void(const ClientError&)> on_closed;

  // Registers a per-kind handler; returns *this for chaining.
  ClientHandlers& on(v1::Event::BodyCase kind, EventHandler handler) {
    by_kind[static_cast<int>(kind)] = std::move(handler);
    return *this;
  }
};

class Client {
 public:
  // Stores the options and handlers; does not connect (see start()).
  Client(ClientOptions options, ClientHandlers handlers);
  // Calls stop(), then joins the client's own thread (if it has one). Must not be called from
  // a handler.
  ~Client();

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Validates the options and starts connecting. Errors (nothing started):
  // kInvalidArgument for a malformed URL, an empty token, or an unreadable ca_file; also when
  // called a second time.
  ClientError start();

  // Closes the connection (close code 1000), resolves every pending command with kStopped
  // (their completions run on the client's thread before stop() returns) and moves to kClosed.
  // No other handler runs once stop() returned. Blocks until the client's strand ran the stop,
  // unless called from a handler (then it runs inline). Idempotent; safe from any thread. With
  // an external executor, that executor must be running for stop() (and the destructor) to
  // return.
  void stop();

  // Sends a command and returns a future resolved with its outcome. If command.command_id()
  // is empty the SDK sets a random 128-bit hex id; otherwise the given id is used (the server
  // answers a retried id with the original result). The command is sent now when online,
  // otherwise after the next Welcome; an unanswered command is sent again, with the same id,
  // after every reconnect until answered. Never throws; errors arrive in the outcome
  // (kInvalidArgument for a command without body, kTooManyPending, kStopped, kTerminalClose).
  std::future<CommandOutcome> send(v1::Command command);
  // The same with a completion called on the client's thread instead of a future.
  void send(v1::Command command, CommandCompletion done);

  // Tells the other participants whether this one is typing (a Typing frame: ephemeral, no
  // seq, never stored, not retried). Dropped silently while not online (not queued for the
  // next connection). The server relays it only for a partner whose view offers a text action
  // (share, reflect, correct, ...), and at most one "typing" per second: apps may call
  // send_typing(true) on every keystroke and send_typing(false) when the text is sent or
  // cleared. Thread safety: callable from any thread; returns at once.
  void send_typing(bool typing);

  // false: closes the connection (code 1000) and stays disconnected, keeping pending commands
  // and the resume position; true: connects again at once (backoff restarts). For apps that go
  // to the background. No effect once closed.
  void set_online(bool online);

  // Drops the current connection abruptly, as a network failure would (no closing handshake);
  // the client reconnects per its backoff policy and resumes. For tests and network changes.
  void drop_connection();

  // The latest view, or nullptr before the first Welcome. Thread-safe snapshot; shared
  // ownership, never modified after publication. It shares the frame it arrived in (decoded on
  // one arena): holding it keeps that frame, a few kilobytes, alive.
  std::shared_ptr<const v1::RoomView> view() const;
  ConnectionState state() const;
  // Who this client is and in which room; empty before the first Welcome.
  std::optional<v1::Actor> participant() const;
  std::string room_id() const;
  // The resume position (persist both to resume in a later run through ClientOptions).
  std::uint64_t last_delivered_seq() const;
  std::uint64_t epoch() const;

 private:
  class Impl;
  struct ThreadOwner;
  std::unique_ptr<ThreadOwner> own_thread_;  // the io_context and thread, unless `executor`
  std::shared_ptr<Impl> impl_;
};

}  // namespace mend::client
