#include "line_commands.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <vector>

#include "describe.h"
#include "render.h"
#include "time_text.h"

namespace mend::cli {
namespace {

using Kind = LineAction::Kind;

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "take-that-back" -> "TAKE_THAT_BACK", for the enum names of the proto.
std::string enum_spelling(std::string_view text) {
  std::string out(trim(text));
  for (char& c : out) {
    c = c == '-' || c == ' ' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// "a | b | c" -> {"a", "b", "c"}, each trimmed.
std::vector<std::string> split_bars(std::string_view text) {
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const std::size_t bar = text.find('|', start);
    const std::size_t length = bar == std::string_view::npos ? text.npos : bar - start;
    parts.emplace_back(trim(text.substr(start, length)));
    if (bar == std::string_view::npos) return parts;
    start = bar + 1;
  }
}

LineAction message(std::string text) { return {Kind::kMessage, {}, std::move(text)}; }

LineAction send(v1::Command command, std::string what) {
  return {Kind::kSend, std::move(command), std::move(what)};
}

std::optional<std::uint64_t> parse_seq(std::string_view text) {
  text = trim(text);
  if (!text.empty() && (text.front() == '#' || text.front() == '[')) text.remove_prefix(1);
  if (!text.empty() && text.back() == ']') text.remove_suffix(1);
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value == 0 ? std::nullopt : std::optional<std::uint64_t>(value);
}

// A seq argument, or the only / latest candidate when the argument is omitted.
std::optional<std::uint64_t> seq_or_candidate(
    std::string_view args, const google::protobuf::RepeatedField<std::uint64_t>* candidates,
    bool latest) {
  if (!trim(args).empty()) return parse_seq(args);
  if (candidates == nullptr || candidates->empty()) return std::nullopt;
  if (latest || candidates->size() == 1) return *std::max_element(candidates->begin(), candidates->end());
  return std::nullopt;
}

std::optional<bool> parse_yes_no(std::string_view text) {
  const std::string word = lower(trim(text));
  if (word == "yes" || word == "y" || word == "true" || word == "on") return true;
  if (word == "no" || word == "n" || word == "false" || word == "off") return false;
  return std::nullopt;
}

std::optional<v1::SignalKind> parse_signal(std::string_view text) {
  const std::string name = enum_spelling(text);
  if (name == "HEARD") return v1::FEELING_HEARD;
  if (name == "REASSURANCE") return v1::NEED_REASSURANCE;
  if (name == "TIME" || name == "TAKE_TIME") return v1::TAKE_YOUR_TIME;
  v1::SignalKind kind{};
  if (name.empty() || !v1::SignalKind_Parse(name, &kind) || kind == v1::SIGNAL_KIND_UNSPECIFIED) {
    return std::nullopt;
  }
  return kind;
}

std::optional<v1::RepairKind> parse_repair(std::string_view text) {
  std::string name = enum_spelling(text);
  if (name == "TAKE_BACK") name = "TAKE_THAT_BACK";
  if (name == "GENTLY") name = "SAY_IT_GENTLY";
  if (name == "AGREE" || name == "AGREE_PART") name = "AGREE_WITH_PART";
  if (name == "APPRECIATE") name = "I_APPRECIATE";
  if (name == "SORRY" || name == "IM_SORRY") name = "I_AM_SORRY";
  v1::RepairKind kind{};
  if (name.empty() || !v1::RepairKind_Parse(name, &kind) ||
      kind == v1::REPAIR_KIND_UNSPECIFIED) {
    return std::nullopt;
  }
  return kind;
}

// ---- builders for commands with a text -------------------------------------------------

LineAction text_command(v1::Action action, std::string_view text, const LineContext& context) {
  const std::string body(trim(text));
  if (body.empty()) return message("Please add some words after the command.");
  v1::Command command;
  switch (action) {
    case v1::ACTION_OPEN: {
      // INTENTION [| TOPIC [| I FEEL | ABOUT | I NEED]]: the start-up form's lines last.
      const std::vector<std::string> parts = split_bars(body);
      if (parts.size() == 1 && context.view != nullptr && context.view->topic().empty()) {
        return message(
            "This room has no topic yet: please type INTENTION | TOPIC, e.g. \"I care "
            "about us | the holidays\".");
      }
      if (parts.size() > 5) {
        return message("Please type at most INTENTION | TOPIC | I FEEL | ABOUT | I NEED.");
      }
      auto* open = command.mutable_open();
      open->set_intention(parts[0]);
      if (parts.size() > 1) open->set_topic(parts[1]);
      if (parts.size() > 2) open->mutable_startup()->set_feeling(parts[2]);
      if (parts.size() > 3) open->mutable_startup()->set_situation(parts[3]);
      if (parts.size() > 4) open->mutable_startup()->set_need(parts[4]);
      return send(std::move(command), "opening the conversation");
    }
    case v1::ACTION_SHARE:
      command.mutable_share()->set_text(body);
      return send(std::move(command), "sharing");
    case v1::ACTION_REFLECT: {
      auto kind = context.view != nullptr ? context.view->expected_reflection() : v1::MIRROR;
      if (kind == v1::REFLECTION_KIND_UNSPECIFIED) kind = v1::MIRROR;
      command.mutable_reflect()->set_kind(kind);
      command.mutable_reflect()->set_text(body);
      return send(std::move(command), "reflecting");
    }
    case v1::ACTION_CORRECT:
      command.mutable_correct()->set_text(body);
      return send(std::move(command), "clarifying");
    case v1::ACTION_STILL_NEED:
      command.mutable_still_need()->set_text(body);
      return send(std::move(command), "saying what you still need");
    case v1::ACTION_ASK:
      command.mutable_ask()->set_text(body);
      return send(std::move(command), "asking");
    case v1::ACTION_ADVISE:
      command.mutable_advise()->set_text(body);
      return send(std::move(command), "advising");
    case v1::ACTION_PROPOSE:
      command.mutable_propose()->set_text(body);
      return send(std::move(command), "proposing");
    case v1::ACTION_APPRECIATE:
      command.mutable_appreciate()->set_text(body);
      return send(std::move(command), "appreciating");
    case v1::ACTION_NOTE:
      command.mutable_note()->set_text(body);
      return send(std::move(command), "noting privately");
    case v1::ACTION_PROMPT:
      command.mutable_prompt()->set_text(body);
      return send(std::move(command), "prompting");
    default: return message("That cannot be typed.");
  }
}

LineAction typed_line(std::string_view text, const LineContext& context) {
  if (context.view == nullptr) return message("Still connecting; please try again in a moment.");
  const auto action = typed_action(*context.view);
  if (!action) {
    const auto actions = describe_allowed_actions(*context.view);
    std::string hint = actions.empty() ? "you can /signal listening, /pause, or see /help"
                                       : actions.front();
    return message("Nothing to type right now (" +
                   describe_situation(*context.view, context.now_ms, context.utc_offset_s) +
                   "). Now: " + hint + ".");
  }
  return text_command(*action, text, context);
}

// ---- the slash commands ------------------------------------------------------------------

using Parser = LineAction (*)(std::string_view args, const LineContext& context);

struct SlashCommand {
  std::string_view name;
  std::string_view alias;  // empty when none
  std::string_view usage;
  std::string_view help;
  bool for_partners;
  bool for_observers;
  Parser parse;
};

template <typename Setter>
LineAction simple(Setter set, std::string what) {
  v1::Command command;
  set(command);
  return send(std::move(command), std::move(what));
}

LineAction parse_pause(std::string_view args, const LineContext&) {
  v1::Command command;
  auto* pause = command.mutable_pause();
  if (!trim(args).empty()) {
    const auto duration = parse_duration(args);
    if (!duration) return message("Usage: /pause [2m] (a duration such as 90s, 2m or 5m).");
    pause->set_duration_s(static_cast<std::uint32_t>(duration->count()));
    return send(std::move(command), "pausing for " + format_duration(*duration));
  }
  return send(std::move(command), "pausing");
}

LineAction parse_time_out(std::string_view args, const LineContext& context) {
  v1::Command command;
  auto* time_out = command.mutable_time_out();
  if (!trim(args).empty()) {
    const auto at = parse_moment_ms(args, context.now_ms, context.utc_offset_s);
    if (!at) return message("Usage: /timeout [30m | 19:00] (when you will come back).");
    time_out->set_return_at_ms(*at);
    return send(std::move(command),
                "taking a time-out until " + format_clock(*at, context.utc_offset_s));
  }
  return send(std::move(command), "taking a time-out");
}

LineAction parse_extend(std::string_view args, const LineContext& context) {
  args = trim(args);
  std::optional<std::int64_t> at = next_clock_time_ms(args, context.now_ms, context.utc_offset_s);
  if (!at) {
    const auto more = parse_duration(args);
    if (!more) return message("Usage: /extend 30m (more time) or /extend 19:30 (new time).");
    std::int64_t base = context.now_ms;
    if (context.view != nullptr) base = std::max(base, context.view->overlay_ends_at_ms());
    at = base + std::chrono::duration_cast<std::chrono::milliseconds>(*more).count();
  }
  v1::Command command;
  command.mutable_extend()->set_return_at_ms(*at);
  return send(std::move(command), "coming back at " + format_clock(*at, context.utc_offset_s));
}

LineAction parse_appointment(std::string_view args, const LineContext& context, bool reschedule) {
  const auto at = parse_moment_ms(args, context.now_ms, context.utc_offset_s);
  if (!at) {
    return message(reschedule ? "Usage: /reschedule 18:30 (or a delay such as 2h)."
                              : "Usage: /propose-time 18:30 (or a delay such as 2h).");
  }
  v1::Command command;
  if (reschedule) {
    command.mutable_reschedule()->set_start_at_ms(*at);
  } else {
    command.mutable_propose_time()->set_start_at_ms(*at);
  }
  return send(std::move(command), "suggesting " + format_clock(*at, context.utc_offset_s));
}

LineAction parse_consent(std::string_view args, const LineContext& context) {
  v1::ConsentTerms terms;
  if (context.view != nullptr) terms = context.view->your_terms();
  std::string rest(trim(args));
  std::size_t pos = 0;
  while (pos < rest.size()) {
    const std::size_t end = std::min(rest.find(' ', pos), rest.size());
    const std::string_view word = std::string_view(rest).substr(pos, end - pos);
    pos = end + 1;
    if (trim(word).empty()) continue;
    const std::size_t eq = word.find('=');
    if (eq == std::string_view::npos) {
      return message("Usage: /consent retention=30 observers=NAME[,NAME] summary=yes|no "
                     "transcript=yes|no");
    }
    const std::string key = lower(word.substr(0, eq));
    const std::string_view value = word.substr(eq + 1);
    if (key == "retention" || key == "retention_days" || key == "days") {
      const auto days = parse_seq(value);
      if (!days && trim(value) != "0") return message("retention= takes a number of days.");
      terms.set_retention_days(static_cast<std::uint32_t>(days.value_or(0)));
    } else if (key == "observers" || key == "observer") {
      terms.clear_observers();
      if (lower(value) != "none") {
        std::size_t start = 0;
        while (start <= value.size()) {
          const std::size_t comma = std::min(value.find(',', start), value.size());
          const auto name = trim(value.substr(start, comma - start));
          if (!name.empty()) terms.add_observers(std::string(name));
          start = comma + 1;
        }
      }
    } else if (key == "summary" || key == "transcript") {
      const auto yes = parse_yes_no(value);
      if (!yes) return message(key + "= takes yes or no.");
      if (key == "summary") {
        terms.set_summary_to_observer(*yes);
      } else {
        terms.set_transcript_to_observer(*yes);
      }
    } else {
      return message("Unknown consent term \"" + key +
                     "\": use retention, observers, summary or transcript.");
    }
  }
  v1::Command command;
  *command.mutable_consent()->mutable_terms() = terms;
  return send(std::move(command), "agreeing to the terms");
}

LineAction parse_observer_name(std::string_view args, bool approve) {
  const std::string name(trim(args));
  if (name.empty()) return message(approve ? "Usage: /approve NAME" : "Usage: /revoke NAME");
  v1::Command command;
  if (approve) {
    command.mutable_approve_observer()->set_observer(name);
  } else {
    command.mutable_revoke_observer()->set_observer(name);
  }
  return send(std::move(command), approve ? "welcoming " + name : "withdrawing " + name);
}

LineAction parse_signal_command(std::string_view args, const LineContext&) {
  const auto kind = parse_signal(args);
  if (!kind) {
    return message("Usage: /signal listening | heard | reassurance | overwhelmed | "
                   "take-your-time");
  }
  v1::Command command;
  command.mutable_signal()->set_kind(*kind);
  return send(std::move(command), "signalling \"" + signal_words(*kind) + "\"");
}

LineAction parse_repair_command(std::string_view args, const LineContext&) {
  const auto kind = parse_repair(args);
  if (!kind) {
    return message("Usage: /repair take-that-back | try-again | gently | agree | appreciate | "
                   "sorry");
  }
  v1::Command command;
  command.mutable_repair()->set_kind(*kind);
  return send(std::move(command), "saying \"" + repair_words(*kind) + "\"");
}

LineAction parse_retract(std::string_view args, const LineContext& context) {
  const auto seq = seq_or_candidate(
      args, context.view != nullptr ? &context.view->retractable() : nullptr, true);
  if (!seq) return message("Usage: /retract N (the number in brackets of your own message).");
  v1::Command command;
  command.mutable_retract()->set_seq(*seq);
  return send(std::move(command), "taking back [" + std::to_string(*seq) + "]");
}

LineAction parse_decline(std::string_view args, const LineContext& context) {
  const auto seq = seq_or_candidate(
      args, context.view != nullptr ? &context.view->declinable() : nullptr, false);
  if (!seq) return message("Usage: /decline N (the number in brackets of the request).");
  v1::Command command;
  command.mutable_decline()->set_seq(*seq);
  return send(std::move(command), "declining [" + std::to_string(*seq) + "]");
}

LineAction parse_accept(std::string_view args, const LineContext& context) {
  const auto seq = seq_or_candidate(
      args, context.view != nullptr ? &context.view->acceptable_proposals() : nullptr, false);
  if (!seq) return message("Usage: /accept N (the number in brackets of the proposal).");
  v1::Command command;
  command.mutable_accept_proposal()->set_seq(*seq);
  return send(std::move(command), "accepting [" + std::to_string(*seq) + "]");
}

LineAction parse_solve(std::string_view args, const LineContext&) {
  const auto yes = parse_yes_no(args);
  if (!yes) return message("Usage: /solve yes or /solve no");
  v1::Command command;
  command.mutable_problem_solving_choice()->set_opt_in(*yes);
  return send(std::move(command), *yes ? "choosing to look for solutions"
                                       : "choosing not to look for solutions today");
}

LineAction parse_finish(std::string_view, const LineContext& context) {
  v1::Command command;
  if (context.view != nullptr && allows(*context.view, v1::ACTION_FINISH_PROBLEM_SOLVING)) {
    command.mutable_finish_problem_solving();
    return send(std::move(command), "finishing problem solving");
  }
  command.mutable_finish();
  return send(std::move(command), "finishing");
}

LineAction parse_break(std::string_view args, const LineContext&) {
  v1::Command command;
  auto* consult = command.mutable_consult_break();
  if (!trim(args).empty()) {
    const auto duration = parse_duration(args);
    if (!duration) return message("Usage: /break [5m]");
    consult->set_duration_s(static_cast<std::uint32_t>(duration->count()));
  }
  return send(std::move(command), "calling a break");
}

#define MEND_TEXT_PARSER(action) \
  [](std::string_view args, const LineContext& context) { return text_command(action, args, context); }
#define MEND_SIMPLE_PARSER(field, what)                                                  \
  [](std::string_view, const LineContext&) {                                            \
    return simple([](v1::Command& command) { command.mutable_##field(); }, what);        \
  }

constexpr SlashCommand kCommands[] = {
    {"help", "?", "/help", "show this help", true, true,
     [](std::string_view, const LineContext&) { return LineAction{Kind::kHelp, {}, {}}; }},
    {"status", "", "/status", "show where the conversation is and what you may do", true, true,
     [](std::string_view, const LineContext&) { return LineAction{Kind::kStatus, {}, {}}; }},
    {"accept-invite", "", "/accept-invite", "start the conversation now", true, false,
     MEND_SIMPLE_PARSER(accept_invitation, "accepting the invitation")},
    {"propose-time", "", "/propose-time 18:30", "suggest a time within the next day", true,
     false,
     [](std::string_view args, const LineContext& context) {
       return parse_appointment(args, context, false);
     }},
    {"consent", "", "/consent retention=30 observers=NAME summary=yes",
     "agree to the terms: days to keep the conversation, who may observe, summaries", true,
     false, parse_consent},
    {"approve", "", "/approve NAME", "welcome an invited observer", true, false,
     [](std::string_view args, const LineContext&) { return parse_observer_name(args, true); }},
    {"revoke", "", "/revoke NAME", "withdraw your approval; the observer leaves at once", true,
     false,
     [](std::string_view args, const LineContext&) { return parse_observer_name(args, false); }},
    {"join", "", "/join", "enter the room once both partners welcomed you", false, true,
     MEND_SIMPLE_PARSER(join, "joining")},
    {"open", "", "/open INTENTION [| TOPIC [| I FEEL | ABOUT | I NEED]]",
     "open the conversation (with the start-up lines where offered)", true, false,
     MEND_TEXT_PARSER(v1::ACTION_OPEN)},
    {"share", "", "/share TEXT", "share (same as typing while you have the floor)", true, false,
     MEND_TEXT_PARSER(v1::ACTION_SHARE)},
    {"reflect", "mirror", "/reflect TEXT", "reflect what you heard (same as typing)", true,
     false, MEND_TEXT_PARSER(v1::ACTION_REFLECT)},
    {"confirm", "", "/confirm", "tell the listener they got it", true, false,
     MEND_SIMPLE_PARSER(confirm, "confirming")},
    {"correct", "", "/correct TEXT", "gently say what was missed", true, false,
     MEND_TEXT_PARSER(v1::ACTION_CORRECT)},
    {"more", "", "/more", "there is more you want to share", true, false,
     MEND_SIMPLE_PARSER(more, "keeping the floor")},
    {"nomore", "no-more", "/nomore", "you have said it all for now", true, false,
     MEND_SIMPLE_PARSER(no_more, "saying that is all")},
    {"pass", "", "/pass", "pass the floor to your partner, at any point of your turn", true,
     false, MEND_SIMPLE_PARSER(pass_floor, "passing the floor")},
    {"moveon", "move-on", "/moveon", "you have both said enough: ready to move on", true, false,
     MEND_SIMPLE_PARSER(move_on, "ready to move on")},
    {"accept-apology", "", "/accept-apology", "accept your partner's apology", true, false,
     MEND_SIMPLE_PARSER(accept_apology, "accepting the apology")},
    {"still-need", "", "/still-need TEXT", "say what you still need", true, false,
     MEND_TEXT_PARSER(v1::ACTION_STILL_NEED)},
    {"ask", "", "/ask TEXT",
     "ask the speaker a question or for an example (where the step allows it)", true, false,
     MEND_TEXT_PARSER(v1::ACTION_ASK)},
    {"advice", "", "/advice", "ask your partner for advice", true, false,
     MEND_SIMPLE_PARSER(request_advice, "asking for advice")},
    {"advise", "", "/advise TEXT", "give the advice you were asked for", true, false,
     MEND_TEXT_PARSER(v1::ACTION_ADVISE)},
    {"feel-understood", "", "/feel-understood",
     "you feel your partner understands you (opens problem solving)", true, false,
     MEND_SIMPLE_PARSER(feel_understood, "saying you feel understood")},
    {"understood", "", "/understood", "tell your partner you understand their view", true,
     false, MEND_SIMPLE_PARSER(understood, "saying you understand")},
    {"solve", "", "/solve yes|no", "look for solutions together, or not today", true, false,
     parse_solve},
    {"propose", "", "/propose TEXT", "propose a small step (problem solving)", true, false,
     MEND_TEXT_PARSER(v1::ACTION_PROPOSE)},
    {"accept", "", "/accept N", "accept proposal [N]", true, false, parse_accept},
    {"decline", "", "/decline N",
     "decline request [N] (a question, advice asked for, a proposal, a time), no penalty",
     true, false, parse_decline},
    {"appreciate", "", "/appreciate TEXT", "share an appreciation (closing)", true, false,
     MEND_TEXT_PARSER(v1::ACTION_APPRECIATE)},
    {"finish", "", "/finish", "finish problem solving, or close without an appreciation", true,
     false, parse_finish},
    {"pause", "", "/pause [2m]", "\"I need a minute\": everything waits until you /return",
     true, false, parse_pause},
    {"timeout", "time-out", "/timeout [30m | 19:00]",
     "a longer time-out, with a time you will come back (at least 20 min)", true, false,
     parse_time_out},
    {"return", "", "/return", "come back from your pause, time-out or break", true, true,
     MEND_SIMPLE_PARSER(return_, "coming back")},
    {"extend", "", "/extend 45m", "add time to your time-out (or /extend 19:30)", true, false,
     parse_extend},
    {"ready", "", "/ready", "ready to continue after a pause", true, false,
     MEND_SIMPLE_PARSER(ready, "ready to continue")},
    {"reschedule", "", "/reschedule 18:30", "set a time to continue after a long time-out",
     true, false,
     [](std::string_view args, const LineContext& context) {
       return parse_appointment(args, context, true);
     }},
    {"signal", "", "/signal listening|heard|reassurance|overwhelmed|take-your-time",
     "a wordless signal, any time", true, false, parse_signal_command},
    {"repair", "", "/repair take-that-back|try-again|gently|agree|appreciate|sorry",
     "a repair attempt, any time", true, false, parse_repair_command},
    {"retract", "", "/retract [N]", "take back your message [N] (default: your latest)", true,
     false, parse_retract},
    {"leave", "", "/leave",
     "partners: end the conversation for both of you; observers: leave the room", true, true,
     MEND_SIMPLE_PARSER(leave, "leaving")},
    {"note", "", "/note TEXT", "a private note only you will ever see", false, true,
     MEND_TEXT_PARSER(v1::ACTION_NOTE)},
    {"prompt", "", "/prompt TEXT", "a prompt both partners see", false, true,
     MEND_TEXT_PARSER(v1::ACTION_PROMPT)},
    {"break", "", "/break [5m]", "give both partners a short break", false, true, parse_break},
    {"end", "", "/end", "end the session (safety)", false, true,
     MEND_SIMPLE_PARSER(end_session, "ending the session")},
    {"reconnect", "", "/reconnect", "drop the connection and resume (if things look stuck)",
     true, true,
     [](std::string_view, const LineContext&) { return LineAction{Kind::kReconnect, {}, {}}; }},
    {"quit", "exit", "/quit", "close mend here; the conversation goes on (Ctrl-D too)", true,
     true, [](std::string_view, const LineContext&) { return LineAction{Kind::kQuit, {}, {}}; }},
};

#undef MEND_TEXT_PARSER
#undef MEND_SIMPLE_PARSER

const SlashCommand* find_command(std::string_view name) {
  const std::string wanted = lower(name);
  for (const SlashCommand& command : kCommands) {
    if (wanted == command.name || (!command.alias.empty() && wanted == command.alias)) {
      return &command;
    }
  }
  return nullptr;
}

}  // namespace

LineAction interpret_line(std::string_view line, const LineContext& context) {
  line = trim(line);
  if (line.empty()) return {};
  if (line.front() != '/') return typed_line(line, context);
  line.remove_prefix(1);
  const std::size_t space = line.find_first_of(" \t");
  const std::string_view name = line.substr(0, space);
  const std::string_view args = space == std::string_view::npos ? "" : line.substr(space + 1);
  const SlashCommand* command = find_command(name);
  if (command == nullptr) {
    return message("There is no /" + std::string(name) + " command; /help lists them.");
  }
  return command->parse(args, context);
}

std::string help_text(bool observer) {
  std::string text = observer ? "Type a line to take a private note. Commands:\n"
                              : "Type a line to do what your step asks for (share, mirror, "
                                "open, propose, appreciate...). Commands:\n";
  for (const SlashCommand& command : kCommands) {
    if (observer ? !command.for_observers : !command.for_partners) continue;
    std::string usage(command.usage);
    if (!command.alias.empty() && command.alias != "?") {
      usage += " (/" + std::string(command.alias) + ")";
    }
    if (usage.size() < 34) usage.resize(34, ' ');
    text += "  " + usage + " " + std::string(command.help) + "\n";
  }
  return text;
}

}  // namespace mend::cli
