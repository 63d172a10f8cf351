// One seeded random conversation through the real engine, with invariant checks after every
// step (docs/engine-rules.md; the checks are listed in simulation.cpp's file comment).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "mend/v1/conversation.pb.h"
#include "mend/v1/template.pb.h"

namespace mend::sim {

struct SimOptions {
  // Steps per sequence: most are short, some long enough to reach the late phases.
  int min_steps = 16;
  int max_steps = 32;
  unsigned long_percent = 6;
  int long_min_steps = 120;
  int long_max_steps = 260;
  // Share of steps that pick an allowed action with valid arguments (the rest are random).
  unsigned guided_percent = 65;
  unsigned long_guided_percent = 90;
  // Share of steps after which one participant's allowed_actions are checked against decide.
  unsigned check_actions_percent = 8;
  // Full replay from a default RoomState after every step while the room has at most this
  // many events; beyond it every `full_replay_every` steps and at the end.
  std::size_t full_replay_max_events = 40;
  int full_replay_every = 16;
  // Print every command, decision and event to stderr (to study one sequence).
  bool trace = false;
};

// What all sequences together reached: evidence that the walk explores the state machine.
struct Coverage {
  std::map<v1::Phase, std::uint64_t> phases;           // phase of the room after each step
  std::map<v1::Action, std::uint64_t> accepted;        // accepted commands per action
  std::map<v1::RejectionCode, std::uint64_t> rejected; // rejections per code
  std::map<int, std::uint64_t> events;                 // events per Event.body case
  std::uint64_t steps = 0;
  std::uint64_t actions_checked = 0;  // (participant, action) pairs checked against decide
  std::string summary() const;
};

// Runs one sequence of `tmpl` from `seed`. Returns nullopt when every check held, else a
// report: template, seed, step, actor, command (text format), what failed and recent events.
std::optional<std::string> run_sequence(const v1::Template& tmpl, std::uint64_t seed,
                                        const SimOptions& options, Coverage& coverage);

}  // namespace mend::sim
