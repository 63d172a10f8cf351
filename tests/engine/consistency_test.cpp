// view.allowed_actions equals what decide accepts, on random walks through the engine;
// replaying each walk's events rebuilds an equal state.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>

#include <google/protobuf/util/message_differencer.h>

#include "server/engine/checks.h"
#include "server/engine/limits.h"
#include "server/engine/view_parts.h"
#include "tests/engine/room_fixture.h"

namespace mend::engine::testing {
namespace {

struct Candidate {
  v1::Action action;
  std::string text;
};

// The seqs worth trying for an action on one of the state's lists: its last few entries and,
// for each partner, the latest entry that partner may act on (the view lists the action when
// some seq passes), so a full list costs no more than a short one.
template <typename T>
std::set<std::uint64_t> seqs_to_try(const std::vector<T>& items, bool (*may)(const T&, v1::Role)) {
  std::set<std::uint64_t> seqs;
  for (auto it = items.rbegin(); it != items.rend() && seqs.size() < 4; ++it) seqs.insert(it->seq);
  for (const v1::Role role : {v1::PARTNER_A, v1::PARTNER_B}) {
    const auto it = std::find_if(items.rbegin(), items.rend(),
                                 [&](const T& item) { return may(item, role); });
    if (it != items.rend()) seqs.insert(it->seq);
  }
  return seqs;
}

// Commands with plausible arguments for the current state (every action at least once).
std::vector<Candidate> candidates(const RoomState& s, TimeMs now) {
  const std::string t = std::to_string(now + 60'000);
  std::vector<Candidate> c = {
      {v1::ACTION_ACCEPT_INVITATION, "accept_invitation {}"},
      {v1::ACTION_PROPOSE_TIME, "propose_time { start_at_ms: " + t + " }"},
      {v1::ACTION_CONSENT, R"(consent { terms { observers: "dr-lee" retention_days: 9 } })"},
      {v1::ACTION_CONSENT, "consent { terms {} }"},
      {v1::ACTION_JOIN, "join {}"},
      {v1::ACTION_OPEN, R"(open { intention: "i" topic: "t" })"},
      {v1::ACTION_SHARE, R"(share { text: "s" })"},
      {v1::ACTION_CONFIRM, "confirm {}"},
      {v1::ACTION_CORRECT, R"(correct { text: "c" })"},
      {v1::ACTION_MORE, "more {}"},
      {v1::ACTION_NO_MORE, "no_more {}"},
      {v1::ACTION_PASS_FLOOR, "pass_floor {}"},
      {v1::ACTION_ACCEPT_APOLOGY, "accept_apology {}"},
      {v1::ACTION_STILL_NEED, R"(still_need { text: "n" })"},
      {v1::ACTION_ASK, R"(ask { text: "q" })"},
      {v1::ACTION_REQUEST_ADVICE, "request_advice {}"},
      {v1::ACTION_ADVISE, R"(advise { text: "a" })"},
      {v1::ACTION_MOVE_ON, "move_on {}"},
      {v1::ACTION_UNDERSTOOD, "understood {}"},
      {v1::ACTION_FEEL_UNDERSTOOD, "feel_understood {}"},
      {v1::ACTION_PROBLEM_SOLVING_CHOICE, "problem_solving_choice { opt_in: true }"},
      {v1::ACTION_PROBLEM_SOLVING_CHOICE, "problem_solving_choice { opt_in: false }"},
      {v1::ACTION_PROPOSE, R"(propose { text: "p" })"},
      {v1::ACTION_FINISH_PROBLEM_SOLVING, "finish_problem_solving {}"},
      {v1::ACTION_APPRECIATE, R"(appreciate { text: "thanks" })"},
      {v1::ACTION_FINISH, "finish {}"},
      {v1::ACTION_SIGNAL, "signal { kind: LISTENING }"},
      {v1::ACTION_REPAIR, "repair { kind: LET_ME_TRY_AGAIN }"},
      {v1::ACTION_PAUSE, "pause {}"},
      {v1::ACTION_TIME_OUT, "time_out {}"},
      {v1::ACTION_RETURN, "return {}"},
      {v1::ACTION_EXTEND,
       "extend { return_at_ms: " + std::to_string(s.overlay.cap_at_ms) + " }"},
      {v1::ACTION_READY, "ready {}"},
      {v1::ACTION_RESCHEDULE, "reschedule { start_at_ms: " + t + " }"},
      {v1::ACTION_LEAVE, "leave {}"},
      {v1::ACTION_NOTE, R"(note { text: "n" })"},
      {v1::ACTION_PROMPT, R"(prompt { text: "p" })"},
      {v1::ACTION_CONSULT_BREAK, "consult_break {}"},
      {v1::ACTION_END_SESSION, "end_session {}"},
  };
  for (const char* kind : {"MIRROR", "SUMMARY", "VALIDATION", "EMPATHY"}) {
    c.push_back({v1::ACTION_REFLECT, std::string("reflect { kind: ") + kind + " text: \"r\" }"});
  }
  for (const ObserverState& o : s.observers) {
    c.push_back({v1::ACTION_APPROVE_OBSERVER, "approve_observer { observer: \"" + o.name + "\" }"});
    c.push_back({v1::ACTION_REVOKE_OBSERVER, "revoke_observer { observer: \"" + o.name + "\" }"});
  }
  for (const std::uint64_t seq : seqs_to_try(s.messages, detail::may_retract)) {
    c.push_back({v1::ACTION_RETRACT, "retract { seq: " + std::to_string(seq) + " }"});
  }
  for (const std::uint64_t seq : seqs_to_try(s.requests, detail::may_decline)) {
    c.push_back({v1::ACTION_DECLINE, "decline { seq: " + std::to_string(seq) + " }"});
  }
  for (const std::uint64_t seq : seqs_to_try(s.requests, detail::may_accept_proposal)) {
    c.push_back({v1::ACTION_ACCEPT_PROPOSAL, "accept_proposal { seq: " + std::to_string(seq) + " }"});
  }
  return c;
}

// Commands that move the conversation on are picked more often than always-available ones.
int weight(v1::Action a) {
  switch (a) {
    case v1::ACTION_SIGNAL: case v1::ACTION_REPAIR: case v1::ACTION_RETRACT:
    case v1::ACTION_NOTE: case v1::ACTION_APPROVE_OBSERVER: case v1::ACTION_REVOKE_OBSERVER:
    case v1::ACTION_CONSENT: case v1::ACTION_PROMPT: case v1::ACTION_DECLINE:
    case v1::ACTION_PAUSE: case v1::ACTION_EXTEND: case v1::ACTION_RESCHEDULE:
    case v1::ACTION_PROPOSE: case v1::ACTION_ASK: case v1::ACTION_PASS_FLOOR:
      return 1;
    case v1::ACTION_LEAVE: case v1::ACTION_END_SESSION:
      return 0;
    default:
      return 8;
  }
}

bool rare(v1::Action a) {
  return a == v1::ACTION_LEAVE || a == v1::ACTION_END_SESSION ||
         a == v1::ACTION_TIME_OUT || a == v1::ACTION_CONSULT_BREAK;
}

const v1::Actor kActors[] = {partner_a(), partner_b(), observer("dr-lee"), observer("dr-kim")};

// view_parts.h's contract: the shared part and the viewer's own part, encoded one after the
// other, parse as the whole view (a waiting observer's view is built whole).
bool parts_parse_as_view(const RoomState& state, const v1::Actor& who) {
  if (!view_is_shared(state, who)) return true;
  v1::RoomView shared, own, merged;
  view_shared_into(state, shared);
  view_own_into(state, who, own);
  if (!merged.ParseFromString(shared.SerializeAsString() + own.SerializeAsString())) return false;
  return google::protobuf::util::MessageDifferencer::Equals(merged, view(state, who));
}

// view_parts.h's SharedTexts: texts kept from an earlier state that are the same as this
// state's (same_as) encode as this state's texts; once assigned this state's, they are the same.
bool kept_texts_follow(const RoomState& state, SharedTexts& kept) {
  auto encoded = [](const SharedTexts& texts) {
    v1::RoomView view;
    view_shared_texts_into(texts, view);
    return view.SerializeAsString();
  };
  if (kept.same_as(state)) return encoded(kept) == encoded(SharedTexts::of(state));
  kept.assign(state);
  return kept.same_as(state);
}

// What the walks find wrong about gate in one state for one actor, by action name.
struct GateMisfits {
  std::string forms_differ;  // gate_refuses(a) != gate(a).has_value()
  std::string left_out;      // gate lets `a` pass, actions_gate_may_pass leaves it out
};

// Asks gate about every action (gate reads no arguments), in both forms, and the table.
GateMisfits gate_misfits(const detail::Ctx& ctx) {
  GateMisfits misfits;
  const detail::ActionSet possible = detail::actions_gate_may_pass(ctx.state.phase,
                                                                   detail::seat(ctx));
  for (std::size_t i = 0; i < detail::kAllActions.size(); ++i) {
    const v1::Action action = detail::kAllActions[i];
    const bool refused = detail::gate_refuses(action, ctx);
    if (refused != detail::gate(action, ctx).has_value()) {
      misfits.forms_differ += v1::Action_Name(action) + " ";
    }
    if (!refused && ((possible >> i) & 1U) == 0) misfits.left_out += v1::Action_Name(action) + " ";
  }
  return misfits;
}

using PhaseAndSeat = std::pair<v1::Phase, detail::Seat>;

// One random walk of up to `steps` steps from `room`'s state: at every step, each actor's
// allowed actions must equal what decide accepts (and its view built in parts must be its
// view); at the end, replaying the walk's events rebuilds an equal state. Returns the number of (state, actor) pairs checked.
int walk(Room& room, int steps, std::mt19937& rng, std::set<v1::Phase>& phases,
         std::set<v1::RejectionCode>& refusals, std::set<PhaseAndSeat>& seats) {
  int checked_states = 0;
  SharedTexts kept;
  for (int step = 0; step < steps && room.state.phase != v1::PHASE_CLOSED; ++step) {
    phases.insert(room.state.phase);
    CHECK(kept_texts_follow(room.state, kept));
    const auto pool = candidates(room.state, room.now);
    std::vector<std::pair<v1::Actor, const Candidate*>> accepted;
    for (const v1::Actor& who : kActors) {
      std::set<v1::Action> by_decide;
      for (const Candidate& cand : pool) {
        Decision d = decide(room.state, parse_command(cand.text), who, room.now);
        const bool ok = d.accepted() || d.rejection->code() == v1::TOO_SOON;
        if (ok) by_decide.insert(cand.action);
        if (d.accepted()) accepted.emplace_back(who, &cand);
        if (!d.accepted()) refusals.insert(d.rejection->code());
      }
      INFO("step ", step, " phase ", v1::Phase_Name(room.state.phase), " actor ",
           who.ShortDebugString());
      const detail::Ctx ctx = detail::make_ctx(room.state, who, 0);
      const GateMisfits misfits = gate_misfits(ctx);
      // The view's form of gate (only whether) and decide's (with the refusal) are one rule.
      CHECK(misfits.forms_differ == "");
      // The table of actions gate may let pass by phase and seat (views ask gate only about
      // those) leaves out no action that gate lets pass.
      CHECK(misfits.left_out == "");
      seats.insert({room.state.phase, detail::seat(ctx)});
      const auto listed = room.allowed(who);
      const std::set<v1::Action> by_view(listed.begin(), listed.end());
      CHECK(by_view == by_decide);
      CHECK(parts_parse_as_view(room.state, who));
      ++checked_states;
    }
    if (accepted.empty()) {
      room.advance_s(60);
      continue;
    }
    std::vector<int> weights;
    for (const auto& [who, cand] : accepted) weights.push_back(weight(cand->action));
    auto pick = accepted[std::discrete_distribution<std::size_t>(weights.begin(), weights.end())(rng)];
    if (rare(pick.second->action) && rng() % 8 != 0) {
      room.advance_s(static_cast<TimeMs>(rng() % 5));
      continue;
    }
    const std::uint64_t last_seq = room.events.empty() ? 0 : room.events.back().seq();
    room.run(pick.first, pick.second->text);
    // The list bounds refuse by action (carries_text, adds_request): those lists must name
    // exactly the actions whose events add to state.messages and state.requests.
    const auto added = [last_seq](const auto& items) {
      return std::any_of(items.begin(), items.end(),
                         [&](const auto& item) { return item.seq > last_seq; });
    };
    INFO("accepted ", v1::Action_Name(pick.second->action));
    CHECK(added(room.state.messages) == carries_text(pick.second->action));
    CHECK(added(room.state.requests) == detail::adds_request(pick.second->action));
    // Bounded per-room memory: no accepted command grows a list past its bound.
    CHECK(room.state.messages.size() <= limits::kConversationMessages.bound);
    CHECK(room.state.requests.size() <= limits::kConversationMessages.bound);
    const auto jump = rng() % 40;
    room.advance_s(jump < 30 ? static_cast<TimeMs>(jump % 4) : jump < 39 ? 700 : 30 * 3600);
  }
  if (room.state.phase == v1::PHASE_CLOSED) {
    for (const v1::Actor& who : kActors) {
      const detail::Ctx ctx = detail::make_ctx(room.state, who, 0);
      INFO("closed, actor ", who.ShortDebugString());
      const GateMisfits misfits = gate_misfits(ctx);
      CHECK(misfits.forms_differ == "");
      CHECK(misfits.left_out == "");
      seats.insert({room.state.phase, detail::seat(ctx)});
    }
  }
  RoomState replayed;
  for (const v1::Event& e : room.events) evolve(replayed, e);
  CHECK(replayed == room.state);
  return checked_states;
}

TEST_CASE("allowed actions in the view are exactly the actions decide accepts") {
  std::mt19937 rng(20240501);
  const char* const templates[] = {kImagoLike, kAppointmentSpeakerListener, kAftermathLike,
                                   kFloorSpeakerListener};
  int checked_states = 0;
  std::set<v1::Phase> phases;
  std::set<v1::RejectionCode> refusals;
  std::set<PhaseAndSeat> seats;
  for (int w = 0; w < 48; ++w) {
    INFO("walk ", w);
    Room room(templates[w % 4]);
    checked_states += walk(room, 150, rng, phases, refusals, seats);
  }
  CHECK(checked_states > 1000);
  std::string names;
  for (auto p : phases) names += v1::Phase_Name(p) + " ";
  std::string unseen;  // (phase, seat) pairs whose row of the table no walk checked
  for (int p = v1::Phase_MIN + 1; p <= v1::Phase_MAX; ++p) {
    const std::pair<detail::Seat, const char*> named[] = {
        {detail::Seat::kSpeaker, "speaker"}, {detail::Seat::kOtherPartner, "other partner"},
        {detail::Seat::kObserver, "observer"}};
    for (const auto& [seat, name] : named) {
      if (seats.count({static_cast<v1::Phase>(p), seat}) == 0) {
        unseen += v1::Phase_Name(static_cast<v1::Phase>(p)) + "/" + name + " ";
      }
    }
  }
  MESSAGE("phases visited: ", names, ", states checked: ", checked_states,
          ", (phase, seat) pairs not reached: ", unseen);
  CHECK(phases.size() >= 18);
}

TEST_CASE("allowed actions are exactly the actions decide accepts in a conversation whose lists are full") {
  std::mt19937 rng(20261205);
  std::set<v1::Phase> phases;
  std::set<v1::RejectionCode> refusals;
  std::set<PhaseAndSeat> seats;
  int checked_states = 0;
  for (int w = 0; w < 4; ++w) {
    INFO("walk ", w);
    const bool messages = w % 2 == 0;
    Room room(messages ? kAftermathLike : kAppointmentSpeakerListener);
    if (messages) {
      fill_messages(room);
    } else {
      fill_requests(room);
    }
    checked_states += walk(room, 50, rng, phases, refusals, seats);
  }
  CHECK(refusals.count(v1::CONVERSATION_FULL) == 1);
  CHECK(checked_states > 100);
}

}  // namespace
}  // namespace mend::engine::testing
