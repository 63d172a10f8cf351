// What one typed line means in `mend join`: a plain line does the obvious allowed action of
// the current step (share, reflect, open, ...); a line starting with '/' is a slash command
// ("/pause 2m", "/confirm", "/signal overwhelmed", ...). The result is a v1::Command to send,
// or something local (help, quit, reconnect), or a plain-words explanation of what was wrong.
//
// Pure: the caller passes the latest view and the server's "now"; nothing is sent here.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include "mend/proto.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace mend::cli {

struct LineContext {
  const v1::RoomView* view = nullptr;  // the latest view; nullptr before the first Welcome
  std::int64_t now_ms = 0;             // the server's clock (estimated), ms since the epoch
  int utc_offset_s = 0;                // local offset for clock times such as "18:30"
};

struct LineAction {
  enum class Kind {
    kNothing,    // an empty line
    kSend,       // send `command`; `message` says in plain words what it does
    kHelp,       // show the help text
    kStatus,     // show the status block again
    kQuit,       // leave the CLI (the conversation goes on)
    kReconnect,  // drop the connection and resume (if things look stuck)
    kMessage,    // show `message` (a usage error or why nothing can be sent now)
  };
  Kind kind = Kind::kNothing;
  v1::Command command;  // kSend: the command, without command_id
  std::string message;
};

// Interprets one typed line (without its newline).
LineAction interpret_line(std::string_view line, const LineContext& context);

// The /help text: every slash command with a short plain explanation.
std::string help_text(bool observer);

}  // namespace mend::cli
