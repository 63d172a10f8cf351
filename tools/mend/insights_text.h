// What `mend insights` and `mend summary` print, as pure functions of the server's answers
// (issue 14).
// Thread safety: pure functions, safe from any thread.
#pragma once

#include "mend/proto.h"

#include <string>

namespace mend::cli {

// The insights as plain-text tables: the conversation, the two partners side by side (floor
// time, turns, shares, words, mirrors, reflections, signals, repairs, pauses, time-outs,
// refusals by code), the shares with their mirror rounds, the turn reflections, the pauses and
// time-outs, and the phase timeline. Durations in words ("90 s", "2 min").
std::string render_insights(const v1::Insights& insights);

// The summary for people: each turn's confirmed words and reflections, the agreements and the
// appreciations, with the partners' names.
std::string render_summary(const v1::ConversationSummary& summary);

}  // namespace mend::cli
