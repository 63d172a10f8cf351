#include "proc_stats.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace mend::load {
namespace {

std::optional<std::uint64_t> to_u64(std::string_view text, int base = 10) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

// Whitespace-separated fields of one line.
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

// The first number of "Name:   1234 kB" (or "Name:\t1234") in /proc/PID/status.
std::optional<std::uint64_t> status_kb(std::string_view status, std::string_view name) {
  std::size_t at = 0;
  while (at < status.size()) {
    const std::size_t end = std::min(status.find('\n', at), status.size());
    const std::string_view line = status.substr(at, end - at);
    if (line.rfind(name, 0) == 0 && line.size() > name.size() && line[name.size()] == ':') {
      const auto fields = fields_of(line.substr(name.size() + 1));
      if (!fields.empty()) return to_u64(fields[0]);
    }
    at = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::optional<MemoryKb> parse_status(std::string_view status) {
  const auto rss = status_kb(status, "VmRSS");
  const auto hwm = status_kb(status, "VmHWM");
  if (!rss || !hwm) return std::nullopt;
  return MemoryKb{*rss, *hwm};
}

std::optional<std::uint64_t> parse_context_switches(std::string_view status) {
  const auto voluntary = status_kb(status, "voluntary_ctxt_switches");
  const auto involuntary = status_kb(status, "nonvoluntary_ctxt_switches");
  if (!voluntary || !involuntary) return std::nullopt;
  return *voluntary + *involuntary;
}

std::optional<std::uint64_t> parse_stat_cpu_ticks(std::string_view stat) {
  const auto close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // After ") ": field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
  const auto fields = fields_of(stat.substr(close + 1));
  if (fields.size() < 13) return std::nullopt;
  const auto utime = to_u64(fields[11]);
  const auto stime = to_u64(fields[12]);
  if (!utime || !stime) return std::nullopt;
  return *utime + *stime;
}

std::optional<std::uint64_t> parse_listen_inode(std::string_view proc_net_tcp,
                                                std::uint16_t port) {
  std::size_t at = proc_net_tcp.find('\n');  // skip the header line
  while (at != std::string_view::npos && at < proc_net_tcp.size()) {
    const std::size_t start = at + 1;
    const std::size_t end = std::min(proc_net_tcp.find('\n', start), proc_net_tcp.size());
    const auto fields = fields_of(proc_net_tcp.substr(start, end - start));
    at = end < proc_net_tcp.size() ? end : std::string_view::npos;
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    if (fields.size() < 10 || fields[3] != "0A") continue;
    const auto colon = fields[1].rfind(':');
    if (colon == std::string_view::npos) continue;
    const auto local_port = to_u64(fields[1].substr(colon + 1), 16);
    if (local_port && *local_port == port) return to_u64(fields[9]);
  }
  return std::nullopt;
}

std::optional<ProcessSample> sample_process(int pid) {
  const std::filesystem::path dir = "/proc/" + std::to_string(pid);
  const auto status = read_text(dir / "status");
  const auto stat = read_text(dir / "stat");
  if (!status || !stat) return std::nullopt;
  const auto memory = parse_status(*status);
  const auto ticks = parse_stat_cpu_ticks(*stat);
  if (!memory || !ticks) return std::nullopt;
  const long per_second = ::sysconf(_SC_CLK_TCK);
  ProcessSample sample{*memory, static_cast<double>(*ticks) /
                                    static_cast<double>(per_second > 0 ? per_second : 100)};
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(dir / "task", ec)) {
    const auto task_status = read_text(task.path() / "status");
    if (!task_status) continue;  // the thread ended meanwhile
    sample.context_switches += parse_context_switches(*task_status).value_or(0);
  }
  return sample;
}

std::optional<int> find_listening_pid(std::uint16_t port) {
  std::optional<std::uint64_t> inode;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    if (const auto text = read_text(table)) inode = parse_listen_inode(*text, port);
    if (inode) break;
  }
  if (!inode) return std::nullopt;
  const std::string wanted = "socket:[" + std::to_string(*inode) + "]";
  std::error_code ec;
  try {  // processes come and go while we look
  for (const auto& process : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = process.path().filename().string();
    const auto pid = to_u64(name);
    if (!pid || std::to_string(*pid) != name) continue;
    std::error_code fd_ec;
    for (const auto& fd : std::filesystem::directory_iterator(process.path() / "fd", fd_ec)) {
      std::error_code link_ec;
      const auto target = std::filesystem::read_symlink(fd.path(), link_ec);
      if (!link_ec && target.string() == wanted) return static_cast<int>(*pid);
    }
  }
  } catch (const std::filesystem::filesystem_error&) {
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace mend::load
