// The results of a mend-load run and their two printed forms: text for people, one JSON object
// for scripts (--json). Pure: formatting only.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "histogram.h"
#include "proc_stats.h"

namespace mend::load {

// Command-to-event latency in milliseconds (from a histogram of microseconds).
struct LatencySummary {
  std::uint64_t samples = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
};
LatencySummary summarize(const LatencyHistogram& micros);

// The server process over the measured window (present when it runs on this machine).
struct ServerUsage {
  int pid = 0;
  std::uint64_t rss_kb_start = 0;
  std::uint64_t rss_kb_end = 0;
  std::uint64_t hwm_kb_end = 0;            // peak RSS of the process (whole life)
  double cpu_seconds = 0;                  // user + system within the window
  double cpu_ms_per_1000_commands = 0;     // cpu_seconds * 1e6 / commands
  std::uint64_t context_switches = 0;      // of all its threads within the window
  double context_switches_per_command = 0;
};

// The server's usage between two samples of process `pid` over `commands` commands.
ServerUsage usage_between(int pid, const ProcessSample& start, const ProcessSample& end,
                          std::uint64_t commands);

// Whether every participant saw the room's log whole (partners only: they see every event but an
// observer's notes, so their seqs run 1, 2, 3, ... with resume from the start). Over the whole
// run, warm-up included: a loss is a loss whenever it happens.
struct Integrity {
  std::uint64_t gaps = 0;              // seqs skipped in a partner's delivered events
  std::uint64_t duplicates = 0;        // events delivered to a partner a second time
  std::uint64_t missing = 0;           // accepted commands whose events never reached the sender
  std::uint64_t resets = 0;            // Welcome.recovered == false (delivery restarted at a view)
  std::uint64_t events_delivered = 0;  // per room, the last seq a partner saw, summed
  std::uint64_t commands_accepted = 0; // accepted commands over the whole run
  std::uint64_t unanswered = 0;        // commands still in flight when the run ended

  // Nothing lost, nothing doubled (resets are reported, not judged: the server may have had no
  // log to replay from).
  bool intact() const { return gaps == 0 && duplicates == 0 && missing == 0; }
};

struct LoadReport {
  std::string mode = "load";               // "load", or "relay" (the bare-relay anchor)
  std::string server;
  std::string templates;                   // comma list
  std::uint32_t rooms = 0;
  bool observers = false;
  bool relay_acks = false;                 // relay mode: each message also echoed to its sender
  double think_ms = 0;
  std::uint32_t chunks_per_turn = 1;       // shares (each mirrored) per speaker's turn
  double target_rate = 0;                  // 0: not open loop
  double seconds = 0;                      // measured window
  double warmup_seconds = 0;               // before the window: at least --warmup, and until
                                           // every room opened once (bounded)
  std::uint32_t rooms_open_at_window = 0;  // rooms opened once when the window began
  std::uint64_t commands = 0;              // answered by the server in the window
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::map<std::string, std::uint64_t> rejections;  // by RejectionCode name
  std::uint64_t errors = 0;                // SDK errors, failed room creations, terminal closes
  std::uint64_t conversations_completed = 0;
  std::uint64_t connections = 0;           // online at the end of the window
  LatencySummary latency;
  std::optional<ServerUsage> server_usage;
  Integrity integrity;                     // "load" mode only

  double commands_per_second() const { return seconds > 0 ? commands / seconds : 0; }
  double accepted_per_second() const { return seconds > 0 ? accepted / seconds : 0; }
};

struct IdleReport {
  std::string server;
  std::uint64_t requested = 0;             // connections asked for
  std::uint64_t connected = 0;             // authenticated (Welcome received)
  std::uint64_t errors = 0;
  double connect_seconds = 0;              // from the first connect to the last Welcome
  double hold_seconds = 0;
  std::uint64_t connected_at_end = 0;
  std::optional<int> server_pid;
  std::uint64_t rss_kb_before = 0;         // before any room or connection
  std::uint64_t rss_kb_rooms = 0;          // after creating the rooms, before connecting
  std::uint64_t rss_kb_after = 0;          // with every connection authenticated
  std::uint64_t rss_kb_end = 0;            // after holding
  std::uint64_t hwm_kb_end = 0;
  // (after - before) / connected, and (after - rooms) / connected.
  double kb_per_connection() const;
  double kb_per_connection_without_rooms() const;
};

std::string to_text(const LoadReport& report);
std::string to_json(const LoadReport& report);
std::string to_text(const IdleReport& report);
std::string to_json(const IdleReport& report);

// A JSON string literal with quotes and escapes.
std::string json_string(const std::string& text);

}  // namespace mend::load
