#include "server/engine/timing.h"

#include <algorithm>

namespace mend::engine {

v1::Timing with_defaults(const v1::Timing& timing) {
  using namespace limits;
  v1::Timing out = timing;
  out.set_reflection_beat_ms(or_default(kReflectionBeatMs, timing.reflection_beat_ms()));
  out.set_pause_default_s(or_default(kPauseDefaultS, timing.pause_default_s()));
  out.set_pause_max_s(or_default(kPauseMaxS, timing.pause_max_s()));
  out.set_time_out_min_s(std::max(kTimeOutMinS.floor, timing.time_out_min_s()));
  out.set_time_out_default_s(timing.time_out_default_s() != 0 ? timing.time_out_default_s()
                                                              : out.time_out_min_s());
  out.set_time_out_cap_s(or_default(kTimeOutCapS, timing.time_out_cap_s()));
  out.set_appointment_window_s(or_default(kAppointmentWindowS, timing.appointment_window_s()));
  out.set_consult_break_default_s(
      or_default(kConsultBreakDefaultS, timing.consult_break_default_s()));
  out.set_consult_break_max_s(or_default(kConsultBreakMaxS, timing.consult_break_max_s()));
  return out;
}

ResolvedTiming resolve_timing(const v1::Timing& timing) {
  using namespace limits;
  const v1::Timing t = with_defaults(timing);
  ResolvedTiming r;
  r.reflection_beat_ms = resolve(kReflectionBeatMs, t.reflection_beat_ms());
  r.pause_max_s = resolve(kPauseMaxS, t.pause_max_s());
  r.pause_default_s = std::min(resolve(kPauseDefaultS, t.pause_default_s()), r.pause_max_s);
  r.time_out_cap_s = resolve(kTimeOutCapS, t.time_out_cap_s());
  r.time_out_min_s = resolve(kTimeOutMinS, t.time_out_min_s());
  r.time_out_default_s = std::min(std::max(resolve(kTimeOutDefaultS, t.time_out_default_s()),
                                           r.time_out_min_s),
                                  r.time_out_cap_s);
  r.appointment_window_s = resolve(kAppointmentWindowS, t.appointment_window_s());
  r.consult_break_max_s = resolve(kConsultBreakMaxS, t.consult_break_max_s());
  r.consult_break_default_s =
      std::min(resolve(kConsultBreakDefaultS, t.consult_break_default_s()), r.consult_break_max_s);
  return r;
}

std::uint32_t chunk_max_chars(const v1::Stage& stage) {
  return resolve(limits::kChunkMaxChars, stage.chunk_max_chars());
}

}  // namespace mend::engine
