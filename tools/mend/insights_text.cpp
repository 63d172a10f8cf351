// Plain-text tables of the insights and the summary (insights_text.h).
#include "insights_text.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include "time_text.h"

namespace mend::cli {
namespace {

using Row = std::vector<std::string>;

// Columns padded to their widest cell, two spaces apart; the first row is the header.
std::string table(const std::vector<Row>& rows) {
  std::vector<std::size_t> widths;
  for (const Row& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string duration(std::int64_t ms) {
  return format_duration(std::chrono::seconds((ms + 500) / 1000));
}

std::string partner_name(v1::Role role) {
  switch (role) {
    case v1::PARTNER_A: return "A";
    case v1::PARTNER_B: return "B";
    case v1::OBSERVER: return "observer";
    default: return "-";
  }
}

// "PHASE_SPEAKING" -> "speaking", "OVERLAY_RETURNED_EARLY" -> "returned early".
std::string words_of(std::string name, const std::string& prefix) {
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  std::transform(name.begin(), name.end(), name.begin(), [](char c) {
    return c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return name;
}

template <typename Counts, typename NameOf>
std::string counts(const Counts& list, NameOf name_of) {
  std::string out;
  for (const auto& c : list) {
    if (!out.empty()) out += ", ";
    out += name_of(c) + " " + std::to_string(c.count());
  }
  return out.empty() ? "-" : out;
}

std::string partners_table(const v1::Insights& in) {
  const v1::PartnerInsights& a = in.partner_a();
  const v1::PartnerInsights& b = in.partner_b();
  std::vector<Row> rows = {{"", "A", "B"}};
  auto number = [&](const std::string& label, auto get) {
    rows.push_back({label, std::to_string(get(a)), std::to_string(get(b))});
  };
  auto text = [&](const std::string& label, auto get) { rows.push_back({label, get(a), get(b)}); };
  text("floor time", [](const auto& p) { return duration(p.floor_time_ms()); });
  number("turns", [](const auto& p) { return p.turns(); });
  number("shares", [](const auto& p) { return p.shares(); });
  number("words shared", [](const auto& p) { return p.words_shared(); });
  number("corrections", [](const auto& p) { return p.corrections(); });
  number("mirrors given", [](const auto& p) { return p.mirrors_given(); });
  number("mirrors confirmed", [](const auto& p) { return p.mirrors_confirmed(); });
  number("summaries", [](const auto& p) { return p.summaries_given(); });
  number("validations", [](const auto& p) { return p.validations_given(); });
  number("empathy", [](const auto& p) { return p.empathy_given(); });
  number("questions", [](const auto& p) { return p.questions_asked(); });
  number("floor passes", [](const auto& p) { return p.floor_passes(); });
  number("pauses", [](const auto& p) { return p.pauses(); });
  number("time-outs", [](const auto& p) { return p.time_outs(); });
  text("time paused", [](const auto& p) { return duration(p.overlay_time_ms()); });
  number("retractions", [](const auto& p) { return p.retractions(); });
  number("appreciations", [](const auto& p) { return p.appreciations(); });
  number("proposals", [](const auto& p) { return p.proposals(); });
  text("signals", [](const auto& p) {
    return counts(p.signals(), [](const auto& c) { return words_of(v1::SignalKind_Name(c.kind()), ""); });
  });
  text("repairs", [](const auto& p) {
    return counts(p.repairs(), [](const auto& c) { return words_of(v1::RepairKind_Name(c.kind()), ""); });
  });
  text("refusals", [](const auto& p) {
    return counts(p.refusals(), [](const auto& c) { return v1::RejectionCode_Name(c.code()); });
  });
  return table(rows);
}

std::string shares_table(const v1::Insights& in) {
  std::vector<Row> rows = {{"seq", "by", "stage", "words", "mirror rounds", "corrections", "confirmed after"}};
  for (const v1::ShareInsight& s : in.shares()) {
    rows.push_back({std::to_string(s.seq()), partner_name(s.speaker()), std::to_string(s.stage_index() + 1),
                    std::to_string(s.words()), std::to_string(s.mirror_rounds()), std::to_string(s.corrections()),
                    (s.confirmed() ? duration(s.to_confirmation_ms()) : "not confirmed") +
                        (s.retracted() ? " (taken back)" : "")});
  }
  return table(rows);
}

std::string reflections_table(const v1::Insights& in) {
  std::vector<Row> rows = {{"seq", "by", "kind", "tries", "corrections", "confirmed after"}};
  for (const v1::ReflectionInsight& r : in.reflections()) {
    rows.push_back({std::to_string(r.first_seq()), partner_name(r.listener()),
                    words_of(v1::ReflectionKind_Name(r.kind()), ""), std::to_string(r.tries()),
                    std::to_string(r.corrections()), r.confirmed() ? duration(r.to_confirmation_ms()) : "not confirmed"});
  }
  return table(rows);
}

std::string overlays_table(const v1::Insights& in) {
  std::vector<Row> rows = {{"kind", "by", "lasted", "ended"}};
  for (const v1::OverlayInsight& o : in.overlays()) {
    std::string ended = o.ending() == v1::OVERLAY_ENDING_UNSPECIFIED ? "still going on"
                                                                     : words_of(v1::OverlayEnding_Name(o.ending()), "OVERLAY_");
    if (o.extensions() > 0) ended += ", extended " + std::to_string(o.extensions()) + "x";
    rows.push_back({words_of(v1::OverlayKind_Name(o.kind()), "OVERLAY_"), partner_name(o.caller()),
                    o.ended_ms() != 0 ? duration(o.duration_ms()) : "-", ended});
  }
  return table(rows);
}

std::string timeline_table(const v1::Insights& in) {
  std::vector<Row> rows = {{"phase", "speaker", "lasted"}};
  for (const v1::PhaseSpan& span : in.timeline()) {
    rows.push_back({words_of(v1::Phase_Name(span.phase()), "PHASE_"),
                    span.speaker() == v1::ROLE_UNSPECIFIED ? "" : partner_name(span.speaker()),
                    span.duration_ms() != 0 ? duration(span.duration_ms()) : "(now)"});
  }
  return table(rows);
}

}  // namespace

std::string render_insights(const v1::Insights& in) {
  std::string out = "Conversation " + in.room_id() + " (" + in.template_name() + "), " +
                    words_of(v1::Phase_Name(in.phase()), "PHASE_");
  if (in.closed_ms() != 0) {
    out += ", " + words_of(v1::ClosedReason_Name(in.closed_reason()), "");
    if (in.opened_ms() != 0) out += " after " + duration(in.closed_ms() - in.opened_ms());
  }
  out += "\n\n" + partners_table(in);
  if (in.shares_size() > 0) out += "\nShares\n" + shares_table(in);
  if (in.reflections_size() > 0) out += "\nReflections\n" + reflections_table(in);
  if (in.overlays_size() > 0) out += "\nPauses and time-outs\n" + overlays_table(in);
  if (in.timeline_size() > 0) out += "\nPhases\n" + timeline_table(in);
  return out;
}

std::string render_summary(const v1::ConversationSummary& summary) {
  auto name = [&](v1::Role role) {
    return role == v1::PARTNER_A ? summary.partner_a_name() : summary.partner_b_name();
  };
  auto listener = [&](v1::Role speaker) {
    return name(speaker == v1::PARTNER_A ? v1::PARTNER_B : v1::PARTNER_A);
  };
  std::string out = "What you understood of each other (" + summary.template_name() + ")\n";
  for (const v1::SummaryTurn& turn : summary.turns()) {
    out += "\n" + (turn.stage_title().empty() ? "" : turn.stage_title() + ": ") + name(turn.speaker()) + " said\n";
    for (const std::string& words : turn.confirmed_words()) out += "  " + words + "\n";
    for (const std::string& reflection : turn.confirmed_reflections()) {
      out += "  " + listener(turn.speaker()) + " understood: " + reflection + "\n";
    }
  }
  if (summary.agreements_size() > 0) {
    out += "\nWhat you agreed\n";
    for (const auto& agreement : summary.agreements()) out += "  " + agreement.text() + "\n";
  }
  if (summary.appreciations_size() > 0) {
    out += "\nAppreciations\n";
    for (const auto& a : summary.appreciations()) out += "  " + name(a.from()) + ": " + a.text() + "\n";
  }
  if (summary.turns_size() == 0 && summary.appreciations_size() == 0 && summary.agreements_size() == 0) {
    out += "\nNothing is kept of the words (erased, taken back or past their retention).\n";
  }
  return out;
}

}  // namespace mend::cli
