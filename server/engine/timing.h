// Resolved timings and limits of a template: the documented defaults of template.proto's
// `Timing` (0 means "the default") and its hard bounds, applied once.
//
// Pure functions of their arguments; thread-safe. Templates are validated elsewhere
// (templates.h); these functions never fail: out-of-range values are clamped to the hard
// bounds, so the engine stays within them even for an unvalidated template.
#pragma once

#include <cstdint>

#include "mend/v1/template.pb.h"

namespace mend::engine {

// Hard limits documented in template.proto, conversation.proto and docs/engine-rules.md.
inline constexpr std::uint32_t kReflectionBeatMaxMs = 60'000;
inline constexpr std::uint32_t kPauseMaxHardS = 600;
inline constexpr std::uint32_t kTimeOutFloorS = 1200;    // time-out minimum never below 20 min
inline constexpr std::uint32_t kTimeOutHardCapS = 86'400;  // episode never longer than 24 h
inline constexpr std::uint32_t kChunkMaxCharsDefault = 1000;
inline constexpr std::uint32_t kChunkMaxCharsHard = 16'000;
inline constexpr std::uint32_t kTextMaxBytes = 4000;     // every text but `share`
inline constexpr std::uint32_t kRetentionMaxDays = 3650;

// Every value of `Timing` with its default applied. Plain data.
struct ResolvedTiming {
  std::uint32_t reflection_beat_ms = 2000;
  std::uint32_t pause_default_s = 120;
  std::uint32_t pause_max_s = 600;
  std::uint32_t time_out_min_s = 1200;
  std::uint32_t time_out_default_s = 1200;
  std::uint32_t time_out_cap_s = 86'400;
  std::uint32_t appointment_window_s = 86'400;
  std::uint32_t consult_break_default_s = 300;
  std::uint32_t consult_break_max_s = 1800;

  bool operator==(const ResolvedTiming&) const = default;
};

// Applies the defaults (0 -> default) and the hard bounds: beat <= 60 s, pause max <= 600 s,
// time-out min >= 1200 s, time-out default = max(time_out_min, value or 1200),
// cap <= 86400 s; a default above its maximum is lowered to the maximum.
ResolvedTiming resolve_timing(const v1::Timing& timing);

// The chunk limit of a stage in characters (UTF-8 code points): 0 -> 1000, at most 16000.
std::uint32_t chunk_max_chars(const v1::Stage& stage);

}  // namespace mend::engine
