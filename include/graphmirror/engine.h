// Engine: graphmirror inside a program. It opens the mirror database named by a Config,
// syncs it (once, or live from Graph's change notifications), and answers queries.
//
//   auto config = graphmirror::LoadConfig("graphmirror.toml");        // or fill one in
//   auto engine = graphmirror::Engine::Open(*config);
//   (*engine)->SyncOnce();                                            // one pass
//   (*engine)->Start();                        // or: live, with its own webhook listener
//   auto inbox = (*engine)->Messages({.user_id = "...", .limit = 20});
//
// A program that runs its own HTTP server starts the engine with serve_http = false and
// hands it what Graph POSTs to the notification URL (HandleNotification) and the
// validation handshake (HandleValidation). Errors come back as Status / Result; nothing
// throws across this API.
//
// Thread-safety: Open, Start and Stop are for one controlling thread; every other method
// may be called from any thread at any time, also while the engine runs. The observer is
// called on the engine's writer thread (see SetObserver).

#ifndef GRAPHMIRROR_ENGINE_H_
#define GRAPHMIRROR_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graphmirror/clock.h"
#include "graphmirror/collection.h"
#include "graphmirror/config.h"
#include "graphmirror/mirror.h"
#include "graphmirror/status.h"

namespace graphmirror {

// Reads the TOML config file documented in the README (relative paths resolve against
// its directory; GRAPHMIRROR_CLIENT_SECRET supplies graph.client_secret).
Result<Config> LoadConfig(const std::string& path);

struct CollectionState {
  std::string user_id;
  Collection collection = Collection::kMessages;
  int64_t items = 0;
  std::string last_sync_at;    // local clock; empty if never
  std::string stopped_reason;  // why Graph refuses it (permission, credentials); empty if not
};

struct EngineStatus {
  bool running = false;  // Start()ed and not Stop()ped
  bool ready = false;    // subscriptions set and the first sync done
  std::vector<CollectionState> collections;
  int64_t log_backlog = 0;  // notifications received and not yet applied
};

// What to answer an HTTP request from Graph with.
struct HttpAnswer {
  int status = 202;
  std::string content_type;  // for a non-empty body
  std::string body;
};

class Engine {
 public:
  // Opens (creating and migrating if needed) the database of `config`. `clock` (borrowed)
  // is for tests; null means the system clock.
  static Result<std::unique_ptr<Engine>> Open(const Config& config, Clock* clock = nullptr);
  ~Engine();  // Stop()s
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // One pass over every configured mailbox and collection: new, changed and deleted items.
  // The first failure of any collection, after trying all of them.
  Status SyncOnce();

  struct StartOptions {
    bool serve_http = true;  // listen on config.webhook.listen
  };
  // Live: subscriptions kept with Graph, notifications received and applied, renewals,
  // lifecycle events and the safety-net delta passes, on background threads.
  Status Start(StartOptions options);
  Status Start() { return Start(StartOptions{}); }
  void Stop();

  // A body Graph POSTed to the notification (or lifecycle) URL, for a program with its own
  // HTTP server: checked, logged durably, answered (202, 400, 415 or 503). Needs Start().
  HttpAnswer HandleNotification(std::string_view content_type, std::string_view body);
  // The answer to `?validationToken=...` (already URL-decoded): the token as text/plain,
  // or 400 for a malformed one.
  static HttpAnswer HandleValidation(std::string_view token);

  // A full pass over one collection now (the same as after a `missed` lifecycle event).
  Status Resync(const std::string& user_id, Collection collection);

  Result<EngineStatus> GetStatus();

  Result<std::vector<Message>> Messages(const MessageQuery& query);
  Result<std::vector<Event>> Events(const EventQuery& query);
  Result<std::vector<Contact>> Contacts(const ContactQuery& query);
  // Full-text search over subject, body preview and sender; every word must occur, a word
  // ending in '*' is a prefix. Best matches first; each Message's body_preview holds the
  // best matching passage (matches in [brackets]) and its json is left empty.
  Result<std::vector<Message>> Search(const std::string& text, const std::string& user_id = "",
                                      int limit = 20);

  // Called after every commit that inserted, changed or deleted mirror rows, on the
  // engine's writer thread: keep it short and do not call back into the engine from it
  // (hand the changes to a thread of yours). Empty: none.
  void SetObserver(std::function<void(const std::vector<Change>&)> observer);

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_ENGINE_H_
