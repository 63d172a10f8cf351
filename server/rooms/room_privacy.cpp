// Room: retention, erasure, audit log and transcript export (DESIGN.md section 7).
// The pure rules live in privacy.h; this file applies them on the room's strand.
//
// Rewrites of the stored history (a partner's erasure, a retention purge) and the erasure of
// the whole room run as "exclusive" operations: pump() starts one only when no command,
// timer append or other exclusive operation is in flight, and nothing else starts until it
// called finish_command(). So the log, the store and the state never disagree.
//
// Epochs: a room starts in epoch 1; every rewrite of its stored history adds 1. The epoch is
// persisted in the audit entry of the rewrite (AuditEntry.epoch), which the store commits in
// the same transaction as the rewrite (resp. the room's destruction), and restored from the
// audit log when the room is loaded, so a Hello with an older epoch gets recovered=false.
// Audit entries that follow from events (consents, observers) commit with the events.
#include "server/rooms/room.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "server/rooms/frames.h"
#include "server/rooms/privacy.h"

namespace mend::rooms {

namespace asio = boost::asio;

ServiceError unavailable_error() {
  return ServiceError{"UNAVAILABLE",
                      "The conversation could not be reached just now. Please try again in a "
                      "moment; nothing was changed.",
                      503};
}

namespace {

bool is_partner(v1::Role role) { return role == v1::PARTNER_A || role == v1::PARTNER_B; }

v1::Actor actor_with_role(v1::Role role) {
  v1::Actor actor;
  actor.set_role(role);
  return actor;
}

ServiceError partners_only_error() {
  return ServiceError{"PARTNERS_ONLY", "Only the two partners of this conversation can do this.",
                      403};
}

ServiceError unknown_room_error() {
  return ServiceError{"UNKNOWN_ROOM", "There is no such room.", 404};
}

ServiceError room_erased_error() {
  return ServiceError{"ROOM_ERASED",
                      "This conversation was erased at both partners' request; nothing of it "
                      "is kept but its content-free audit log.",
                      410};
}

bool has_kind(const std::vector<v1::AuditEntry>& entries, v1::AuditKind kind) {
  return std::any_of(entries.begin(), entries.end(),
                     [kind](const v1::AuditEntry& e) { return e.kind() == kind; });
}

template <typename T>
std::function<void(ServiceError)> fail_with(std::function<void(Result<T>)> done) {
  return [done = std::move(done)](ServiceError error) {
    done(Result<T>{std::nullopt, std::move(error)});
  };
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Loading: the events first (an unknown room stops there), then the audit log.

void Room::load_audit_then_finish(store::LoadResult loaded) {
  if (loaded.error) return on_loaded(std::move(loaded), 1);
  auto shared_loaded = std::make_shared<store::LoadResult>(std::move(loaded));
  ctx_->store->load_audit(
      id_, [self = shared_from_this(), shared_loaded](store::AuditLoadResult audit) mutable {
        asio::post(self->strand_, [self, shared_loaded, audit = std::move(audit)]() mutable {
          self->on_audit_loaded(std::move(*shared_loaded), std::move(audit));
        });
      });
}

void Room::on_audit_loaded(store::LoadResult loaded, store::AuditLoadResult audit) {
  if (audit.error) {
    // Without the audit log the epoch is unknown: a resume could skip an erasure. Fail the
    // load (the next access retries) rather than serve a possibly stale epoch.
    loaded.events.clear();
    loaded.error = std::move(audit.error);
    return on_loaded(std::move(loaded), 1);
  }
  std::uint64_t epoch = 1;
  for (const v1::AuditEntry& entry : audit.entries) {
    epoch = std::max(epoch, entry.epoch());
    if (entry.kind() == v1::AUDIT_ROOM_ERASURE_REQUESTED) {
      erasure_requested_by_.insert(entry.actor().role());
    }
    if (entry.kind() == v1::AUDIT_CONTENT_PURGED) purged_ = true;
  }
  on_loaded(std::move(loaded), epoch);
}

// ---------------------------------------------------------------------------------------------
// Exclusive operations

void Room::queue_exclusive(Exclusive op) {
  const std::uint64_t id = next_exclusive_++;
  exclusive_.emplace(id, std::move(op));
  execute(core_->queue_exclusive(id, ctx_->clock()));
}

// ---------------------------------------------------------------------------------------------
// Audit log

void Room::record_audit(std::vector<v1::AuditEntry> entries, std::function<void()> committed) {
  if (entries.empty()) {
    if (committed) committed();
    return;
  }
  append_audit_entries(std::move(entries), 0,
                       [this, committed](std::optional<store::StoreError> error) {
                         if (error) {
                           ctx_->metrics.store_error();
                           spdlog::warn("room {}: audit append failed: {}", id_,
                                        store::to_string(error->code));
                         }
                         if (committed) committed();
                       });
}

void Room::record_audit_fenced(std::vector<v1::AuditEntry> entries,
                               std::function<void(std::optional<store::StoreError>)> done) {
  append_audit_entries(std::move(entries), lease_epoch_, std::move(done));
}

void Room::append_audit_entries(std::vector<v1::AuditEntry> entries, std::uint64_t lease_epoch,
                                std::function<void(std::optional<store::StoreError>)> done) {
  // The room is not evicted before the store has them (room_lifecycle.cpp).
  const std::uint64_t number = begin_audit_append();
  ctx_->store->append_audit_fenced(
      id_, std::move(entries), lease_epoch,
      [self = shared_from_this(), number,
       done = std::move(done)](std::optional<store::StoreError> error) mutable {
        asio::post(self->strand_, [self, number, done = std::move(done),
                                   error = std::move(error)]() mutable {
          self->end_audit_append(number);
          if (error && error->code == store::StoreErrorCode::kFenced) {
            self->lose_lease("an audit entry was fenced: another node took the room over");
          }
          done(std::move(error));
        });
      });
}

std::uint64_t Room::begin_audit_append() {
  const std::uint64_t number = next_audit_append_++;
  audit_appends_in_flight_.insert(number);
  return number;
}

void Room::end_audit_append(std::uint64_t number) {
  audit_appends_in_flight_.erase(number);
  const std::uint64_t oldest = audit_appends_in_flight_.empty()
                                   ? next_audit_append_
                                   : *audit_appends_in_flight_.begin();
  std::vector<std::function<void()>> ready;
  std::erase_if(audit_reads_waiting_, [&](auto& waiting) {
    if (waiting.first > oldest) return false;
    ready.push_back(std::move(waiting.second));
    return true;
  });
  for (auto& read : ready) read();
}

void Room::after_audit_appends(std::function<void()> then) {
  if (audit_appends_in_flight_.empty()) return then();
  audit_reads_waiting_.emplace_back(next_audit_append_, std::move(then));
}

// ---------------------------------------------------------------------------------------------
// Rewrites of the stored history

void Room::rewrite_history(std::vector<v1::Event> whole_log, std::vector<v1::Event> rewritten,
                           v1::Actor by, v1::ErasureScope scope, v1::AuditEntry entry,
                           std::function<void(std::optional<store::StoreError>)> done) {
  if (rewritten.empty()) {  // nothing stored changes; same epoch
    entry.set_epoch(core_->epoch());
    return record_audit_fenced({std::move(entry)}, std::move(done));
  }
  entry.set_epoch(core_->epoch() + 1);  // apply_rewrite moves the room to that epoch
  auto shared = std::make_shared<std::vector<v1::Event>>(rewritten);
  auto whole = std::make_shared<std::vector<v1::Event>>(std::move(whole_log));
  ctx_->store->rewrite_events_audited(
      id_, std::move(rewritten), {std::move(entry)}, lease_epoch_,
      [self = shared_from_this(), shared, whole, by = std::move(by), scope,
       done = std::move(done)](std::optional<store::StoreError> error) mutable {
        asio::post(self->strand_, [self, shared, whole, by = std::move(by), scope,
                                   done = std::move(done), error = std::move(error)]() mutable {
          if (error && error->code == store::StoreErrorCode::kFenced) {
            self->lose_lease("a rewrite was fenced: another node took the room over");
          } else if (error) {
            self->reload_after_doubt(*error);
          }
          if (!error && self->core_) {
            self->execute(self->core_->apply_rewrite(std::move(*whole), *shared, by, scope));
          }
          done(std::move(error));
        });
      });
}

void Room::purge_now(std::function<void()> then) {
  with_whole_log([this, then = std::move(then)](std::optional<std::vector<v1::Event>> log) mutable {
    if (!log) {
      ctx_->metrics.store_error();
      spdlog::error("room {}: retention purge failed: the log could not be read", id_);
      return then();  // the next sweep tries again
    }
    purge_log(std::move(*log), std::move(then));
  });
}

void Room::purge_log(std::vector<v1::Event> log, std::function<void()> then) {
  std::vector<v1::Event> rewritten = privacy::purge_content(log);
  // Purged before and nothing new since (a room that never closed may get content after it).
  if (rewritten.empty() && purged_) return then();
  const auto count = static_cast<std::uint32_t>(rewritten.size());
  v1::AuditEntry entry = privacy::audit_entry(v1::AUDIT_CONTENT_PURGED,
                                              actor_with_role(v1::SYSTEM), ctx_->clock());
  entry.set_count(count);
  rewrite_history(
      std::move(log), std::move(rewritten), actor_with_role(v1::SYSTEM),
      v1::ERASURE_RETENTION_PURGE,
      std::move(entry),
      [this, count, then = std::move(then)](std::optional<store::StoreError> error) {
        if (error) {
          ctx_->metrics.store_error();
          spdlog::error("room {}: retention purge failed: {}", id_, store::to_string(error->code));
          return then();  // the next sweep tries again
        }
        purged_ = true;
        spdlog::info("room {}: content purged at the end of its retention ({} events)", id_,
                     count);
        then();
      });
}

// ---------------------------------------------------------------------------------------------
// Public privacy operations

void Room::answer_gone(std::function<void(ServiceError)> done) {
  if (status_ == Status::kFailed) return done(unavailable_error());
  if (status_ == Status::kElsewhere) return done(elsewhere_error());
  if (erased_) return done(room_erased_error());
  ctx_->store->load_audit(id_, [executor = ctx_->executor,
                                done = std::move(done)](store::AuditLoadResult audit) mutable {
    asio::post(executor, [done = std::move(done), audit = std::move(audit)] {
      if (audit.error) return done(unavailable_error());
      done(has_kind(audit.entries, v1::AUDIT_ROOM_ERASED) ? room_erased_error()
                                                          : unknown_room_error());
    });
  });
}

void Room::erase_contributions(v1::Actor actor,
                               std::function<void(Result<v1::EraseContributionsResponse>)> done) {
  on_strand([actor = std::move(actor), done = std::move(done)](Room& room) mutable {
    room.erase_contributions_now(std::move(actor), std::move(done));
  });
}

void Room::erase_contributions_now(v1::Actor actor, std::function<void(Result<v1::EraseContributionsResponse>)> done) {
  if (status_ != Status::kReady) return answer_gone(fail_with(std::move(done)));
  if (!is_partner(actor.role())) return done({std::nullopt, partners_only_error()});
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  auto run = [this, actor, shared_done] {
    with_whole_log([this, actor, shared_done](std::optional<std::vector<v1::Event>> log) {
      if (!log || !core_) {
        (*shared_done)({std::nullopt, unserved_error()});
        return finish_command();
      }
      erase_from_log(std::move(*log), actor, shared_done);
    });
  };
  queue_exclusive(Exclusive{std::move(run), [shared_done](const ServiceError& why) {
                              (*shared_done)({std::nullopt, why});
                            }});
}

void Room::erase_from_log(
    std::vector<v1::Event> log, const v1::Actor& actor,
    std::shared_ptr<std::function<void(Result<v1::EraseContributionsResponse>)>> shared_done) {
  std::vector<v1::Event> rewritten = privacy::erase_contributions(log, actor.role());
  const auto count = static_cast<std::uint32_t>(rewritten.size());
  // The epoch once rewritten (rewrite_history): also what to answer when the core is gone by
  // the time the rewrite committed.
  const std::uint64_t epoch = core_->epoch() + (rewritten.empty() ? 0 : 1);
  v1::AuditEntry entry =
      privacy::audit_entry(v1::AUDIT_CONTRIBUTIONS_ERASED, actor, ctx_->clock());
  entry.set_count(count);
  rewrite_history(
      std::move(log), std::move(rewritten), actor, v1::ERASURE_CONTRIBUTIONS, std::move(entry),
      [this, actor, count, epoch, shared_done](std::optional<store::StoreError> error) {
        if (error) {
          ctx_->metrics.store_error();
          spdlog::error("room {}: erasure of contributions failed: {}", id_,
                        store::to_string(error->code));
          (*shared_done)({std::nullopt, unserved_error()});
          return finish_command();
        }
        spdlog::info("room {}: {} erased their contributions ({} events)", id_,
                     v1::Role_Name(actor.role()), count);
        v1::EraseContributionsResponse response;
        response.set_room_id(id_);
        response.set_erased_events(count);
        response.set_epoch(epoch);
        (*shared_done)({std::move(response), std::nullopt});
        finish_command();
      });
}

v1::EraseRoomResponse Room::erasure_status() const {
  v1::EraseRoomResponse response;
  response.set_room_id(id_);
  response.set_status(status_ == Status::kGone ? v1::ROOM_ERASURE_STATUS_ERASED
                                               : v1::ROOM_ERASURE_STATUS_REQUESTED);
  for (v1::Role role : erasure_requested_by_) response.add_requested_by(role);
  return response;
}

void Room::erase_room(v1::Actor actor, std::function<void(Result<v1::EraseRoomResponse>)> done) {
  on_strand([actor = std::move(actor), done = std::move(done)](Room& room) mutable {
    room.erase_room_now(std::move(actor), std::move(done));
  });
}

void Room::erase_room_now(v1::Actor actor, std::function<void(Result<v1::EraseRoomResponse>)> done) {
  if (status_ != Status::kReady) return answer_gone(fail_with(std::move(done)));
  if (!is_partner(actor.role())) return done({std::nullopt, partners_only_error()});
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  auto run = [this, actor, shared_done] {
    const engine::TimeMs now = ctx_->clock();
    std::vector<v1::AuditEntry> requested;
    if (!erasure_requested_by_.contains(actor.role())) {
      requested.push_back(privacy::audit_entry(v1::AUDIT_ROOM_ERASURE_REQUESTED, actor, now));
    }
    if (erasure_requested_by_.size() + requested.size() >= 2) {
      // The other partner asked already: this request and the erasure commit together.
      return destroy_now(actor, std::move(requested),
                         [shared_done](Result<v1::EraseRoomResponse> result) {
                           (*shared_done)(std::move(result));
                         });
    }
    if (requested.empty()) {  // asked twice: nothing changes
      (*shared_done)({erasure_status(), std::nullopt});
      return finish_command();
    }
    // The first request is durable before it is answered or announced: the erasure needs both.
    record_audit_fenced(std::move(requested), [this, actor, now, shared_done](
                                                  std::optional<store::StoreError> error) {
      on_erasure_requested(actor, now, error);
      (*shared_done)(error ? Result<v1::EraseRoomResponse>{std::nullopt, unserved_error()}
                           : Result<v1::EraseRoomResponse>{erasure_status(), {}});
      finish_command();
    });
  };
  queue_exclusive(Exclusive{std::move(run), [shared_done](const ServiceError& why) {
                              (*shared_done)({std::nullopt, why});
                            }});
}

void Room::on_erasure_requested(const v1::Actor& actor, engine::TimeMs at_ms, const std::optional<store::StoreError>& error) {
  if (error) {
    ctx_->metrics.store_error();
    spdlog::error("room {}: a request to erase the room could not be stored: {}", id_,
                  store::to_string(error->code));
    return;
  }
  erasure_requested_by_.insert(actor.role());
  spdlog::info("room {}: {} asked to erase the room", id_, v1::Role_Name(actor.role()));
  // Without a core (the lease was lost meanwhile) the request is stored all the same; the
  // node serving the room now reads it from the audit log.
  if (core_) execute(core_->announce_erasure_request(actor, at_ms));
}

void Room::destroy_now(v1::Actor by, std::vector<v1::AuditEntry> entries,
                       std::function<void(Result<v1::EraseRoomResponse>)> done) {
  v1::AuditEntry erased = privacy::audit_entry(v1::AUDIT_ROOM_ERASED, by, ctx_->clock());
  erased.set_epoch(core_->epoch() + 1);  // RoomCore::destroy moves the room to that epoch
  entries.push_back(erased);
  ctx_->store->destroy_room_audited(
      id_, std::move(entries), lease_epoch_,
      [self = shared_from_this(), by = std::move(by),
       done = std::move(done)](std::optional<store::StoreError> error) mutable {
        asio::post(self->strand_, [self, by = std::move(by), done = std::move(done),
                                   error = std::move(error)]() mutable {
          self->on_destroyed(std::move(by), std::move(error), std::move(done));
        });
      });
}

void Room::on_destroyed(v1::Actor by, std::optional<store::StoreError> error,
                        std::function<void(Result<v1::EraseRoomResponse>)> done) {
  if (error) {
    ctx_->metrics.store_error();
    spdlog::error("room {}: erasure failed: {}", id_, store::to_string(error->code));
    if (error->code == store::StoreErrorCode::kFenced) {
      lose_lease("an erasure was fenced: another node took the room over");
    }
    // Nothing changed: the first request stays recorded, this one was not (it committed with
    // the erasure); the next request of the partner who has not asked yet completes it.
    done({std::nullopt, unserved_error()});
    return finish_command();
  }
  erasure_requested_by_.insert(by.role());
  erased_ = true;  // its entries (this request, ROOM_ERASED) committed with the destruction
  spdlog::info("room {}: erased at both partners' request (key destroyed, rows deleted)", id_);
  if (!core_) {  // the lease was lost while the erasure committed: erased all the same
    v1::EraseRoomResponse response = erasure_status();
    response.set_status(v1::ROOM_ERASURE_STATUS_ERASED);
    return done({std::move(response), std::nullopt});
  }
  std::vector<std::uint64_t> cancelled;
  Effects fx = core_->destroy(by, cancelled);
  fx.deadline.reset();
  execute(std::move(fx));
  ctx_->metrics.rooms_loaded_delta(-1);
  status_ = Status::kGone;
  core_.reset();
  timer_.cancel();
  armed_deadline_.reset();
  auto queued = std::move(exclusive_);
  exclusive_.clear();
  for (std::uint64_t id : cancelled) {
    if (auto it = queued.find(id); it != queued.end()) it->second.refuse(room_erased_error());
  }
  ctx_->forget(id_, this);
  done({erasure_status(), std::nullopt});
}

void Room::get_audit(v1::Actor actor, std::function<void(Result<v1::GetAuditResponse>)> done) {
  on_strand([actor = std::move(actor), done = std::move(done)](Room& room) mutable {
    room.get_audit_now(std::move(actor), std::move(done));
  });
}

void Room::audit_held(std::function<void(std::size_t)> done) {
  asio::post(strand_, [self = shared_from_this(), done = std::move(done)] {
    done(self->audit_appends_in_flight_.size() + self->audit_reads_waiting_.size());
  });
}

void Room::get_audit_now(v1::Actor actor, std::function<void(Result<v1::GetAuditResponse>)> done) {
  if (!is_partner(actor.role())) return done({std::nullopt, partners_only_error()});
  if (status_ == Status::kFailed) return done({std::nullopt, unavailable_error()});
  if (status_ == Status::kElsewhere) return done({std::nullopt, elsewhere_error()});
  if (status_ == Status::kReady) {
    // Every entry this room appended before the request is in the store once its append
    // completed; entries committed with events or rewrites are there already.
    return after_audit_appends([this, done = std::move(done)]() mutable {
      read_stored_audit(true, std::move(done));
    });
  }
  // Gone: an erased room's audit log outlives it.
  read_stored_audit(false, std::move(done));
}

void Room::read_stored_audit(bool room_known,
                             std::function<void(Result<v1::GetAuditResponse>)> done) {
  ctx_->store->load_audit(id_, [executor = ctx_->executor, room_id = id_, room_known,
                                done = std::move(done)](store::AuditLoadResult audit) mutable {
    asio::post(executor, [room_id = std::move(room_id), room_known, done = std::move(done),
                          audit = std::move(audit)] {
      if (audit.error) return done({std::nullopt, unavailable_error()});
      if (audit.entries.empty() && !room_known) return done({std::nullopt, unknown_room_error()});
      v1::GetAuditResponse response;
      response.set_room_id(room_id);
      for (const v1::AuditEntry& entry : audit.entries) *response.add_entries() = entry;
      done({std::move(response), std::nullopt});
    });
  });
}

void Room::get_transcript(v1::Actor actor,
                          std::function<void(Result<v1::GetTranscriptResponse>)> done) {
  on_strand([actor = std::move(actor), done = std::move(done)](Room& room) mutable {
    room.get_transcript_now(std::move(actor), std::move(done));
  });
}

void Room::get_transcript_now(v1::Actor actor, std::function<void(Result<v1::GetTranscriptResponse>)> done) {
  if (status_ != Status::kReady) return answer_gone(fail_with(std::move(done)));
  with_whole_log([this, actor = std::move(actor),
                  done = std::move(done)](std::optional<std::vector<v1::Event>> log) mutable {
    if (!log || !core_ || status_ != Status::kReady) {
      return done({std::nullopt, unserved_error()});
    }
    answer_transcript(actor, *log, std::move(done));
  });
}

// The rights are checked on the state `log` was read for (after a store read, not before).
void Room::answer_transcript(const v1::Actor& actor, const std::vector<v1::Event>& log,
                             std::function<void(Result<v1::GetTranscriptResponse>)> done) {
  const engine::RoomState& state = core_->state();
  if (actor.role() == v1::OBSERVER) {
    if (!core_->observer_admitted(actor)) {
      return done({std::nullopt,
                   ServiceError{"OBSERVER_NOT_APPROVED",
                                "You can read this conversation only while both partners "
                                "approve you as an observer.",
                                403}});
    }
    if (!engine::transcript_shared_with_observers(state)) {
      return done({std::nullopt,
                   ServiceError{"TRANSCRIPT_NOT_SHARED",
                                "The partners have not agreed to share the transcript with "
                                "observers.",
                                403}});
    }
  } else if (!is_partner(actor.role())) {
    return done({std::nullopt, partners_only_error()});
  }
  v1::GetTranscriptResponse response;
  response.set_room_id(id_);
  *response.mutable_viewer() = actor;
  response.set_epoch(core_->epoch());
  response.set_exported_at_ms(ctx_->clock());
  response.set_partner_a_name(state.a.name);
  response.set_partner_b_name(state.b.name);
  for (v1::Event& event : privacy::transcript_events(state, log, actor)) {
    *response.add_events() = std::move(event);
  }
  record_audit({privacy::audit_entry(v1::AUDIT_TRANSCRIPT_EXPORTED, actor, ctx_->clock())});
  spdlog::info("room {}: transcript exported by {}", id_, v1::Role_Name(actor.role()));
  done({std::move(response), std::nullopt});
}

void Room::renew_access(v1::Actor actor,
                        std::function<void(Result<v1::RenewAccessResponse>)> done) {
  on_strand([actor = std::move(actor), done = std::move(done)](Room& room) mutable {
    room.renew_access_now(std::move(actor), std::move(done));
  });
}

void Room::renew_access_now(v1::Actor actor,
                            std::function<void(Result<v1::RenewAccessResponse>)> done) {
  if (status_ != Status::kReady) return answer_gone(fail_with(std::move(done)));
  if (!is_partner(actor.role())) return done({std::nullopt, partners_only_error()});
  const engine::TimeMs now = ctx_->clock();
  const engine::TimeMs expires_at_ms =
      now + std::int64_t{ctx_->config.default_invite_ttl_s} * 1000;
  v1::RenewAccessResponse response;
  response.set_room_id(id_);
  v1::Invite* invite = response.mutable_invite();
  *invite->mutable_participant() = actor;
  invite->set_token(ctx_->signer.sign(TokenClaims{id_, actor, expires_at_ms}));
  invite->set_expires_at_ms(expires_at_ms);
  // Answered once the audit entry is stored: every renewal is on the record.
  record_audit({privacy::audit_entry(v1::AUDIT_ACCESS_RENEWED, actor, now)},
               [done = std::move(done), response = std::move(response)]() mutable {
                 done({std::move(response), std::nullopt});
               });
  spdlog::info("room {}: {} renewed their access", id_, v1::Role_Name(actor.role()));
}

void Room::check_retention(engine::TimeMs now,
                           std::function<void(std::optional<engine::TimeMs>)> done) {
  on_strand([now, done = std::move(done)](Room& room) mutable {
    room.check_retention_now(now, std::move(done));
  });
}

void Room::check_retention_now(engine::TimeMs now,
                               std::function<void(std::optional<engine::TimeMs>)> done) {
  if (status_ != Status::kReady) return done(std::nullopt);
  const auto due = core_->purge_due_ms();
  if (!due || *due > now) return done(due);
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  queue_exclusive(Exclusive{
      [this, shared_done] {
        purge_now([this, shared_done] {
          // Not purged (a store failure): due again at the next sweep.
          (*shared_done)(purged_ ? std::nullopt : std::optional(ctx_->clock()));
          finish_command();
        });
      },
      [shared_done](const ServiceError&) { (*shared_done)(std::nullopt); }});
}

}  // namespace mend::rooms
