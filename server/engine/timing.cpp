#include "server/engine/timing.h"

#include <algorithm>

namespace mend::engine {
namespace {

std::uint32_t or_default(std::uint32_t value, std::uint32_t fallback) {
  return value == 0 ? fallback : value;
}

}  // namespace

ResolvedTiming resolve_timing(const v1::Timing& timing) {
  ResolvedTiming r;
  r.reflection_beat_ms = std::min(or_default(timing.reflection_beat_ms(), 2000), kReflectionBeatMaxMs);
  r.pause_max_s = std::min(or_default(timing.pause_max_s(), 600), kPauseMaxHardS);
  r.pause_default_s = std::min(or_default(timing.pause_default_s(), 120), r.pause_max_s);
  r.time_out_cap_s = std::min(or_default(timing.time_out_cap_s(), kTimeOutHardCapS), kTimeOutHardCapS);
  r.time_out_min_s = std::max(or_default(timing.time_out_min_s(), kTimeOutFloorS), kTimeOutFloorS);
  r.time_out_default_s = std::max(or_default(timing.time_out_default_s(), r.time_out_min_s),
                                  r.time_out_min_s);
  r.time_out_default_s = std::min(r.time_out_default_s, r.time_out_cap_s);
  r.appointment_window_s = or_default(timing.appointment_window_s(), 86'400);
  r.consult_break_max_s = or_default(timing.consult_break_max_s(), 1800);
  r.consult_break_default_s =
      std::min(or_default(timing.consult_break_default_s(), 300), r.consult_break_max_s);
  return r;
}

std::uint32_t chunk_max_chars(const v1::Stage& stage) {
  return std::min(or_default(stage.chunk_max_chars(), kChunkMaxCharsDefault), kChunkMaxCharsHard);
}

}  // namespace mend::engine
