// Events of a mend room in plain, warm words for the CLI transcript: "[12] Sam: ...",
// "[13] Alex mirrored: ...", "Sam needs a minute (until 18:32).".
//
// EventRenderer remembers what later events refer to (the template from RoomCreated for stage
// titles). It performs no I/O; the session prints what it returns.
// Thread safety: not thread-safe; use one renderer from one thread (the client's handler
// thread).
#pragma once

#include "mend/proto.h"

#include <optional>
#include <string>
#include <vector>

namespace mend::cli {

class EventRenderer {
 public:
  // `utc_offset_s`: the local UTC offset for clock times in the text.
  explicit EventRenderer(int utc_offset_s) : utc_offset_s_(utc_offset_s) {}

  // The lines to show for `event`, given the recipient's view after it (names, who "you"
  // are). Content events carry their seq in brackets so /retract, /decline and /accept can
  // name them. Returns no lines for events with nothing to show.
  std::vector<std::string> render(const v1::Event& event, const v1::RoomView& view);

  // Forgets what was remembered (after the SDK's on_reset).
  void reset() { template_.reset(); }

 private:
  std::string stage_title(std::uint32_t index) const;

  int utc_offset_s_;
  std::optional<v1::Template> template_;
};

// Plain words for a signal ("I'm listening.") and a repair attempt ("Can I take that back?").
std::string signal_words(v1::SignalKind kind);
std::string repair_words(v1::RepairKind kind);
// The verb of a reflection: "mirrored", "summed up", "validated", "empathized".
std::string reflection_verb(v1::ReflectionKind kind);
// "Hint: <message>" for an advisory hint on what was just sent.
std::string describe_hint(const v1::Hint& hint);

}  // namespace mend::cli
