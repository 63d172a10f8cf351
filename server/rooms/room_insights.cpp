// Room: protocol insights and the summary at CLOSED (issue 14).
//
// The insights projection (engine/insights.h) is applied with every event by the room core
// (RoomCore::apply), so it always matches the log; a refused command of a partner is counted
// there too. Admitted observers get ServerItem{insights} with every frame of events and after
// their replay (RoomCore::deliver, send_welcome_and_replay). The summary is derived from the log when
// asked for, never stored: retraction, erasure and retention have already rewritten the log.
#include "server/rooms/room.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "server/rooms/privacy.h"

namespace mend::rooms {

namespace asio = boost::asio;

namespace {

bool is_partner(v1::Role role) { return role == v1::PARTNER_A || role == v1::PARTNER_B; }

ServiceError observer_not_approved() {
  return ServiceError{"OBSERVER_NOT_APPROVED",
                      "You can see this conversation only while both partners approve you as an "
                      "observer.",
                      403};
}

}  // namespace

void Room::get_insights(v1::Actor actor, std::function<void(Result<v1::GetInsightsResponse>)> done) {
  on_strand([actor = std::move(actor), done = std::move(done)](Room& room) mutable {
    room.get_insights_now(std::move(actor), std::move(done));
  });
}

void Room::get_insights_now(v1::Actor actor, std::function<void(Result<v1::GetInsightsResponse>)> done) {
  if (status_ != Status::kReady) {
    return answer_gone([done = std::move(done)](ServiceError error) { done({std::nullopt, std::move(error)}); });
  }
  if (actor.role() == v1::OBSERVER && !core_->observer_admitted(actor)) {
    return done({std::nullopt, observer_not_approved()});
  }
  v1::GetInsightsResponse response;
  *response.mutable_insights() = core_->insights();
  done({std::move(response), std::nullopt});
}

void Room::get_summary(v1::Actor actor, std::function<void(Result<v1::GetSummaryResponse>)> done) {
  on_strand([actor = std::move(actor), done = std::move(done)](Room& room) mutable {
    room.get_summary_now(std::move(actor), std::move(done));
  });
}

// Why `actor` may not have the summary now, if they may not (on the core's current state).
std::optional<ServiceError> Room::summary_refusal(const v1::Actor& actor) const {
  if (actor.role() == v1::OBSERVER) {
    if (!core_->observer_admitted(actor)) return observer_not_approved();
    // The effective terms: a summary goes to observers only if both partners allow it.
    const engine::RoomState& state = core_->state();
    if (!(state.a.summary_to_observer && state.b.summary_to_observer)) {
      return ServiceError{"SUMMARY_NOT_SHARED",
                          "The partners have not agreed to share the summary with observers.",
                          403};
    }
  } else if (!is_partner(actor.role())) {
    return ServiceError{"PARTNERS_ONLY", "Only the two partners of this conversation can do this.",
                        403};
  }
  if (core_->state().phase != v1::PHASE_CLOSED) {
    return ServiceError{"CONVERSATION_NOT_CLOSED",
                        "The summary is ready once the conversation has closed.", 409};
  }
  return std::nullopt;
}

void Room::get_summary_now(v1::Actor actor, std::function<void(Result<v1::GetSummaryResponse>)> done) {
  if (status_ != Status::kReady) {
    return answer_gone([done = std::move(done)](ServiceError error) { done({std::nullopt, std::move(error)}); });
  }
  if (auto refusal = summary_refusal(actor)) return done({std::nullopt, std::move(*refusal)});
  with_whole_log([this, actor = std::move(actor),
                  done = std::move(done)](std::optional<std::vector<v1::Event>> log) mutable {
    if (!log || !core_ || status_ != Status::kReady) {
      return done({std::nullopt, unavailable_error()});
    }
    // The rights again, on the state the log was read for: a consent withdrawn while the read
    // was in flight must not let the summary out (as the transcript, answer_transcript).
    if (auto refusal = summary_refusal(actor)) return done({std::nullopt, std::move(*refusal)});
    v1::GetSummaryResponse response;
    *response.mutable_summary() = engine::summarize(*log);
    response.mutable_summary()->set_room_id(id_);
    record_audit({privacy::audit_entry(v1::AUDIT_SUMMARY_EXPORTED, actor, ctx_->clock())});
    spdlog::info("room {}: summary exported by {}", id_, v1::Role_Name(actor.role()));
    done({std::move(response), std::nullopt});
  });
}

CaseloadEntry make_caseload_entry(const std::string& room_id, const RoomCore& core) {
  const engine::RoomState& s = core.state();
  CaseloadEntry entry;
  v1::RoomStatus& status = entry.status;
  status.set_room_id(room_id);
  status.set_template_name(s.tmpl.has_value() ? s.tmpl->name() : "");
  status.set_phase(s.phase);
  status.set_saved_phase(s.saved_phase);
  status.set_closed_reason(s.closed_reason);
  status.set_created_ms(s.created_at_ms);
  status.set_last_activity_ms(core.log().back().at_ms());
  for (const v1::Actor& actor : core.attached_actors()) *status.add_connected() = actor;
  status.set_a_consented(s.a.consented);
  status.set_b_consented(s.b.consented);
  for (const engine::ObserverState& o : s.observers) {
    if (!o.approved()) status.add_observers_pending(o.name);
  }
  status.set_series_id(core.series_id());
  entry.insights = core.insights();
  return entry;
}

void Room::caseload_entry(std::function<void(std::optional<CaseloadEntry>)> done) {
  // Not through on_strand: a listing is no activity that keeps a room loaded, does not wait
  // for a load, and does not follow an eviction (the caller reads such a room from the store).
  asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->status_ != Status::kReady || self->core_->log().empty()) return done(std::nullopt);
    done(make_caseload_entry(self->id_, *self->core_));
  });
}

}  // namespace mend::rooms
