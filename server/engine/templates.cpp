#include "server/engine/templates.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

namespace mend::engine {
namespace {

namespace pb = google::protobuf;
using namespace limits;

// ---------------------------------------------------------------------------------------
// Field paths: a broken rule points at a field by descriptor steps, so that the same path
// gives both the printed name ("stages[1].more_loop") and the line in the parsed text.

struct FieldStep {
  const pb::FieldDescriptor* field;
  int index;  // -1 for a singular field, or for a repeated field as a whole
};
using FieldPath = std::vector<FieldStep>;

struct Issue {
  FieldPath path;
  std::string message;
};

const pb::FieldDescriptor* field_of(const pb::Descriptor* message, int number) {
  const pb::FieldDescriptor* field = message->FindFieldByNumber(number);
  // The numbers below are generated constants of the same schema: a miss is a build error
  // waiting to happen, never input-dependent.
  if (field == nullptr) std::abort();
  return field;
}

FieldPath child(FieldPath parent, const pb::Descriptor* message, int number, int index = -1) {
  parent.push_back({field_of(message, number), index});
  return parent;
}

std::string path_name(const FieldPath& path) {
  std::string out;
  for (const FieldStep& step : path) {
    if (!out.empty()) out += '.';
    out += step.field->name();
    if (step.index >= 0) out += '[' + std::to_string(step.index) + ']';
  }
  return out;
}

// 1-based line of the field at `path` in the parsed text. A field that is absent (proto3
// zero values, a missing required field) is reported at the line of its nearest present
// ancestor, or at line 1 when none is present.
int line_of(const FieldPath& path, const pb::TextFormat::ParseInfoTree& root) {
  int line = 0;  // 0-based line of the nearest present ancestor, as the parser counts
  const pb::TextFormat::ParseInfoTree* tree = &root;
  for (const FieldStep& step : path) {
    if (tree == nullptr) break;
    const bool whole_repeated = step.field->is_repeated() && step.index < 0;
    const int index = whole_repeated ? 0 : step.index;
    // List syntax ("kinds: [A, B]") records one location for the whole list: an element
    // without its own location is on the line of the nearest earlier one.
    int found = -1;
    for (int i = index; found < 0 && i >= 0; --i) found = tree->GetLocation(step.field, i).line;
    if (!step.field->is_repeated()) found = tree->GetLocation(step.field, -1).line;
    if (found < 0) break;
    line = found;
    if (whole_repeated || step.field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) break;
    tree = tree->GetTreeForNested(step.field, index);
  }
  return line + 1;
}

// ---------------------------------------------------------------------------------------
// Semantic rules.

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

bool is_identifier(std::string_view name) {
  if (name.empty() || name.size() > kNameBytes.bound) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

class Checker {
 public:
  std::vector<Issue> check(const v1::Template& tmpl) {
    check_template(tmpl);
    return std::move(issues_);
  }

 private:
  void fail(FieldPath path, std::string message) {
    issues_.push_back({std::move(path), std::move(message)});
  }

  void check_identifier(const std::string& name, FieldPath path, std::string_view what) {
    if (name.empty()) {
      fail(std::move(path), std::string(what) + " is required");
    } else if (!is_identifier(name)) {
      fail(std::move(path), std::string(what) + " \"" + name +
                                "\" must match [a-z0-9-]{1," + std::to_string(kNameBytes.bound) +
                                "}: lowercase letters, digits, '-'");
    }
  }

  void check_text(const std::string& text, FieldPath path, std::size_t max_bytes, bool required) {
    if (required && is_blank(text)) {
      fail(std::move(path), "is required and must not be blank");
    } else if (text.size() > max_bytes) {
      fail(std::move(path),
           "is " + std::to_string(text.size()) + " bytes; at most " + std::to_string(max_bytes));
    }
  }

  void check_template(const v1::Template& tmpl) {
    const pb::Descriptor* d = v1::Template::descriptor();
    check_identifier(tmpl.name(), child({}, d, v1::Template::kNameFieldNumber), "name");
    check_text(tmpl.title(), child({}, d, v1::Template::kTitleFieldNumber), kTitleBytes.bound, true);
    check_text(tmpl.description(), child({}, d, v1::Template::kDescriptionFieldNumber),
               kPromptBytes.bound, false);
    check_opening(tmpl.opening(), child({}, d, v1::Template::kOpeningFieldNumber));
    check_stages(tmpl);
    check_text(tmpl.closing().prompt(),
               child(child({}, d, v1::Template::kClosingFieldNumber), v1::Closing::descriptor(),
                     v1::Closing::kPromptFieldNumber),
               kPromptBytes.bound, false);
    check_timing(tmpl.timing(), child({}, d, v1::Template::kTimingFieldNumber));
  }

  void check_opening(const v1::Opening& opening, const FieldPath& at) {
    const pb::Descriptor* d = v1::Opening::descriptor();
    check_text(opening.intention_prompt(), child(at, d, v1::Opening::kIntentionPromptFieldNumber),
               kPromptBytes.bound, false);
    check_text(opening.topic_prompt(), child(at, d, v1::Opening::kTopicPromptFieldNumber),
               kPromptBytes.bound, false);
  }

  void check_stages(const v1::Template& tmpl) {
    const pb::Descriptor* d = v1::Template::descriptor();
    if (tmpl.stages_size() == 0) {
      fail(child({}, d, v1::Template::kStagesFieldNumber), "at least one stage is required");
      return;
    }
    constexpr int kMaxStages = static_cast<int>(kStages.bound);
    if (tmpl.stages_size() > kMaxStages) {
      fail(child({}, d, v1::Template::kStagesFieldNumber, kMaxStages),
           "at most " + std::to_string(kStages.bound) + " stages");
    }
    std::set<std::string, std::less<>> names;
    for (int i = 0; i < tmpl.stages_size(); ++i) {
      const v1::Stage& stage = tmpl.stages(i);
      const FieldPath at = child({}, d, v1::Template::kStagesFieldNumber, i);
      check_stage(stage, at);
      if (!stage.name().empty() && !names.insert(stage.name()).second) {
        fail(child(at, v1::Stage::descriptor(), v1::Stage::kNameFieldNumber),
             "stage name \"" + stage.name() + "\" is used by an earlier stage; names are unique");
      }
    }
  }

  void check_stage(const v1::Stage& stage, const FieldPath& at) {
    const pb::Descriptor* d = v1::Stage::descriptor();
    check_identifier(stage.name(), child(at, d, v1::Stage::kNameFieldNumber), "stage name");
    check_text(stage.title(), child(at, d, v1::Stage::kTitleFieldNumber), kTitleBytes.bound, true);
    check_text(stage.speaker_prompt(), child(at, d, v1::Stage::kSpeakerPromptFieldNumber),
               kPromptBytes.bound, true);
    check_text(stage.listener_prompt(), child(at, d, v1::Stage::kListenerPromptFieldNumber),
               kPromptBytes.bound, false);
    if (stage.opener() != v1::PARTNER_A && stage.opener() != v1::PARTNER_B) {
      fail(child(at, d, v1::Stage::kOpenerFieldNumber),
           "opener must be PARTNER_A or PARTNER_B (who speaks first in this stage)");
    }
    if (stage.more_loop() && !stage.mirror_each_chunk()) {
      fail(child(at, d, v1::Stage::kMoreLoopFieldNumber),
           "more_loop requires mirror_each_chunk: \"is there more?\" follows a confirmed mirror");
    }
    if (stage.until_both_move_on() && !stage.both_partners()) {
      fail(child(at, d, v1::Stage::kUntilBothMoveOnFieldNumber),
           "until_both_move_on requires both_partners: the floor goes back and forth between them");
    }
    if (stage.listener_may_clarify() && !stage.mirror_each_chunk()) {
      fail(child(at, d, v1::Stage::kListenerMayClarifyFieldNumber),
           "listener_may_clarify requires mirror_each_chunk: clarification is asked for in "
           "place of a mirror");
    }
    check_reflections(stage, at);
    check_turn_end(stage, at);
    if (!v1::StageCloser_IsValid(stage.closer())) {
      fail(child(at, d, v1::Stage::kCloserFieldNumber),
           "unknown closer value " + std::to_string(stage.closer()));
    }
    if (stage.chunk_max_chars() > kChunkMaxChars.bound) {
      fail(child(at, d, v1::Stage::kChunkMaxCharsFieldNumber),
           "is " + std::to_string(stage.chunk_max_chars()) + "; at most " +
               std::to_string(kChunkMaxChars.bound));
    }
    if (stage.soft_turn_s() > kSoftTurnS.bound) {
      fail(child(at, d, v1::Stage::kSoftTurnSFieldNumber),
           "is " + std::to_string(stage.soft_turn_s()) + " s; at most " +
               std::to_string(kSoftTurnS.bound) + " s");
    }
    check_questions(stage, at);
  }

  void check_reflections(const v1::Stage& stage, const FieldPath& at) {
    const pb::Descriptor* d = v1::Stage::descriptor();
    std::set<int> seen;
    for (int i = 0; i < stage.turn_reflections_size(); ++i) {
      const v1::ReflectionKind kind = stage.turn_reflections(i);
      const FieldPath here = child(at, d, v1::Stage::kTurnReflectionsFieldNumber, i);
      if (kind != v1::SUMMARY && kind != v1::VALIDATION && kind != v1::EMPATHY) {
        fail(here,
             "turn_reflections may hold only SUMMARY, VALIDATION and EMPATHY "
             "(MIRROR follows each chunk through mirror_each_chunk)");
      } else if (!seen.insert(kind).second) {
        fail(here, v1::ReflectionKind_Name(kind) + " is listed twice");
      }
    }
  }

  // With mirror_each_chunk and no more_loop the speaker ends a turn only with pass_floor,
  // which skips what is left of it: turn reflections and a closer could never happen.
  void check_turn_end(const v1::Stage& stage, const FieldPath& at) {
    if (!stage.mirror_each_chunk() || stage.more_loop()) return;
    const pb::Descriptor* d = v1::Stage::descriptor();
    const char* why =
        " can never be reached: with mirror_each_chunk the speaker finishes "
        "sharing through \"is there more?\"; set more_loop: true";
    if (stage.turn_reflections_size() > 0) {
      fail(child(at, d, v1::Stage::kTurnReflectionsFieldNumber, 0),
           std::string("turn_reflections") + why);
    }
    if (stage.closer() != v1::STAGE_CLOSER_UNSPECIFIED) {
      fail(child(at, d, v1::Stage::kCloserFieldNumber), std::string("closer") + why);
    }
  }

  void check_questions(const v1::Stage& stage, const FieldPath& at) {
    const pb::Descriptor* d = v1::Stage::descriptor();
    if (stage.listener_questions_size() > 0 && !stage.listener_may_ask()) {
      fail(child(at, d, v1::Stage::kListenerQuestionsFieldNumber, 0),
           "listener_questions require listener_may_ask: true");
    }
    constexpr int kMaxQuestions = static_cast<int>(kListenerQuestions.bound);
    if (stage.listener_questions_size() > kMaxQuestions) {
      fail(child(at, d, v1::Stage::kListenerQuestionsFieldNumber, kMaxQuestions),
           "at most " + std::to_string(kListenerQuestions.bound) + " questions");
    }
    for (int i = 0; i < stage.listener_questions_size(); ++i) {
      check_text(stage.listener_questions(i),
                 child(at, d, v1::Stage::kListenerQuestionsFieldNumber, i), kPromptBytes.bound, true);
    }
  }

  void check_timing(const v1::Timing& timing, const FieldPath& at) {
    const pb::Descriptor* d = v1::Timing::descriptor();
    const v1::Timing eff = with_defaults(timing);
    auto here = [&](int number) { return child(at, d, number); };
    auto seconds = [](std::uint32_t s) { return std::to_string(s) + " s"; };

    if (timing.reflection_beat_ms() > kReflectionBeatMs.bound) {
      fail(here(v1::Timing::kReflectionBeatMsFieldNumber),
           "is " + std::to_string(timing.reflection_beat_ms()) + " ms; at most " +
               std::to_string(kReflectionBeatMs.bound) + " ms");
    }
    if (timing.pause_max_s() > kPauseMaxS.bound) {
      fail(here(v1::Timing::kPauseMaxSFieldNumber), "is " + seconds(timing.pause_max_s()) +
                                                        "; a short pause lasts at most " +
                                                        seconds(kPauseMaxS.bound));
    } else if (eff.pause_default_s() > eff.pause_max_s()) {
      fail(here(timing.pause_default_s() != 0 ? v1::Timing::kPauseDefaultSFieldNumber
                                              : v1::Timing::kPauseMaxSFieldNumber),
           "the default pause (" + seconds(eff.pause_default_s()) +
               ") is longer than the maximum pause (" + seconds(eff.pause_max_s()) + ")");
    }
    check_time_out(timing, eff, at);
    if (timing.appointment_window_s() > kAppointmentWindowS.bound) {
      fail(here(v1::Timing::kAppointmentWindowSFieldNumber),
           "is " + seconds(timing.appointment_window_s()) + "; at most " +
               seconds(kAppointmentWindowS.bound));
    }
    if (timing.consult_break_max_s() > kConsultBreakMaxS.bound) {
      fail(here(v1::Timing::kConsultBreakMaxSFieldNumber),
           "is " + seconds(timing.consult_break_max_s()) + "; at most " +
               seconds(kConsultBreakMaxS.bound));
    } else if (eff.consult_break_default_s() > eff.consult_break_max_s()) {
      fail(here(timing.consult_break_default_s() != 0 ? v1::Timing::kConsultBreakDefaultSFieldNumber
                                                      : v1::Timing::kConsultBreakMaxSFieldNumber),
           "the default consultation break (" + seconds(eff.consult_break_default_s()) +
               ") is longer than the maximum (" + seconds(eff.consult_break_max_s()) + ")");
    }
  }

  void check_time_out(const v1::Timing& timing, const v1::Timing& eff, const FieldPath& at) {
    const pb::Descriptor* d = v1::Timing::descriptor();
    auto here = [&](int number) { return child(at, d, number); };
    auto seconds = [](std::uint32_t s) { return std::to_string(s) + " s"; };

    if (timing.time_out_min_s() != 0 && timing.time_out_min_s() < kTimeOutMinS.floor) {
      fail(here(v1::Timing::kTimeOutMinSFieldNumber),
           "is " + seconds(timing.time_out_min_s()) + "; a time-out lasts at least " +
               seconds(kTimeOutMinS.floor) + " (" +
               duration_text(kTimeOutMinS.floor) + ", the time it takes to calm down)");
      return;
    }
    if (timing.time_out_cap_s() > kTimeOutCapS.bound) {
      fail(here(v1::Timing::kTimeOutCapSFieldNumber), "is " + seconds(timing.time_out_cap_s()) +
                                                          "; a time-out ends within " +
                                                          seconds(kTimeOutCapS.bound) + " (" +
                                                          duration_text(kTimeOutCapS.bound) + ")");
      return;
    }
    if (eff.time_out_cap_s() < eff.time_out_min_s()) {
      fail(here(timing.time_out_cap_s() != 0 ? v1::Timing::kTimeOutCapSFieldNumber
                                             : v1::Timing::kTimeOutMinSFieldNumber),
           "the time-out cap (" + seconds(eff.time_out_cap_s()) + ") is below the minimum (" +
               seconds(eff.time_out_min_s()) + ")");
      return;
    }
    if (timing.time_out_default_s() != 0 && (timing.time_out_default_s() < eff.time_out_min_s() ||
                                             timing.time_out_default_s() > eff.time_out_cap_s())) {
      fail(here(v1::Timing::kTimeOutDefaultSFieldNumber),
           "is " + seconds(timing.time_out_default_s()) + "; it must lie within [" +
               seconds(eff.time_out_min_s()) + ", " + seconds(eff.time_out_cap_s()) + "]");
    }
  }

  std::vector<Issue> issues_;
};

// ---------------------------------------------------------------------------------------
// Syntax errors: the parser reports a line, a column and a message; the field is recovered by
// re-tokenizing the text up to that position (the path of open messages plus the last field
// name), or taken from the message when the parser names it.

struct SyntaxError {
  int line;    // 0-based
  int column;  // 0-based
  std::string message;
};

class CollectingErrors : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    errors.push_back({line, column, message});
  }
  std::vector<SyntaxError> errors;
};

class IgnoringErrors : public pb::io::ErrorCollector {
 public:
  void AddError(int, pb::io::ColumnNumber, const std::string&) override {}
};

struct OpenMessage {
  const pb::Descriptor* type;  // nullptr below an unknown field
  std::string path;
  std::map<std::string, int, std::less<>> repeats;  // next index per repeated child
};

std::string join_path(const std::string& parent, const std::string& name) {
  if (name.empty()) return parent;
  return parent.empty() ? name : parent + "." + name;
}

// Where a syntax error is: the field path being read at (line, column), e.g.
// "stages[1].opener", and its 0-based line.
struct SyntaxPlace {
  std::string field;
  int line;
};

SyntaxPlace place_of(std::string_view text, const SyntaxError& error) {
  pb::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  IgnoringErrors ignore;
  pb::io::Tokenizer tokens(&input, &ignore);
  std::vector<OpenMessage> open{{v1::Template::descriptor(), "", {}}};
  std::string current;
  int current_line = error.line;
  bool in_value = false;  // after ':' until the value was read
  bool in_list = false;   // inside "[ ... ]" of a value
  while (tokens.Next()) {
    const pb::io::Tokenizer::Token& t = tokens.current();
    if (t.line > error.line || (t.line == error.line && t.column >= error.column)) break;
    if (t.text == ":") {
      in_value = true;
    } else if (t.text == "[") {
      in_list = in_value;
    } else if (t.text == "]") {
      in_list = in_value = false;
    } else if (t.text == "{" || t.text == "<") {
      OpenMessage& parent = open.back();
      const pb::FieldDescriptor* f =
          parent.type == nullptr ? nullptr : parent.type->FindFieldByName(current);
      std::string name = current;
      if (f != nullptr && f->is_repeated()) {
        name += '[' + std::to_string(parent.repeats[current]++) + ']';
      }
      open.push_back(
          {f == nullptr ? nullptr : f->message_type(), join_path(parent.path, name), {}});
      current.clear();
      in_value = in_list = false;
    } else if (t.text == "}" || t.text == ">") {
      if (open.size() > 1) open.pop_back();
      current.clear();
      in_value = in_list = false;
    } else if (t.type == pb::io::Tokenizer::TYPE_IDENTIFIER && !in_value) {
      current = t.text;
      current_line = t.line;
    } else if (in_value && !in_list && t.text != ",") {
      in_value = false;  // the value was read; a following string literal is concatenated
    }
  }
  // The parser names the field in some messages ("no field named \"x\"", "Unknown
  // enumeration value of \"y\" for field \"x\""). A bad value is reported at the token
  // after it; the field's own line is the one to show.
  static const std::regex kNamed(R"(field (?:named )?\"([^\"]+)\")");
  std::smatch match;
  int line = error.line;
  if (std::regex_search(error.message, match, kNamed)) {
    if (match[1].str() == current) line = current_line;
    current = match[1].str();
  }
  return {join_path(open.back().path, current), line};
}

}  // namespace

// ---------------------------------------------------------------------------------------

std::string TemplateError::to_string() const {
  std::string out = file;
  if (line > 0) out += ':' + std::to_string(line);
  if (!out.empty()) out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

std::vector<TemplateError> validate(const v1::Template& tmpl) {
  std::vector<TemplateError> errors;
  for (Issue& issue : Checker{}.check(tmpl)) {
    errors.push_back({"", 0, path_name(issue.path), std::move(issue.message)});
  }
  return errors;
}

ParsedTemplate parse_template(std::string_view text, const std::string& file,
                              std::optional<std::string_view> expected_name) {
  ParsedTemplate out;
  v1::Template tmpl;
  CollectingErrors syntax;
  pb::TextFormat::ParseInfoTree locations;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&syntax);
  parser.WriteLocationsTo(&locations);
  const bool parsed = parser.ParseFromString(std::string(text), &tmpl);
  for (const SyntaxError& e : syntax.errors) {
    const SyntaxPlace place = place_of(text, e);
    out.errors.push_back({file, place.line + 1, place.field, "syntax: " + e.message});
  }
  if (!parsed) {
    if (out.errors.empty()) out.errors.push_back({file, 1, "", "syntax: cannot be parsed"});
    return out;
  }
  std::vector<Issue> issues = Checker{}.check(tmpl);
  const pb::FieldDescriptor* name_field =
      field_of(v1::Template::descriptor(), v1::Template::kNameFieldNumber);
  if (expected_name && !tmpl.name().empty() && tmpl.name() != *expected_name) {
    issues.insert(issues.begin(), Issue{{{name_field, -1}},
                                        "name \"" + tmpl.name() + "\" must equal the file name \"" +
                                            std::string(*expected_name) + "\" (without .textpb)"});
  }
  for (Issue& issue : issues) {
    out.errors.push_back(
        {file, line_of(issue.path, locations), path_name(issue.path), std::move(issue.message)});
  }
  if (out.errors.empty()) out.tmpl = std::move(tmpl);
  return out;
}

ParsedTemplate load_template_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    ParsedTemplate out;
    out.errors.push_back({path.string(), 0, "", "cannot read the file"});
    return out;
  }
  return parse_template(text.str(), path.string(), path.stem().string());
}

TemplateCatalog::LoadResult TemplateCatalog::load(const std::filesystem::path& dir) {
  LoadResult result;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;  // a dangling link is skipped, not fatal
    if (it->path().extension() == ".textpb" && it->is_regular_file(type_ec)) {
      files.push_back(it->path());
    }
  }
  if (ec) {
    result.errors.push_back(
        {dir.string(), 0, "", "cannot read the templates directory: " + ec.message()});
    return result;
  }
  if (files.empty()) {
    result.errors.push_back({dir.string(), 0, "", "holds no template (*.textpb)"});
    return result;
  }
  std::sort(files.begin(), files.end());
  TemplateCatalog catalog;
  for (const std::filesystem::path& file : files) {
    ParsedTemplate parsed = load_template_file(file);
    for (TemplateError& e : parsed.errors) result.errors.push_back(std::move(e));
    if (parsed.tmpl) catalog.by_name_.emplace(parsed.tmpl->name(), std::move(*parsed.tmpl));
  }
  if (result.errors.empty()) result.catalog = std::move(catalog);
  return result;
}

TemplateCatalog::LoadResult TemplateCatalog::from_templates(std::vector<v1::Template> templates) {
  LoadResult result;
  TemplateCatalog catalog;
  for (v1::Template& tmpl : templates) {
    std::vector<TemplateError> errors = validate(tmpl);
    if (errors.empty() && catalog.by_name_.count(tmpl.name()) != 0) {
      errors.push_back({"", 0, "name", "template \"" + tmpl.name() + "\" is defined twice"});
    }
    for (TemplateError& e : errors) result.errors.push_back(std::move(e));
    if (errors.empty()) catalog.by_name_.emplace(tmpl.name(), std::move(tmpl));
  }
  if (result.errors.empty()) result.catalog = std::move(catalog);
  return result;
}

const v1::Template* TemplateCatalog::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

std::vector<v1::TemplateSummary> TemplateCatalog::list() const {
  std::vector<v1::TemplateSummary> out;
  out.reserve(by_name_.size());
  for (const auto& [name, tmpl] : by_name_) {
    v1::TemplateSummary summary;
    summary.set_name(name);
    summary.set_title(tmpl.title());
    summary.set_description(tmpl.description());
    for (const v1::Stage& stage : tmpl.stages()) summary.add_stages(stage.title());
    summary.set_problem_solving(tmpl.problem_solving());
    out.push_back(std::move(summary));
  }
  return out;
}

}  // namespace mend::engine
