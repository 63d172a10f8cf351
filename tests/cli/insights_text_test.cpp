// What `mend insights` and `mend summary` print (issue 14).
#include <doctest/doctest.h>

#include <google/protobuf/text_format.h>

#include "insights_text.h"

using namespace mend::cli;
namespace v1 = mend::v1;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("insights print as tables: partners side by side, shares with their mirror rounds, "
          "pauses and the phases") {
  v1::Insights in;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(R"pb(
    room_id: "r-1" template_name: "imago-dialogue" phase: PHASE_CLOSED
    opened_ms: 1000 closed_ms: 601000 closed_reason: COMPLETED
    partner_a { partner: PARTNER_A floor_time_ms: 90000 turns: 2 shares: 3 words_shared: 41
                refusals { code: NOT_YOUR_TURN count: 2 } signals { kind: OVERWHELMED count: 1 } }
    partner_b { partner: PARTNER_B floor_time_ms: 120000 turns: 1 mirrors_given: 4 pauses: 1 }
    shares { seq: 7 speaker: PARTNER_A words: 12 mirror_rounds: 2 corrections: 1 confirmed: true
             to_confirmation_ms: 30000 }
    shares { seq: 12 speaker: PARTNER_A words: 5 mirror_rounds: 0 retracted: true }
    reflections { first_seq: 15 listener: PARTNER_B kind: SUMMARY tries: 2 confirmed: true to_confirmation_ms: 60000 }
    overlays { kind: OVERLAY_PAUSE caller: PARTNER_B started_ms: 5000 ended_ms: 95000 duration_ms: 90000
               ending: OVERLAY_RETURNED_EARLY }
    timeline { phase: PHASE_SPEAKING speaker: PARTNER_A duration_ms: 120000 }
    timeline { phase: PHASE_CLOSED }
  )pb", &in));
  const std::string text = render_insights(in);
  CHECK(text.rfind("Conversation r-1 (imago-dialogue), closed, completed after 10 min\n", 0) == 0);
  CHECK(has(text, "floor time         90 s             2 min\n"));
  CHECK(has(text, "words shared       41               0\n"));
  CHECK(has(text, "refusals           NOT_YOUR_TURN 2  -\n"));
  CHECK(has(text, "signals            overwhelmed 1"));
  CHECK(has(text, "7    A   1      12     2              1            30 s\n"));
  CHECK(has(text, "not confirmed (taken back)"));
  CHECK(has(text, "15   B   summary  2      0            1 min\n"));
  CHECK(has(text, "pause  B   90 s    returned early\n"));
  CHECK(has(text, "speaking  A        2 min\n"));
  CHECK(has(text, "closed             (now)\n"));
}

TEST_CASE("a summary prints each turn's confirmed words and reflections with the names") {
  v1::ConversationSummary summary;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(R"pb(
    template_name: "speaker-listener" partner_a_name: "Sam" partner_b_name: "Alex"
    turns { stage_title: "The floor" speaker: PARTNER_B confirmed_words: "I was hurt"
            confirmed_reflections: "you were hurt" }
    agreements { proposed_by: PARTNER_A text: "walk on Sundays" }
    appreciations { from: PARTNER_A text: "thank you" }
  )pb", &summary));
  const std::string text = render_summary(summary);
  CHECK(has(text, "The floor: Alex said\n  I was hurt\n  Sam understood: you were hurt\n"));
  CHECK(has(text, "What you agreed\n  walk on Sundays\n"));
  CHECK(has(text, "Appreciations\n  Sam: thank you\n"));
  CHECK(has(render_summary(v1::ConversationSummary()), "Nothing is kept of the words"));
}
