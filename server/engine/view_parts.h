// engine::view in parts, for a room that builds a view per recipient per command (issue 12):
// what every admitted viewer's view shares is built and encoded once per fan-out, each viewer's
// own fields once per viewer, and the list that grows with the conversation (retractable) can
// be kept encoded by the caller and extended as messages are added.
//
// Contract: for a viewer for whom view_is_shared holds, the Protobuf encodings of
// view_shared_into(state), then view_own_into(state, who, kAll), concatenated, parse as
// view(state, who); with kWithoutRetractable, the encoded RoomView.retractable field (every
// state.messages seq for which may_retract holds, in order, when view_lists_seqs holds) must be
// appended. The parts set disjoint fields, so their concatenation merges without overrides.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "server/engine/engine.h"

namespace mend::engine {

enum class ViewLists : std::uint8_t { kAll, kWithoutRetractable };

// Whether `who`'s view is view_shared_into plus view_own_into: partners and admitted observers.
// A waiting observer's view (view_into) shares nothing with theirs.
bool view_is_shared(const RoomState& state, const v1::Actor& who);
// The fields every admitted viewer's view holds alike: phase, turn, stage, texts of the room,
// overlay, terms in effect, participants. `out` must be empty.
void view_shared_into(const RoomState& state, v1::RoomView& out);
// The shared part in two: its texts that change only with the template's stage and the room's
// opening (template and stage names, the stage's questions, the closing prompt, topic,
// intention, startup lines, the partners' names), and the rest, which changes with every event
// (last_seq). view_shared_into(state) encodes as view_shared_texts_into(texts) for
// SharedTexts::of(state), then view_shared_rest_into(state): disjoint fields. The texts part
// reads nothing but `texts`, so a caller may keep its encoding while `texts.same_as(state)`.
class SharedTexts {
 public:
  static SharedTexts of(const RoomState& state);
  // Whether `state`'s texts are these. Once assigned, the template is held here, so an equal
  // pointer is the same template (never another at a reused address).
  bool same_as(const RoomState& state) const;
  // Makes these `state`'s texts, reusing the strings' capacity.
  void assign(const RoomState& state);

 private:
  friend void view_shared_texts_into(const SharedTexts& texts, v1::RoomView& out);
  TemplateRef tmpl_;
  int stage_ = -1;       // the stage's index in stage rounds, else -1
  bool opening_ = false;  // the conversation's phase is PHASE_OPENING
  std::string topic_, intention_, a_name_, b_name_;
  StartupLines startup_;
};
// `out` must be empty.
void view_shared_texts_into(const SharedTexts& texts, v1::RoomView& out);
void view_shared_rest_into(const RoomState& state, v1::RoomView& out);

// The fields that depend on `who`: you, prompt, your_terms, the seq lists, allowed_actions.
// `out` must be empty. Precondition: view_is_shared(state, who).
void view_own_into(const RoomState& state, const v1::Actor& who, v1::RoomView& out,
                   ViewLists lists = ViewLists::kAll);

// Whether the view of `role` lists seqs (retractable, declinable, acceptable_proposals):
// partners only, and not once the conversation has ended.
bool view_lists_seqs(const RoomState& state, v1::Role role);
// Whether `role` may retract `message` now (what RoomView.retractable lists).
bool may_retract(const ContentMessage& message, v1::Role role);

}  // namespace mend::engine
