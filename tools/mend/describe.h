// Plain words for what a participant sees in the mend CLI: who is who, whose turn it is, what
// this participant may do now (from RoomView.allowed_actions), countdowns, rejections.
//
// Pure functions of a RoomView and the times passed in; no I/O. Wording is warm and plain and
// never blames (PROTOCOLS.md). Message texts of the conversation never appear here.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include "mend/proto.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mend::cli {

// The partner's name from the view ("Partner A" / "Partner B" when the room has none).
std::string partner_name(const v1::RoomView& view, v1::Role role);
// A partner's name, "NAME (observer)" for an observer, "mend" for SYSTEM.
std::string actor_name(const v1::RoomView& view, const v1::Actor& actor);
// The other partner of `role` (PARTNER_A <-> PARTNER_B); ROLE_UNSPECIFIED otherwise.
v1::Role other_partner(v1::Role role);
bool is_partner(v1::Role role);

// Whether `action` is in view.allowed_actions.
bool allows(const v1::RoomView& view, v1::Action action);

// The action a plain typed line performs now (share, reflect, open, ask, advise, propose,
// appreciate, note), or nullopt when typing text does nothing in this step.
std::optional<v1::Action> typed_action(const v1::RoomView& view);

// How one allowed action is done, in plain words with its command, e.g.
// "/confirm if Alex got it". Empty for actions that are described only in /help.
std::string describe_action(const v1::RoomView& view, v1::Action action);

// What this participant may do now: the typed action first, then the step's commands, each
// as describe_action words. Always-available actions (signals, repairs, pauses, time-outs,
// leaving, taking back) are left to /help.
std::vector<std::string> describe_allowed_actions(const v1::RoomView& view);

// Where the conversation is and whose turn it is, e.g. "Sharing and mirroring: Alex mirrors
// what Sam said". `server_now_ms` is the server's clock (for countdowns), `utc_offset_s` the
// local offset for clock times.
std::string describe_situation(const v1::RoomView& view, std::int64_t server_now_ms,
                               int utc_offset_s);

// The countdown of the active pause, time-out, break, appointment or check-in, e.g.
// "Pause: 1:42 left", or nullopt when no deadline applies now.
std::optional<std::string> describe_countdown(const v1::RoomView& view,
                                              std::int64_t server_now_ms, int utc_offset_s);

// The status block shown when the situation changes: situation, then "You may: ..." lines.
// Stable for equal inputs (the session prints it again only when it changed).
std::vector<std::string> status_block(const v1::RoomView& view, std::int64_t server_now_ms,
                                      int utc_offset_s);

// The softened start-up lines as one sentence, leaving out empty parts:
// "I feel lonely about our evenings and I need time together."
std::string startup_words(const v1::Startup& startup);

// What the conversation is about, from the view: the topic, the intention and the softened
// start-up lines ("I feel ... about ... and I need ..."), each line only when present.
std::vector<std::string> describe_opening(const v1::RoomView& view);

// "Not accepted: <the rule, in the server's words> [NOT_YOUR_TURN]".
std::string describe_rejection(const v1::Rejection& rejection);

// The stable name of a rejection code ("NOT_YOUR_TURN"), "UNKNOWN" for unknown values.
std::string rejection_code_name(v1::RejectionCode code);

}  // namespace mend::cli
