// The pure privacy rules (server/rooms/privacy.h) and the audit log of both stores.
#include "server/rooms/privacy.h"

#include <doctest/doctest.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <string>

#include "server/engine/engine.h"
#include "server/store/memory_store.h"
#include "server/store/sqlite_store.h"
#include "tests/privacy/privacy_support.h"

namespace mend::testing {
namespace {

namespace pb = google::protobuf;
using rooms::privacy::kErasedText;

constexpr const char* kSecret = "SECRET-TEXT";

// Sets every string field of `message` (recursively, one element per repeated field) to kSecret.
void fill_strings(pb::Message& message, int depth = 0) {
  if (depth > 6) return;
  const pb::Descriptor* d = message.GetDescriptor();
  const pb::Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->type() == pb::FieldDescriptor::TYPE_STRING) {
      if (f->is_repeated()) {
        r->AddString(&message, f, kSecret);
      } else {
        r->SetString(&message, f, kSecret);
      }
    } else if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        fill_strings(*r->AddMessage(&message, f), depth + 1);
      } else if (!f->real_containing_oneof()) {
        fill_strings(*r->MutableMessage(&message, f), depth + 1);
      }
    }
  }
}

// Full names of the string fields of `message` that still hold kSecret.
void find_secrets(const pb::Message& message, const std::string& path,
                  std::set<std::string>& found) {
  const pb::Reflection* r = message.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    const std::string name = path + "." + f->name();
    if (f->type() == pb::FieldDescriptor::TYPE_STRING) {
      const int n = f->is_repeated() ? r->FieldSize(message, f) : 1;
      for (int i = 0; i < n; ++i) {
        const std::string value =
            f->is_repeated() ? r->GetRepeatedString(message, f, i) : r->GetString(message, f);
        if (value == kSecret) found.insert(name);
      }
    } else if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(message, f); ++i) {
          find_secrets(r->GetRepeatedMessage(message, f, i), name, found);
        }
      } else {
        find_secrets(r->GetMessage(message, f), name, found);
      }
    }
  }
}

// Names, observer names, the template and the series id (an integrator's id, issue 14) are not
// content (DESIGN 7: texts and notes are).
bool may_keep(const std::string& path) {
  static const std::set<std::string> kept = {
      ".room_created.partner_a_name", ".room_created.partner_b_name",
      ".room_created.observers",      ".consent_given.terms.observers",
      ".consent_given.effective.observers", ".observer_approved.observer",
      ".observer_revoked.observer",   ".observer_joined.observer",
      ".observer_left.observer",      ".actor.observer",
      ".room_created.series_id"};
  return kept.contains(path) || path.starts_with(".room_created.template");
}

TEST_CASE("erasing an event's texts leaves no text of any event kind, only names") {
  const pb::OneofDescriptor* body = v1::Event::descriptor()->FindOneofByName("body");
  REQUIRE(body != nullptr);
  for (int i = 0; i < body->field_count(); ++i) {
    const pb::FieldDescriptor* kind = body->field(i);
    v1::Event event;
    event.set_seq(7);
    fill_strings(*event.GetReflection()->MutableMessage(&event, kind));
    fill_strings(*event.mutable_actor());
    rooms::privacy::erase_texts(event);
    std::set<std::string> found;
    find_secrets(event, "", found);
    for (const std::string& path : found) {
      INFO("event kind " << kind->name() << ", field " << path);
      CHECK(may_keep(path));
    }
    CHECK(event.seq() == 7);
  }
}

TEST_CASE("erasing one partner's contributions rewrites only their texts and keeps seqs") {
  std::vector<v1::Event> log;
  auto add = [&](v1::Role role, const std::string& text) {
    v1::Event& e = log.emplace_back();
    e.set_seq(log.size());
    e.mutable_actor()->set_role(role);
    e.mutable_shared()->set_text(text);
  };
  add(v1::PARTNER_A, "a-one");
  add(v1::PARTNER_B, "b-one");
  add(v1::PARTNER_A, "a-two");
  log.emplace_back().set_seq(4);  // no body, no text
  const auto rewritten = rooms::privacy::erase_contributions(log, v1::PARTNER_A);
  REQUIRE(rewritten.size() == 2);
  CHECK(rewritten[0].seq() == 1);
  CHECK(rewritten[1].seq() == 3);
  CHECK(rewritten[0].shared().text() == kErasedText);
  // Erasing again finds nothing left; observers have no contributions to erase here.
  std::vector<v1::Event> after = log;
  for (const auto& e : rewritten) after[e.seq() - 1] = e;
  CHECK(rooms::privacy::erase_contributions(after, v1::PARTNER_A).empty());
  CHECK(rooms::privacy::erase_contributions(log, v1::OBSERVER).empty());
  CHECK(rooms::privacy::purge_content(log).size() == 3);
}

TEST_CASE("audit entries copy roles, names, seqs and terms, never texts") {
  v1::Event consent;
  consent.set_seq(3);
  consent.set_at_ms(1000);
  consent.mutable_actor()->set_role(v1::PARTNER_B);
  consent.mutable_consent_given()->mutable_terms()->set_retention_days(5);
  auto entries = rooms::privacy::audit_entries_for(consent);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].kind() == v1::AUDIT_CONSENT_GIVEN);
  CHECK(entries[0].terms().retention_days() == 5);
  CHECK(entries[0].seq() == 3);
  CHECK(entries[0].actor().role() == v1::PARTNER_B);

  v1::Event shared;
  shared.mutable_shared()->set_text(kSecret);
  CHECK(rooms::privacy::audit_entries_for(shared).empty());

  v1::Event left;
  left.mutable_conversation_closed()->set_reason(v1::PARTNER_LEFT);
  entries = rooms::privacy::audit_entries_for(left);
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].kind() == v1::AUDIT_PARTICIPANT_LEFT);
  CHECK(entries[1].kind() == v1::AUDIT_CONVERSATION_CLOSED);
}

// Both stores keep the audit log in order, across destroy_room, and SqliteStore across a
// reopen.
void check_audit_contract(store::Store& store) {
  v1::AuditEntry first;
  first.set_kind(v1::AUDIT_PARTICIPANT_CONNECTED);
  v1::AuditEntry second;
  second.set_kind(v1::AUDIT_ROOM_ERASED);
  store::AppendRequest created;
  created.room_id = "r1";
  created.events.emplace_back().set_seq(1);
  created.events.back().mutable_room_created();
  CHECK_FALSE(wait_done([&](store::StoreDone done) { store.append(created, done); }));
  CHECK_FALSE(wait_done([&](store::StoreDone done) { store.append_audit("r1", {first}, done); }));
  CHECK_FALSE(wait_done([&](store::StoreDone done) { store.destroy_room("r1", done); }));
  CHECK_FALSE(wait_done([&](store::StoreDone done) { store.append_audit("r1", {second}, done); }));
  auto load = [&](const std::string& room_id) {
    std::promise<store::AuditLoadResult> loaded;
    store.load_audit(room_id, [&](store::AuditLoadResult r) { loaded.set_value(std::move(r)); });
    return loaded.get_future().get();
  };
  auto result = load("r1");
  REQUIRE_FALSE(result.error);
  REQUIRE(result.entries.size() == 2);
  CHECK(result.entries[0].kind() == v1::AUDIT_PARTICIPANT_CONNECTED);
  CHECK(result.entries[1].kind() == v1::AUDIT_ROOM_ERASED);
  auto empty = load("other");
  CHECK_FALSE(empty.error);
  CHECK(empty.entries.empty());
  auto invalid = wait_done([&](store::StoreDone done) { store.append_audit("r1", {}, done); });
  REQUIRE(invalid);
  CHECK(invalid->code == store::StoreErrorCode::kInvalid);
}

TEST_CASE("the memory store keeps a room's audit log in order, also after destroy_room") {
  store::MemoryStore store;
  check_audit_contract(store);
}

TEST_CASE("the sqlite store keeps a room's audit log in order, after destroy_room and reopen") {
  TempDir dir;
  {
    auto opened = store::SqliteStore::open({.data_dir = dir.path()});
    REQUIRE(opened.store);
    check_audit_contract(*opened.store);
  }
  auto reopened = store::SqliteStore::open({.data_dir = dir.path()});
  REQUIRE(reopened.store);
  std::promise<store::AuditLoadResult> loaded;
  reopened.store->load_audit("r1", [&](store::AuditLoadResult r) { loaded.set_value(std::move(r)); });
  CHECK(loaded.get_future().get().entries.size() == 2);
}

}  // namespace
}  // namespace mend::testing
