// Commands for the simulation: classification (content or not, which Action), canonical valid
// arguments derived from a view (to test allowed_actions), and random plausible and
// implausible commands (to test rejections).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mend/v1/conversation.pb.h"
#include "server/engine/engine.h"
#include "tests/sim/sim_rng.h"

namespace mend::sim {

using engine::TimeMs;

v1::Actor partner_a();
v1::Actor partner_b();
v1::Actor observer(const std::string& name);
std::string describe(const v1::Actor& actor);
// One line of text format; long texts are shortened so a failure report stays readable.
std::string describe(const v1::Command& command);
std::string describe(const v1::Event& event);

// The Action of a command's body case (Action values equal Command.body field numbers).
// ACTION_UNSPECIFIED for a command without a body.
v1::Action action_of(const v1::Command& command);
// A command whose body is the (empty) message of `action`.
v1::Command command_for(v1::Action action);
// Content commands of docs/engine-rules.md "Check order" item 4.
bool is_content(v1::Action action);
// Every Action value but ACTION_UNSPECIFIED, in enum order.
const std::vector<v1::Action>& all_actions();
bool is_overlay(v1::Phase phase);
// The stage round phases, SPEAKING..APOLOGY_RESPONSE.
bool is_stage_round(v1::Phase phase);

// The template's timings with the documented defaults filled in (template.proto Timing).
struct Limits {
  std::int64_t pause_default_s = 120;
  std::int64_t pause_max_s = 600;
  std::int64_t time_out_min_s = 1200;
  std::int64_t time_out_default_s = 1200;
  std::int64_t time_out_cap_s = 86400;
  std::int64_t appointment_window_s = 86400;
  std::int64_t consult_break_default_s = 300;
  std::int64_t consult_break_max_s = 1800;
};
Limits limits_of(const v1::Template& tmpl);

// What the room has seen so far, for arguments that reference seqs.
struct LogIndex {
  std::vector<std::uint64_t> content_seqs;  // retractable kinds of event, anyone's
  std::vector<std::uint64_t> request_seqs;  // TimeProposed, Proposed, Asked, AdviceRequested
  std::vector<std::uint64_t> proposal_seqs; // Proposed events
  std::uint64_t last_seq = 0;
  void add(const v1::Event& event);
};

// One way to run an action: a command and the time to run it at.
struct Candidate {
  v1::Command command;
  TimeMs at = 0;
};

// Argument sets for `action` such that, if any arguments make decide accept it for the
// view's owner now, one of these does (REFLECT runs at max(now, reflect_not_before_ms)).
std::vector<Candidate> canonical_candidates(v1::Action action, const v1::RoomView& view,
                                            const std::vector<std::string>& invited,
                                            const LogIndex& log, TimeMs now);

// Everything random_command needs to make plausible arguments.
struct CommandContext {
  TimeMs now = 0;
  const v1::RoomView* view = nullptr;  // the actor's view
  const Limits* limits = nullptr;
  const std::vector<std::string>* invited = nullptr;
  const LogIndex* log = nullptr;
};

// A random command of a random kind, with arguments drawn from valid, boundary and invalid
// values (empty/long/multibyte texts, bogus seqs, durations in and out of bounds, unknown
// enum values), sometimes with no body at all.
v1::Command random_command(Rng& rng, const CommandContext& context);

// A random valid variant of a canonical candidate: varied texts, seqs and in-bound durations.
Candidate vary_candidate(Rng& rng, Candidate candidate, const CommandContext& context);

}  // namespace mend::sim
