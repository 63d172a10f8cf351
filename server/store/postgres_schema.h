// Opening the PostgreSQL store's database (internal to server/store): the schema, its
// migrations, the master key's check and the end of interrupted erasures. PostgresStore::open
// runs them in this order on one connection, holding an advisory lock so that nodes starting
// together migrate once: lock, migrate, check_room_keys, finish_destroys, unlock.
// Errors name what failed, never the connection string.
// Thread safety: none needed; they run once, on the opening thread, before any other use.
#pragma once

#include <filesystem>
#include <optional>

#include "server/store/crypto.h"
#include "server/store/pg_conn.h"

namespace mend::store::pg {

using OpenError = std::optional<StoreError>;

// Session-level advisory lock of mend's schema work (blocks until held).
OpenError lock_schema(Conn& conn);
void unlock_schema(Conn& conn);

// Creates mend_schema and applies the migrations up to `target`, each in its own transaction
// with its version; a database of a newer version than `target` is refused (kInvalid).
OpenError migrate(Conn& conn, int target);

// Whether any room key is stored (a new database may get a new master key; else never).
std::optional<bool> has_room_keys(Conn& conn, OpenError& failure);

// Every live room's key must unwrap under `master` (kCorrupt otherwise): a wrong master key
// file is refused.
OpenError check_room_keys(Conn& conn, const crypto::Key& master,
                          const std::filesystem::path& key_file);

// Deletes the rows of rooms whose key was shredded by an interrupted destroy_room.
OpenError finish_destroys(Conn& conn);

}  // namespace mend::store::pg
