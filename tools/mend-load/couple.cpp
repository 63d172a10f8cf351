#include "couple.h"

#include <algorithm>
#include <future>

#include <boost/asio/post.hpp>

namespace mend::load {
namespace {

namespace net = boost::asio;
using std::chrono::milliseconds;

constexpr const char* kObserverName = "Counselor";
constexpr milliseconds kAfterRejection{100};  // a stale view: look again shortly
constexpr std::size_t kMaxExpectations = 64;

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t micros_between(Couple::Clock::time_point from, Couple::Clock::time_point to) {
  const auto d = std::chrono::duration_cast<std::chrono::microseconds>(to - from).count();
  return d < 0 ? 0 : static_cast<std::uint64_t>(d);
}

// Runs `f` on `strand` and waits for it. Never call from that strand.
template <typename F>
auto on_strand(net::strand<net::io_context::executor_type>& strand, F f) {
  std::packaged_task<decltype(f())()> task(std::move(f));
  auto result = task.get_future();
  net::post(strand, [&task] { task(); });
  return result.get();
}

}  // namespace

Couple::Couple(RunContext& run, std::uint32_t index, std::uint64_t seed)
    : run_(run), index_(index), strand_(net::make_strand(run.io)), random_(seed) {
  for (Seat& seat : seats_) seat.timer = std::make_unique<net::steady_timer>(strand_);
}

client::AutopilotScript Couple::script_for(std::size_t seat) const {
  client::AutopilotScript script;
  script.chunks_per_turn = run_.options.chunks_per_turn;
  if (run_.options.observers && seat < 2) script.terms.add_observers(kObserverName);
  return script;
}

bool Couple::open_room() {
  v1::CreateRoomRequest request;
  const auto& templates = run_.options.templates;
  request.set_template_(templates[index_ % templates.size()]);
  request.set_topic("How we spend our evenings");
  request.set_partner_a_name("Alex");
  request.set_partner_b_name("Sam");
  if (run_.options.observers) request.add_observers(kObserverName);
  const auto created = run_.http.create_room(request);
  if (!created.ok() || created.value->invites_size() < (run_.options.observers ? 3 : 2)) {
    run_.stats.error();
    return false;
  }
  const std::size_t seats = run_.options.observers ? 3 : 2;
  auto clients = on_strand(strand_, [&] {
    const std::uint64_t generation = ++generation_;
    finishing_ = false;
    std::vector<std::shared_ptr<client::Client>> started;
    for (std::size_t i = 0; i < seats; ++i) {
      client::ClientOptions options;
      options.url = run_.websocket_url;
      options.token = created.value->invites(static_cast<int>(i)).token();
      options.ca_file = run_.ca_file;
      options.client_name = "mend-load/0.1";
      options.executor = net::any_io_executor(strand_);
      Seat& seat = seats_[i];
      seat.pilot = client::Autopilot(script_for(i));
      seat.busy = false;
      seat.expectations.clear();
      seat.seen.clear();
      seat.last_seq = 0;
      seat.awaited.clear();
      seat.caught_up = false;
      seat.sending.reset();
      seat.retry.reset();
      seat.client = std::make_shared<client::Client>(std::move(options),
                                                     handlers_for(i, generation));
      started.push_back(seat.client);
    }
    observer_started_ = false;
    started.resize(2);  // the observer connects once both partners approved it (maybe_act)
    return started;
  });
  for (const auto& c : clients) {
    if (!c->start().ok()) run_.stats.error();
  }
  return true;
}

bool Couple::caught_up() {
  return on_strand(strand_, [this] {
    return std::all_of(seats_.begin(), seats_.begin() + 2,
                       [](const Seat& seat) { return !seat.client || seat.caught_up; });
  });
}

void Couple::close_room() {
  auto clients = on_strand(strand_, [this] {
    ++generation_;
    // A conversation's events are every partner's; the sender of a command sees its events
    // first, so the room's log as far as it was seen is the larger of the two positions.
    run_.stats.delivered(std::max(seats_[0].last_seq, seats_[1].last_seq));
    std::vector<std::shared_ptr<client::Client>> old;
    for (Seat& seat : seats_) {
      run_.stats.missing(seat.awaited.size());
      seat.last_seq = 0;
      seat.awaited.clear();
      seat.caught_up = false;
      seat.sending.reset();
      seat.retry.reset();
      if (seat.online) run_.stats.connection_down();
      seat.online = false;
      seat.busy = false;
      seat.timer->cancel();
      seat.expectations.clear();
      seat.seen.clear();
      if (seat.client) old.push_back(std::move(seat.client));
      seat.client.reset();
    }
    return old;
  });
  for (const auto& c : clients) c->stop();
}

client::ClientHandlers Couple::handlers_for(std::size_t seat, std::uint64_t generation) {
  std::weak_ptr<Couple> weak = weak_from_this();
  client::ClientHandlers h;
  h.on_view = [weak, seat, generation](const v1::RoomView&) {
    if (auto self = weak.lock(); self && self->current(generation)) self->maybe_act(seat);
  };
  if (seat < 2) {
    h.on_event = [weak, seat, generation](const v1::Event& event) {
      if (auto self = weak.lock(); self && self->current(generation)) {
        self->on_event(seat, event.seq());
      }
    };
    h.on_replay_done = [weak, seat, generation](std::uint64_t) {
      if (auto self = weak.lock(); self && self->current(generation)) {
        self->seats_[seat].caught_up = true;
      }
    };
    h.on_reset = [weak, seat, generation](const v1::RoomView& view) {
      if (auto self = weak.lock(); self && self->current(generation)) {
        self->on_reset(seat, view.last_seq());
      }
    };
  }
  h.on_state = [weak, seat, generation](client::ConnectionState state, const client::ClientError&) {
    if (auto self = weak.lock(); self && self->current(generation)) self->on_state(seat, state);
  };
  h.on_closed = [weak, generation](const client::ClientError&) {
    if (auto self = weak.lock(); self && self->current(generation)) {
      if (!self->run_.stopping) self->run_.stats.error();
      if (!self->finishing_) {
        self->finishing_ = true;
        self->run_.restart(self->index_);
      }
    }
  };
  return h;
}

std::chrono::milliseconds Couple::think_time() {
  const double mean = run_.options.think_ms;
  if (mean <= 0) return milliseconds(0);
  std::exponential_distribution<double> draw(1.0 / mean);
  return milliseconds(static_cast<std::int64_t>(std::min(draw(random_), 10 * mean)));
}

void Couple::maybe_act(std::size_t seat) {
  Seat& s = seats_[seat];
  if (run_.stopping || finishing_ || s.busy || !s.client) return;
  const auto view = s.client->view();
  if (!view) return;
  if (view->phase() == v1::PHASE_CLOSED) {
    if (seat < 2) finished();
    return;
  }
  if (seat < 2 && !observer_started_ && seats_[2].client && view->a_consented() &&
      view->b_consented()) {
    // Both partners approved the observer (their consent terms name it): it may join now; an
    // observer connecting earlier is refused (4503).
    observer_started_ = true;
    if (!seats_[2].client->start().ok()) run_.stats.error();
  }
  client::Autopilot probe = s.pilot;  // a copy: next() records shares
  const auto next = probe.next(*view);
  if (!next) return;
  const bool paced = run_.pacer != nullptr && seat < 2;
  milliseconds delay = paced || seat == 2 ? milliseconds(0) : think_time();
  if (next->has_reflect() && view->reflect_not_before_ms() > 0) {
    // The reflection beat: a real person lets the words land; so does the load.
    delay = std::max(delay, milliseconds(view->reflect_not_before_ms() - now_unix_ms() + 1));
  }
  go_after(seat, delay, paced);
}

void Couple::go_after(std::size_t seat, milliseconds delay, bool through_pacer) {
  Seat& s = seats_[seat];
  s.busy = true;
  const std::uint64_t generation = generation_;
  std::weak_ptr<Couple> weak = weak_from_this();
  auto go = [weak, generation, seat, through_pacer, pacer = run_.pacer] {
    auto self = weak.lock();
    if (!self) return;
    if (!through_pacer) return self->act(generation, seat);
    pacer->enqueue([weak, generation, seat] {
      if (auto me = weak.lock()) {
        net::post(me->strand_, [me, generation, seat] { me->act(generation, seat); });
      }
    });
  };
  if (delay.count() <= 0) return go();
  s.timer->expires_after(delay);
  s.timer->async_wait([go](const boost::system::error_code& ec) {
    if (!ec) go();
  });
}

void Couple::act(std::uint64_t generation, std::size_t seat) {
  if (!current(generation) || run_.stopping) return;
  Seat& s = seats_[seat];
  s.busy = false;
  if (!s.client) return;
  const auto view = s.client->view();
  if (!view) return;
  if (view->phase() == v1::PHASE_CLOSED) return maybe_act(seat);
  std::optional<v1::Command> command;
  if (s.retry) {
    command.swap(s.retry);
  } else {
    command = s.pilot.next(*view);
  }
  if (!command) return;  // nothing to do any more; the next view tells
  s.busy = true;
  // Its id is set here, not by the SDK, so that a retry after UNAVAILABLE (s.sending) carries
  // the same one: the server then answers the stored result if the first try was committed.
  if (command->command_id().empty()) {
    command->set_command_id(client::make_command_id(client::system_random()));
  }
  s.sending = *command;
  run_.stats.sent();
  const auto sent = Clock::now();
  std::weak_ptr<Couple> weak = weak_from_this();
  s.client->send(std::move(*command), [weak, generation, seat, sent](client::CommandOutcome o) {
    if (auto self = weak.lock()) self->on_outcome(generation, seat, sent, o);
  });
}

void Couple::on_outcome(std::uint64_t generation, std::size_t seat, Clock::time_point sent,
                        const client::CommandOutcome& outcome) {
  run_.stats.answered_or_failed();
  if (!current(generation)) return;
  Seat& s = seats_[seat];
  s.busy = false;
  if (!outcome.error.ok()) {
    if (!run_.stopping && outcome.error.code != client::ErrorCode::kStopped) run_.stats.error();
    return;
  }
  if (outcome.accepted()) {
    run_.stats.accepted();
    const std::uint64_t last = outcome.result.last_seq();
    if (seat < 2 && outcome.result.first_seq() > 0 && s.last_seq < last) s.awaited.push_back(last);
    if (seat < 2) on_accepted(seat, outcome.result.first_seq(), last, sent);
    return maybe_act(seat);
  }
  const v1::Rejection& rejection = outcome.result.rejection();
  run_.stats.rejected(v1::RejectionCode_Name(rejection.code()));
  if (rejection.code() == v1::UNAVAILABLE) s.retry = std::move(s.sending);
  const milliseconds delay = rejection.retry_after_ms() > 0
                                 ? milliseconds(rejection.retry_after_ms() + 1)
                                 : kAfterRejection;
  go_after(seat, delay, run_.pacer != nullptr && seat < 2);
}

void Couple::on_accepted(std::size_t seat, std::uint64_t first, std::uint64_t last,
                         Clock::time_point sent) {
  if (first == 0) return;  // caused no event
  auto& seen = seats_[1 - seat].seen;
  for (auto it = seen.begin(); it != seen.end(); ++it) {
    if (it->first >= first && it->first <= last) {
      run_.stats.latency_us(micros_between(sent, it->second));
      seen.erase(seen.begin(), it + 1);
      return;
    }
  }
  auto& expectations = seats_[seat].expectations;
  expectations.push_back({first, last, sent});
  if (expectations.size() > kMaxExpectations) expectations.pop_front();
}

void Couple::on_event(std::size_t seat, std::uint64_t seq) {
  const auto now = Clock::now();
  Seat& receiver = seats_[seat];
  if (seq <= receiver.last_seq) {
    run_.stats.duplicate();
  } else {
    if (seq > receiver.last_seq + 1) run_.stats.gap(seq - receiver.last_seq - 1);
    receiver.last_seq = seq;
  }
  drop_delivered(receiver);
  auto& expectations = seats_[1 - seat].expectations;
  while (!expectations.empty()) {
    const Expectation& e = expectations.front();
    if (e.last_seq < seq) {  // none of its events reached this partner: not visible to them
      expectations.pop_front();
      continue;
    }
    if (e.first_seq <= seq) {
      run_.stats.latency_us(micros_between(e.sent, now));
      expectations.pop_front();
      return;
    }
    break;
  }
  auto& seen = seats_[seat].seen;
  seen.emplace_back(seq, now);
  if (seen.size() > kSeen) seen.pop_front();
}

void Couple::drop_delivered(Seat& seat) {
  while (!seat.awaited.empty() && seat.awaited.front() <= seat.last_seq) seat.awaited.pop_front();
}

void Couple::on_reset(std::size_t seat, std::uint64_t last_seq) {
  run_.stats.reset_seen();
  Seat& s = seats_[seat];
  s.last_seq = std::max(s.last_seq, last_seq);
  drop_delivered(s);
}

void Couple::on_state(std::size_t seat, client::ConnectionState state) {
  Seat& s = seats_[seat];
  const bool online = state == client::ConnectionState::kOnline;
  if (online && !s.online) run_.stats.connection_up();
  if (!online && s.online) run_.stats.connection_down();
  if (!online) s.caught_up = false;
  s.online = online;
}

void Couple::finished() {
  if (finishing_) return;
  finishing_ = true;
  run_.stats.completed();
  run_.restart(index_);
}

}  // namespace mend::load
