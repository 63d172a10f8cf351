// Seeded randomized simulation of the engine (DESIGN.md section 4.1; docs/engine-rules.md).
//
// Environment:
//   MEND_SIM_SEED=<u64>           base seed (default below); printed on failure
//   MEND_SIM_SEQUENCES=<n>        number of random sequences (default 10000)
//   MEND_SIM_SEQUENCE_SEED=<u64>  run only this sequence seed (from a failure report), with
//   MEND_SIM_TEMPLATE=<name>      the template named in the report; MEND_SIM_TRACE=1 prints it
//   MEND_SIM_CHECK_ACTIONS_PERCENT=<0..100>  share of steps whose allowed_actions are checked
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "tests/sim/sim_rng.h"
#include "tests/sim/sim_templates.h"
#include "tests/sim/simulation.h"

namespace {

constexpr std::uint64_t kDefaultSeed = 20250611;
constexpr std::uint64_t kDefaultSequences = 10000;
// Sanitizer builds look for memory and undefined-behaviour errors, which the first thousands of
// sequences reach as well; the dev build's 10,000 carry the search for broken rules.
constexpr std::uint64_t kSanitizedSequences = 3000;
constexpr int kMaxReportedFailures = 3;

// Sanitizer builds run every step 5-6x slower: they sample the costliest checks (the exact
// allowed_actions comparison, full replays of longer histories) less often; (a)-(d) still
// run after every step.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

std::optional<std::uint64_t> env_u64(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::strtoull(value, nullptr, 10);
}

std::vector<mend::v1::Template> all_templates() {
  std::vector<std::string> errors;
  auto templates = mend::sim::in_code_templates(errors);
  auto shipped = mend::sim::shipped_templates(std::string(MEND_SOURCE_DIR) + "/server/templates", errors);
  for (const auto& error : errors) FAIL_CHECK("template: " << error);
  templates.insert(templates.end(), shipped.begin(), shipped.end());
  return templates;
}

}  // namespace

TEST_CASE("random command sequences keep every engine invariant after every step") {
  const std::uint64_t seed = env_u64("MEND_SIM_SEED").value_or(kDefaultSeed);
  const std::uint64_t sequences = env_u64("MEND_SIM_SEQUENCES")
                                      .value_or(kSanitized ? kSanitizedSequences : kDefaultSequences);
  const auto only_seed = env_u64("MEND_SIM_SEQUENCE_SEED");
  const char* only_template = std::getenv("MEND_SIM_TEMPLATE");
  mend::sim::SimOptions options;
  if (kSanitized) {
    options.check_actions_percent = 4;
    options.full_replay_max_events = 24;
  }
  options.trace = env_u64("MEND_SIM_TRACE").value_or(0) != 0;
  if (auto percent = env_u64("MEND_SIM_CHECK_ACTIONS_PERCENT")) {
    options.check_actions_percent = static_cast<unsigned>(*percent);
  }

  const auto templates = all_templates();
  REQUIRE(!templates.empty());
  mend::sim::Coverage coverage;
  const auto started = std::chrono::steady_clock::now();
  int failures = 0;
  std::uint64_t ran = 0;
  for (std::uint64_t i = 0; i < (only_seed ? 1 : sequences) && failures < kMaxReportedFailures; ++i) {
    const auto& tmpl = templates[i % templates.size()];
    const std::uint64_t sequence_seed = only_seed ? *only_seed : mend::sim::derive_seed(seed, i);
    if (only_seed && only_template != nullptr) {
      bool found = false;
      for (const auto& t : templates) {
        if (t.name() == only_template) {
          found = true;
          ++ran;
          if (auto failure = mend::sim::run_sequence(t, sequence_seed, options, coverage)) {
            ++failures;
            FAIL_CHECK("MEND_SIM_TEMPLATE=" << t.name() << " " << *failure);
          }
        }
      }
      REQUIRE_MESSAGE(found, "no template named " << only_template);
      break;
    }
    ++ran;
    if (auto failure = mend::sim::run_sequence(tmpl, sequence_seed, options, coverage)) {
      ++failures;
      FAIL_CHECK("MEND_SIM_SEED=" << seed << " sequence " << i << " MEND_SIM_TEMPLATE=" << tmpl.name() << " "
                                  << *failure);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "sim: seed " << seed << ", " << ran << " sequences over " << templates.size()
            << " templates in " << seconds << " s\n  " << coverage.summary() << "\n";

  if (!only_seed && sequences >= 2000 && failures == 0) {
    // The walk must reach every phase, or the invariants were checked on too little.
    const auto* phases = mend::v1::Phase_descriptor();
    for (int i = 0; i < phases->value_count(); ++i) {
      const auto phase = static_cast<mend::v1::Phase>(phases->value(i)->number());
      if (phase == mend::v1::PHASE_UNSPECIFIED) continue;
      CHECK_MESSAGE(coverage.phases.count(phase) == 1, "no sequence reached " << phases->value(i)->name());
    }
  }
}
