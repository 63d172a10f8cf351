#include "mend/pending_commands.h"

#include <array>
#include <utility>

namespace mend::client {

namespace {
constexpr std::size_t kMaxCommandIdBytes = 64;  // conversation.proto: command_id is 1..64 bytes
}

std::string make_command_id(const RandomSource& random) {
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string id;
  id.reserve(32);
  for (int word = 0; word < 2; ++word) {
    std::uint64_t bits = random();
    for (int nibble = 0; nibble < 16; ++nibble) {
      id.push_back(kHex[bits & 0xF]);
      bits >>= 4;
    }
  }
  return id;
}

ClientError PendingCommands::admissible(const std::string& id) const {
  if (id.empty() || id.size() > kMaxCommandIdBytes) {
    return {ErrorCode::kInvalidArgument, 0, 0, {}, "command_id must be 1 to 64 bytes"};
  }
  if (by_id_.contains(id)) {
    return {ErrorCode::kInvalidArgument, 0, 0, {}, "a command with this command_id is pending"};
  }
  if (by_id_.size() >= limit_) {
    return {ErrorCode::kTooManyPending, 0, 0, {}, "too many commands waiting for a result"};
  }
  return {};
}

ClientError PendingCommands::add(v1::Command command, CommandCompletion done) {
  const std::string id = command.command_id();
  if (ClientError error = admissible(id); !error.ok()) return error;
  const std::uint64_t order = next_order_++;
  by_id_.emplace(id, order);
  by_order_.emplace(order, Entry{std::move(command), std::move(done), 0});
  return {};
}

void PendingCommands::record_send(const std::string& command_id) {
  if (auto it = by_id_.find(command_id); it != by_id_.end()) ++by_order_.at(it->second).sends;
}

std::uint32_t PendingCommands::sends(const std::string& command_id) const {
  auto it = by_id_.find(command_id);
  return it == by_id_.end() ? 0 : by_order_.at(it->second).sends;
}

std::vector<const v1::Command*> PendingCommands::in_order() const {
  std::vector<const v1::Command*> commands;
  commands.reserve(by_order_.size());
  for (const auto& [order, entry] : by_order_) commands.push_back(&entry.command);
  return commands;
}

std::optional<CommandCompletion> PendingCommands::resolve(const std::string& command_id) {
  auto it = by_id_.find(command_id);
  if (it == by_id_.end()) return std::nullopt;
  auto node = by_order_.extract(it->second);
  by_id_.erase(it);
  return std::move(node.mapped().done);
}

std::vector<CommandCompletion> PendingCommands::take_all() {
  std::vector<CommandCompletion> all;
  all.reserve(by_order_.size());
  for (auto& [order, entry] : by_order_) all.push_back(std::move(entry.done));
  by_order_.clear();
  by_id_.clear();
  return all;
}

}  // namespace mend::client
