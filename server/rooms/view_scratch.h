// One reusable RoomView for encoding views, kept on a protobuf Arena (issue 12).
//
// A fan-out encodes one view per recipient. A RoomView on the heap deletes its sub-messages
// (`you`, the terms, each participant's actor) on Clear(), since proto3 message fields have no
// has-bit to keep them, so refilling it cost a malloc and a free per sub-message. On an arena,
// Clear() only forgets them and the next fill takes new ones from the arena: a pointer bump.
// Strings and repeated fields keep their capacity across Clear() either way. The arena starts
// on a block the scratch owns; when the forgotten sub-messages have used `reset_bytes` of it,
// append() resets the arena after its view is encoded and makes a new view (its strings then
// allocate once more), so the scratch never holds more than about one block and a view.
//
// Privacy: every append() clears the view before `fill` writes it, and only the view's own
// fields are serialized; sub-messages of earlier views stay in the arena unreachable until its
// reset. No byte of one append's view reaches another's output.
//
// Thread safety: none; use one scratch per thread (room_core.cpp holds one thread_local).
// Not reentrant: `fill` must not call append() on the same scratch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <google/protobuf/arena.h>

#include "mend/v1/conversation.pb.h"

namespace mend::rooms {

class ViewScratch {
 public:
  // The arena's first block; room for a few hundred views' sub-messages.
  static constexpr std::size_t kBlockBytes = 64 * 1024;

  // `reset_bytes`: the arena space in use past which append() resets it (at most the block,
  // so that the arena takes no other memory before its reset).
  explicit ViewScratch(std::size_t block_bytes = kBlockBytes,
                       std::size_t reset_bytes = kBlockBytes / 2)
      : block_(std::make_unique_for_overwrite<char[]>(block_bytes)),
        arena_(options(block_.get(), block_bytes)),
        reset_bytes_(reset_bytes),
        view_(new_view()) {}

  ViewScratch(const ViewScratch&) = delete;
  ViewScratch& operator=(const ViewScratch&) = delete;

  // Appends to `out` the encoding of the RoomView that `fill(v1::RoomView&)` writes into an
  // empty view.
  template <typename Fill>
  void append(std::string& out, Fill&& fill) {
    view_->Clear();
    fill(*view_);
    view_->AppendToString(&out);
    if (arena_.SpaceUsed() > reset_bytes_) {
      arena_.Reset();
      view_ = new_view();
      ++resets_;
    }
  }

  // How often the arena was reset (for tests).
  std::uint64_t resets() const { return resets_; }

 private:
  static google::protobuf::ArenaOptions options(char* block, std::size_t bytes) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = bytes;
    return options;
  }
  v1::RoomView* new_view() {
    return google::protobuf::Arena::CreateMessage<v1::RoomView>(&arena_);
  }

  std::unique_ptr<char[]> block_;  // declared before the arena that allocates from it
  google::protobuf::Arena arena_;
  const std::size_t reset_bytes_;
  v1::RoomView* view_;  // on arena_, replaced at each reset
  std::uint64_t resets_ = 0;
};

}  // namespace mend::rooms
