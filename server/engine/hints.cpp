#include "server/engine/hints.h"

#include <algorithm>

namespace mend::engine {
namespace {

// ASCII only, like the phrases: what std::tolower and std::isalpha do in the "C" locale mendd
// runs in (it never sets another), without a library call per character of every share.
constexpr char lower(char ch) {
  return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
}

constexpr bool is_letter(char ch) { return lower(ch) >= 'a' && lower(ch) <= 'z'; }

// Whether `text` contains `phrase` (lower case) starting at a word boundary.
bool contains_phrase(std::string_view text, std::string_view phrase) {
  auto it = text.begin();
  while (true) {
    it = std::search(it, text.end(), phrase.begin(), phrase.end(),
                     [](char a, char b) { return lower(a) == b; });
    if (it == text.end()) return false;
    if (it == text.begin() || !is_letter(*(it - 1))) return true;
    ++it;
  }
}

bool starts_with_you(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n\"'");
  if (first == std::string_view::npos) return false;
  text.remove_prefix(first);
  return text.size() >= 4 && lower(text[0]) == 'y' && lower(text[1]) == 'o' &&
         lower(text[2]) == 'u' && (text[3] == ' ' || text[3] == ',');
}

bool has_hint(const std::vector<v1::Hint>& hints, v1::HintCode code) {
  return std::any_of(hints.begin(), hints.end(),
                     [code](const v1::Hint& h) { return h.code() == code; });
}

void add(std::vector<v1::Hint>& hints, v1::HintCode code, const char* message) {
  if (has_hint(hints, code)) return;
  v1::Hint& hint = hints.emplace_back();
  hint.set_code(code);
  hint.set_message(message);
}

}  // namespace

void add_hints(std::string_view text, bool feelings_stage, std::vector<v1::Hint>& hints) {
  if (contains_phrase(text, "you always") || contains_phrase(text, "you never")) {
    add(hints, v1::ALWAYS_NEVER,
        "Try naming one specific moment instead of 'always' or 'never': it is easier to "
        "hear.");
  }
  if (contains_phrase(text, "i feel that") || contains_phrase(text, "i feel like")) {
    add(hints, v1::FEEL_THAT,
        "'I feel that' or 'I feel like' often introduces a thought; try naming the feeling "
        "itself, like 'I feel lonely'.");
  }
  if (starts_with_you(text)) {
    add(hints, v1::YOU_STATEMENT,
        "Starting with 'I' rather than 'you' helps your partner listen: say what you feel "
        "and need.");
  }
  if (feelings_stage && contains_phrase(text, "because")) {
    add(hints, v1::FEELING_BECAUSE,
        "Here it helps to name the feeling on its own; the reasons can come later.");
  }
}

}  // namespace mend::engine
