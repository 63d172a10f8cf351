// Invariants that must hold in every build: MEND_INVARIANT(condition, "what") is checked in
// release builds too (unlike assert, which NDEBUG removes).
//
// A broken invariant throws InvariantViolation, whose what() is the literal `what` and the
// source place: never a value of the room (no text, name, topic or token can reach it, since
// `what` must be a string literal). Throwing, not aborting, lets the caller contain a bug to
// one room: the room host answers the command INTERNAL with nothing applied when decide
// breaks one, instead of ending every conversation of the process. Where nobody catches it
// (an Asio handler), it ends the process like an abort would.
//
// Thread-safe; no state.
#pragma once

#include <stdexcept>

namespace mend::engine {

class InvariantViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Throws InvariantViolation("<what> (<file>:<line>)").
[[noreturn]] void invariant_failed(const char* what, const char* file, int line);

}  // namespace mend::engine

// `what` names the invariant ("evolve: event seq is last_seq + 1"); a string literal only.
#define MEND_INVARIANT(condition, what)                                   \
  do {                                                                    \
    if (!(condition)) [[unlikely]] {                                      \
      ::mend::engine::invariant_failed("" what, __FILE__, __LINE__);      \
    }                                                                     \
  } while (false)
