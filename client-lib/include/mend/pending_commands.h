// Bookkeeping of commands that were submitted and not yet answered by a CommandResult.
//
// Every command keeps its command_id for its whole life: after a reconnect the Client sends
// every pending command again, in submission order, with the SAME id, and the server answers a
// retried id with its original result without applying it twice (DESIGN 5). A result for an
// id that is no longer pending (a late duplicate) resolves nothing.
//
// Thread safety: not synchronized; the Client uses it from its own strand only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mend/backoff.h"
#include "mend/client_error.h"
#include "mend/proto.h"

namespace mend::client {

// How a command ended: the server's CommandResult (accepted or rejected), or an SDK error
// when no result can come any more (client stopped, terminal close, too many pending).
struct CommandOutcome {
  ClientError error;          // error.ok() when `result` holds the server's answer
  v1::CommandResult result;   // valid only when error.ok()

  bool accepted() const { return error.ok() && result.accepted(); }
  // The rejection code, or REJECTION_CODE_UNSPECIFIED when accepted or on an SDK error.
  v1::RejectionCode rejection_code() const {
    return error.ok() && !result.accepted() ? result.rejection().code()
                                            : v1::REJECTION_CODE_UNSPECIFIED;
  }
};

using CommandCompletion = std::function<void(CommandOutcome)>;

// A random 128-bit command id as 32 lower-case hex characters.
std::string make_command_id(const RandomSource& random);

class PendingCommands {
 public:
  // `limit` bounds how many commands may wait at once.
  explicit PendingCommands(std::size_t limit) : limit_(limit) {}

  // Whether a command with `command_id` may be added now. Errors: kTooManyPending when `limit`
  // commands already wait; kInvalidArgument when the id is empty, over 64 bytes, or already
  // pending.
  ClientError admissible(const std::string& command_id) const;

  // Registers a command (its command_id must be set). Returns admissible()'s error, in which
  // case nothing is stored (`done` is dropped without being called).
  ClientError add(v1::Command command, CommandCompletion done);

  // Records one transmission of `command_id` (a first send or a retry).
  void record_send(const std::string& command_id);
  // How many times `command_id` was sent; 0 for an unknown id.
  std::uint32_t sends(const std::string& command_id) const;

  // The pending commands, oldest first: what to (re)send after a new Welcome.
  std::vector<const v1::Command*> in_order() const;

  // Removes `command_id` and hands back its completion; nullopt when the id is not pending.
  std::optional<CommandCompletion> resolve(const std::string& command_id);

  // Removes every pending command and hands back their completions, oldest first.
  std::vector<CommandCompletion> take_all();

  std::size_t size() const { return by_id_.size(); }
  bool empty() const { return by_id_.empty(); }

 private:
  struct Entry {
    v1::Command command;
    CommandCompletion done;
    std::uint32_t sends = 0;
  };
  std::size_t limit_;
  std::uint64_t next_order_ = 0;
  std::map<std::uint64_t, Entry> by_order_;
  std::unordered_map<std::string, std::uint64_t> by_id_;
};

}  // namespace mend::client
