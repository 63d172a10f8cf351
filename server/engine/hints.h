// Advisory hints for softened start-up (Gottman; NVC), returned with accepted open, share
// and still_need commands. Never blocking; pure and thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "mend/v1/conversation.pb.h"

namespace mend::engine {

// Appends to `hints` one hint per rule that `text` triggers and `hints` does not hold yet
// (case-insensitive): "you always"/"you never" -> ALWAYS_NEVER; "i feel that"/"i feel like"
// -> FEEL_THAT; text starting with "you " -> YOU_STATEMENT; when `feelings_stage`, text
// containing "because" -> FEELING_BECAUSE.
void add_hints(std::string_view text, bool feelings_stage, std::vector<v1::Hint>& hints);

}  // namespace mend::engine
