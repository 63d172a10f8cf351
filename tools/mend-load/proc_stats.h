// Reading a local process's memory and CPU time from /proc (Linux), and finding the process
// that listens on a TCP port. The parse_* functions are pure (they take the file's text);
// sample_process and find_listening_pid read /proc.
// Thread safety: all functions are safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mend::load {

struct MemoryKb {
  std::uint64_t rss_kb = 0;  // VmRSS: resident now
  std::uint64_t hwm_kb = 0;  // VmHWM: peak resident
};

// VmRSS and VmHWM from the text of /proc/PID/status; nullopt when either is missing.
std::optional<MemoryKb> parse_status(std::string_view status);

// utime + stime (clock ticks) from the text of /proc/PID/stat (fields 14 and 15, counted after
// the parenthesized command name, which may contain spaces and parentheses).
std::optional<std::uint64_t> parse_stat_cpu_ticks(std::string_view stat);

// The socket inode of a listening socket on `port` in the text of /proc/net/tcp or tcp6
// (state 0A); nullopt when none.
std::optional<std::uint64_t> parse_listen_inode(std::string_view proc_net_tcp, std::uint16_t port);

// voluntary_ctxt_switches + nonvoluntary_ctxt_switches from the text of one thread's
// /proc/PID/task/TID/status; nullopt when either is missing.
std::optional<std::uint64_t> parse_context_switches(std::string_view status);

struct ProcessSample {
  MemoryKb memory;
  double cpu_seconds = 0;  // user + system, since the process started
  // Context switches (voluntary and not) summed over the threads alive at the sample: each is
  // a thread going to sleep or being preempted, so their growth over a run counts the thread
  // hand-offs (a thread that exits in between takes its count with it).
  std::uint64_t context_switches = 0;
};

// Reads /proc/PID/status, /proc/PID/stat and /proc/PID/task/*/status; nullopt when the process
// is gone or unreadable.
std::optional<ProcessSample> sample_process(int pid);

// The process holding a socket that listens on `port` (any address), found through
// /proc/net/tcp{,6} and /proc/*/fd; nullopt when not found (e.g. another user's process).
std::optional<int> find_listening_pid(std::uint16_t port);

}  // namespace mend::load
