#include "mend/event_sequencer.h"

namespace mend::client {

EventSequencer::WelcomeOutcome EventSequencer::on_welcome(std::uint64_t epoch, bool recovered,
                                                          std::uint64_t view_last_seq) {
  epoch_ = epoch;
  if (recovered) return WelcomeOutcome::kResume;
  last_delivered_ = view_last_seq;
  return WelcomeOutcome::kReset;
}

bool EventSequencer::accept(std::uint64_t seq) {
  if (seq == 0 || seq <= last_delivered_) return false;
  last_delivered_ = seq;
  return true;
}

}  // namespace mend::client
