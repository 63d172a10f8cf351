// The one table of mend's limits: every bound a template, a command or a room creation request
// is held to, with the default that an unset (0) value means. Template validation
// (templates.cpp), timing resolution (timing.cpp), refusal messages (checks.cpp, rooms) and
// tests read it; no number of this table is written anywhere else (README lists it).
//
// Plain constants; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mend::engine {

struct Limit {
  std::string_view name;          // the field it bounds, as in the protos and docs
  std::uint32_t default_value;    // what 0 (unset) means; 0 when there is no default
  std::uint32_t floor;            // the least value accepted when set; 0 for none
  std::uint32_t bound;            // the hard bound: validation refuses more, resolution clamps
  std::string_view unit;          // "ms", "s", "bytes", "characters", "days", "" for a count
};

namespace limits {
// Template timing (template.proto `Timing`).
inline constexpr Limit kReflectionBeatMs{"timing.reflection_beat_ms", 2'000, 0, 60'000, "ms"};
inline constexpr Limit kPauseDefaultS{"timing.pause_default_s", 120, 0, 600, "s"};
inline constexpr Limit kPauseMaxS{"timing.pause_max_s", 600, 0, 600, "s"};
// A time-out never lasts less than 20 minutes (the time it takes to calm down) nor more than
// 24 hours; its default is the template's minimum.
inline constexpr Limit kTimeOutMinS{"timing.time_out_min_s", 1'200, 1'200, 86'400, "s"};
inline constexpr Limit kTimeOutDefaultS{"timing.time_out_default_s", 1'200, 1'200, 86'400, "s"};
inline constexpr Limit kTimeOutCapS{"timing.time_out_cap_s", 86'400, 0, 86'400, "s"};
inline constexpr Limit kAppointmentWindowS{"timing.appointment_window_s", 86'400, 0, 7 * 86'400, "s"};
inline constexpr Limit kConsultBreakDefaultS{"timing.consult_break_default_s", 300, 0, 3'600, "s"};
inline constexpr Limit kConsultBreakMaxS{"timing.consult_break_max_s", 1'800, 0, 3'600, "s"};
// Template structure and texts.
inline constexpr Limit kChunkMaxChars{"stages.chunk_max_chars", 1'000, 0, 16'000, "characters"};
inline constexpr Limit kSoftTurnS{"stages.soft_turn_s", 0, 0, 3'600, "s"};
inline constexpr Limit kStages{"stages", 0, 1, 32, ""};
inline constexpr Limit kListenerQuestions{"stages.listener_questions", 0, 0, 32, ""};
inline constexpr Limit kNameBytes{"name", 0, 1, 64, "bytes"};  // template and stage names
inline constexpr Limit kTitleBytes{"title", 0, 0, 200, "bytes"};
inline constexpr Limit kPromptBytes{"prompts", 0, 0, 4'000, "bytes"};
// Commands.
inline constexpr Limit kTextBytes{"command texts", 0, 0, 4'000, "bytes"};  // all but `share`
inline constexpr Limit kRetentionDays{"consent.terms.retention_days", 0, 0, 3'650, "days"};
// A conversation's messages (content events) and, apart, its requests: each list holds at most
// this many. Nothing is ever dropped (every message stays retractable and mirrorable): a command
// that would add one more entry is refused CONVERSATION_FULL.
inline constexpr Limit kConversationMessages{"conversation.messages", 5'000, 0, 5'000, ""};
// Rooms (server configuration, not templates). A loaded room keeps at least this many of its
// latest events in memory and fewer than twice as many; older ones are read from the store
// when a replay, a retraction or a whole-log operation needs them.
inline constexpr Limit kLogWindowEvents{"room.log_window_events", 4'096, 1, 65'536, ""};

inline constexpr std::array kAll{
    kReflectionBeatMs, kPauseDefaultS, kPauseMaxS, kTimeOutMinS, kTimeOutDefaultS, kTimeOutCapS,
    kAppointmentWindowS, kConsultBreakDefaultS, kConsultBreakMaxS, kChunkMaxChars, kSoftTurnS,
    kStages, kListenerQuestions, kNameBytes, kTitleBytes, kPromptBytes, kTextBytes,
    kRetentionDays, kConversationMessages, kLogWindowEvents};
}  // namespace limits

// `value`, or the limit's default when `value` is 0. Not clamped (validation compares it).
constexpr std::uint32_t or_default(const Limit& limit, std::uint32_t value) {
  return value == 0 ? limit.default_value : value;
}

// `value` with its default applied and clamped into [floor, bound].
constexpr std::uint32_t resolve(const Limit& limit, std::uint32_t value) {
  const std::uint32_t v = or_default(limit, value);
  return v < limit.floor ? limit.floor : v > limit.bound ? limit.bound : v;
}

// A duration for people: "20 minutes", "24 hours", "90 seconds", "1 minute".
std::string duration_text(std::uint32_t seconds);

// A count for people, with thousands separated: "5,000", "65,536", "12".
std::string count_text(std::uint32_t count);

}  // namespace mend::engine
