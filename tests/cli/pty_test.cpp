// Two partners and an observer hold a short conversation through `mend join`, each in a
// pseudo-terminal, against a real mendd on 127.0.0.1 (ephemeral port). The test types what a
// person would type and checks what each of them sees. Every wait is bounded and polls the
// terminal's output.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <regex>

#include "tests/common/mendd_process.h"
#include "terminal.h"

using mend::testing::Mendd;
using mend::testing::Terminal;
using namespace std::chrono_literals;

namespace {

constexpr auto kBound = 15s;

struct Invites {
  std::string server;  // the ws:// URL printed in the join commands
  std::string a, b, observer;
};

// `mend create` in a terminal; its printed join commands give the server URL and the tokens.
Invites create_room(const Mendd& server) {
  Terminal create({MEND_MEND_PATH, "create", "--server", server.http_url(), "--template",
                   "imago-dialogue", "--topic", "the holidays", "--partner-a", "Sam",
                   "--partner-b", "Alex", "--observer", "counselor"});
  REQUIRE(create.wait_exit_code(kBound) == 0);
  const std::string screen = create.screen();
  CHECK(screen.find("Room ") != std::string::npos);
  static const std::regex kJoin(R"(join: +mend join --server (\S+) --token (\S+))");
  std::vector<std::pair<std::string, std::string>> joins;
  for (std::sregex_iterator it(screen.begin(), screen.end(), kJoin), end; it != end; ++it) {
    joins.emplace_back((*it)[1].str(), (*it)[2].str());
  }
  REQUIRE(joins.size() == 3);
  return {joins[0].first, joins[0].second, joins[1].second, joins[2].second};
}

std::vector<std::string> join_args(const Invites& invites, const std::string& token) {
  return {MEND_MEND_PATH, "join", "--server", invites.server, "--token", token};
}

#define SEES(terminal, text) REQUIRE_MESSAGE((terminal).wait_for(text, kBound), (terminal).screen())

}  // namespace

TEST_CASE("two partners and an observer hold a short conversation in their terminals") {
  Mendd server;
  const Invites invites = create_room(server);

  Terminal sam(join_args(invites, invites.a));
  Terminal alex(join_args(invites, invites.b));
  SEES(sam, "Connected as Sam (partner A).");
  SEES(alex, "Connected as Alex (partner B).");
  SEES(sam, "Welcome to this Imago dialogue between Sam and Alex, about \"the holidays\".");

  // The appointment and the terms.
  SEES(alex, "You may: /accept-invite to start now");
  alex.type("/accept-invite");
  SEES(sam, "Alex is ready to talk now.");
  sam.type("/consent retention=30 observers=counselor");
  alex.type("/consent retention=30 observers=counselor");
  SEES(alex, "Sam agreed to the terms (kept for 30 days, observers: counselor).");
  SEES(sam, "-- Sam opens the conversation --");
  SEES(sam, "You may: type why you want to talk, to open the conversation");

  // The observer, welcomed by both partners, joins by itself; its invite comes from a file.
  char token_path[] = "/tmp/mend-cli-token-XXXXXX";
  const int token_fd = ::mkstemp(token_path);
  REQUIRE(token_fd >= 0);
  ::close(token_fd);
  std::ofstream(token_path) << invites.observer << "\n";
  Terminal counselor({MEND_MEND_PATH, "join", "--server", invites.server, "--token-file",
                      token_path});
  SEES(counselor, "Connected as counselor, observing.");
  SEES(counselor, "counselor (observer) joined and is listening.");
  SEES(sam, "counselor (observer) joined and is listening.");
  std::remove(token_path);

  // Opening; a line typed out of turn is explained, a command out of turn is refused by rule.
  // Like a person, each one types only after their screen says what they may do now.
  constexpr const char* kMayShare = "You may: type to share what is on your mind";
  sam.type("I care about us");
  SEES(alex, "Sam opens: I care about us");
  SEES(alex, "-- Sharing and mirroring: Sam speaks, Alex listens --");
  SEES(sam, kMayShare);
  alex.type("But I also want to talk");
  SEES(alex, "Nothing to type right now (Sharing and mirroring: Sam speaks, Alex listens)");
  alex.type("/confirm");
  SEES(alex, "Not accepted: ");
  SEES(alex, "[WRONG_PHASE]");

  // Share, mirror (sent after the reflection beat), and what each one may do now.
  sam.type("I felt alone last night");
  SEES(alex, "] Sam: I felt alone last night");
  SEES(counselor, "] Sam: I felt alone last night");
  SEES(alex, "You may: type to mirror what you heard Sam say");
  alex.type("You felt alone last night");
  SEES(sam, "] Alex mirrored: You felt alone last night");
  SEES(sam, "You may: /confirm if Alex got it");

  // A signal, a pause with its countdown, and the return.
  alex.type("/signal overwhelmed");
  SEES(sam, "Alex signals: \"I'm feeling overwhelmed.\"");
  sam.type("/pause 2m");
  SEES(alex, "-- Paused: Sam asked for a minute");
  SEES(alex, "Pause: ");
  SEES(sam, "You may: /return when you are back");
  sam.type("/return");
  SEES(alex, "Sam is back.");

  // A private note stays with its author.
  counselor.type("Sam seems calmer today");
  SEES(counselor, "] Your private note: Sam seems calmer today");

  // After a dropped connection Sam resumes and sees nothing twice.
  sam.type("/reconnect");
  SEES(sam, "Reconnected; picking up where you left off.");
  sam.type("/confirm");
  SEES(alex, "Sam: \"Yes, you got it.\"");
  SEES(sam, "Sam: \"Yes, you got it.\"");
  CHECK(sam.count("] Sam: I felt alone last night") == 1);
  CHECK(sam.count("] Alex mirrored: You felt alone last night") == 1);
  CHECK(sam.count("Welcome to this Imago dialogue") == 1);

  // "Is there more?": yes; a blaming start gets a gentle hint, for Sam only.
  SEES(sam, "You may: /more if there is more you want to share");
  const std::size_t share_prompts = sam.count(kMayShare);
  sam.type("/more");
  SEES(alex, "Sam has more to share.");
  REQUIRE_MESSAGE(sam.wait_for(kMayShare, kBound, share_prompts + 1), sam.screen());
  sam.type("You never call me back");
  SEES(alex, "] Sam: You never call me back");
  SEES(sam, "Hint: ");
  CHECK(alex.count("Hint: ") == 0);

  // Sam ends the conversation; everybody is told.
  sam.type("/leave");
  SEES(alex, "Sam ended the conversation. It is closed now.");
  SEES(counselor, "Sam ended the conversation. It is closed now.");
  CHECK(sam.screen().find("Sam seems calmer today") == std::string::npos);
  CHECK(alex.screen().find("Sam seems calmer today") == std::string::npos);

  for (Terminal* terminal : {&sam, &alex, &counselor}) {
    terminal->type("/quit");
    CHECK(terminal->wait_exit_code(kBound) == 0);
  }
}

TEST_CASE("transcript, audit and erase of an unknown room end with a clear error") {
  Mendd server;
  const Invites invites = create_room(server);
  for (const char* what : {"transcript", "audit", "erase"}) {
    Terminal call({MEND_MEND_PATH, what, "--server", server.http_url(), "--room", "no-such-room",
                   "--token", invites.a});
    const int code = call.wait_exit_code(kBound);
    CHECK_MESSAGE(call.screen().find("The server did not accept this") != std::string::npos,
                  call.screen());
    CHECK(code == 1);
  }
}

TEST_CASE("templates lists the server's templates") {
  Mendd server;
  Terminal templates({MEND_MEND_PATH, "templates", "--server", server.http_url()});
  REQUIRE(templates.wait_exit_code(kBound) == 0);
  CHECK(templates.screen().find("imago-dialogue  (Imago dialogue)") != std::string::npos);
  CHECK(templates.screen().find("speaker-listener") != std::string::npos);
}
