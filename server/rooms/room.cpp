// Room: the adapter of one RoomCore (room_core.h has the rules and one command's path). It
// puts the core on a strand, loads it from the store, executes its effects (store requests
// whose answers come back to the strand, frames and closes to the connections, the timer)
// and follows evictions.
#include "server/rooms/room.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace mend::rooms {

namespace asio = boost::asio;

void RoomContext::forget(const std::string& id, const Room* room) {
  std::lock_guard lock(registry_mutex);
  auto it = registry.find(id);
  if (it != registry.end() && it->second.get() == room) registry.erase(it);
}

Room::Room(std::string id, std::shared_ptr<RoomContext> context)
    : id_(std::move(id)),
      ctx_(std::move(context)),
      strand_(ctx_->strand_for(id_)),
      timer_(strand_),
      lease_timer_(strand_) {}

Room::~Room() {
  if (status_ == Status::kReady) ctx_->metrics.rooms_loaded_delta(-1);
  if (core_) core_->drop_connections();
}

// ---------------------------------------------------------------------------------------------
// Loading

void Room::load() {
  if (!leased()) return load_events();
  lease_asked_at_ = std::chrono::steady_clock::now();
  ctx_->store->acquire_lease(
      id_, ctx_->config.node_id, std::chrono::milliseconds(ctx_->config.lease_ms),
      [self = shared_from_this()](store::LeaseResult lease) {
        asio::post(self->strand_, [self, lease = std::move(lease)]() mutable {
          self->on_lease_taken(std::move(lease));
        });
      });
}

void Room::load_events() {
  ctx_->store->load(id_, 0, [self = shared_from_this()](store::LoadResult loaded) {
    asio::post(self->strand_, [self, loaded = std::move(loaded)]() mutable {
      self->load_refusals_then(std::move(loaded));
    });
  });
}

void Room::start_created(v1::Event created) {
  asio::post(strand_, [self = shared_from_this(), created = std::move(created)]() mutable {
    self->results_known_ = true;  // every result of this room will be recorded through it
    store::LoadResult loaded;
    loaded.events.push_back(std::move(created));
    self->on_loaded(std::move(loaded), 1);
  });
}

void Room::on_loaded(store::LoadResult loaded, std::uint64_t epoch) {
  if (loaded.error) {
    const bool unknown = loaded.error->code == store::StoreErrorCode::kNotFound;
    status_ = unknown ? Status::kGone : Status::kFailed;
    if (!unknown) {
      ctx_->metrics.store_error();
      spdlog::error("room {}: load failed: {}", id_, store::to_string(loaded.error->code));
    }
    ctx_->forget(id_, this);  // the next access loads again
    release_lease();
  } else {
    core_.emplace(id_, ctx_->config, &ctx_->metrics);  // the config's RoomCoreLimits part
    core_->add_stored_refusals(std::exchange(stored_refusals_, {}));
    status_ = Status::kReady;
    last_active_ms_ = ctx_->clock();
    ctx_->metrics.rooms_loaded_delta(1);
    // Runs the timers that fell due while the room was not loaded.
    execute(core_->load(std::move(loaded.events), epoch, results_known_, last_active_ms_,
                        std::move(loaded.recorded)));
    spdlog::debug("room {}: loaded at seq {}", id_, core_->state().last_seq);
    if (lease_epoch_ != 0) arm_lease_renewal();
  }
  auto waiting = std::move(waiting_for_load_);
  waiting_for_load_.clear();
  for (auto& op : waiting) op();
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
        const auto connection = room.connection_of(recipient);
        if (!connection || !room.core_) return;
        room.connections_.erase(*connection);
        spdlog::debug("room {}: {} detached", room.id_, v1::Role_Name(actor.role()));
        room.execute(room.core_->on_detach(*connection, room.ctx_->clock()));
      },
      /*follow_eviction=*/false);  // an evicted room had nobody attached
}

void Room::close_after_answers(v1::Actor /*actor*/, std::shared_ptr<Recipient> recipient,
                               CloseCode code, std::string reason) {
  on_strand(
      [recipient = std::move(recipient), code, reason = std::move(reason)](Room& room) mutable {
        const auto connection = room.connection_of(recipient.get());
        if (!connection || !room.core_) return recipient->close(code, reason);
        room.execute(
            room.core_->on_close_after_answers(*connection, code, std::move(reason),
                                               room.ctx_->clock()));
      },
      /*follow_eviction=*/false);  // an evicted room had nobody attached
}

void Room::submit(v1::Actor actor, v1::Command command) {
  on_strand([actor = std::move(actor), command = std::move(command),
             received = std::chrono::steady_clock::now()](Room& room) mutable {
    if (room.status_ != Status::kReady) return;
    const auto connection = room.core_->connection_of(actor);
    if (!connection) return;  // nobody to answer
    room.execute(room.core_->on_command(*connection, std::move(command), received,
                                        room.ctx_->clock()));
  });
}

void Room::typing(v1::Actor actor, bool typing) {
  // Not through on_strand: a typing indicator is not an activity that keeps a room loaded,
  // and a room not ready has nobody to relay to.
  asio::post(strand_, [self = shared_from_this(), actor = std::move(actor), typing] {
    if (self->status_ != Status::kReady) return;
    if (const auto connection = self->core_->connection_of(actor)) {
      self->execute(self->core_->on_typing(*connection, typing, self->ctx_->clock()));
    }
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
  if (status_ == Status::kElsewhere) {
    result.error = elsewhere_error();
  } else if (status_ != Status::kReady) {
    result.error = status_ == Status::kGone
                       ? ServiceError{"UNKNOWN_ROOM", "There is no such room.", 404}
                       : ServiceError{"UNAVAILABLE", "The room could not be loaded.", 503};
  } else {
    v1::GetRoomResponse response;
    response.set_room_id(id_);
    *response.mutable_view() = engine::view(core_->state(), actor);
    result.value = std::move(response);
  }
  done(std::move(result));
}

void Room::run_due_timers() {
  // Not an activity (on_strand would count it as one): a timer does not keep a room loaded.
  asio::post(strand_, [self = shared_from_this()] {
    if (self->status_ == Status::kReady) self->execute(self->core_->on_tick(self->ctx_->clock()));
  });
}

void Room::close_all(CloseCode code, std::string reason) {
  on_strand([code, reason = std::move(reason)](Room& room) { room.close_connections(code, reason); },
            /*follow_eviction=*/false);
}

void Room::close_connections(CloseCode code, const std::string& reason) {
  if (core_) core_->drop_connections();
  auto connections = std::move(connections_);
  connections_.clear();
  for (auto& [id, recipient] : connections) recipient->close(code, reason);
}

// ---------------------------------------------------------------------------------------------
// Attachment

void Room::do_attach(const v1::Actor& actor, const v1::Hello& hello,
                     std::shared_ptr<Recipient> recipient,
                     const std::function<void(std::optional<CloseCode>)>& done) {
  if (status_ == Status::kGone) return done(CloseCode::kUnknownRoom);
  if (status_ == Status::kFailed) return done(CloseCode::kServerShutdown);  // reconnect later
  if (status_ == Status::kElsewhere) return done(CloseCode::kRoomElsewhere);
  // A connection attached again (a repeated Hello) is the same connection: it keeps its id.
  ConnectionId connection = connection_of(recipient.get()).value_or(0);
  if (connection == 0) {
    connection = next_connection_++;
    connections_.emplace(connection, recipient);
  }
  Effects fx = core_->on_attach(connection, actor, hello, ctx_->clock());
  if (fx.attach_refused) {
    connections_.erase(connection);
    return done(*fx.attach_refused);
  }
  spdlog::debug("room {}: {} attached", id_, v1::Role_Name(actor.role()));
  // The answer to the attach goes between the last replay frame (ReplayDone) and what follows
  // it live (Presence): the connection is live from the answer on.
  auto& out = fx.out;
  auto last_replay = std::find_if(out.rbegin(), out.rend(), [](const Output& o) {
    const auto* send = std::get_if<SendFrame>(&o);
    return send != nullptr && send->replay;
  });
  std::vector<Output> live(std::make_move_iterator(last_replay.base()),
                           std::make_move_iterator(out.end()));
  out.erase(last_replay.base(), out.end());
  execute(std::move(fx));
  done(std::nullopt);
  Effects rest;
  rest.out = std::move(live);
  rest.deadline = core_->deadline();
  execute(std::move(rest));
}

std::optional<ConnectionId> Room::connection_of(const Recipient* recipient) const {
  for (const auto& [id, r] : connections_) {
    if (r.get() == recipient) return id;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Effects

void Room::execute(Effects fx) {
  for (Output& output : fx.out) {
    if (auto* send = std::get_if<SendFrame>(&output)) {
      auto it = connections_.find(send->to);
      if (it == connections_.end()) continue;
      ctx_->metrics.frame_sent();
      if (send->replay) {
        it->second->send_replay(std::move(send->frame));
      } else {
        it->second->send(std::move(send->frame));
      }
    } else {
      auto& close = std::get<CloseConnection>(output);
      auto it = connections_.find(close.to);
      if (it == connections_.end()) continue;
      auto recipient = std::move(it->second);
      connections_.erase(it);
      recipient->close(close.code, close.reason);
    }
  }
  for (const auto& received : fx.answered) {
    ctx_->metrics.command_latency(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - received));
  }
  record_audit(std::move(fx.audit));
  if (fx.store) execute_store(std::move(*fx.store));
  if (fx.exclusive) start_exclusive(*fx.exclusive);
  if (core_) arm_timer(fx.deadline);
  flush_refusals();
}

void Room::execute_store(StoreRequest&& request) {
  // Every answer comes back to the strand, where the core takes it (if the room still is).
  auto back = [self = shared_from_this()](auto take) {
    return [self, take = std::move(take)](auto result) mutable {
      asio::post(self->strand_, [self, take = std::move(take), result = std::move(result)]() mutable {
        if (self->core_) self->execute(take(*self->core_, std::move(result), self->ctx_->clock()));
      });
    };
  };
  // The fenced writes (lease epoch set): kFenced means another node serves the room now; the
  // core must not resync and go on, this node gives the room up. The store hears how long the
  // completion took to get here (its trip back through the shard's queue).
  auto fenced = [self = shared_from_this()](const char* why, auto take) {
    return [self, why, take = std::move(take)](std::optional<store::StoreError> error) mutable {
      asio::post(self->strand_, [self, why, take = std::move(take), error = std::move(error),
                                 called = std::chrono::steady_clock::now()]() mutable {
                   self->ctx_->store->completion_delivered(std::chrono::steady_clock::now() -
                                                           called);
                   if (!self->core_) return;
                   if (error && error->code == store::StoreErrorCode::kFenced) {
                     return self->lose_lease(why);
                   }
                   self->execute(take(*self->core_, std::move(error), self->ctx_->clock()));
                 });
    };
  };
  auto& store = *ctx_->store;
  if (auto* find = std::get_if<FindRequest>(&request)) {
    store.find_result(std::move(find->key), back([](RoomCore& core, store::FindResult found,
                                                    engine::TimeMs now) {
                        return core.on_found(std::move(found), now);
                      }));
  } else if (auto* append = std::get_if<store::AppendRequest>(&request)) {
    append->lease_epoch = lease_epoch_;
    store.append(std::move(*append),
                 fenced("an append was fenced: another node took the room over",
                        [](RoomCore& core, std::optional<store::StoreError> error,
                           engine::TimeMs now) {
                          return core.on_appended(std::move(error), now);
                        }));
  } else if (auto* record = std::get_if<RecordRequest>(&request)) {
    store.record_rejection(std::move(record->rejection), lease_epoch_,
                           fenced("a rejection was fenced: another node took the room over",
                                  [](RoomCore& core, std::optional<store::StoreError> error,
                                     engine::TimeMs now) {
                                    return core.on_recorded(std::move(error), now);
                                  }));
  } else if (auto* read = std::get_if<ReadRequest>(&request)) {
    store.load(id_, read->after_seq,
               back([](RoomCore& core, store::LoadResult loaded, engine::TimeMs now) {
                 return core.on_read(std::move(loaded), now);
               }));
  } else if (auto* resync = std::get_if<ResyncRequest>(&request)) {
    store.load(id_, resync->after_seq,
               back([](RoomCore& core, store::LoadResult loaded, engine::TimeMs now) {
                 return core.on_resynced(std::move(loaded), now);
               }));
  } else {
    auto& rewrite = std::get<RewriteRequest>(request);
    store.rewrite_events_audited(
        id_, std::move(rewrite.events), {}, lease_epoch_,
        fenced("a rewrite was fenced: another node took the room over",
               [](RoomCore& core, std::optional<store::StoreError> error, engine::TimeMs now) {
                 return core.on_withdrawn(std::move(error), now);
               }));
  }
}

void Room::with_whole_log(std::function<void(std::optional<std::vector<v1::Event>>)> then) {
  if (core_->holds_whole_log()) return then(core_->log());
  ctx_->store->load(id_, 0, [self = shared_from_this(), epoch = core_->epoch(),
                             then = std::move(then)](store::LoadResult loaded) mutable {
    asio::post(self->strand_, [self, epoch, then = std::move(then),
                               loaded = std::move(loaded)]() mutable {
      if (!self->core_ || loaded.error) return then(std::nullopt);
      then(self->core_->whole_log(std::move(loaded.events), epoch));
    });
  });
}

void Room::start_exclusive(const ExclusiveStart& start) {
  if (start.kind == ExclusiveKind::kPurge) return purge_now([this] { finish_command(); });
  auto it = exclusive_.find(start.id);
  if (it == exclusive_.end()) return finish_command();
  Exclusive op = std::move(it->second);
  exclusive_.erase(it);
  op.run();
}

void Room::finish_command() {
  if (core_) execute(core_->finish_exclusive(ctx_->clock()));
}

void Room::arm_timer(std::optional<engine::TimeMs> deadline) {
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
      if (self->core_) self->execute(self->core_->on_tick(self->ctx_->clock()));
    }
  });
}

}  // namespace mend::rooms
