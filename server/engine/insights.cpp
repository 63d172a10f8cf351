// The insights projection (insights.h). Each event adds to the figures of the partner who
// caused it; the engine state after the event says where the conversation is now (phase,
// speaker, stage), so the projection never re-implements a rule.
#include "server/engine/insights.h"

#include <algorithm>

#include "server/engine/engine.h"
#include "server/engine/flow.h"

namespace mend::engine {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

v1::PartnerInsights* partner_of(v1::Insights& insights, v1::Role role) {
  if (role == v1::PARTNER_A) return insights.mutable_partner_a();
  if (role == v1::PARTNER_B) return insights.mutable_partner_b();
  return nullptr;
}

// Adds `n` to the count of `key` in `counts` (one entry per key, ordered by key).
template <typename Counts, typename Key, typename KeyOf, typename SetKey>
void add_count(Counts& counts, Key key, std::uint32_t n, KeyOf key_of, SetKey set_key) {
  for (auto& c : counts) {
    if (key_of(c) == key) {
      c.set_count(c.count() + n);
      return;
    }
  }
  auto* c = counts.Add();
  set_key(*c, key);
  c->set_count(n);
  std::sort(counts.begin(), counts.end(), [&](const auto& x, const auto& y) { return key_of(x) < key_of(y); });
}

template <typename Counts, typename Kind>
void add_kind_count(Counts& counts, Kind kind) {
  add_count(counts, kind, 1, [](const auto& c) { return c.kind(); }, [](auto& c, Kind k) { c.set_kind(k); });
}

bool is_withdrawn(const std::string& text) { return text == kRetractedText || text == kErasedText; }

// Words of a share: the engine's count; a legacy event without it is counted from its text,
// unless that text was already withdrawn or erased.
std::uint32_t share_words(const v1::Shared& shared) {
  if (shared.word_count() != 0) return shared.word_count();
  if (is_withdrawn(shared.text())) return 0;
  return count_words(shared.text());
}

v1::OverlayKind overlay_kind(const v1::Event& event) {
  switch (event.body_case()) {
    case v1::Event::kPaused: return v1::OVERLAY_PAUSE;
    case v1::Event::kTimedOut: return v1::OVERLAY_TIME_OUT;
    case v1::Event::kConsultBreakStarted: return v1::OVERLAY_CONSULT_BREAK;
    default: return v1::OVERLAY_KIND_UNSPECIFIED;
  }
}

std::int64_t overlay_until(const v1::Event& event) {
  switch (event.body_case()) {
    case v1::Event::kPaused: return event.paused().until_ms();
    case v1::Event::kTimedOut: return event.timed_out().return_at_ms();
    case v1::Event::kConsultBreakStarted: return event.consult_break_started().until_ms();
    default: return 0;
  }
}

}  // namespace

std::uint32_t count_words(std::string_view text) {
  std::uint32_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = is_space(c);
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

void InsightsProjection::apply(const v1::Event& event, const RoomState& after) {
  account_time(event);
  switch (event.body_case()) {
    case v1::Event::kRoomCreated:
      insights_.set_template_name(event.room_created().template_().name());
      insights_.set_created_ms(event.at_ms());
      insights_.mutable_partner_a()->set_partner(v1::PARTNER_A);
      insights_.mutable_partner_b()->set_partner(v1::PARTNER_B);
      break;
    case v1::Event::kPaused: case v1::Event::kTimedOut: case v1::Event::kConsultBreakStarted:
    case v1::Event::kReturned: case v1::Event::kExtended: case v1::Event::kCheckInStarted:
    case v1::Event::kTimeOutReturnDue: case v1::Event::kSuspended: case v1::Event::kResumed:
      apply_overlay_event(event);
      break;
    case v1::Event::kStageStarted: case v1::Event::kRolesSwitched: case v1::Event::kFloorPassed:
    case v1::Event::kShared: case v1::Event::kReflected: case v1::Event::kConfirmed:
    case v1::Event::kCorrected:
      apply_stage_event(event, after);
      break;
    default:
      apply_other_event(event);
      break;
  }
  update_timeline(event, after);
  insights_.set_phase(after.phase);
  insights_.set_last_seq(event.seq());
  insights_.set_as_of_ms(event.at_ms());
  last_at_ms_ = event.at_ms();
  phase_ = after.phase;
  speaker_ = detail::is_stage_round(after.phase) ? after.turn.speaker : v1::ROLE_UNSPECIFIED;
}

// Floor time: the time since the previous event belongs to whoever held the floor then,
// unless an overlay was active (nobody speaks during a pause).
void InsightsProjection::account_time(const v1::Event& event) {
  if (speaker_ == v1::ROLE_UNSPECIFIED) return;
  if (auto* p = partner_of(insights_, speaker_)) {
    p->set_floor_time_ms(p->floor_time_ms() + (event.at_ms() - last_at_ms_));
  }
}

void InsightsProjection::update_timeline(const v1::Event& event, const RoomState& after) {
  const bool round = detail::is_stage_round(after.phase);
  const v1::Role speaker = round ? after.turn.speaker : v1::ROLE_UNSPECIFIED;
  const std::uint32_t stage = round ? after.turn.stage_index : 0;
  auto& timeline = *insights_.mutable_timeline();
  if (!timeline.empty()) {
    const v1::PhaseSpan& last = timeline[timeline.size() - 1];
    if (last.phase() == after.phase && last.speaker() == speaker && last.stage_index() == stage) return;
  }
  if (!timeline.empty()) {
    v1::PhaseSpan& last = timeline[timeline.size() - 1];
    last.set_duration_ms(event.at_ms() - last.started_ms());
    // A phase passed through within one instant (one decide's events) is no span.
    if (last.duration_ms() == 0) timeline.RemoveLast();
  }
  if (!timeline.empty()) {
    const v1::PhaseSpan& last = timeline[timeline.size() - 1];
    if (last.phase() == after.phase && last.speaker() == speaker && last.stage_index() == stage) {
      timeline[timeline.size() - 1].set_duration_ms(0);  // resumed the span just ended
      return;
    }
  }
  if (after.phase == v1::PHASE_CLOSED && phase_ == v1::PHASE_CLOSED) return;
  v1::PhaseSpan* span = timeline.Add();
  span->set_phase(after.phase);
  span->set_started_ms(event.at_ms());
  span->set_stage_index(stage);
  span->set_speaker(speaker);
}

void InsightsProjection::end_turn() {
  pending_shares_.clear();
  open_reflection_ = -1;
}

void InsightsProjection::apply_stage_event(const v1::Event& event, const RoomState& after) {
  const v1::Role actor = event.actor().role();
  v1::PartnerInsights* by = partner_of(insights_, actor);
  switch (event.body_case()) {
    case v1::Event::kStageStarted:
      insights_.set_stages_started(insights_.stages_started() + 1);
      end_turn();
      if (auto* p = partner_of(insights_, event.stage_started().speaker())) p->set_turns(p->turns() + 1);
      break;
    case v1::Event::kRolesSwitched:
      end_turn();
      if (auto* p = partner_of(insights_, event.roles_switched().speaker())) p->set_turns(p->turns() + 1);
      break;
    case v1::Event::kFloorPassed:
      end_turn();
      if (by != nullptr) by->set_floor_passes(by->floor_passes() + 1);
      break;
    case v1::Event::kShared: {
      const std::uint32_t words = share_words(event.shared());
      if (by != nullptr) {
        by->set_shares(by->shares() + 1);
        by->set_words_shared(by->words_shared() + words);
      }
      v1::ShareInsight* share = insights_.add_shares();
      share->set_seq(event.seq());
      share->set_speaker(actor);
      share->set_stage_index(after.turn.stage_index);
      share->set_words(words);
      pending_shares_.push_back(insights_.shares_size() - 1);
      share_at_ms_.push_back(event.at_ms());
      break;
    }
    case v1::Event::kReflected: {
      const v1::ReflectionKind kind = event.reflected().kind();
      if (kind == v1::MIRROR) {
        if (by != nullptr) by->set_mirrors_given(by->mirrors_given() + 1);
        if (!pending_shares_.empty()) {
          v1::ShareInsight* share = insights_.mutable_shares(pending_shares_.back());
          share->set_mirror_rounds(share->mirror_rounds() + 1);
        }
        break;
      }
      if (open_reflection_ < 0 || insights_.reflections(open_reflection_).kind() != kind) {
        v1::ReflectionInsight* r = insights_.add_reflections();
        r->set_first_seq(event.seq());
        r->set_listener(actor);
        r->set_kind(kind);
        open_reflection_ = insights_.reflections_size() - 1;
        open_reflection_at_ms_ = event.at_ms();
      }
      v1::ReflectionInsight* r = insights_.mutable_reflections(open_reflection_);
      r->set_tries(r->tries() + 1);
      break;
    }
    case v1::Event::kConfirmed: {
      v1::PartnerInsights* listener = partner_of(insights_, detail::other_partner(actor));
      if (event.confirmed().kind() == v1::MIRROR) {
        if (listener != nullptr) listener->set_mirrors_confirmed(listener->mirrors_confirmed() + 1);
        for (int index : pending_shares_) {
          v1::ShareInsight* share = insights_.mutable_shares(index);
          share->set_confirmed(true);
          share->set_to_confirmation_ms(event.at_ms() - share_at_ms_[static_cast<std::size_t>(index)]);
        }
        pending_shares_.clear();
        break;
      }
      if (open_reflection_ >= 0) {
        v1::ReflectionInsight* r = insights_.mutable_reflections(open_reflection_);
        r->set_confirmed(true);
        r->set_to_confirmation_ms(event.at_ms() - open_reflection_at_ms_);
        open_reflection_ = -1;
      }
      if (listener == nullptr) break;
      switch (event.confirmed().kind()) {
        case v1::SUMMARY: listener->set_summaries_given(listener->summaries_given() + 1); break;
        case v1::VALIDATION: listener->set_validations_given(listener->validations_given() + 1); break;
        case v1::EMPATHY: listener->set_empathy_given(listener->empathy_given() + 1); break;
        default: break;
      }
      break;
    }
    case v1::Event::kCorrected: {
      if (by != nullptr) by->set_corrections(by->corrections() + 1);
      // The correction sends the listener back to the reflection it corrected.
      const v1::ReflectionKind kind = detail::reflection_for_phase(detail::conversation_phase(after));
      if (kind == v1::MIRROR && !pending_shares_.empty()) {
        v1::ShareInsight* share = insights_.mutable_shares(pending_shares_.back());
        share->set_corrections(share->corrections() + 1);
      } else if (kind != v1::MIRROR && open_reflection_ >= 0) {
        v1::ReflectionInsight* r = insights_.mutable_reflections(open_reflection_);
        r->set_corrections(r->corrections() + 1);
      }
      break;
    }
    default:
      break;
  }
}

void InsightsProjection::end_overlay(std::int64_t at_ms, v1::OverlayEnding ending) {
  if (open_overlay_ < 0) return;
  v1::OverlayInsight* o = insights_.mutable_overlays(open_overlay_);
  if (o->ending() == v1::OVERLAY_ENDING_UNSPECIFIED) o->set_ending(ending);
  o->set_ended_ms(at_ms);
  o->set_duration_ms(at_ms - o->started_ms());
  if (auto* p = partner_of(insights_, o->caller())) p->set_overlay_time_ms(p->overlay_time_ms() + o->duration_ms());
  open_overlay_ = -1;
}

void InsightsProjection::apply_overlay_event(const v1::Event& event) {
  const v1::Role actor = event.actor().role();
  v1::OverlayInsight* open = open_overlay_ >= 0 ? insights_.mutable_overlays(open_overlay_) : nullptr;
  auto set_ending = [&](v1::OverlayEnding ending) {
    if (open != nullptr && open->ending() == v1::OVERLAY_ENDING_UNSPECIFIED) open->set_ending(ending);
  };
  switch (event.body_case()) {
    case v1::Event::kPaused: case v1::Event::kTimedOut: case v1::Event::kConsultBreakStarted: {
      // A time-out called during a pause or its check-in ends the pause there (escalation).
      end_overlay(event.at_ms(), v1::OVERLAY_ESCALATED);
      v1::OverlayInsight* o = insights_.add_overlays();
      o->set_kind(overlay_kind(event));
      o->set_caller(actor);
      o->set_started_ms(event.at_ms());
      o->set_agreed_until_ms(overlay_until(event));
      open_overlay_ = insights_.overlays_size() - 1;
      if (auto* p = partner_of(insights_, actor)) {
        if (event.has_paused()) p->set_pauses(p->pauses() + 1);
        if (event.has_timed_out()) p->set_time_outs(p->time_outs() + 1);
      }
      break;
    }
    case v1::Event::kReturned:
      if (open != nullptr) {
        set_ending(event.at_ms() < open->agreed_until_ms() ? v1::OVERLAY_RETURNED_EARLY : v1::OVERLAY_WAITED_OUT);
      }
      break;
    case v1::Event::kExtended:
      if (open != nullptr) open->set_extensions(open->extensions() + 1);
      break;
    case v1::Event::kCheckInStarted:
    case v1::Event::kTimeOutReturnDue:
      set_ending(v1::OVERLAY_WAITED_OUT);
      break;
    case v1::Event::kSuspended:  // the return was owed and never came
      if (open != nullptr) open->set_ending(v1::OVERLAY_SUSPENDED);
      break;
    case v1::Event::kResumed:
      end_overlay(event.at_ms(), v1::OVERLAY_WAITED_OUT);
      break;
    default:
      break;
  }
}

void InsightsProjection::apply_other_event(const v1::Event& event) {
  v1::PartnerInsights* by = partner_of(insights_, event.actor().role());
  switch (event.body_case()) {
    case v1::Event::kConversationOpened: insights_.set_opened_ms(event.at_ms()); break;
    case v1::Event::kConversationClosed:
      end_overlay(event.at_ms(), v1::OVERLAY_CONVERSATION_CLOSED);
      insights_.set_closed_ms(event.at_ms());
      insights_.set_closed_reason(event.conversation_closed().reason());
      break;
    case v1::Event::kAsked: if (by) by->set_questions_asked(by->questions_asked() + 1); break;
    case v1::Event::kSignaled: if (by) add_kind_count(*by->mutable_signals(), event.signaled().kind()); break;
    case v1::Event::kRepaired: if (by) add_kind_count(*by->mutable_repairs(), event.repaired().kind()); break;
    case v1::Event::kAppreciated: if (by) by->set_appreciations(by->appreciations() + 1); break;
    case v1::Event::kProposed: if (by) by->set_proposals(by->proposals() + 1); break;
    case v1::Event::kProposalAccepted:
      if (by) by->set_proposals_accepted(by->proposals_accepted() + 1);
      insights_.set_proposals_accepted(insights_.proposals_accepted() + 1);
      break;
    case v1::Event::kRetracted: {
      if (by) by->set_retractions(by->retractions() + 1);
      const std::uint64_t seq = event.retracted().seq();
      auto& shares = *insights_.mutable_shares();
      auto it = std::lower_bound(shares.begin(), shares.end(), seq,
                                 [](const v1::ShareInsight& s, std::uint64_t x) { return s.seq() < x; });
      if (it != shares.end() && it->seq() == seq) it->set_retracted(true);
      break;
    }
    default:
      break;
  }
}

namespace {

// Builds the summary event by event (summarize).
class SummaryBuilder {
 public:
  void apply(const v1::Event& event) {
    switch (event.body_case()) {
      case v1::Event::kRoomCreated:
        tmpl_ = event.room_created().template_();
        summary_.set_template_name(tmpl_.name());
        summary_.set_partner_a_name(event.room_created().partner_a_name());
        summary_.set_partner_b_name(event.room_created().partner_b_name());
        break;
      case v1::Event::kStageStarted:
        start_turn(event.stage_started().stage_index(), event.stage_started().speaker());
        break;
      case v1::Event::kRolesSwitched: start_turn(stage_index_, event.roles_switched().speaker()); break;
      case v1::Event::kShared: chunks_.push_back(event.shared().text()); break;
      case v1::Event::kReflected: reflection_ = event.reflected().text(); break;
      case v1::Event::kConfirmed: confirm(event.confirmed().kind()); break;
      case v1::Event::kAppreciated:
        if (!is_withdrawn(event.appreciated().text())) {
          auto* a = summary_.add_appreciations();
          a->set_from(event.actor().role());
          a->set_text(event.appreciated().text());
        }
        break;
      case v1::Event::kProposed: proposals_.push_back(event); break;
      case v1::Event::kProposalAccepted: accept(event.proposal_accepted().seq()); break;
      case v1::Event::kConversationClosed: summary_.set_closed_ms(event.at_ms()); break;
      default: break;
    }
  }

  v1::ConversationSummary take() {
    auto& turns = *summary_.mutable_turns();
    turns.erase(std::remove_if(turns.begin(), turns.end(),
                               [](const v1::SummaryTurn& t) {
                                 return t.confirmed_words().empty() && t.confirmed_reflections().empty();
                               }),
                turns.end());
    return std::move(summary_);
  }

 private:
  void start_turn(std::uint32_t stage_index, v1::Role speaker) {
    stage_index_ = stage_index;
    chunks_.clear();
    reflection_.clear();
    v1::SummaryTurn* turn = summary_.add_turns();
    turn->set_stage_index(stage_index);
    if (static_cast<int>(stage_index) < tmpl_.stages_size()) {
      turn->set_stage_title(tmpl_.stages(static_cast<int>(stage_index)).title());
    }
    turn->set_speaker(speaker);
  }

  void confirm(v1::ReflectionKind kind) {
    if (summary_.turns().empty()) return;
    v1::SummaryTurn* turn = summary_.mutable_turns(summary_.turns_size() - 1);
    if (kind == v1::MIRROR) {
      for (const std::string& chunk : chunks_) {
        if (!is_withdrawn(chunk)) turn->add_confirmed_words(chunk);
      }
      chunks_.clear();
    }
    if (!reflection_.empty() && !is_withdrawn(reflection_)) turn->add_confirmed_reflections(reflection_);
    reflection_.clear();
  }

  void accept(std::uint64_t seq) {
    for (const v1::Event& proposal : proposals_) {
      if (proposal.seq() != seq || is_withdrawn(proposal.proposed().text())) continue;
      auto* agreement = summary_.add_agreements();
      agreement->set_proposed_by(proposal.actor().role());
      agreement->set_text(proposal.proposed().text());
    }
  }

  v1::ConversationSummary summary_;
  v1::Template tmpl_;
  std::uint32_t stage_index_ = 0;
  std::vector<std::string> chunks_;  // the turn's chunks awaiting a confirmed mirror
  std::string reflection_;           // the listener's latest reflection
  std::vector<v1::Event> proposals_;
};

}  // namespace

v1::ConversationSummary summarize(const std::vector<v1::Event>& events) {
  SummaryBuilder builder;
  for (const v1::Event& event : events) builder.apply(event);
  return builder.take();
}

v1::Insights project(const std::vector<v1::Event>& events) {
  RoomState state;
  InsightsProjection projection;
  for (const v1::Event& event : events) {
    evolve(state, event);
    projection.apply(event, state);
  }
  return projection.insights();
}

void add_refusals(v1::Insights& insights, v1::Role partner, v1::RejectionCode code, std::uint32_t count) {
  v1::PartnerInsights* p = partner_of(insights, partner);
  if (p == nullptr || count == 0) return;
  add_count(*p->mutable_refusals(), code, count, [](const v1::RefusalCount& c) { return c.code(); },
            [](v1::RefusalCount& c, v1::RejectionCode k) { c.set_code(k); });
}

}  // namespace mend::engine
