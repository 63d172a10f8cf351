// The queued writes of the durable stores (internal to server/store): one value per Store
// write call, queued for the store's writer thread, and their refusal before they ran.
// Thread safety: plain values.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "server/store/store.h"

namespace mend::store::ops {

struct AppendOp {
  AppendRequest request;
  AppendDone done;
};
struct DestroyOp {
  std::string room_id;
  std::vector<v1::AuditEntry> audit;  // committed with the key's deletion
  std::uint64_t lease_epoch = 0;      // fencing, as AppendRequest::lease_epoch
  StoreDone done;
};
struct RewriteOp {
  std::string room_id;
  std::vector<v1::Event> events;
  std::vector<v1::AuditEntry> audit;  // committed with the rewrite
  std::uint64_t lease_epoch = 0;      // fencing, as AppendRequest::lease_epoch
  StoreDone done;
};
struct AuditOp {
  std::string room_id;
  std::vector<v1::AuditEntry> entries;
  std::uint64_t lease_epoch = 0;  // fencing, as AppendRequest::lease_epoch
  StoreDone done;
};
struct RejectionOp {
  RecordedResult rejection;
  std::uint64_t lease_epoch = 0;  // fencing, as AppendRequest::lease_epoch
  StoreDone done;
};
struct RefusalsOp {
  std::string room_id;
  std::vector<RefusalCount> deltas;
  StoreDone done;
};
using WriteOp = std::variant<AppendOp, DestroyOp, RewriteOp, AuditOp, RejectionOp, RefusalsOp>;

// Completes a write that did not run (or failed) with `error`.
inline void complete(WriteOp& op, std::optional<StoreError> error) {
  std::visit([&](auto& queued) { queued.done(std::move(error)); }, op);
}

// The room a write is for.
inline const std::string& room_of(const WriteOp& op) {
  return std::visit(
      [](const auto& queued) -> const std::string& {
        using Op = std::decay_t<decltype(queued)>;
        if constexpr (std::is_same_v<Op, AppendOp>) {
          return queued.request.room_id;
        } else if constexpr (std::is_same_v<Op, RejectionOp>) {
          return queued.rejection.key.room_id;
        } else {
          return queued.room_id;
        }
      },
      op);
}

// Whether the write may share a group commit (a destroy commits alone: the key first).
inline bool groupable(const WriteOp& op) { return !std::holds_alternative<DestroyOp>(op); }

}  // namespace mend::store::ops
