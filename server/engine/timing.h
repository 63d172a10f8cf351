// Resolved timings of a template: the defaults and hard bounds of limits.h applied once
// (template.proto `Timing`: 0 means "the default").
//
// Pure functions of their arguments; thread-safe. Templates are validated elsewhere
// (templates.h); these functions never fail: out-of-range values are clamped to the hard
// bounds, so the engine stays within them even for an unvalidated template.
#pragma once

#include <cstdint>

#include "mend/v1/template.pb.h"
#include "server/engine/limits.h"

namespace mend::engine {

// Every value of `Timing` with its default applied. Plain data.
struct ResolvedTiming {
  std::uint32_t reflection_beat_ms = limits::kReflectionBeatMs.default_value;
  std::uint32_t pause_default_s = limits::kPauseDefaultS.default_value;
  std::uint32_t pause_max_s = limits::kPauseMaxS.default_value;
  std::uint32_t time_out_min_s = limits::kTimeOutMinS.default_value;
  std::uint32_t time_out_default_s = limits::kTimeOutDefaultS.default_value;
  std::uint32_t time_out_cap_s = limits::kTimeOutCapS.default_value;
  std::uint32_t appointment_window_s = limits::kAppointmentWindowS.default_value;
  std::uint32_t consult_break_default_s = limits::kConsultBreakDefaultS.default_value;
  std::uint32_t consult_break_max_s = limits::kConsultBreakMaxS.default_value;

  bool operator==(const ResolvedTiming&) const = default;
};

// Every value with its default (0 -> default) but not clamped, the time-out default being the
// effective minimum: what validation compares (templates.cpp).
v1::Timing with_defaults(const v1::Timing& timing);

// with_defaults, then clamped into the table's [floor, bound]; a default above its maximum is
// lowered to the maximum, and the time-out default lies within [minimum, cap] unless the cap
// is below the minimum (never in a valid template), when it equals the cap.
ResolvedTiming resolve_timing(const v1::Timing& timing);

// The chunk limit of a stage in characters (UTF-8 code points): limits::kChunkMaxChars
// resolved.
std::uint32_t chunk_max_chars(const v1::Stage& stage);

}  // namespace mend::engine
