#include "server/rooms/room_core.h"

#include <utility>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string_view>

#include <boost/container_hash/hash.hpp>
#include <spdlog/spdlog.h>

#include "server/engine/invariant.h"
#include "server/engine/view_parts.h"
#include "server/rooms/frames.h"
#include "server/rooms/privacy.h"
#include "server/rooms/view_scratch.h"

namespace mend::rooms {

namespace {

// A failed timer append is retried after this delay (ms), not in a hot loop.
constexpr engine::TimeMs kTickRetryMs = 1000;
constexpr std::size_t kMaxCommandIdBytes = 64;
// At most one relayed "typing" notice per participant per this many ms (excess dropped).
constexpr engine::TimeMs kTypingIntervalMs = 1000;

v1::CommandResult rejected(const std::string& command_id, v1::RejectionCode code,
                           std::string message, std::uint32_t retry_after_ms = 0) {
  v1::CommandResult result;
  result.set_command_id(command_id);
  result.set_accepted(false);
  result.mutable_rejection()->set_code(code);
  result.mutable_rejection()->set_message(std::move(message));
  result.mutable_rejection()->set_retry_after_ms(retry_after_ms);
  return result;
}

v1::CommandResult unavailable(const std::string& command_id) {
  return rejected(command_id, v1::UNAVAILABLE,
                  "The conversation could not be saved just now. Please try again in a moment; "
                  "nothing was lost.");
}

std::vector<std::uint64_t> retracted_seqs(const engine::RoomState& state) {
  std::vector<std::uint64_t> seqs;
  for (const engine::ContentMessage& message : state.messages) {
    if (message.retracted) seqs.push_back(message.seq);
  }
  return seqs;
}

// The thread's one ViewScratch (outside the template below, so that its instantiations share it).
ViewScratch& view_scratch() {
  thread_local ViewScratch scratch;
  return scratch;
}

// Appends the encoding of the RoomView `fill` writes (this runs per recipient per command), on
// the thread's ViewScratch: once warm, filling a view allocates nothing on the heap but the
// characters of strings longer than before (view_scratch.h). Not reentrant: `fill` must not
// append a view itself.
template <typename Fill>
void append_view(std::string& out, Fill fill) {
  view_scratch().append(out, fill);
}

// The buffers of RoomCore::FanOutViews: per thread, they keep their capacity across fan-outs.
struct FanOutBuffers {
  std::string shared;
  std::string viewer;
};
FanOutBuffers& fan_out_buffers() {
  thread_local FanOutBuffers buffers;
  return buffers;
}

std::string item_frame(const v1::ServerItem& item) {
  std::string frame;
  frames::add_item(frame, frames::item(item));
  return frame;
}

}  // namespace

RoomCore::RoomCore(std::string room_id, RoomCoreLimits limits, RoomMetrics* metrics,
                   Decide decide)
    : id_(std::move(room_id)), limits_(limits), metrics_(metrics), decide_(std::move(decide)) {}

Effects RoomCore::load(std::vector<v1::Event> events, std::uint64_t epoch, bool results_known,
                       engine::TimeMs now, std::shared_ptr<const store::RecordedCommands> recorded) {
  for (const v1::Event& event : events) advance(event);
  epoch_ = epoch;
  results_known_ = results_known || recorded != nullptr;
  loaded_results_ = std::move(recorded);
  // Stored texts of retracted messages (e.g. a crash before the last withdrawal): withdrawn
  // in memory now and in the store by an exclusive rewrite.
  std::vector<v1::Event> withdrawn = privacy::withdraw_retracted(events, retracted_seqs(state_));
  for (const v1::Event& event : withdrawn) events[event.seq() - 1] = event;
  if (!withdrawn.empty()) {
    exclusive_.push_back(Exclusive{0, ExclusiveKind::kExternal, std::move(withdrawn)});
  }
  for (v1::Event& event : events) remember(std::move(event));
  Effects fx;
  finish(fx, now);  // timers that fell due while the room was not loaded
  return settled(std::move(fx));
}

void RoomCore::apply(v1::Event event) {
  advance(event);
  remember(std::move(event));
}

void RoomCore::advance(const v1::Event& event) {
  engine::evolve(state_, event);
  if (event.has_retracted()) retractable_.invalidate();  // a listed message left the list
  insights_.apply(event, state_);
  if (event.has_room_created()) series_id_ = event.room_created().series_id();
  if (event.has_conversation_closed()) closed_at_ms_ = event.at_ms();
}

void RoomCore::remember(v1::Event event) {
  if (log_.empty()) log_first_seq_ = event.seq();
  log_.push_back(std::move(event));
  const std::size_t window = std::max<std::size_t>(1, limits_.log_window_events);
  if (log_.size() >= 2 * window) {  // the older half at once: amortized O(1) per event
    const std::size_t dropped = log_.size() - window;
    log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(dropped));
    log_first_seq_ += dropped;
  }
}

std::vector<v1::Event> RoomCore::as_withdrawn(std::vector<v1::Event> stored) const {
  std::erase_if(stored, [this](const v1::Event& event) { return event.seq() > state_.last_seq; });
  for (v1::Event& event : privacy::withdraw_retracted(stored, retracted_seqs(state_))) {
    auto it = std::lower_bound(stored.begin(), stored.end(), event.seq(),
                               [](const v1::Event& e, std::uint64_t seq) { return e.seq() < seq; });
    *it = std::move(event);
  }
  return stored;
}

std::optional<std::vector<v1::Event>> RoomCore::whole_log(std::vector<v1::Event> stored,
                                                          std::uint64_t read_epoch) const {
  if (read_epoch != epoch_) return std::nullopt;
  std::vector<v1::Event> whole;
  if (!holds_whole_log()) {
    whole = as_withdrawn(std::move(stored));
    std::erase_if(whole, [this](const v1::Event& e) { return e.seq() >= log_first_seq_; });
    for (std::size_t i = 0; i < whole.size(); ++i) {
      if (whole[i].seq() != i + 1) return std::nullopt;
    }
    if (whole.size() + 1 != log_first_seq_) return std::nullopt;
  }
  whole.insert(whole.end(), log_.begin(), log_.end());
  return whole;
}

std::optional<engine::TimeMs> RoomCore::purge_due_ms() const {
  if (log_.empty()) return std::nullopt;
  return privacy::purge_due_ms(state_, log_.back().at_ms(), closed_at_ms_);
}

std::vector<v1::Actor> RoomCore::attached_actors() const {
  std::vector<v1::Actor> actors;
  for (const auto& [key, attachment] : attached_) actors.push_back(attachment.actor);
  return actors;
}

v1::Insights RoomCore::insights() const {
  v1::Insights insights = insights_.insights();
  insights.set_room_id(id_);
  for (const auto& [key, count] : refusals_) {
    engine::add_refusals(insights, key.first, key.second, count);
  }
  return insights;
}

std::string RoomCore::insights_item() const {
  v1::ServerItem item;
  *item.mutable_insights() = insights();
  return frames::item(item);
}

void RoomCore::count_refusal(const v1::Actor& actor, v1::RejectionCode code) {
  if (actor.role() != v1::PARTNER_A && actor.role() != v1::PARTNER_B) return;
  // The server's own trouble (a bug, the store, the rate limit) says nothing of how a partner
  // follows the protocol: not counted.
  if (code == v1::INTERNAL || code == v1::UNAVAILABLE || code == v1::RATE_LIMITED) return;
  ++refusals_[{actor.role(), code}];
  ++unstored_refusals_[{actor.role(), code}];
}

void RoomCore::add_stored_refusals(const RefusalCounts& stored) {
  for (const auto& [key, count] : stored) refusals_[key] += count;
}

RoomCore::RefusalCounts RoomCore::take_unstored_refusals() {
  return std::exchange(unstored_refusals_, {});
}

// A broken engine invariant while deciding is a bug with nothing applied or stored: the command
// is answered INTERNAL and the room goes on (engine/invariant.h).
engine::Decision RoomCore::decide_safely(const PendingCommand& command, engine::TimeMs now) {
  try {
    return decide_(state_, command.command, command.actor, now);
  } catch (const engine::InvariantViolation& violation) {
    spdlog::error("room {}: invariant violated: {}", id_, violation.what());
    return engine::Decision{};
  }
}

RoomCore::Attachment* RoomCore::find_connection(ConnectionId connection) {
  for (auto& [key, attachment] : attached_) {
    if (attachment.connection == connection) return &attachment;
  }
  return nullptr;
}

bool RoomCore::observer_admitted(const v1::Actor& actor) const {
  return actor.role() == v1::OBSERVER && engine::observer_admitted(state_, actor.observer());
}

std::optional<ConnectionId> RoomCore::connection_of(const v1::Actor& actor) const {
  auto it = attached_.find(participant_key(actor));
  if (it == attached_.end()) return std::nullopt;
  return it->second.connection;
}

bool RoomCore::idle() const { return attached_.empty() && !working(); }

void RoomCore::count_error() {
  if (metrics_ != nullptr) metrics_->store_error();
}

RoomCore::FanOutViews::FanOutViews()
    : shared(fan_out_buffers().shared), viewer(fan_out_buffers().viewer) {
  shared.clear();
  viewer.clear();
}

// engine::view for `viewer`, encoded (engine/view_parts.h): the part every admitted viewer
// shares is encoded once per fan-out (`views`; its texts are kept across fan-outs), then the
// viewer's own part, then its retractable list, kept encoded between fan-outs (it grows with
// the conversation). The viewer's buffer is emptied first, so that it holds nothing of the
// view before.
std::string_view RoomCore::view_bytes(const v1::Actor& viewer, FanOutViews& views) {
  ++views_built_;
  std::string& bytes = views.viewer;
  bytes.clear();
  if (!engine::view_is_shared(state_, viewer)) {
    append_view(bytes, [&](v1::RoomView& view) { engine::view_into(state_, viewer, view); });
    return bytes;
  }
  if (!views.shared_built) {
    views.shared.append(shared_texts_bytes());
    append_view(views.shared,
                [&](v1::RoomView& view) { engine::view_shared_rest_into(state_, view); });
    views.shared_built = true;
  }
  bytes.append(views.shared);
  append_view(bytes, [&](v1::RoomView& view) {
    engine::view_own_into(state_, viewer, view, engine::ViewLists::kWithoutRetractable);
  });
  if (engine::view_lists_seqs(state_, viewer.role())) {
    bytes.append(retractable_.field(state_, viewer.role()));
  }
  return bytes;
}

// The shared part's texts change with a stage or the opening, not with each event: their
// encoding is kept while the state's texts are the kept ones (engine/view_parts.h). A kept
// SharedTexts starts without a template, whose texts encode as nothing.
const std::string& RoomCore::shared_texts_bytes() {
  if (!shared_texts_.same_as(state_)) {
    shared_texts_.assign(state_);
    shared_texts_bytes_.clear();
    append_view(shared_texts_bytes_, [&](v1::RoomView& view) {
      engine::view_shared_texts_into(shared_texts_, view);
    });
  }
  return shared_texts_bytes_;
}

OutFrame RoomCore::encode(std::string frame, std::uint64_t last_seq) {
  if (metrics_ != nullptr) metrics_->frame_encoded(frame.size());
  return OutFrame{std::make_shared<const std::string>(std::move(frame)), last_seq};
}

// ---------------------------------------------------------------------------------------------
// Connections

Effects RoomCore::on_attach(ConnectionId connection, const v1::Actor& actor,
                            const v1::Hello& hello, engine::TimeMs now) {
  Effects fx;
  if (actor.role() == v1::OBSERVER && !observer_admitted(actor)) {
    fx.attach_refused = CloseCode::kConsentRevoked;
    return settled(std::move(fx));
  }
  const std::string key = participant_key(actor);
  PendingAttach attach{connection, actor, hello};
  attach.replaced = cancel_pending_attaches(fx, [&key](const PendingAttach& pending) {
    return participant_key(pending.actor) == key;
  }, CloseCode::kReplaced, "replaced by a newer connection");
  const std::uint64_t after = replay_after(hello);
  if (after + 1 < log_first_seq_) {  // the replay starts before the window: read it first
    // The older connection goes now: it is replaced, and this one waits for its replay.
    if (auto it = attached_.find(key); it != attached_.end()) {
      if (it->second.connection != connection) {
        fx.out.emplace_back(CloseConnection{it->second.connection, CloseCode::kReplaced,
                                            "replaced by a newer connection"});
      }
      attached_.erase(it);
      if (metrics_ != nullptr) metrics_->attached_delta(-1);
      attach.replaced = true;
      // The partner sees them offline while the replay is read, online once welcomed.
      broadcast_presence(fx);
    }
    reads_.push_back(PendingRead{std::move(attach), after});
  } else {
    complete_attach(fx, attach, {}, now);
  }
  finish(fx, now);
  return settled(std::move(fx));
}

void RoomCore::complete_attach(Effects& fx, const PendingAttach& attach,
                               const std::vector<v1::Event>& older, engine::TimeMs now) {
  const ConnectionId connection = attach.connection;
  const v1::Actor& actor = attach.actor;
  const std::string key = participant_key(actor);
  auto it = attached_.find(key);
  const bool fresh = it == attached_.end() && !attach.replaced;
  if (it != attached_.end()) {
    if (it->second.connection != connection) {
      fx.out.emplace_back(CloseConnection{it->second.connection, CloseCode::kReplaced,
                                          "replaced by a newer connection"});
    }
    attached_.erase(it);
    if (metrics_ != nullptr) metrics_->attached_delta(-1);
  }
  send_welcome_and_replay(fx, connection, actor, attach.hello, older, now);
  attached_.emplace(key, Attachment{connection, actor});
  if (metrics_ != nullptr) metrics_->attached_delta(1);
  if (fresh) fx.audit.push_back(privacy::audit_entry(v1::AUDIT_PARTICIPANT_CONNECTED, actor, now));
  broadcast_presence(fx);
}

bool RoomCore::resumes(const v1::Hello& hello) const {
  const bool same_epoch = hello.room_epoch() == 0 || hello.room_epoch() == epoch_;
  return same_epoch && hello.resume_after_seq() <= state_.last_seq;
}

std::uint64_t RoomCore::replay_after(const v1::Hello& hello) const {
  // Not resumed: the client drops what it had and gets the whole visible history again.
  return resumes(hello) ? hello.resume_after_seq() : 0;
}

template <typename Match>
bool RoomCore::cancel_pending_attaches(Effects& fx, Match match, CloseCode code,
                                       const char* reason) {
  bool replaced = false;
  auto cancel = [&](PendingRead& read) {
    const auto* attach = std::get_if<PendingAttach>(&read.purpose);
    if (attach == nullptr || read.cancelled || !match(*attach)) return false;
    fx.out.emplace_back(CloseConnection{attach->connection, code, reason});
    replaced = replaced || attach->replaced;
    read.cancelled = true;
    return true;
  };
  if (read_in_flight_) cancel(*read_in_flight_);
  std::erase_if(reads_, cancel);
  return replaced;
}

void RoomCore::send_welcome_and_replay(Effects& fx, ConnectionId to, const v1::Actor& actor,
                                       const v1::Hello& hello,
                                       const std::vector<v1::Event>& older, engine::TimeMs now) {
  const bool recovered = resumes(hello);
  const std::uint64_t after = replay_after(hello);

  v1::ServerItem welcome_item;
  v1::Welcome* welcome = welcome_item.mutable_welcome();
  *welcome->mutable_participant() = actor;
  *welcome->mutable_view() = engine::view(state_, actor);
  ++views_built_;
  welcome->set_server_time_ms(now);
  welcome->set_epoch(epoch_);
  welcome->set_recovered(recovered);
  welcome->set_room_id(id_);
  fx.out.emplace_back(SendFrame{to, encode(item_frame(welcome_item), 0), true});

  const std::size_t per_frame = std::max<std::size_t>(1, limits_.replay_events_per_frame);
  std::string frame;
  std::size_t in_frame = 0;
  std::uint64_t frame_last_seq = 0;
  auto replay = [&](const v1::Event& event) {
    if (event.seq() <= after || !engine::visible_to(state_, event, actor)) return;
    frames::add_item(frame, frames::event_item(event));
    frame_last_seq = event.seq();
    if (++in_frame == per_frame) {
      fx.out.emplace_back(SendFrame{to, encode(std::move(frame), frame_last_seq), true});
      frame.clear();
      in_frame = 0;
    }
  };
  for (const v1::Event& event : older) replay(event);
  const std::size_t first = after >= log_first_seq_ ? after - log_first_seq_ + 1 : 0;
  for (std::size_t i = first; i < log_.size(); ++i) replay(log_[i]);
  v1::ServerItem done_item;
  done_item.mutable_replay_done()->set_last_seq(state_.last_seq);
  frames::add_item(frame, frames::item(done_item));
  if (actor.role() == v1::OBSERVER) frames::add_item(frame, insights_item());  // counselors
  // ReplayDone names the room's position: the frame's last_seq (what the client is at).
  fx.out.emplace_back(SendFrame{to, encode(std::move(frame), state_.last_seq), true});
}

Effects RoomCore::on_detach(ConnectionId connection, engine::TimeMs now) {
  Effects fx;
  Attachment* attachment = find_connection(connection);
  if (attachment == nullptr) {
    forget_pending_attach(fx, connection, now);
    return settled(std::move(fx));
  }
  const v1::Actor actor = attachment->actor;
  attached_.erase(participant_key(actor));
  if (metrics_ != nullptr) metrics_->attached_delta(-1);
  fx.audit.push_back(privacy::audit_entry(v1::AUDIT_PARTICIPANT_DISCONNECTED, actor, now));
  broadcast_presence(fx);
  finish(fx, now);
  return settled(std::move(fx));
}

Effects RoomCore::on_close_after_answers(ConnectionId connection, CloseCode code,
                                         std::string reason, engine::TimeMs now) {
  Effects fx;
  Attachment* attachment = find_connection(connection);
  if (attachment == nullptr) {
    forget_pending_attach(fx, connection, now);
    fx.out.emplace_back(CloseConnection{connection, code, std::move(reason)});
    return settled(std::move(fx));
  }
  close_when_answered(fx, participant_key(attachment->actor), code, std::move(reason), now);
  finish(fx, now);
  return settled(std::move(fx));
}

void RoomCore::forget_pending_attach(Effects& fx, ConnectionId connection, engine::TimeMs now) {
  Effects ignored;  // nothing to close: the connection is gone or closed by the caller
  std::optional<v1::Actor> actor;
  const bool replaced = cancel_pending_attaches(ignored, [&](const PendingAttach& pending) {
    if (pending.connection != connection) return false;
    actor = pending.actor;
    return true;
  }, CloseCode::kReplaced, "");
  // It replaced an attached connection: the participant left now (their partner was told
  // when the old connection went).
  if (replaced && actor) {
    fx.audit.push_back(privacy::audit_entry(v1::AUDIT_PARTICIPANT_DISCONNECTED, *actor, now));
  }
}

std::vector<ConnectionId> RoomCore::drop_connections() {
  std::vector<ConnectionId> dropped;
  Effects pending;
  cancel_pending_attaches(pending, [](const PendingAttach&) { return true; },
                          CloseCode::kServerShutdown, "");
  for (const Output& output : pending.out) dropped.push_back(std::get<CloseConnection>(output).to);
  for (auto& [key, attachment] : attached_) dropped.push_back(attachment.connection);
  if (metrics_ != nullptr) metrics_->attached_delta(-static_cast<std::int64_t>(attached_.size()));
  attached_.clear();
  return dropped;
}

void RoomCore::broadcast_presence(Effects& fx) {
  if (attached_.empty()) return;
  v1::ServerItem item;
  for (const auto& [key, attachment] : attached_) {
    *item.mutable_presence()->add_online() = attachment.actor;
  }
  const OutFrame frame = encode(item_frame(item), 0);
  for (const auto& [key, attachment] : attached_) {
    fx.out.emplace_back(SendFrame{attachment.connection, frame});
  }
}

// DESIGN 5: ephemeral, no seq, never stored; see RoomService::typing for the rules.
Effects RoomCore::on_typing(ConnectionId connection, bool typing, engine::TimeMs now) {
  Effects fx;
  Attachment* me = find_connection(connection);
  if (me == nullptr) return settled(std::move(fx));
  const v1::Role role = me->actor.role();
  if (role != v1::PARTNER_A && role != v1::PARTNER_B) return settled(std::move(fx));
  if (typing) {
    if (me->typing_relayed_ms && now - *me->typing_relayed_ms < kTypingIntervalMs) return settled(std::move(fx));
    if (!engine::may_type(state_, me->actor)) return settled(std::move(fx));
    me->typing_relayed_ms = now;
  } else if (!me->typing_shown) {
    return settled(std::move(fx));  // nothing shown to clear
  }
  me->typing_shown = typing;
  v1::ServerItem item;
  *item.mutable_typing()->mutable_who() = me->actor;
  item.mutable_typing()->set_typing(typing);
  const OutFrame frame = encode(item_frame(item), 0);
  for (const auto& [key, attachment] : attached_) {
    if (&attachment != me) fx.out.emplace_back(SendFrame{attachment.connection, frame});
  }
  return settled(std::move(fx));
}

void RoomCore::close_when_answered(Effects& fx, const std::string& key, CloseCode code,
                                   std::string reason, engine::TimeMs now) {
  auto it = attached_.find(key);
  if (it == attached_.end() || it->second.closing) return;
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [&key](const PendingCommand& command) { return command.key == key; }),
               queue_.end());
  const bool in_process = (processing_ && processing_->key == key) ||
                          (in_flight_ && in_flight_->command && in_flight_->command->key == key);
  if (in_process) {
    it->second.closing.emplace(code, std::move(reason));
    return;
  }
  remove_attachment(fx, key, code, reason, now);
  broadcast_presence(fx);
}

void RoomCore::remove_attachment(Effects& fx, const std::string& key, CloseCode code,
                                 const std::string& reason, engine::TimeMs now) {
  auto it = attached_.find(key);
  if (it == attached_.end()) return;
  fx.out.emplace_back(CloseConnection{it->second.connection, code, reason});
  const v1::Actor actor = it->second.actor;
  attached_.erase(it);
  if (metrics_ != nullptr) metrics_->attached_delta(-1);
  fx.audit.push_back(privacy::audit_entry(v1::AUDIT_PARTICIPANT_DISCONNECTED, actor, now));
}

// ---------------------------------------------------------------------------------------------
// Commands

Effects RoomCore::on_command(ConnectionId connection, v1::Command command,
                             std::chrono::steady_clock::time_point received, engine::TimeMs now) {
  Effects fx;
  Attachment* attachment = find_connection(connection);
  if (attachment == nullptr) return settled(std::move(fx));  // nobody to answer
  if (attachment->closing) return settled(std::move(fx));     // closing: takes no more commands
  PendingCommand pending{attachment->actor, participant_key(attachment->actor), std::move(command),
                         received};

  if (auto retry_after = take_rate_token(pending.key, now)) {
    reply(fx, pending, rejected(pending.command.command_id(), v1::RATE_LIMITED,
                                "That was a lot at once. Please wait a moment, then try again.",
                                *retry_after));
    if (refused_persistently(*attachment, now)) {
      spdlog::warn("room {}: {} closed for rate limit abuse", id_,
                   v1::Role_Name(pending.actor.role()));
      close_when_answered(fx, pending.key, CloseCode::kRateLimitAbuse, "too many commands", now);
    }
    return settled(std::move(fx));
  }
  const std::size_t id_bytes = pending.command.command_id().size();
  if (id_bytes == 0 || id_bytes > kMaxCommandIdBytes) {
    reply(fx, pending, rejected(pending.command.command_id(), v1::INVALID_ARGUMENT,
                                "Every command needs a command_id of 1 to 64 bytes."));
    return settled(std::move(fx));
  }
  if (queue_.size() >= limits_.max_queued_commands_per_room) {
    reply(fx, pending, rejected(pending.command.command_id(), v1::UNAVAILABLE,
                                "The room is busy right now. Please try again in a moment."));
    return settled(std::move(fx));
  }
  queue_.push_back(std::move(pending));
  finish(fx, now);
  return settled(std::move(fx));
}

bool RoomCore::refused_persistently(Attachment& attachment, engine::TimeMs now) const {
  Fifo<engine::TimeMs>& refusals = attachment.refusals;
  const engine::TimeMs window_start = now - limits_.rate_limit_abuse_window_ms;
  while (!refusals.empty() && refusals.front() <= window_start) pop_front(refusals);
  refusals.push_back(now);
  return refusals.size() >= std::max<std::uint32_t>(1, limits_.rate_limit_abuse_refusals);
}

// nullopt when a token was taken; else the ms until one is available.
std::optional<std::uint32_t> RoomCore::take_rate_token(const std::string& key,
                                                       engine::TimeMs now) {
  const double rate = limits_.commands_per_second;
  const double burst = std::max(1.0, limits_.command_burst);
  auto [it, fresh] = buckets_.try_emplace(key, TokenBucket{burst, now});
  TokenBucket& bucket = it->second;
  if (!fresh) {
    const double elapsed_s =
        static_cast<double>(std::max<engine::TimeMs>(0, now - bucket.updated_ms)) / 1000.0;
    bucket.tokens = std::min(burst, bucket.tokens + elapsed_s * rate);
    bucket.updated_ms = now;
  }
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return std::nullopt;
  }
  if (rate <= 0) return 1000;
  return static_cast<std::uint32_t>(std::ceil((1.0 - bucket.tokens) / rate * 1000.0));
}

void RoomCore::finish(Effects& fx, engine::TimeMs now) { pump(fx, now); }

Effects RoomCore::settled(Effects fx) const {
  fx.deadline = deadline();
  return fx;
}

// Starts the next unit of work when idle: exclusive operations, due timers, then the oldest
// command.
void RoomCore::pump(Effects& fx, engine::TimeMs now) {
  while (!busy_) {
    if (resync_) {
      if (now < resync_retry_at_) return;
      busy_ = true;
      fx.store = ResyncRequest{state_.last_seq};
      return;
    }
    if (start_exclusive(fx) || start_read(fx, now) || run_due_tick(fx, now) || queue_.empty()) {
      return;
    }
    PendingCommand next = std::move(queue_.front());
    pop_front(queue_);
    busy_ = true;
    check_dedupe(fx, std::move(next), now);  // may answer at once and free the room
  }
}

bool RoomCore::start_exclusive(Effects& fx) {
  if (exclusive_.empty()) return false;
  Exclusive op = std::move(exclusive_.front());
  pop_front(exclusive_);
  busy_ = true;
  if (!op.withdrawn.empty()) {
    fx.store = RewriteRequest{std::move(op.withdrawn)};
  } else {
    fx.exclusive = ExclusiveStart{op.id, op.kind};
  }
  return true;
}

bool RoomCore::start_read(Effects& fx, engine::TimeMs now) {
  if (reads_.empty() || now < reads_.front().retry_at) return false;
  read_in_flight_ = std::move(reads_.front());
  reads_.erase(reads_.begin());
  if (const auto* attach = std::get_if<PendingAttach>(&read_in_flight_->purpose)) {
    // A rewrite since it was queued (an erasure, a purge) moved the room to a new epoch: the
    // client's position no longer resumes, and its replay starts at the beginning.
    read_in_flight_->after_seq = replay_after(attach->hello);
  }
  busy_ = true;
  fx.store = ReadRequest{read_in_flight_->after_seq};
  return true;
}

// Nothing was applied since the read started (busy_), so the events before the window it
// returns join up with the window.
Effects RoomCore::on_read(store::LoadResult loaded, engine::TimeMs now) {
  Effects fx;
  busy_ = false;
  PendingRead read = std::move(*read_in_flight_);
  read_in_flight_.reset();
  std::vector<v1::Event> older;  // as stored: a withdrawal needs the texts still there
  if (!loaded.error) {
    older = std::move(loaded.events);
    std::erase_if(older, [this](const v1::Event& e) { return e.seq() >= log_first_seq_; });
  }
  const bool complete = !loaded.error && older.size() + read.after_seq + 1 == log_first_seq_ &&
                        (older.empty() || older.front().seq() == read.after_seq + 1);
  if (read.cancelled) {
    // Its connection left while the store was read.
  } else if (!complete) {
    count_error();
    spdlog::error("room {}: reading the events before seq {} failed: {}", id_, log_first_seq_,
                  loaded.error ? store::to_string(loaded.error->code) : "events missing");
    read.retry_at = now + kTickRetryMs;
    reads_.insert(reads_.begin(), std::move(read));
  } else if (const auto* attach = std::get_if<PendingAttach>(&read.purpose)) {
    if (attach->actor.role() == v1::OBSERVER && !observer_admitted(attach->actor)) {
      fx.out.emplace_back(CloseConnection{attach->connection, CloseCode::kConsentRevoked,
                                          "observer consent was revoked"});
    } else {
      complete_attach(fx, *attach, as_withdrawn(std::move(older)), now);
    }
  } else {
    const auto& withdrawal = std::get<PendingWithdrawal>(read.purpose);
    std::vector<v1::Event> withdrawn = privacy::withdraw_retracted(older, withdrawal.seqs);
    if (!withdrawn.empty()) {
      exclusive_.push_back(Exclusive{0, ExclusiveKind::kExternal, std::move(withdrawn)});
    }
  }
  finish(fx, now);
  return settled(std::move(fx));
}

// Starts appending the timer events due at `now`; false when nothing is due.
bool RoomCore::run_due_tick(Effects& fx, engine::TimeMs now) {
  const auto due = engine::next_deadline(state_);
  if (!due || *due > now || now < tick_retry_at_ || due == stuck_deadline_) return false;
  std::vector<v1::Event> events = engine::tick(state_, now);
  if (events.empty()) {
    spdlog::error("room {}: tick returned nothing at its deadline", id_);
    stuck_deadline_ = due;
    return false;
  }
  InFlight flight;
  flight.events = std::move(events);
  start_append(fx, std::move(flight));
  return true;
}

std::optional<engine::TimeMs> RoomCore::deadline() const {
  if (resync_ && !busy_) return resync_retry_at_;
  std::optional<engine::TimeMs> due = engine::next_deadline(state_);
  if (due && due == stuck_deadline_) due.reset();
  if (due && tick_retry_at_ > *due) due = tick_retry_at_;
  if (!busy_ && !reads_.empty() && (!due || reads_.front().retry_at < *due)) {
    due = reads_.front().retry_at;  // a failed read's retry
  }
  return due;
}

std::uint64_t RoomCore::command_hash(const std::string& key, const std::string& command_id) {
  // Hashes the two parts without building a key string per command; a collision only costs
  // a store read (see recorded_commands_).
  std::size_t seed = std::hash<std::string_view>{}(key);
  boost::hash_combine(seed, std::hash<std::string_view>{}(command_id));
  return seed;
}

void RoomCore::check_dedupe(Effects& fx, PendingCommand&& command, engine::TimeMs now) {
  const std::string& command_id = command.command.command_id();
  // The store's key is built only when needed: most commands were never recorded.
  if (results_known_ && !recorded_commands_.contains(command_hash(command.key, command_id)) &&
      !(loaded_results_ && loaded_results_->may_contain({id_, command.key, command_id}))) {
    return decide(fx, std::move(command), now);  // never recorded: no store read needed
  }
  fx.store = FindRequest{{id_, command.key, command_id}};
  processing_ = std::move(command);
}

Effects RoomCore::on_found(store::FindResult found, engine::TimeMs now) {
  Effects fx;
  if (found.error) {
    count_error();
    reply(fx, *processing_, unavailable(processing_->command.command_id()));
    command_done(fx, now);
  } else if (found.result) {
    if (metrics_ != nullptr) metrics_->command_deduplicated();
    reply(fx, *processing_, *found.result);
    command_done(fx, now);
  } else {
    PendingCommand command = std::move(*processing_);
    processing_.reset();
    decide(fx, std::move(command), now);
  }
  finish(fx, now);
  return settled(std::move(fx));
}

// Decides `command`: starts its append or its rejection's record (busy_ stays set), or
// answers a transient rejection at once (then the room is free again).
void RoomCore::decide(Effects& fx, PendingCommand&& command, engine::TimeMs now) {
  engine::Decision decision = decide_safely(command, now);
  if (!decision.accepted() || decision.events.empty()) {
    v1::CommandResult result;
    result.set_command_id(command.command.command_id());
    if (decision.rejection) {
      *result.mutable_rejection() = *decision.rejection;
    } else {
      // A bug (decide_safely logged which invariant broke): transient, so a retry is decided
      // again, and nothing was applied or stored.
      result.mutable_rejection()->set_code(v1::INTERNAL);
      result.mutable_rejection()->set_message(
          "Something went wrong on our side and nothing was changed. Please try again.");
    }
    count_refusal(command.actor, result.rejection().code());
    if (engine::is_definitive(result.rejection().code())) {
      // Stored before it is answered, so a retry gets it again.
      fx.store = RecordRequest{
          store::RecordedResult{{id_, command.key, command.command.command_id()}, result}};
      recording_ = std::move(result);
      processing_ = std::move(command);
      return;
    }
    reply(fx, command, result);
    processing_ = std::move(command);  // command_done closes its connection if asked to
    command_done(fx, now);
    return;
  }
  InFlight flight;
  flight.result.set_command_id(command.command.command_id());
  flight.result.set_accepted(true);
  flight.result.set_first_seq(decision.events.front().seq());
  flight.result.set_last_seq(decision.events.back().seq());
  for (v1::Hint& hint : decision.hints) *flight.result.add_hints() = std::move(hint);
  flight.events = std::move(decision.events);
  flight.command = std::move(command);
  start_append(fx, std::move(flight));
}

Effects RoomCore::on_recorded(std::optional<store::StoreError> error, engine::TimeMs now) {
  Effects fx;
  v1::CommandResult result = std::move(*recording_);
  recording_.reset();
  if (error) {
    // Not recorded (or the outcome is unknown): nothing was decided for good, so the retry
    // the client is asked for is decided again (or finds the record).
    count_error();
    results_known_ = false;
    spdlog::error("room {}: recording a rejection failed: {}", id_,
                  store::to_string(error->code));
    reply(fx, *processing_, unavailable(result.command_id()));
  } else {
    recorded_commands_.insert(command_hash(processing_->key, result.command_id()));
    reply(fx, *processing_, result);
  }
  command_done(fx, now);
  finish(fx, now);
  return settled(std::move(fx));
}

void RoomCore::start_append(Effects& fx, InFlight&& flight) {
  busy_ = true;
  // Built in place: each move of the request moves its result (a protobuf swap and a
  // destructor).
  auto& request = std::get<store::AppendRequest>(
      fx.store.emplace(std::in_place_type<store::AppendRequest>));
  request.room_id = id_;
  request.expected_last_seq = state_.last_seq;
  request.events = flight.events;
  if (flight.command) {
    flight.result_item = frames::result_item(flight.result);  // the request takes the result
    request.result = store::RecordedResult{
        {id_, flight.command->key, flight.command->command.command_id()},
        std::move(flight.result)};
  }
  // The events' audit entries (consent given or revoked, observers approved ...) commit with
  // them: no crash can leave an event without its entry.
  for (const v1::Event& event : flight.events) {
    for (v1::AuditEntry& entry : privacy::audit_entries_for(event)) {
      flight.audit.push_back(std::move(entry));
    }
  }
  request.audit = flight.audit;
  in_flight_ = std::move(flight);
}

Effects RoomCore::on_appended(std::optional<store::StoreError> error, engine::TimeMs now) {
  Effects fx;
  InFlight flight = std::move(*in_flight_);
  in_flight_.reset();
  // The command (if any) is in process until command_done, which closes its connection if
  // asked to meanwhile.
  const PendingCommand* command = nullptr;
  if (flight.command) {
    processing_ = std::move(flight.command);
    command = &*processing_;
  }
  if (error) {
    count_error();
    results_known_ = false;  // the commit's outcome is unknown: ask the store from now on
    resync_ = true;          // and read what it holds before deciding anything else
    resync_retry_at_ = now;
    spdlog::error("room {}: append after seq {} failed: {}", id_, state_.last_seq,
                  store::to_string(error->code));
    if (command != nullptr) {
      reply(fx, *command, unavailable(command->command.command_id()));
    } else {
      tick_retry_at_ = now + kTickRetryMs;
    }
    command_done(fx, now);
    finish(fx, now);
    return settled(std::move(fx));
  }
  if (metrics_ != nullptr) metrics_->events_appended(flight.events.size());
  fx.committed_audit = std::move(flight.audit);
  const v1::Phase phase_before = state_.phase;
  for (const v1::Event& event : flight.events) advance(event);
  if (command != nullptr) {
    recorded_commands_.insert(command_hash(command->key, command->command.command_id()));
    if (metrics_ != nullptr) metrics_->command_accepted();
    deliver(fx, flight.events, command, &flight.result_item);
  } else {
    deliver(fx, flight.events, nullptr, nullptr);
  }
  close_revoked_observers(fx, flight.events, now);
  std::vector<std::uint64_t> retracted;
  for (v1::Event& event : flight.events) {
    if (event.has_retracted()) retracted.push_back(event.retracted().seq());
    remember(std::move(event));  // into the log, last used above (apply without the copy)
  }
  withdraw_retracted(retracted);
  if (phase_before != v1::PHASE_CLOSED && state_.phase == v1::PHASE_CLOSED) {
    // Just closed: a retention of 0 days purges now; longer ones wait for the sweep.
    const auto due = purge_due_ms();
    if (due && *due <= now) exclusive_.push_back(Exclusive{0, ExclusiveKind::kPurge, {}});
  }
  command_done(fx, now);
  finish(fx, now);
  return settled(std::move(fx));
}

// The unit of work in flight ended: the room is free, and a connection asked to close after
// its command's answer is closed now.
void RoomCore::command_done(Effects& fx, engine::TimeMs now) {
  busy_ = false;
  if (!processing_) return;
  const std::string key = std::move(processing_->key);
  processing_.reset();
  auto it = attached_.find(key);
  if (it != attached_.end() && it->second.closing) {
    auto [code, reason] = std::move(*it->second.closing);
    remove_attachment(fx, key, code, reason, now);
    broadcast_presence(fx);
  }
}

void RoomCore::reply(Effects& fx, const PendingCommand& command,
                     const v1::CommandResult& result) {
  if (!result.accepted() && metrics_ != nullptr) {
    metrics_->command_rejected(result.rejection().code());
  }
  fx.answered.push_back(command.received);
  auto it = attached_.find(command.key);
  if (it == attached_.end()) return;
  std::string frame;
  frames::add_item(frame, frames::result_item(result));
  fx.out.emplace_back(SendFrame{it->second.connection, encode(std::move(frame), 0)});
}

// ---------------------------------------------------------------------------------------------
// Fan-out

void RoomCore::deliver(Effects& fx, const std::vector<v1::Event>& events,
                       const PendingCommand* sender, const std::string* result_item) {
  std::vector<std::string> items;
  items.reserve(events.size());
  for (const v1::Event& event : events) items.push_back(frames::event_item(event));
  const std::string* sender_key = sender ? &sender->key : nullptr;

  // Frames for non-senders, by (visible events, view): identical ones are encoded once. A
  // frame ends with its view (add_view), `view_size` bytes.
  struct SharedFrame {
    std::string visible;
    std::size_t view_size;
    OutFrame frame;
    bool has_view(std::string_view view) const {
      return view_size == view.size() && std::string_view(*frame.bytes).ends_with(view);
    }
  };
  std::vector<SharedFrame> shared;
  shared.reserve(attached_.size());
  fx.out.reserve(fx.out.size() + attached_.size());
  FanOutViews views;
  std::optional<std::string> insights;  // for admitted observers (counselors), built once
  for (auto& [key, attachment] : attached_) {
    const bool to_sender = sender_key != nullptr && *sender_key == key;
    std::string visible(events.size(), '0');
    std::uint64_t last_visible = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (engine::visible_to(state_, events[i], attachment.actor)) {
        visible[i] = '1';
        last_visible = events[i].seq();
      }
    }
    if (last_visible == 0 && !to_sender) continue;
    const std::string_view view = view_bytes(attachment.actor, views);
    auto build = [&] {
      const bool observer = attachment.actor.role() == v1::OBSERVER;
      if (observer && !insights) insights = insights_item();
      // Reserved whole: the frame is appended to in pieces and would otherwise grow by steps.
      std::size_t size = (to_sender ? result_item->size() : 0) + view.size() +
                         (observer ? insights->size() : 0);
      for (std::size_t i = 0; i < events.size(); ++i) {
        if (visible[i] == '1') size += items[i].size();
      }
      std::string frame;
      frame.reserve(size + (events.size() + 3) * frames::kFieldHeaderMax);
      if (to_sender) frames::add_item(frame, *result_item);
      for (std::size_t i = 0; i < events.size(); ++i) {
        if (visible[i] == '1') frames::add_item(frame, items[i]);
      }
      if (observer) frames::add_item(frame, *insights);
      frames::add_view(frame, view);
      return encode(std::move(frame), last_visible);
    };
    if (to_sender) {
      fx.out.emplace_back(SendFrame{attachment.connection, build()});
      continue;
    }
    auto found = std::find_if(shared.begin(), shared.end(), [&](const SharedFrame& frame) {
      return frame.visible == visible && frame.has_view(view);
    });
    if (found == shared.end()) {
      OutFrame frame = build();
      shared.push_back(SharedFrame{std::move(visible), view.size(), std::move(frame)});
      found = std::prev(shared.end());
    }
    fx.out.emplace_back(SendFrame{attachment.connection, found->frame});
  }
  if (sender != nullptr) fx.answered.push_back(sender->received);
}

void RoomCore::close_revoked_observers(Effects& fx, const std::vector<v1::Event>& events,
                                       engine::TimeMs now) {
  bool changed = false;
  for (const v1::Event& event : events) {
    if (!event.has_observer_revoked()) continue;
    v1::Actor observer;
    observer.set_role(v1::OBSERVER);
    observer.set_observer(event.observer_revoked().observer());
    const std::string key = participant_key(observer);
    if (!attached_.contains(key)) continue;
    remove_attachment(fx, key, CloseCode::kConsentRevoked, "observer consent was revoked", now);
    v1::AuditEntry removed = privacy::audit_entry(v1::AUDIT_OBSERVER_REMOVED, event.actor(), now);
    removed.set_observer(observer.observer());
    removed.set_seq(event.seq());
    fx.audit.push_back(std::move(removed));
    spdlog::info("room {}: an observer was disconnected after consent was revoked", id_);
    changed = true;
  }
  if (changed) broadcast_presence(fx);
}

// ---------------------------------------------------------------------------------------------
// Timers, exclusive operations, privacy

Effects RoomCore::on_tick(engine::TimeMs now) {
  Effects fx;
  finish(fx, now);
  return settled(std::move(fx));
}

// Withdraws the texts of the retracted messages at `seqs` for good: the log at once (so no
// replay or transcript holds them), then the store, as an exclusive rewrite that keeps the
// epoch (every copy a client can get from now on is the withdrawn one).
// Messages before the window are read from the store first (PendingWithdrawal).
void RoomCore::withdraw_retracted(const std::vector<std::uint64_t>& seqs) {
  std::vector<std::uint64_t> older;
  for (const std::uint64_t seq : seqs) {
    if (seq < log_first_seq_) older.push_back(seq);
  }
  if (!older.empty()) {
    const std::uint64_t first = *std::min_element(older.begin(), older.end());
    reads_.push_back(PendingRead{PendingWithdrawal{std::move(older)}, first - 1});
  }
  std::vector<v1::Event> withdrawn = privacy::withdraw_retracted(log_, seqs);
  if (withdrawn.empty()) return;
  for (const v1::Event& event : withdrawn) log_[event.seq() - log_first_seq_] = event;
  exclusive_.push_back(Exclusive{0, ExclusiveKind::kExternal, std::move(withdrawn)});
}

Effects RoomCore::on_withdrawn(std::optional<store::StoreError> error, engine::TimeMs now) {
  Effects fx;
  if (error) {
    // The log holds the withdrawn texts; the next load withdraws them again.
    count_error();
    spdlog::error("room {}: withdrawing a retracted message failed: {}", id_,
                  store::to_string(error->code));
  }
  busy_ = false;
  finish(fx, now);
  return settled(std::move(fx));
}

Effects RoomCore::on_resynced(store::LoadResult loaded, engine::TimeMs now) {
  Effects fx;
  busy_ = false;
  if (loaded.error) {
    count_error();
    resync_retry_at_ = now + kTickRetryMs;
    spdlog::error("room {}: reading the store after a failed append failed: {}", id_,
                  store::to_string(loaded.error->code));
    finish(fx, now);
    return settled(std::move(fx));
  }
  resync_ = false;
  std::vector<v1::Event> committed;
  for (v1::Event& event : loaded.events) {
    if (event.seq() != state_.last_seq + committed.size() + 1) continue;  // not after ours
    committed.push_back(std::move(event));
  }
  if (!committed.empty()) {
    spdlog::warn("room {}: a failed append had committed ({} events)", id_, committed.size());
    for (const v1::Event& event : committed) {
      for (v1::AuditEntry& entry : privacy::audit_entries_for(event)) {
        fx.committed_audit.push_back(std::move(entry));
      }
      apply(event);
    }
    deliver(fx, committed, nullptr, nullptr);
    close_revoked_observers(fx, committed, now);
    std::vector<std::uint64_t> retracted;
    for (const v1::Event& event : committed) {
      if (event.has_retracted()) retracted.push_back(event.retracted().seq());
    }
    withdraw_retracted(retracted);
  }
  finish(fx, now);
  return settled(std::move(fx));
}

Effects RoomCore::queue_exclusive(std::uint64_t id, engine::TimeMs now) {
  exclusive_.push_back(Exclusive{id, ExclusiveKind::kExternal, {}});
  Effects fx;
  finish(fx, now);
  return settled(std::move(fx));
}

Effects RoomCore::finish_exclusive(engine::TimeMs now) {
  busy_ = false;
  Effects fx;
  finish(fx, now);
  return settled(std::move(fx));
}

Effects RoomCore::apply_rewrite(std::vector<v1::Event> whole_log,
                                const std::vector<v1::Event>& rewritten, const v1::Actor& by,
                                v1::ErasureScope scope) {
  MEND_INVARIANT(whole_log.size() == state_.last_seq,
                 "apply_rewrite: the whole log is every event the core applied");
  for (const v1::Event& event : rewritten) {
    whole_log[event.seq() - 1] = event;
    if (event.seq() >= log_first_seq_) log_[event.seq() - log_first_seq_] = event;
  }
  // The state holds some texts (topic, intention): rebuild it from the rewritten log.
  engine::RoomState rebuilt;
  for (const v1::Event& event : whole_log) engine::evolve(rebuilt, event);
  state_ = std::move(rebuilt);
  retractable_.invalidate();
  ++epoch_;
  Effects fx;
  FanOutViews views;
  for (auto& [key, attachment] : attached_) {
    v1::ServerItem item;
    v1::ContentErased* erased = item.mutable_content_erased();
    *erased->mutable_erased_by() = by;
    erased->set_scope(scope);
    erased->set_epoch(epoch_);
    for (const v1::Event& event : rewritten) {
      if (engine::visible_to(state_, event, attachment.actor)) *erased->add_events() = event;
    }
    std::string frame = item_frame(item);
    frames::add_view(frame, view_bytes(attachment.actor, views));
    fx.out.emplace_back(SendFrame{attachment.connection, encode(std::move(frame), 0)});
  }
  return settled(std::move(fx));
}

Effects RoomCore::announce_erasure_request(const v1::Actor& by, engine::TimeMs at_ms) {
  Effects fx;
  v1::ServerItem item;
  *item.mutable_room_erasure_requested()->mutable_requested_by() = by;
  item.mutable_room_erasure_requested()->set_at_ms(at_ms);
  const OutFrame frame = encode(item_frame(item), 0);
  for (const auto& [key, attachment] : attached_) {
    const v1::Role role = attachment.actor.role();
    if (role == v1::PARTNER_A || role == v1::PARTNER_B) {
      fx.out.emplace_back(SendFrame{attachment.connection, frame});
    }
  }
  return settled(std::move(fx));
}

Effects RoomCore::destroy(const v1::Actor& by, std::vector<std::uint64_t>& cancelled) {
  ++epoch_;
  Effects fx;
  for (auto& [key, attachment] : attached_) {
    v1::ServerItem item;
    v1::ContentErased* erased = item.mutable_content_erased();
    *erased->mutable_erased_by() = by;
    erased->set_scope(v1::ERASURE_WHOLE_ROOM);
    erased->set_epoch(epoch_);
    fx.out.emplace_back(SendFrame{attachment.connection, encode(item_frame(item), 0)});
    fx.out.emplace_back(CloseConnection{attachment.connection, CloseCode::kConsentRevoked,
                                        "the conversation was erased"});
  }
  for (const ConnectionId connection : drop_connections()) {
    if (!std::any_of(fx.out.begin(), fx.out.end(), [connection](const Output& output) {
          const auto* close = std::get_if<CloseConnection>(&output);
          return close != nullptr && close->to == connection;
        })) {
      fx.out.emplace_back(CloseConnection{connection, CloseCode::kConsentRevoked,
                                          "the conversation was erased"});
    }
  }
  reads_.clear();
  log_.clear();
  log_.shrink_to_fit();
  log_first_seq_ = 1;
  state_ = engine::RoomState{};
  retractable_.invalidate();
  clear(queue_);
  buckets_.clear();
  busy_ = false;
  for (const Exclusive& op : exclusive_) {
    if (op.kind == ExclusiveKind::kExternal && op.withdrawn.empty()) cancelled.push_back(op.id);
  }
  clear(exclusive_);
  return settled(std::move(fx));
}

}  // namespace mend::rooms
