#include "server/rooms/room_service_impl.h"

#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "server/engine/engine.h"
#include "server/rooms/create_request.h"
#include "server/rooms/room.h"
#include "server/rooms/room_quota.h"

namespace mend::rooms {

namespace asio = boost::asio;

namespace {

ServiceError invalid(std::string message) {
  return ServiceError{"INVALID_ARGUMENT", std::move(message), 400};
}

v1::Invite make_invite(const TokenSigner& signer, const std::string& room_id, v1::Actor actor,
                       std::int64_t expires_at_ms) {
  v1::Invite invite;
  invite.set_token(signer.sign(TokenClaims{room_id, actor, expires_at_ms}));
  invite.set_expires_at_ms(expires_at_ms);
  *invite.mutable_participant() = std::move(actor);
  return invite;
}

v1::Actor actor_of(v1::Role role, std::string observer = {}) {
  v1::Actor actor;
  actor.set_role(role);
  actor.set_observer(std::move(observer));
  return actor;
}

// Registers a created room and answers with its invites. Precondition: the first event is
// committed. Runs in the store's completion, on any thread.
void finish_create(const std::shared_ptr<RoomContext>& context,
                   const v1::CreateRoomRequest& request, std::string room_id, v1::Event created,
                   std::uint64_t lease_epoch,
                   std::function<void(Result<v1::CreateRoomResponse>)> done) {
  if (lease_epoch == 0) {
    auto room = std::make_shared<Room>(room_id, context);
    {
      std::lock_guard lock(context->registry_mutex);
      context->registry.emplace(room_id, room);
    }
    room->start_created(std::move(created));
  }
  context->metrics.room_created();
  spdlog::info("room {} created from template {}", room_id, request.template_());

  const std::uint32_t ttl_s =
      request.invite_ttl_s() == 0 ? context->config.default_invite_ttl_s : request.invite_ttl_s();
  const std::int64_t expires_at_ms = context->clock() + std::int64_t{ttl_s} * 1000;
  v1::CreateRoomResponse response;
  response.set_room_id(room_id);
  const TokenSigner& signer = context->signer;
  *response.add_invites() = make_invite(signer, room_id, actor_of(v1::PARTNER_A), expires_at_ms);
  *response.add_invites() = make_invite(signer, room_id, actor_of(v1::PARTNER_B), expires_at_ms);
  for (const std::string& name : request.observers()) {
    *response.add_invites() =
        make_invite(signer, room_id, actor_of(v1::OBSERVER, name), expires_at_ms);
  }
  auto answer_created = [executor = context->executor, done = std::move(done),
                         response = std::move(response)](auto...) mutable {
    asio::post(executor, [done = std::move(done), response = std::move(response)] {
      done(Result<v1::CreateRoomResponse>{response, std::nullopt});
    });
  };
  if (lease_epoch == 0) return answer_created();
  // Several nodes: POST /v1/rooms reached any node, while the router sends the room's
  // participants to the node its id hashes to. The lease is given back before the answer, so
  // the first connection (anywhere, this node too) takes it without waiting for it to expire.
  context->store->release_lease(room_id, context->config.node_id, lease_epoch,
                                std::move(answer_created));
}


void answer(const std::shared_ptr<RoomContext>& context, ServiceError error,
            std::function<void(Result<v1::CreateRoomResponse>)>& done) {
  asio::post(context->executor, [done = std::move(done), error = std::move(error)] {
    done(Result<v1::CreateRoomResponse>{std::nullopt, error});
  });
}

ServiceError not_saved() {
  return ServiceError{"UNAVAILABLE", "The room could not be saved. Please try again.", 503};
}

// Appends a prepared room's first event (with its creator) and answers with its invites. With
// leases, the new room's lease is taken first and the append carries its epoch (no other node
// can write the room meanwhile); finish_create gives it back.
void store_room(const std::shared_ptr<RoomContext>& context, const v1::CreateRoomRequest& request,
                store::AppendRequest append,
                std::function<void(Result<v1::CreateRoomResponse>)> done) {
  if (context->config.lease_ms > 0 && append.lease_epoch == 0) {
    std::string room_id = append.room_id;
    context->store->acquire_lease(
        std::move(room_id), context->config.node_id,
        std::chrono::milliseconds(context->config.lease_ms),
        [context, request, append = std::move(append),
         done = std::move(done)](store::LeaseResult lease) mutable {
          if (lease.error || !lease.held) {
            spdlog::error("room creation failed: no lease ({})",
                          lease.error ? store::to_string(lease.error->code) : "held elsewhere");
            return answer(context, not_saved(), done);
          }
          append.lease_epoch = lease.epoch;
          store_room(context, request, std::move(append), std::move(done));
        });
    return;
  }
  const std::uint64_t lease_epoch = append.lease_epoch;
  std::string room_id = append.room_id;
  v1::Event created = append.events.front();
  context->store->append(
      std::move(append),
      [context, request, room_id = std::move(room_id), created = std::move(created), lease_epoch,
       done = std::move(done)](std::optional<store::StoreError> error) mutable {
        if (error) {
          context->metrics.store_error();
          spdlog::error("room creation failed: {}", store::to_string(error->code));
          return answer(context, not_saved(), done);
        }
        finish_create(context, request, std::move(room_id), std::move(created), lease_epoch,
                      std::move(done));
      });
}

// Stores the room when its creator is within `limit` (counting the stored rooms first after
// a start), else answers ROOM_QUOTA_EXCEEDED; a room not stored gives its place back.
void admit(const std::shared_ptr<RoomContext>& context, const std::shared_ptr<RoomQuota>& quota,
           const v1::CreateRoomRequest& request, store::AppendRequest append, std::uint32_t limit,
           std::function<void(Result<v1::CreateRoomResponse>)> done) {
  switch (quota->try_reserve(append.creator, limit)) {
    case RoomQuota::Admission::kAdmitted: {
      auto give_back = [quota, creator = append.creator,
                        done = std::move(done)](Result<v1::CreateRoomResponse> result) {
        if (result.error) quota->release(creator);
        done(std::move(result));
      };
      return store_room(context, request, std::move(append), std::move(give_back));
    }
    case RoomQuota::Admission::kRefused:
      return answer(context,
                    ServiceError{"ROOM_QUOTA_EXCEEDED",
                                 "This creator has reached its limit of rooms.", 429},
                    done);
    case RoomQuota::Admission::kNotLoaded:
      break;
  }
  context->store->list_rooms([context, quota, request, append = std::move(append), limit,
                              done = std::move(done)](store::ListRoomsResult listed) mutable {
    if (listed.error) {
      spdlog::error("room quota: cannot count the stored rooms: {}",
                    store::to_string(listed.error->code));
      return answer(context,
                    ServiceError{"UNAVAILABLE",
                                 "The room could not be created. Please try again.", 503},
                    done);
    }
    quota->load(listed.rooms);
    admit(context, quota, request, std::move(append), limit, std::move(done));
  });
}

}  // namespace

std::string participant_key(const v1::Actor& actor) {
  switch (actor.role()) {
    case v1::PARTNER_A: return "A";
    case v1::PARTNER_B: return "B";
    case v1::OBSERVER: return "O:" + actor.observer();
    default: return "?";
  }
}

RoomServiceImpl::RoomServiceImpl(asio::any_io_executor executor,
                                 std::shared_ptr<store::Store> store,
                                 engine::TemplateCatalog catalog, TokenSigner signer,
                                 Clock clock, RoomServiceConfig config)
    : RoomServiceImpl(std::vector<asio::any_io_executor>{std::move(executor)}, false,
                      std::move(store), std::move(catalog), std::move(signer), std::move(clock),
                      config) {}

RoomServiceImpl::RoomServiceImpl(std::vector<asio::any_io_executor> shards,
                                 std::shared_ptr<store::Store> store,
                                 engine::TemplateCatalog catalog, TokenSigner signer,
                                 Clock clock, RoomServiceConfig config)
    : RoomServiceImpl(std::move(shards), true, std::move(store), std::move(catalog),
                      std::move(signer), std::move(clock), config) {}

RoomServiceImpl::RoomServiceImpl(std::vector<asio::any_io_executor> shards,
                                 bool one_thread_per_shard, std::shared_ptr<store::Store> store,
                                 engine::TemplateCatalog catalog, TokenSigner signer,
                                 Clock clock, RoomServiceConfig config)
    : context_(std::make_shared<RoomContext>(std::move(shards), one_thread_per_shard,
                                             std::move(store), std::move(signer),
                                             std::move(clock), config)),
      catalog_(std::move(catalog)),
      sweeper_(std::make_shared<RetentionSweeper>(
          context_, [this](const std::string& room_id) { return find_or_load(room_id); },
          context_->config.max_rooms_per_sweep)) {}

RoomServiceImpl::~RoomServiceImpl() {
  sweeper_->stop();  // no sweep calls find_or_load once this returns
  stop_housekeeping();
  // Rooms hold the context; the context's registry holds the rooms: break the cycle. Rooms
  // with pending handlers finish them and are then destroyed.
  RoomContext::Registry rooms;
  {
    std::lock_guard lock(context_->registry_mutex);
    rooms.swap(context_->registry);
  }
}

const RoomMetrics& RoomServiceImpl::metrics() const { return context_->metrics; }

const TokenSigner& RoomServiceImpl::tokens() const { return context_->signer; }

v1::ListTemplatesResponse RoomServiceImpl::list_templates() const {
  v1::ListTemplatesResponse response;
  for (v1::TemplateSummary& summary : catalog_.list()) {
    *response.add_templates() = std::move(summary);
  }
  return response;
}

void RoomServiceImpl::create_room(const v1::CreateRoomRequest& request,
                                  std::function<void(Result<v1::CreateRoomResponse>)> done) {
  auto append = prepare_room(request);
  if (auto* error = std::get_if<ServiceError>(&append)) return answer(context_, *error, done);
  store_room(context_, request, std::get<store::AppendRequest>(std::move(append)),
             std::move(done));
}

void RoomServiceImpl::create_room_for(const v1::CreateRoomRequest& request,
                                      const std::string& creator, std::uint32_t limit,
                                      std::function<void(Result<v1::CreateRoomResponse>)> done) {
  auto append = prepare_room(request);
  if (auto* error = std::get_if<ServiceError>(&append)) return answer(context_, *error, done);
  auto& prepared = std::get<store::AppendRequest>(append);
  prepared.creator = context_->signer.keyed_digest(creator);
  admit(context_, quota_, request, std::move(prepared), limit, std::move(done));
}

std::variant<store::AppendRequest, ServiceError> RoomServiceImpl::prepare_room(
    const v1::CreateRoomRequest& request) const {
  const v1::Template* tmpl = catalog_.find(request.template_());
  if (tmpl == nullptr) {
    return ServiceError{"UNKNOWN_TEMPLATE", "There is no template of that name.", 404};
  }
  const CreateRoomLimits limits{context_->config.max_name_bytes, context_->config.max_topic_bytes,
                                context_->config.max_observers_per_room,
                                context_->config.max_invite_ttl_s};
  if (auto message = check_create_room_request(request, limits)) return invalid(std::move(*message));
  engine::RoomSetup setup;
  setup.topic = request.topic();
  setup.partner_a_name = request.partner_a_name();
  setup.partner_b_name = request.partner_b_name();
  setup.observers.assign(request.observers().begin(), request.observers().end());
  setup.series_id = request.series_id();
  store::AppendRequest append;
  append.room_id = new_room_id();
  append.expected_last_seq = 0;
  append.events.push_back(engine::create_room(*tmpl, setup, context_->clock()));
  return append;
}

std::shared_ptr<Room> RoomServiceImpl::find_or_load(const std::string& room_id) {
  return context_->find_or_load(room_id);
}

void RoomServiceImpl::get_view(const Participant& who,
                               std::function<void(Result<v1::GetRoomResponse>)> done) {
  auto room = find_or_load(who.room_id);
  if (!room) {
    asio::post(context_->executor, [done = std::move(done)] {
      done(Result<v1::GetRoomResponse>{
          std::nullopt, ServiceError{"UNKNOWN_ROOM", "There is no such room.", 404}});
    });
    return;
  }
  room->get_view(who.actor, std::move(done));
}

void RoomServiceImpl::attach(const Participant& who, const v1::Hello& hello,
                             std::shared_ptr<Recipient> recipient,
                             std::function<void(std::optional<CloseCode>)> done) {
  auto room = find_or_load(who.room_id);
  if (!room) {
    asio::post(context_->executor,
               [done = std::move(done)] { done(CloseCode::kUnknownRoom); });
    return;
  }
  room->attach(who.actor, hello, std::move(recipient), std::move(done));
}

void RoomServiceImpl::detach(const Participant& who, const Recipient* recipient) {
  std::shared_ptr<Room> room;
  {
    std::lock_guard lock(context_->registry_mutex);
    auto it = context_->registry.find(who.room_id);
    if (it == context_->registry.end()) return;
    room = it->second;
  }
  room->detach(who.actor, recipient);
}

void RoomServiceImpl::close_after_answers(const Participant& who,
                                          std::shared_ptr<Recipient> recipient, CloseCode code,
                                          std::string reason) {
  std::shared_ptr<Room> room;
  {
    std::lock_guard lock(context_->registry_mutex);
    auto it = context_->registry.find(who.room_id);
    if (it != context_->registry.end()) room = it->second;
  }
  if (!room) return recipient->close(code, std::move(reason));  // nothing of it is loaded
  room->close_after_answers(who.actor, std::move(recipient), code, std::move(reason));
}

void RoomServiceImpl::submit(const Participant& who, v1::Command command) {
  if (auto room = find_or_load(who.room_id)) room->submit(who.actor, std::move(command));
}

void RoomServiceImpl::typing(const Participant& who, bool typing) {
  if (auto room = find_or_load(who.room_id)) room->typing(who.actor, typing);
}

void RoomServiceImpl::run_due_timers() {
  for (auto& room : context_->loaded_rooms()) room->run_due_timers();
}

void RoomServiceImpl::close_all(CloseCode code, std::string reason) {
  for (auto& room : context_->loaded_rooms()) room->close_all(code, reason);
}

}  // namespace mend::rooms

namespace mend::rooms {

template <typename T>
void RoomServiceImpl::with_room(const Participant& who, std::function<void(Result<T>)> done,
                                void (Room::*op)(v1::Actor, std::function<void(Result<T>)>)) {
  auto room = find_or_load(who.room_id);
  if (!room) {
    asio::post(context_->executor, [done = std::move(done)] {
      done(Result<T>{std::nullopt, ServiceError{"UNKNOWN_ROOM", "There is no such room.", 404}});
    });
    return;
  }
  ((*room).*op)(who.actor, std::move(done));
}

void RoomServiceImpl::erase_contributions(
    const Participant& who, std::function<void(Result<v1::EraseContributionsResponse>)> done) {
  with_room(who, std::move(done), &Room::erase_contributions);
}

void RoomServiceImpl::erase_room(const Participant& who,
                                 std::function<void(Result<v1::EraseRoomResponse>)> done) {
  with_room(who, std::move(done), &Room::erase_room);
}

void RoomServiceImpl::get_audit(const Participant& who,
                                std::function<void(Result<v1::GetAuditResponse>)> done) {
  with_room(who, std::move(done), &Room::get_audit);
}

void RoomServiceImpl::get_transcript(
    const Participant& who, std::function<void(Result<v1::GetTranscriptResponse>)> done) {
  with_room(who, std::move(done), &Room::get_transcript);
}

void RoomServiceImpl::get_insights(
    const Participant& who, std::function<void(Result<v1::GetInsightsResponse>)> done) {
  with_room(who, std::move(done), &Room::get_insights);
}

void RoomServiceImpl::get_summary(
    const Participant& who, std::function<void(Result<v1::GetSummaryResponse>)> done) {
  with_room(who, std::move(done), &Room::get_summary);
}

void RoomServiceImpl::renew_access(
    const Participant& who, std::function<void(Result<v1::RenewAccessResponse>)> done) {
  with_room(who, std::move(done), &Room::renew_access);
}

void RoomServiceImpl::sweep_retention(std::function<void(SweepReport)> done) {
  sweeper_->sweep(std::move(done));
}

void RoomServiceImpl::start_retention_sweeps() {
  sweeper_->start(context_->config.retention_sweep_interval);
}

}  // namespace mend::rooms
