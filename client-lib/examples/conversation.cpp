// mend-example-conversation: plays one whole guided conversation between two partners on a
// running mend server, through the SDK only, and tells what happens in plain words.
//
//   mend-example-conversation [--server http://127.0.0.1:8480] [--template imago-dialogue]
//                             [--ca-file server.pem] [--api-key KEY]
//
// 1. Creates a room over HTTP (POST /v1/rooms) and gets one invite per partner.
// 2. Connects one mend::client::Client per partner (WebSocket /v1/connect).
// 3. Lets an Autopilot choose each partner's next step from that partner's view (the server
//    says which actions are allowed now), until the conversation is CLOSED.
// Message texts are never printed, only what kind of step happened. Exit code 0 on success.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <boost/program_options.hpp>

#include "mend/autopilot.h"
#include "mend/client.h"
#include "mend/http_client.h"

namespace {

using namespace std::chrono_literals;
namespace v1 = mend::v1;

constexpr auto kConversationDeadline = 180s;
constexpr auto kCommandTimeout = 15s;

struct Arguments {
  std::string server = "http://127.0.0.1:8480";
  std::string template_name = "imago-dialogue";
  std::string ca_file;
  std::string api_key;
};

// The arguments, or the exit code after --help (0) or a usage error (2, said on stderr).
std::variant<Arguments, int> parse_arguments(int argc, char** argv) {
  namespace po = boost::program_options;
  Arguments args;
  po::options_description description(
      "mend-example-conversation: plays one whole guided conversation between two partners\n"
      "on a running mend server.\n\noptions");
  // clang-format off
  description.add_options()
    ("help,h", "print this help and exit")
    ("server", po::value(&args.server)->value_name("URL")->default_value(args.server),
     "http(s):// address of the server")
    ("template", po::value(&args.template_name)->value_name("NAME")
        ->default_value(args.template_name), "conversation template to play")
    ("ca-file", po::value(&args.ca_file)->value_name("PEM"),
     "certificate(s) to trust, e.g. the server's self-signed tls-cert.pem")
    ("api-key", po::value(&args.api_key)->value_name("KEY"),
     "the server's API key for creating rooms, when it has one");
  // clang-format on
  po::variables_map vm;
  try {
    // Exact names only (no abbreviations); a word that is not a flag's value is an error.
    const po::parsed_options parsed =
        po::command_line_parser(argc, argv)
            .options(description)
            .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
            .run();
    const auto stray = po::collect_unrecognized(parsed.options, po::include_positional);
    if (!stray.empty()) throw po::error("unexpected argument '" + stray.front() + "'");
    po::store(parsed, vm);
    if (vm.count("help")) {
      std::cout << description;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "mend-example-conversation: " << e.what()
              << "\n(see mend-example-conversation --help)\n";
    return 2;
  }
  return args;
}

std::string who(const v1::Actor& actor, const v1::RoomView& view) {
  switch (actor.role()) {
    case v1::PARTNER_A: return view.partner_a_name();
    case v1::PARTNER_B: return view.partner_b_name();
    case v1::OBSERVER: return "Observer " + actor.observer();
    default: return "The room";
  }
}

// Plain words for an event, without its content.
std::string describe(const v1::Event& event, const v1::RoomView& view) {
  const std::string actor = who(event.actor(), view);
  switch (event.body_case()) {
    case v1::Event::kRoomCreated: return "The room was created.";
    case v1::Event::kInvitationAccepted: return actor + " accepted the invitation.";
    case v1::Event::kConsentGiven: return actor + " agreed to the terms of this conversation.";
    case v1::Event::kConversationOpened: return actor + " opened with an intention and a topic.";
    case v1::Event::kStageStarted:
      return std::string("A new stage begins: ") +
             (event.stage_started().speaker() == v1::PARTNER_A ? view.partner_a_name()
                                                               : view.partner_b_name()) +
             " has the floor.";
    case v1::Event::kShared: return actor + " shared something from the heart.";
    case v1::Event::kReflected:
      switch (event.reflected().kind()) {
        case v1::MIRROR: return actor + " mirrored back what they heard.";
        case v1::SUMMARY: return actor + " summed up what they heard.";
        case v1::VALIDATION: return actor + " said how it makes sense.";
        case v1::EMPATHY: return actor + " imagined how it feels.";
        default: return actor + " reflected back what they heard.";
      }
    case v1::Event::kConfirmed: return actor + " confirmed: \"you got it\".";
    case v1::Event::kCorrected: return actor + " gently corrected the reflection.";
    case v1::Event::kMoreAnswered:
      return actor + (event.more_answered().more() ? " has more to say." : " has said it all.");
    case v1::Event::kFloorPassed: return actor + " passed the floor.";
    case v1::Event::kRolesSwitched: return "Roles switch: the listener now has the floor.";
    case v1::Event::kApologyAccepted: return actor + " accepted the apology.";
    case v1::Event::kUnderstoodSent: return actor + " feels they understand.";
    case v1::Event::kSolutionGateOpened: return "Both may now choose whether to solve problems.";
    case v1::Event::kProblemSolvingChosen:
      return actor + (event.problem_solving_chosen().opt_in() ? " would like to problem-solve."
                                                               : " prefers not to problem-solve.");
    case v1::Event::kClosingStarted: return "Closing: time for appreciations.";
    case v1::Event::kAppreciated: return actor + " shared an appreciation.";
    case v1::Event::kFinished: return actor + " is finished.";
    case v1::Event::kConversationClosed: return "The conversation is closed.";
    default: return actor + " did something (event " + std::to_string(event.body_case()) + ").";
  }
}

// One partner: an SDK client, an autopilot, and a signal when its view changes.
class Partner {
 public:
  Partner(std::string label, mend::client::ClientOptions options, std::mutex& mutex,
          std::condition_variable& changed)
      : label_(std::move(label)), mutex_(mutex), changed_(changed) {
    mend::client::ClientHandlers handlers;
    if (label_ == "A") {  // one partner narrates the shared events, so each is told once
      handlers.on_event = [this](const v1::Event& event) {
        if (auto view = client_->view()) std::cout << "  " << describe(event, *view) << "\n";
      };
    }
    handlers.on_view = [this](const v1::RoomView&) { notify(); };
    handlers.on_closed = [this](const mend::client::ClientError& error) {
      std::cerr << "Partner " << label_ << " was disconnected for good: " << error.message
                << "\n";
      notify();
    };
    client_.emplace(std::move(options), std::move(handlers));
  }

  mend::client::Client& client() { return *client_; }
  mend::client::Autopilot& pilot() { return pilot_; }
  const std::string& label() const { return label_; }

 private:
  void notify() {
    { std::lock_guard lock(mutex_); }
    changed_.notify_all();
  }

  std::string label_;
  std::mutex& mutex_;
  std::condition_variable& changed_;
  mend::client::Autopilot pilot_;
  std::optional<mend::client::Client> client_;
};

// Lets `partner` take its next step if it has one. Returns true when it acted.
bool take_step(Partner& partner) {
  auto view = partner.client().view();
  if (!view) return false;
  auto command = partner.pilot().next(*view);
  if (!command) return false;
  auto future = partner.client().send(std::move(*command));
  if (future.wait_for(kCommandTimeout) != std::future_status::ready) return false;
  const mend::client::CommandOutcome outcome = future.get();
  if (!outcome.error.ok() || outcome.accepted()) return outcome.accepted();
  const v1::Rejection& rejection = outcome.result.rejection();
  if (rejection.code() == v1::TOO_SOON) {
    // The reflection beat: give the speaker's words a moment before mirroring them.
    std::this_thread::sleep_for(std::chrono::milliseconds(rejection.retry_after_ms()));
    return true;  // try again now
  }
  // A view that was a moment old; the next view will tell what to do.
  return false;
}

bool both_closed(Partner& a, Partner& b) {
  auto va = a.client().view();
  auto vb = b.client().view();
  return va && vb && va->phase() == v1::PHASE_CLOSED && vb->phase() == v1::PHASE_CLOSED;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = parse_arguments(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const Arguments* args = &std::get<Arguments>(parsed);

  mend::client::HttpClient http({args->server, args->api_key, args->ca_file, 10s});
  v1::CreateRoomRequest request;
  request.set_template_(args->template_name);
  request.set_topic("How we spend our evenings");
  request.set_partner_a_name("Alex");
  request.set_partner_b_name("Sam");
  const auto created = http.create_room(request);
  if (!created.ok()) {
    std::cerr << "Could not create a room: " << created.error.message << "\n";
    return 1;
  }
  std::cout << "Created a room for Alex and Sam with the " << args->template_name
            << " template.\n";

  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::unique_ptr<Partner>> partners;
  for (int i = 0; i < 2; ++i) {
    mend::client::ClientOptions options;
    options.url = args->server;
    options.ca_file = args->ca_file;
    options.token = created.value->invites(i).token();
    options.client_name = "mend-example-conversation/0.1";
    partners.push_back(
        std::make_unique<Partner>(i == 0 ? "A" : "B", std::move(options), mutex, changed));
    if (auto error = partners.back()->client().start(); !error.ok()) {
      std::cerr << "Could not start a client: " << error.message << "\n";
      return 1;
    }
  }
  Partner& alex = *partners[0];
  Partner& sam = *partners[1];

  const auto deadline = std::chrono::steady_clock::now() + kConversationDeadline;
  while (!both_closed(alex, sam)) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "The conversation did not finish in time.\n";
      return 1;
    }
    if (alex.client().state() == mend::client::ConnectionState::kClosed ||
        sam.client().state() == mend::client::ConnectionState::kClosed) {
      return 1;
    }
    const bool acted = take_step(alex) | take_step(sam);
    if (!acted) {
      std::unique_lock lock(mutex);
      changed.wait_for(lock, 200ms);  // woken by the next view; the bound only guards a race
    }
  }
  const auto view = alex.client().view();
  const bool completed = view->closed_reason() == v1::COMPLETED;
  std::cout << (completed ? "Both partners finished: the conversation is complete.\n"
                          : "The conversation ended early.\n");
  return completed ? 0 : 1;
}
