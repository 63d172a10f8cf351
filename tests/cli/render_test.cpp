// Events in plain, warm words.
#include <doctest/doctest.h>

#include "render.h"
#include "views.h"

using mend::cli::EventRenderer;
using mend::cli::testing::event;
using mend::cli::testing::view;
namespace v1 = mend::v1;

namespace {

constexpr std::int64_t kNow = 1'767'261'600'000;  // 2026-01-01 10:00 UTC

std::vector<std::string> render(const v1::Event& e, v1::Role you = v1::PARTNER_B) {
  EventRenderer renderer(0);
  return renderer.render(e, view(you, v1::PHASE_SPEAKING, {}));
}

std::string first(const v1::Event& e) {
  const auto lines = render(e);
  REQUIRE_FALSE(lines.empty());
  return lines.front();
}

}  // namespace

TEST_CASE("shared words appear under the speaker's name with their number") {
  auto e = event(12, v1::PARTNER_A);
  e.mutable_shared()->set_text("I felt alone last night");
  CHECK(first(e) == "[12] Sam: I felt alone last night");
}

TEST_CASE("reflections say what kind of reflection they are") {
  auto e = event(13, v1::PARTNER_B);
  e.mutable_reflected()->set_kind(v1::MIRROR);
  e.mutable_reflected()->set_text("You felt alone");
  CHECK(first(e) == "[13] Alex mirrored: You felt alone");
  e.mutable_reflected()->set_kind(v1::SUMMARY);
  CHECK(first(e) == "[13] Alex summed up: You felt alone");
  e.mutable_reflected()->set_kind(v1::VALIDATION);
  CHECK(first(e) == "[13] Alex validated: You felt alone");
  e.mutable_reflected()->set_kind(v1::EMPATHY);
  CHECK(first(e) == "[13] Alex empathized: You felt alone");
}

TEST_CASE("confirmations, corrections and the more loop read like conversation") {
  auto confirmed = event(14, v1::PARTNER_A);
  confirmed.mutable_confirmed()->set_kind(v1::MIRROR);
  CHECK(first(confirmed) == "Sam: \"Yes, you got it.\"");
  auto corrected = event(15, v1::PARTNER_A);
  corrected.mutable_corrected()->set_text("lonely, not alone");
  CHECK(first(corrected) == "[15] Sam clarified: lonely, not alone");
  auto more = event(16, v1::PARTNER_A);
  more.mutable_more_answered()->set_more(false);
  CHECK(first(more) == "Sam has said it all for now.");
}

TEST_CASE("signals and repairs are shown in the partner's voice") {
  auto signal = event(20, v1::PARTNER_A);
  signal.mutable_signaled()->set_kind(v1::OVERWHELMED);
  CHECK(first(signal) == "Sam signals: \"I'm feeling overwhelmed.\"");
  auto repair = event(21, v1::PARTNER_B);
  repair.mutable_repaired()->set_kind(v1::RepairKind(1));
  CHECK(first(repair) == "Alex: \"Can I take that back?\"");
}

TEST_CASE("pauses and time-outs say who needs time and until when") {
  auto paused = event(30, v1::PARTNER_A);
  paused.mutable_paused()->set_until_ms(kNow + 120'000);
  CHECK(first(paused) == "Sam needs a minute. Everything waits until 10:02.");
  auto timed_out = event(31, v1::PARTNER_B);
  timed_out.mutable_timed_out()->set_return_at_ms(kNow + 30 * 60'000);
  CHECK(first(timed_out) ==
        "Alex needs a time-out and will come back at 10:30. Nobody gets the last word "
        "meanwhile.");
  auto returned = event(32, v1::PARTNER_B);
  returned.mutable_returned();
  CHECK(first(returned) == "Alex is back.");
}

TEST_CASE("stage titles come from the template in RoomCreated") {
  EventRenderer renderer(0);
  const auto room = view(v1::PARTNER_A, v1::PHASE_SPEAKING, {});
  auto created = event(1, v1::SYSTEM);
  auto* tmpl = created.mutable_room_created()->mutable_template_();
  tmpl->set_title("Imago dialogue");
  tmpl->add_stages()->set_title("Sharing and mirroring");
  created.mutable_room_created()->set_topic("the holidays");
  const auto welcome = renderer.render(created, room);
  REQUIRE_FALSE(welcome.empty());
  CHECK(welcome[0] ==
        "Welcome to this Imago dialogue between Sam and Alex, about \"the holidays\".");
  auto stage = event(9, v1::SYSTEM);
  stage.mutable_stage_started()->set_stage_index(0);
  stage.mutable_stage_started()->set_speaker(v1::PARTNER_A);
  const auto lines = renderer.render(stage, room);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "== Sharing and mirroring ==");
  CHECK(lines[1] == "Sam has the floor.");
  renderer.reset();
  CHECK(renderer.render(stage, room)[0] == "== Stage 1 ==");
}

TEST_CASE("observers, prompts and private notes are labelled") {
  auto joined = event(5, v1::OBSERVER);
  joined.mutable_actor()->set_observer("counselor");
  joined.mutable_observer_joined()->set_observer("counselor");
  CHECK(first(joined) == "counselor (observer) joined and is listening.");
  auto prompted = event(6, v1::OBSERVER);
  prompted.mutable_actor()->set_observer("counselor");
  prompted.mutable_prompted()->set_text("Breathe together");
  CHECK(first(prompted) == "[6] counselor (observer) suggests: Breathe together");
  auto note = event(7, v1::OBSERVER);
  note.mutable_actor()->set_observer("counselor");
  note.mutable_note_taken()->set_text("calmer");
  CHECK(first(note) == "[7] Your private note: calmer");
}

TEST_CASE("the end of a conversation says why, without blame") {
  auto closed = event(40, v1::PARTNER_B);
  closed.mutable_conversation_closed()->set_reason(v1::PARTNER_LEFT);
  CHECK(first(closed) == "Alex ended the conversation. It is closed now.");
  closed.mutable_conversation_closed()->set_reason(v1::COMPLETED);
  CHECK(first(closed) == "The conversation is complete. Thank you both for listening.");
}

TEST_CASE("taking back, declining and accepting name the message number") {
  auto retracted = event(41, v1::PARTNER_A);
  retracted.mutable_retracted()->set_seq(12);
  CHECK(first(retracted) == "Sam took back [12].");
  auto declined = event(42, v1::PARTNER_B);
  declined.mutable_declined()->set_seq(30);
  CHECK(first(declined) == "Alex declined [30], and that is okay.");
  auto accepted = event(43, v1::PARTNER_B);
  accepted.mutable_proposal_accepted()->set_seq(30);
  CHECK(first(accepted) == "Alex accepted proposal [30].");
}

TEST_CASE("every event kind has words") {
  const google::protobuf::Descriptor* descriptor = v1::Event::descriptor();
  const auto* body = descriptor->FindOneofByName("body");
  REQUIRE(body != nullptr);
  for (int i = 0; i < body->field_count(); ++i) {
    v1::Event e = event(50, v1::PARTNER_A);
    const auto* field = body->field(i);
    e.GetReflection()->MutableMessage(&e, field);
    CHECK_MESSAGE(!render(e).empty(), field->name());
  }
}

TEST_CASE("hints are shown as advice, never as blame") {
  v1::Hint hint;
  hint.set_code(v1::ALWAYS_NEVER);
  hint.set_message("Try naming one specific moment.");
  CHECK(mend::cli::describe_hint(hint) == "Hint: Try naming one specific moment.");
}

TEST_CASE("feeling understood, moving on and the start-up lines read like conversation") {
  auto felt = event(30, v1::PARTNER_A);
  felt.mutable_felt_understood();
  CHECK(first(felt) == "Sam says: \"I feel understood.\"");
  auto move_on = event(31, v1::PARTNER_B);
  move_on.mutable_move_on_chosen();
  CHECK(first(move_on) == "Alex is ready to move on.");
  auto opened = event(5, v1::PARTNER_B);
  opened.mutable_conversation_opened()->set_intention("I care about us");
  opened.mutable_conversation_opened()->mutable_startup()->set_feeling("lonely");
  opened.mutable_conversation_opened()->mutable_startup()->set_need("time together");
  const auto lines = render(opened);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] == "    I feel lonely and I need time together.");
}
