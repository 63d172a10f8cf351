#include "server/rooms/room.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <string_view>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/container_hash/hash.hpp>
#include <google/protobuf/arena.h>
#include <spdlog/spdlog.h>

#include "server/engine/invariant.h"
#include "server/rooms/frames.h"
#include "server/rooms/privacy.h"

namespace mend::rooms {

namespace asio = boost::asio;

namespace {

// A failed timer append is retried after this delay (ms), not in a hot loop.
constexpr engine::TimeMs kTickRetryMs = 1000;
constexpr std::size_t kMaxCommandIdBytes = 64;
// At most one relayed "typing" notice per participant per this many ms (excess dropped).
constexpr engine::TimeMs kTypingIntervalMs = 1000;

// Actions whose command carries text the partner types (a typing indicator fits them).
bool is_text_action(v1::Action action) {
  switch (action) {
    case v1::ACTION_OPEN: case v1::ACTION_SHARE: case v1::ACTION_REFLECT:
    case v1::ACTION_CORRECT: case v1::ACTION_STILL_NEED: case v1::ACTION_ASK:
    case v1::ACTION_ADVISE: case v1::ACTION_PROPOSE: case v1::ACTION_APPRECIATE:
      return true;
    default:
      return false;
  }
}

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

}  // namespace

void RoomContext::forget(const std::string& id, const Room* room) {
  std::lock_guard lock(registry_mutex);
  auto it = registry.find(id);
  if (it != registry.end() && it->second.get() == room) registry.erase(it);
}

Room::Room(std::string id, std::shared_ptr<RoomContext> context)
    : id_(std::move(id)),
      ctx_(std::move(context)),
      strand_(asio::make_strand(ctx_->executor)),
      timer_(strand_) {}

Room::~Room() {
  if (status_ == Status::kReady) ctx_->metrics.rooms_loaded_delta(-1);
  ctx_->metrics.attached_delta(-static_cast<std::int64_t>(attached_.size()));
}

// ---------------------------------------------------------------------------------------------
// Loading

void Room::load() {
  ctx_->store->load(id_, 0, [self = shared_from_this()](store::LoadResult loaded) {
    asio::post(self->strand_, [self, loaded = std::move(loaded)]() mutable {
      self->load_audit_then_finish(std::move(loaded));
    });
  });
}

void Room::start_created(v1::Event created) {
  asio::post(strand_, [self = shared_from_this(), created = std::move(created)]() mutable {
    self->results_known_ = true;  // every result of this room will be recorded through it
    store::LoadResult loaded;
    loaded.events.push_back(std::move(created));
    self->on_loaded(std::move(loaded));
  });
}

void Room::on_loaded(store::LoadResult loaded) {
  if (loaded.error) {
    const bool unknown = loaded.error->code == store::StoreErrorCode::kNotFound;
    status_ = unknown ? Status::kGone : Status::kFailed;
    if (!unknown) {
      ctx_->metrics.store_error();
      spdlog::error("room {}: load failed: {}", id_, store::to_string(loaded.error->code));
    }
    ctx_->forget(id_, this);  // the next access loads again
  } else {
    for (v1::Event& event : loaded.events) apply(std::move(event));
    withdraw_retracted(retracted_seqs(state_));  // e.g. a crash before the last withdrawal
    status_ = Status::kReady;
    last_active_ms_ = ctx_->clock();
    ctx_->metrics.rooms_loaded_delta(1);
    spdlog::debug("room {}: loaded at seq {}", id_, state_.last_seq);
  }
  auto waiting = std::move(waiting_for_load_);
  waiting_for_load_.clear();
  for (auto& op : waiting) op();
  pump();  // timers that fell due while the room was not loaded
}

void Room::apply(v1::Event event) {
  engine::evolve(state_, event);
  insights_.apply(event, state_);
  log_.push_back(std::move(event));
}

void Room::on_strand(Op op, bool follow_eviction) {
  asio::post(strand_, [self = shared_from_this(), op = std::move(op), follow_eviction]() mutable {
    if (self->status_ == Status::kEvicted) {
      if (!follow_eviction) return;
      // The successor loads the room again; the op runs there once it is loaded.
      if (auto successor = self->ctx_->find_or_load(self->id_)) {
        successor->on_strand(std::move(op), follow_eviction);
      }
      return;
    }
    Room& room = *self;
    auto run = [self, op = std::move(op)] {
      self->last_active_ms_ = self->ctx_->clock();
      op(*self);
    };
    if (room.status_ == Status::kLoading) {
      room.waiting_for_load_.push_back(std::move(run));
    } else {
      run();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Public operations

void Room::attach(v1::Actor actor, v1::Hello hello, std::shared_ptr<Recipient> recipient,
                  std::function<void(std::optional<CloseCode>)> done) {
  on_strand([actor = std::move(actor), hello = std::move(hello),
             recipient = std::move(recipient), done = std::move(done)](Room& room) mutable {
    room.do_attach(actor, hello, std::move(recipient), done);
  });
}

void Room::detach(v1::Actor actor, const Recipient* recipient) {
  on_strand(
      [actor = std::move(actor), recipient](Room& room) {
        const std::string key = participant_key(actor);
        auto it = room.attached_.find(key);
        if (it == room.attached_.end() || it->second.recipient.get() != recipient) return;
        room.attached_.erase(it);
        room.ctx_->metrics.attached_delta(-1);
        spdlog::debug("room {}: {} detached", room.id_, v1::Role_Name(actor.role()));
        room.audit_connection(actor, v1::AUDIT_PARTICIPANT_DISCONNECTED);
        room.broadcast_presence();
      },
      /*follow_eviction=*/false);  // an evicted room had nobody attached
}

void Room::close_after_answers(v1::Actor actor, std::shared_ptr<Recipient> recipient,
                               CloseCode code, std::string reason) {
  on_strand(
      [actor = std::move(actor), recipient = std::move(recipient), code,
       reason = std::move(reason)](Room& room) mutable {
        const std::string key = participant_key(actor);
        auto it = room.attached_.find(key);
        if (it == room.attached_.end() || it->second.recipient != recipient) {
          return recipient->close(code, reason);
        }
        room.close_when_answered(key, code, std::move(reason));
      },
      /*follow_eviction=*/false);  // an evicted room had nobody attached
}

void Room::submit(v1::Actor actor, v1::Command command) {
  on_strand([actor = std::move(actor), command = std::move(command),
             received = std::chrono::steady_clock::now()](Room& room) mutable {
    room.do_submit(std::move(actor), std::move(command), received);
  });
}

void Room::typing(v1::Actor actor, bool typing) {
  // Not through on_strand: a typing indicator is not an activity that keeps a room loaded,
  // and a room not ready has nobody to relay to.
  asio::post(strand_, [self = shared_from_this(), actor = std::move(actor), typing] {
    if (self->status_ == Status::kReady) self->do_typing(actor, typing);
  });
}

void Room::get_view(v1::Actor actor, std::function<void(Result<v1::GetRoomResponse>)> done) {
  on_strand([actor = std::move(actor), done = std::move(done)](Room& room) {
    room.answer_view(actor, done);
  });
}

void Room::answer_view(const v1::Actor& actor,
                       const std::function<void(Result<v1::GetRoomResponse>)>& done) {
  Result<v1::GetRoomResponse> result;
  if (status_ != Status::kReady) {
    result.error = status_ == Status::kGone
                       ? ServiceError{"UNKNOWN_ROOM", "There is no such room.", 404}
                       : ServiceError{"UNAVAILABLE", "The room could not be loaded.", 503};
  } else {
    v1::GetRoomResponse response;
    response.set_room_id(id_);
    *response.mutable_view() = engine::view(state_, actor);
    result.value = std::move(response);
  }
  done(std::move(result));
}

void Room::run_due_timers() {
  // Not an activity (on_strand would count it as one): a timer does not keep a room loaded.
  asio::post(strand_, [self = shared_from_this()] {
    if (self->status_ == Status::kReady) self->pump();
  });
}

void Room::close_all(CloseCode code, std::string reason) {
  on_strand(
      [code, reason = std::move(reason)](Room& room) {
        for (auto& [key, attachment] : room.attached_) attachment.recipient->close(code, reason);
        room.ctx_->metrics.attached_delta(-static_cast<std::int64_t>(room.attached_.size()));
        room.attached_.clear();
      },
      /*follow_eviction=*/false);
}

// ---------------------------------------------------------------------------------------------
// Attachment

void Room::do_attach(const v1::Actor& actor, const v1::Hello& hello,
                     std::shared_ptr<Recipient> recipient,
                     const std::function<void(std::optional<CloseCode>)>& done) {
  if (status_ == Status::kGone) return done(CloseCode::kUnknownRoom);
  if (status_ == Status::kFailed) return done(CloseCode::kServerShutdown);  // reconnect later
  if (actor.role() == v1::OBSERVER && !observer_admitted(actor)) {
    return done(CloseCode::kConsentRevoked);
  }
  const std::string key = participant_key(actor);
  auto it = attached_.find(key);
  const bool fresh = it == attached_.end();
  if (it != attached_.end()) {
    if (it->second.recipient != recipient) {
      it->second.recipient->close(CloseCode::kReplaced, "replaced by a newer connection");
    }
    attached_.erase(it);
    ctx_->metrics.attached_delta(-1);
  }
  send_welcome_and_replay(actor, hello, *recipient);
  attached_.emplace(key, Attachment{actor, std::move(recipient), {}, std::nullopt, false});
  ctx_->metrics.attached_delta(1);
  spdlog::debug("room {}: {} attached", id_, v1::Role_Name(actor.role()));
  if (fresh) audit_connection(actor, v1::AUDIT_PARTICIPANT_CONNECTED);
  done(std::nullopt);
  broadcast_presence();
}

bool Room::observer_admitted(const v1::Actor& actor) const {
  v1::Actor partner;
  partner.set_role(v1::PARTNER_A);  // partners see every participant
  const v1::RoomView view = engine::view(state_, partner);
  for (const v1::ParticipantView& p : view.participants()) {
    if (p.actor().role() == v1::OBSERVER && p.actor().observer() == actor.observer()) {
      return p.approved_by_a() && p.approved_by_b();
    }
  }
  return false;
}

void Room::send_welcome_and_replay(const v1::Actor& actor, const v1::Hello& hello,
                                   Recipient& recipient) {
  const bool same_epoch = hello.room_epoch() == 0 || hello.room_epoch() == epoch_;
  const bool recovered = same_epoch && hello.resume_after_seq() <= state_.last_seq;
  // Not recovered: the client drops what it had and gets the whole visible history again.
  const std::uint64_t replay_after = recovered ? hello.resume_after_seq() : 0;

  v1::ServerItem welcome_item;
  v1::Welcome* welcome = welcome_item.mutable_welcome();
  *welcome->mutable_participant() = actor;
  *welcome->mutable_view() = engine::view(state_, actor);
  welcome->set_server_time_ms(ctx_->clock());
  welcome->set_epoch(epoch_);
  welcome->set_recovered(recovered);
  welcome->set_room_id(id_);
  std::string frame;
  frames::add_item(frame, frames::item(welcome_item));
  send_replay(recipient, encode(std::move(frame)));

  const std::size_t per_frame = std::max<std::size_t>(1, ctx_->config.replay_events_per_frame);
  frame.clear();
  std::size_t in_frame = 0;
  for (std::size_t i = replay_after; i < log_.size(); ++i) {
    if (!engine::visible_to(state_, log_[i], actor)) continue;
    frames::add_item(frame, frames::event_item(log_[i]));
    if (++in_frame == per_frame) {
      send_replay(recipient, encode(std::move(frame)));
      frame.clear();
      in_frame = 0;
    }
  }
  v1::ServerItem done_item;
  done_item.mutable_replay_done()->set_last_seq(state_.last_seq);
  frames::add_item(frame, frames::item(done_item));
  if (actor.role() == v1::OBSERVER) frames::add_item(frame, insights_item());
  send_replay(recipient, encode(std::move(frame)));
}

void Room::broadcast_presence() {
  if (attached_.empty()) return;
  v1::ServerItem item;
  for (const auto& [key, attachment] : attached_) {
    *item.mutable_presence()->add_online() = attachment.actor;
  }
  broadcast(item, [](const Attachment&) { return true; });
}

void Room::broadcast(const v1::ServerItem& item,
                     const std::function<bool(const Attachment&)>& include) {
  std::string frame;
  frames::add_item(frame, frames::item(item));
  const auto bytes = encode(std::move(frame));
  for (auto& [key, attachment] : attached_) {
    if (include(attachment)) send(*attachment.recipient, bytes);
  }
}

// DESIGN 5: ephemeral, no seq, never stored; see RoomService::typing for the rules.
void Room::do_typing(const v1::Actor& actor, bool typing) {
  if (actor.role() != v1::PARTNER_A && actor.role() != v1::PARTNER_B) return;
  auto sender = attached_.find(participant_key(actor));
  if (sender == attached_.end()) return;
  Attachment& me = sender->second;
  if (typing) {
    const engine::TimeMs now = ctx_->clock();
    if (me.typing_relayed_ms && now - *me.typing_relayed_ms < kTypingIntervalMs) return;
    if (!may_type(actor)) return;
    me.typing_relayed_ms = now;
  } else if (!me.typing_shown) {
    return;  // nothing shown to clear
  }
  me.typing_shown = typing;
  v1::ServerItem item;
  *item.mutable_typing()->mutable_who() = actor;
  item.mutable_typing()->set_typing(typing);
  broadcast(item, [&me](const Attachment& attachment) { return &attachment != &me; });
}

// Whether the partner's view offers an action whose body is text they type now.
bool Room::may_type(const v1::Actor& actor) const {
  const v1::RoomView view = engine::view(state_, actor);
  return std::any_of(view.allowed_actions().begin(), view.allowed_actions().end(),
                     [](int action) { return is_text_action(static_cast<v1::Action>(action)); });
}

void Room::close_when_answered(const std::string& key, CloseCode code, std::string reason) {
  auto it = attached_.find(key);
  if (it == attached_.end() || it->second.closing) return;
  std::erase_if(queue_, [&key](const PendingCommand& command) { return command.key == key; });
  if (processing_key_ == key) {
    it->second.closing.emplace(code, std::move(reason));
    return;
  }
  remove_attachment(key, code, reason);
  broadcast_presence();
}

void Room::remove_attachment(const std::string& key, CloseCode code, const std::string& reason) {
  auto it = attached_.find(key);
  if (it == attached_.end()) return;
  it->second.recipient->close(code, reason);
  const v1::Actor actor = it->second.actor;
  attached_.erase(it);
  ctx_->metrics.attached_delta(-1);
  audit_connection(actor, v1::AUDIT_PARTICIPANT_DISCONNECTED);
}

// ---------------------------------------------------------------------------------------------
// Commands

void Room::do_submit(v1::Actor actor, v1::Command command,
                     std::chrono::steady_clock::time_point received) {
  if (status_ != Status::kReady) return;
  PendingCommand pending{std::move(actor), {}, std::move(command), received};
  pending.key = participant_key(pending.actor);
  auto attachment = attached_.find(pending.key);
  if (attachment == attached_.end()) return;  // nobody to answer
  if (attachment->second.closing) return;     // closing: takes no more commands

  if (auto retry_after = take_rate_token(pending.key)) {
    reply(pending, rejected(pending.command.command_id(), v1::RATE_LIMITED,
                            "That was a lot at once. Please wait a moment, then try again.",
                            *retry_after));
    if (refused_persistently(attachment->second, ctx_->clock())) {
      spdlog::warn("room {}: {} closed for rate limit abuse", id_,
                   v1::Role_Name(pending.actor.role()));
      close_when_answered(pending.key, CloseCode::kRateLimitAbuse, "too many commands");
    }
    return;
  }

  const std::size_t id_bytes = pending.command.command_id().size();
  if (id_bytes == 0 || id_bytes > kMaxCommandIdBytes) {
    return reply(pending, rejected(pending.command.command_id(), v1::INVALID_ARGUMENT,
                                   "Every command needs a command_id of 1 to 64 bytes."));
  }
  if (queue_.size() >= ctx_->config.max_queued_commands_per_room) {
    return reply(pending, rejected(pending.command.command_id(), v1::UNAVAILABLE,
                                   "The room is busy right now. Please try again in a moment."));
  }
  queue_.push_back(std::move(pending));
  pump();
}

bool Room::refused_persistently(Attachment& attachment, engine::TimeMs now) const {
  std::deque<engine::TimeMs>& refusals = attachment.refusals;
  const engine::TimeMs window_start = now - ctx_->config.rate_limit_abuse_window_ms;
  while (!refusals.empty() && refusals.front() <= window_start) refusals.pop_front();
  refusals.push_back(now);
  return refusals.size() >= std::max<std::uint32_t>(1, ctx_->config.rate_limit_abuse_refusals);
}

// nullopt when a token was taken; else the ms until one is available.
std::optional<std::uint32_t> Room::take_rate_token(const std::string& key) {
  const double rate = ctx_->config.commands_per_second;
  const double burst = std::max(1.0, ctx_->config.command_burst);
  const engine::TimeMs now = ctx_->clock();
  auto [it, fresh] = buckets_.try_emplace(key, TokenBucket{burst, now});
  TokenBucket& bucket = it->second;
  if (!fresh) {
    const double elapsed_s = static_cast<double>(std::max<engine::TimeMs>(0, now - bucket.updated_ms)) / 1000.0;
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

// Starts the next unit of work when idle: due timers first, then the oldest command.
void Room::pump() {
  if (status_ != Status::kReady || busy_) return;
  if (start_exclusive()) return;
  const engine::TimeMs now = ctx_->clock();
  if (run_due_tick(now)) return;
  if (!queue_.empty()) {
    PendingCommand next = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    processing_key_ = next.key;
    check_dedupe(std::move(next));
    return;
  }
  arm_timer();
}

// Starts appending the timer events due at `now`; false when nothing is due.
bool Room::run_due_tick(engine::TimeMs now) {
  const auto deadline = engine::next_deadline(state_);
  if (!deadline || *deadline > now || now < tick_retry_at_ || deadline == stuck_deadline_) {
    return false;
  }
  std::vector<v1::Event> events = engine::tick(state_, now);
  if (events.empty()) {
    spdlog::error("room {}: tick returned nothing at its deadline", id_);
    stuck_deadline_ = deadline;
    return false;
  }
  InFlight flight;
  flight.events = std::move(events);
  start_append(std::move(flight));
  return true;
}

std::uint64_t Room::command_hash(const PendingCommand& command) {
  // Hashes the two parts without building a key string per command; a collision only costs
  // a store read (see recorded_commands_).
  std::size_t seed = std::hash<std::string_view>{}(command.key);
  boost::hash_combine(seed, std::hash<std::string_view>{}(command.command.command_id()));
  return seed;
}

void Room::check_dedupe(PendingCommand command) {
  if (results_known_ && !recorded_commands_.contains(command_hash(command))) {
    return decide(std::move(command));  // never recorded: no store read needed
  }
  store::CommandKey key{id_, command.key, command.command.command_id()};
  ctx_->store->find_result(
      std::move(key),
      [self = shared_from_this(), command = std::move(command)](store::FindResult found) mutable {
        asio::post(self->strand_, [self, command = std::move(command),
                                   found = std::move(found)]() mutable {
          self->on_dedupe_checked(std::move(command), std::move(found));
        });
      });
}

void Room::on_dedupe_checked(PendingCommand command, store::FindResult found) {
  if (found.error) {
    ctx_->metrics.store_error();
    reply(command, unavailable(command.command.command_id()));
    return finish_command();
  }
  if (found.result) {
    ctx_->metrics.command_deduplicated();
    reply(command, *found.result);
    return finish_command();
  }
  decide(std::move(command));
}

// A broken engine invariant while deciding is a bug with nothing applied or stored: the
// command is answered INTERNAL and the room goes on (engine/invariant.h).
engine::Decision Room::decide_safely(const PendingCommand& command) {
  try {
    return engine::decide(state_, command.command, command.actor, ctx_->clock());
  } catch (const engine::InvariantViolation& violation) {
    spdlog::error("room {}: invariant violated: {}", id_, violation.what());
    return engine::Decision{};
  }
}

void Room::decide(PendingCommand command) {
  engine::Decision decision = decide_safely(command);
  if (!decision.accepted() || decision.events.empty()) {
    v1::CommandResult result;
    result.set_command_id(command.command.command_id());
    if (decision.rejection) {
      *result.mutable_rejection() = *decision.rejection;
    } else {
      spdlog::error("room {}: no decision for a command", id_);
      result.mutable_rejection()->set_code(v1::INTERNAL);
      result.mutable_rejection()->set_message("Something went wrong on our side; nothing changed.");
    }
    count_refusal(command.actor, result.rejection().code());
    if (engine::is_definitive(result.rejection().code())) {
      return record_rejection(std::move(command), std::move(result));
    }
    reply(command, result);
    return finish_command();
  }
  InFlight flight;
  flight.result.set_command_id(command.command.command_id());
  flight.result.set_accepted(true);
  flight.result.set_first_seq(decision.events.front().seq());
  flight.result.set_last_seq(decision.events.back().seq());
  for (v1::Hint& hint : decision.hints) *flight.result.add_hints() = std::move(hint);
  flight.events = std::move(decision.events);
  flight.command = std::move(command);
  start_append(std::move(flight));
}

void Room::record_rejection(PendingCommand command, v1::CommandResult result) {
  store::RecordedResult recorded{{id_, command.key, command.command.command_id()}, result};
  ctx_->store->record_rejection(
      std::move(recorded),
      [self = shared_from_this(), command = std::move(command),
       result = std::move(result)](std::optional<store::StoreError> error) mutable {
        asio::post(self->strand_, [self, command = std::move(command), result = std::move(result),
                                   error = std::move(error)] {
          self->on_rejection_recorded(command, result, error);
        });
      });
}

void Room::on_rejection_recorded(const PendingCommand& command, const v1::CommandResult& result,
                                 const std::optional<store::StoreError>& error) {
  if (error) {
    // Not recorded (or the outcome is unknown): nothing was decided for good, so the retry
    // the client is asked for is decided again (or finds the record).
    ctx_->metrics.store_error();
    results_known_ = false;
    spdlog::error("room {}: recording a rejection failed: {}", id_,
                  store::to_string(error->code));
    reply(command, unavailable(command.command.command_id()));
  } else {
    recorded_commands_.insert(command_hash(command));
    reply(command, result);
  }
  finish_command();
}

void Room::start_append(InFlight flight) {
  busy_ = true;
  store::AppendRequest request;
  request.room_id = id_;
  request.expected_last_seq = state_.last_seq;
  request.events = flight.events;
  if (flight.command) {
    request.result = store::RecordedResult{
        {id_, flight.command->key, flight.command->command.command_id()}, flight.result};
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
  ctx_->store->append(std::move(request),
                      [self = shared_from_this()](std::optional<store::StoreError> error) {
                        asio::post(self->strand_, [self, error = std::move(error)]() mutable {
                          self->on_appended(std::move(error));
                        });
                      });
}

void Room::on_appended(std::optional<store::StoreError> error) {
  InFlight flight = std::move(*in_flight_);
  in_flight_.reset();
  if (error) {
    ctx_->metrics.store_error();
    results_known_ = false;  // the commit's outcome is unknown: ask the store from now on
    spdlog::error("room {}: append after seq {} failed: {}", id_, state_.last_seq,
                  store::to_string(error->code));
    if (flight.command) {
      reply(*flight.command, unavailable(flight.command->command.command_id()));
    } else {
      tick_retry_at_ = ctx_->clock() + kTickRetryMs;
    }
    return finish_command();
  }
  ctx_->metrics.events_appended(flight.events.size());
  audit_.insert(audit_.end(), std::make_move_iterator(flight.audit.begin()),
                std::make_move_iterator(flight.audit.end()));
  const v1::Phase phase_before = state_.phase;
  for (const v1::Event& event : flight.events) apply(event);
  if (flight.command) {
    recorded_commands_.insert(command_hash(*flight.command));
    ctx_->metrics.command_accepted();
    deliver(flight.events, &*flight.command, &flight.result);
  } else {
    deliver(flight.events, nullptr, nullptr);
  }
  close_revoked_observers(flight.events);
  std::vector<std::uint64_t> retracted;
  for (const v1::Event& event : flight.events) {
    if (event.has_retracted()) retracted.push_back(event.retracted().seq());
  }
  withdraw_retracted(retracted);
  after_applied(phase_before);
  finish_command();
}

void Room::reply(const PendingCommand& command, const v1::CommandResult& result) {
  if (!result.accepted()) ctx_->metrics.command_rejected(result.rejection().code());
  ctx_->metrics.command_latency(std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - command.received));
  auto it = attached_.find(command.key);
  if (it == attached_.end()) return;
  v1::ServerItem item;
  *item.mutable_result() = result;
  std::string frame;
  frames::add_item(frame, frames::item(item));
  send(*it->second.recipient, encode(std::move(frame)));
}

void Room::finish_command() {
  busy_ = false;
  if (processing_key_) {
    const std::string key = *std::exchange(processing_key_, std::nullopt);
    auto it = attached_.find(key);
    if (it != attached_.end() && it->second.closing) {
      auto [code, reason] = std::move(*it->second.closing);
      remove_attachment(key, code, reason);
      broadcast_presence();
    }
  }
  pump();
}

// ---------------------------------------------------------------------------------------------
// Fan-out

void Room::deliver(const std::vector<v1::Event>& events, const PendingCommand* sender,
                   const v1::CommandResult* result) {
  std::vector<std::string> items;
  items.reserve(events.size());
  for (const v1::Event& event : events) items.push_back(frames::event_item(event));
  const std::string* sender_key = sender ? &sender->key : nullptr;

  // Frames for non-senders, by (visible events, view): identical ones are encoded once.
  std::map<std::string, std::shared_ptr<const std::string>> shared;
  std::optional<std::string> insights;  // for admitted observers, built once if any

  for (auto& [key, attachment] : attached_) {
    const bool to_sender = sender_key != nullptr && *sender_key == key;
    std::string visible(events.size(), '0');
    bool any = false;
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (engine::visible_to(state_, events[i], attachment.actor)) {
        visible[i] = '1';
        any = true;
      }
    }
    if (!any && !to_sender) continue;
    const std::string view = serialized_view(attachment.actor);
    auto build = [&] {
      std::string frame;
      if (to_sender) {
        v1::ServerItem item;
        *item.mutable_result() = *result;
        frames::add_item(frame, frames::item(item));
      }
      for (std::size_t i = 0; i < events.size(); ++i) {
        if (visible[i] == '1') frames::add_item(frame, items[i]);
      }
      if (attachment.actor.role() == v1::OBSERVER) {
        if (!insights) insights = insights_item();
        frames::add_item(frame, *insights);
      }
      frames::add_view(frame, view);
      return encode(std::move(frame));
    };
    if (to_sender) {
      send(*attachment.recipient, build());
      continue;
    }
    std::string cache_key = visible + '\n' + view;
    auto found = shared.find(cache_key);
    if (found == shared.end()) found = shared.emplace(std::move(cache_key), build()).first;
    send(*attachment.recipient, found->second);
  }
  if (sender != nullptr) {
    ctx_->metrics.command_latency(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - sender->received));
  }
}

void Room::close_revoked_observers(const std::vector<v1::Event>& events) {
  bool changed = false;
  for (const v1::Event& event : events) {
    if (!event.has_observer_revoked()) continue;
    v1::Actor observer;
    observer.set_role(v1::OBSERVER);
    observer.set_observer(event.observer_revoked().observer());
    const std::string key = participant_key(observer);
    if (!attached_.contains(key)) continue;
    remove_attachment(key, CloseCode::kConsentRevoked, "observer consent was revoked");
    v1::AuditEntry removed = privacy::audit_entry(v1::AUDIT_OBSERVER_REMOVED, event.actor(),
                                                  ctx_->clock());
    removed.set_observer(observer.observer());
    removed.set_seq(event.seq());
    record_audit({std::move(removed)});
    spdlog::info("room {}: an observer was disconnected after consent was revoked", id_);
    changed = true;
  }
  if (changed) broadcast_presence();
}

std::string Room::serialized_view(const v1::Actor& actor) const {
  // Built on an arena over a stack block: the view's many small strings and repeated fields
  // cost neither heap allocations nor a destructor walk (this runs per recipient per event).
  alignas(std::max_align_t) char block[16 * 1024];
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = sizeof block;
  google::protobuf::Arena arena(options);
  auto* view = google::protobuf::Arena::CreateMessage<v1::RoomView>(&arena);
  engine::view_into(state_, actor, *view);
  return view->SerializeAsString();
}

void Room::send(Recipient& recipient, const std::shared_ptr<const std::string>& frame) {
  ctx_->metrics.frame_sent();
  recipient.send(frame);
}

void Room::send_replay(Recipient& recipient, const std::shared_ptr<const std::string>& frame) {
  ctx_->metrics.frame_sent();
  recipient.send_replay(frame);
}

std::shared_ptr<const std::string> Room::encode(std::string frame) {
  ctx_->metrics.frame_encoded(frame.size());
  return std::make_shared<const std::string>(std::move(frame));
}

// ---------------------------------------------------------------------------------------------
// Timer

std::optional<engine::TimeMs> Room::timer_deadline() const {
  std::optional<engine::TimeMs> deadline = engine::next_deadline(state_);
  if (deadline && deadline == stuck_deadline_) deadline.reset();
  if (deadline && tick_retry_at_ > *deadline) deadline = tick_retry_at_;
  return deadline;
}

void Room::arm_timer() {
  const std::optional<engine::TimeMs> deadline = timer_deadline();
  if (deadline == armed_deadline_) return;
  armed_deadline_ = deadline;
  if (!deadline) {
    timer_.cancel();
    return;
  }
  const engine::TimeMs delay = std::max<engine::TimeMs>(0, *deadline - ctx_->clock());
  timer_.expires_after(std::chrono::milliseconds(delay));
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->armed_deadline_.reset();
      self->pump();
    }
  });
}

}  // namespace mend::rooms
