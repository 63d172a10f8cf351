#include "report.h"

#include <cstdio>
#include <sstream>

namespace mend::load {
namespace {

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

double ms(std::uint64_t micros) { return static_cast<double>(micros) / 1000.0; }

std::string latency_json(const LatencySummary& l) {
  return "{\"samples\":" + std::to_string(l.samples) + ",\"p50\":" + fixed(l.p50_ms, 3) +
         ",\"p90\":" + fixed(l.p90_ms, 3) + ",\"p99\":" + fixed(l.p99_ms, 3) +
         ",\"p99_9\":" + fixed(l.p999_ms, 3) + ",\"max\":" + fixed(l.max_ms, 3) +
         ",\"mean\":" + fixed(l.mean_ms, 3) + "}";
}

std::string integrity_json(const Integrity& i) {
  return std::string("{\"intact\":") + (i.intact() ? "true" : "false") +
         ",\"gaps\":" + std::to_string(i.gaps) + ",\"duplicates\":" + std::to_string(i.duplicates) +
         ",\"missing\":" + std::to_string(i.missing) + ",\"resets\":" + std::to_string(i.resets) +
         ",\"events_delivered\":" + std::to_string(i.events_delivered) +
         ",\"commands_accepted\":" + std::to_string(i.commands_accepted) +
         ",\"unanswered\":" + std::to_string(i.unanswered) + "}";
}

}  // namespace

LatencySummary summarize(const LatencyHistogram& micros) {
  LatencySummary s;
  s.samples = micros.count();
  s.p50_ms = ms(micros.percentile(50));
  s.p90_ms = ms(micros.percentile(90));
  s.p99_ms = ms(micros.percentile(99));
  s.p999_ms = ms(micros.percentile(99.9));
  s.max_ms = ms(micros.max());
  s.mean_ms = micros.mean() / 1000.0;
  return s;
}

ServerUsage usage_between(int pid, const ProcessSample& start, const ProcessSample& end,
                          std::uint64_t commands) {
  ServerUsage usage;
  usage.pid = pid;
  usage.rss_kb_start = start.memory.rss_kb;
  usage.rss_kb_end = end.memory.rss_kb;
  usage.hwm_kb_end = end.memory.hwm_kb;
  usage.cpu_seconds = end.cpu_seconds - start.cpu_seconds;
  usage.cpu_ms_per_1000_commands =
      commands > 0 ? usage.cpu_seconds * 1e6 / static_cast<double>(commands) : 0;
  usage.context_switches = end.context_switches >= start.context_switches
                               ? end.context_switches - start.context_switches
                               : 0;
  usage.context_switches_per_command =
      commands > 0 ? static_cast<double>(usage.context_switches) / static_cast<double>(commands)
                   : 0;
  return usage;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string to_text(const LoadReport& r) {
  std::ostringstream out;
  const bool relay = r.mode == "relay";
  if (relay) {
    out << "mend-load --relay: " << r.rooms << " pairs relaying one " << "200-byte message on "
        << r.server << ", "
        << (r.target_rate > 0 ? "open loop at " + fixed(r.target_rate, 0) + " messages/s"
                              : std::string("closed loop"))
        << (r.relay_acks ? ", each also sent back to its sender" : "")
        << ", measured " << fixed(r.seconds, 1)
        << " s (a command here is one relayed message)\n";
  } else {
    out << "mend-load: " << r.rooms << " rooms of " << r.templates << " on " << r.server
        << (r.observers ? " with observers" : "")
        << (r.chunks_per_turn > 1 ? ", " + std::to_string(r.chunks_per_turn) + " shares per turn"
                                  : std::string())
        << ", "
        << (r.target_rate > 0 ? "open loop at " + fixed(r.target_rate, 0) + " commands/s"
            : r.think_ms > 0  ? "think time " + fixed(r.think_ms, 0) + " ms (mean)"
                              : std::string("closed loop"))
        << ", measured " << fixed(r.seconds, 1) << " s after a warm-up of "
        << fixed(r.warmup_seconds, 1) << " s (" << r.rooms_open_at_window << " of " << r.rooms
        << " rooms open)\n";
  }
  out << "  commands/s     " << fixed(r.commands_per_second(), 1) << " answered, "
      << fixed(r.accepted_per_second(), 1) << " accepted\n";
  if (r.target_rate > 0 && r.commands_per_second() < 0.9 * r.target_rate) {
    out << "  (the target rate was not reached: too few participants had a step ready; "
           "add rooms)\n";
  }
  out << "  commands       " << r.commands << " answered: " << r.accepted << " accepted, "
      << r.rejected << " rejected";
  if (!r.rejections.empty()) {
    out << " (";
    bool first = true;
    for (const auto& [code, count] : r.rejections) {
      out << (first ? "" : ", ") << code << " " << count;
      first = false;
    }
    out << ")";
  }
  out << "\n  errors         " << r.errors << "\n";
  out << "  latency (ms)   "
      << (relay ? "message sent -> received by the other side, "
                : "command -> other partner's event, ")
      << r.latency.samples
      << " samples: p50 " << fixed(r.latency.p50_ms, 3) << ", p90 " << fixed(r.latency.p90_ms, 3)
      << ", p99 " << fixed(r.latency.p99_ms, 3) << ", p99.9 " << fixed(r.latency.p999_ms, 3)
      << ", max " << fixed(r.latency.max_ms, 3) << "\n";
  if (!relay) {
    const Integrity& i = r.integrity;
    out << "  integrity      " << (i.intact() ? "nothing lost or doubled" : "LOST OR DOUBLED")
        << ": " << i.gaps << " gaps, " << i.duplicates << " duplicates, " << i.missing
        << " accepted commands without their events, " << i.resets << " resets; "
        << i.events_delivered << " events delivered, " << i.commands_accepted
        << " commands accepted, " << i.unanswered << " unanswered at the end (whole run)\n";
  }
  out << "  connections    " << r.connections << " online at the end; "
      << r.conversations_completed << " conversations completed\n";
  if (r.server_usage) {
    const ServerUsage& s = *r.server_usage;
    out << "  server pid " << s.pid << "  RSS " << s.rss_kb_start << " -> " << s.rss_kb_end
        << " KB (peak " << s.hwm_kb_end << " KB), CPU " << fixed(s.cpu_seconds, 2) << " s = "
        << fixed(s.cpu_ms_per_1000_commands, 1) << " ms per 1,000 commands ("
        << fixed(s.cpu_ms_per_1000_commands, 1) << " us per command), "
        << s.context_switches << " context switches = "
        << fixed(s.context_switches_per_command, 2) << " per command\n";
  } else {
    out << "  server         not on this machine (or not found): no RSS/CPU figures\n";
  }
  return out.str();
}

std::string to_json(const LoadReport& r) {
  std::ostringstream out;
  out << "{\"mode\":" << json_string(r.mode) << ",\"server\":" << json_string(r.server)
      << ",\"templates\":" << json_string(r.templates) << ",\"rooms\":" << r.rooms
      << ",\"observers\":" << (r.observers ? "true" : "false")
      << ",\"relay_acks\":" << (r.relay_acks ? "true" : "false")
      << ",\"think_ms\":" << fixed(r.think_ms, 1) << ",\"target_rate\":" << fixed(r.target_rate, 1)
      << ",\"chunks_per_turn\":" << r.chunks_per_turn
      << ",\"seconds\":" << fixed(r.seconds, 3) << ",\"warmup_seconds\":"
      << fixed(r.warmup_seconds, 3) << ",\"rooms_open_at_window\":" << r.rooms_open_at_window
      << ",\"commands\":" << r.commands
      << ",\"commands_per_s\":" << fixed(r.commands_per_second(), 1)
      << ",\"accepted\":" << r.accepted
      << ",\"accepted_per_s\":" << fixed(r.accepted_per_second(), 1)
      << ",\"rejected\":" << r.rejected << ",\"rejections\":{";
  bool first = true;
  for (const auto& [code, count] : r.rejections) {
    out << (first ? "" : ",") << json_string(code) << ":" << count;
    first = false;
  }
  out << "},\"errors\":" << r.errors << ",\"conversations_completed\":"
      << r.conversations_completed << ",\"connections\":" << r.connections
      << ",\"latency_ms\":" << latency_json(r.latency) << ",\"integrity\":" << integrity_json(r.integrity)
      << ",\"server_process\":";
  if (r.server_usage) {
    const ServerUsage& s = *r.server_usage;
    out << "{\"pid\":" << s.pid << ",\"rss_kb_start\":" << s.rss_kb_start
        << ",\"rss_kb_end\":" << s.rss_kb_end << ",\"hwm_kb_end\":" << s.hwm_kb_end
        << ",\"cpu_seconds\":" << fixed(s.cpu_seconds, 3)
        << ",\"cpu_ms_per_1000_commands\":" << fixed(s.cpu_ms_per_1000_commands, 3)
        << ",\"context_switches\":" << s.context_switches
        << ",\"context_switches_per_command\":" << fixed(s.context_switches_per_command, 3)
        << "}";
  } else {
    out << "null";
  }
  out << "}";
  return out.str();
}

double IdleReport::kb_per_connection() const {
  return connected == 0 ? 0
                        : (static_cast<double>(rss_kb_after) - static_cast<double>(rss_kb_before)) /
                              static_cast<double>(connected);
}

double IdleReport::kb_per_connection_without_rooms() const {
  return connected == 0 ? 0
                        : (static_cast<double>(rss_kb_after) - static_cast<double>(rss_kb_rooms)) /
                              static_cast<double>(connected);
}

std::string to_text(const IdleReport& r) {
  std::ostringstream out;
  out << "mend-load --idle: " << r.connected << " of " << r.requested
      << " connections authenticated on " << r.server << " in " << fixed(r.connect_seconds, 1)
      << " s; " << r.connected_at_end << " still connected after holding "
      << fixed(r.hold_seconds, 1) << " s; " << r.errors << " errors\n";
  if (r.server_pid) {
    out << "  server pid " << *r.server_pid << "  RSS before " << r.rss_kb_before
        << " KB, with rooms " << r.rss_kb_rooms << " KB, with connections " << r.rss_kb_after
        << " KB, at the end " << r.rss_kb_end << " KB (peak " << r.hwm_kb_end << " KB)\n"
        << "  KB per connection " << fixed(r.kb_per_connection(), 2)
        << " (rooms included), " << fixed(r.kb_per_connection_without_rooms(), 2)
        << " (connections only)\n";
  } else {
    out << "  server         not on this machine (or not found): no RSS figures\n";
  }
  return out.str();
}

std::string to_json(const IdleReport& r) {
  std::ostringstream out;
  out << "{\"mode\":\"idle\",\"server\":" << json_string(r.server)
      << ",\"requested\":" << r.requested << ",\"connected\":" << r.connected
      << ",\"connected_at_end\":" << r.connected_at_end << ",\"errors\":" << r.errors
      << ",\"connect_seconds\":" << fixed(r.connect_seconds, 3)
      << ",\"hold_seconds\":" << fixed(r.hold_seconds, 3) << ",\"server_process\":";
  if (r.server_pid) {
    out << "{\"pid\":" << *r.server_pid << ",\"rss_kb_before\":" << r.rss_kb_before
        << ",\"rss_kb_rooms\":" << r.rss_kb_rooms << ",\"rss_kb_after\":" << r.rss_kb_after
        << ",\"rss_kb_end\":" << r.rss_kb_end << ",\"hwm_kb_end\":" << r.hwm_kb_end
        << ",\"kb_per_connection\":" << fixed(r.kb_per_connection(), 3)
        << ",\"kb_per_connection_without_rooms\":"
        << fixed(r.kb_per_connection_without_rooms(), 3) << "}";
  } else {
    out << "null";
  }
  out << "}";
  return out.str();
}

}  // namespace mend::load
