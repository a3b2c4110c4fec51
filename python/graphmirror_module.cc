// The graphmirror Python module: Engine (include/graphmirror/engine.h) for Python, over
// the public API only (the `layering` rule of the command line holds here too).
//
//   import graphmirror
//   with graphmirror.Mirror("graphmirror.toml") as mirror:     # or Mirror(database=...)
//       mirror.sync_once()
//       for m in mirror.search("budget"): print(m["subject"])
//       for change in mirror.changes(consumer="indexer"): ...
//
// Items, status and changes come back as dicts of str/int/bool/list (the C++ structs'
// field names), so that they print, compare and serialize (json.dumps) as they are.
// Errors are graphmirror.Error (a RuntimeError) with `code` (CodeName's: "not found",
// ...) and `message`; a bad argument value is also graphmirror.Error (code "invalid
// argument"), as the engine reports it.
//
// The GIL is released around every engine call that may block (the database, Graph,
// waiting for threads); results are converted to Python objects after it is taken back,
// so no Python object is touched without it. The engine is thread-safe (engine.h), so
// other Python threads run meanwhile, and may call the same Mirror.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graphmirror/engine.h"
#include "graphmirror/version.h"

namespace py = pybind11;

namespace graphmirror {
namespace {

// A failed Status on its way to Python (see the translator in the module's init).
struct StatusError {
  Status status;
};

PyObject* g_error_type = nullptr;  // graphmirror.Error; owned by the module

void Check(const Status& s) {
  if (!s.ok()) throw StatusError{s};
}

template <typename T>
T Take(Result<T>&& r) {
  if (!r.ok()) throw StatusError{r.status()};
  return std::move(r).value();
}

// Runs `f` (an engine call) without the GIL: the engine may wait on the database, on
// Graph or on its threads, and Python's other threads should not wait with it.
template <typename F>
auto Unlocked(F&& f) {
  py::gil_scoped_release release;
  return f();
}

std::string Name(Collection c) { return std::string(CollectionName(c)); }

Collection ParseCollectionOrThrow(const std::string& name) {
  std::optional<Collection> c = ParseCollection(name);
  if (!c) {
    throw StatusError{Status::InvalidArgument("unknown collection '" + name +
                                              "' (messages, events or contacts)")};
  }
  return *c;
}

// --- Conversions to dicts ---------------------------------------------------------------

py::dict ToDict(const Message& m) {
  py::dict d;
  d["user_id"] = m.user_id;
  d["id"] = m.id;
  d["received_at"] = m.received_at;
  d["from_name"] = m.from_name;
  d["from_address"] = m.from_address;
  d["subject"] = m.subject;
  d["body_preview"] = m.body_preview;
  d["folder_id"] = m.folder_id;
  d["is_read"] = m.is_read;
  d["json"] = m.json;
  return d;
}

py::dict ToDict(const Event& e) {
  py::dict d;
  d["user_id"] = e.user_id;
  d["id"] = e.id;
  d["subject"] = e.subject;
  d["start_at"] = e.start_at;
  d["end_at"] = e.end_at;
  d["type"] = e.type;
  d["series_master_id"] = e.series_master_id;
  d["json"] = e.json;
  return d;
}

py::dict ToDict(const Contact& c) {
  py::dict d;
  d["user_id"] = c.user_id;
  d["id"] = c.id;
  d["display_name"] = c.display_name;
  d["emails"] = c.emails;
  d["json"] = c.json;
  return d;
}

py::dict ToDict(const ListItem& i) {
  py::dict d;
  d["site"] = i.site;
  d["list_id"] = i.list_id;
  d["item_id"] = i.item_id;
  d["created_at"] = i.created_at;
  d["modified_at"] = i.modified_at;
  d["json"] = i.json;
  return d;
}

py::dict ToDict(const FeedChange& c) {
  py::dict d;
  d["seq"] = c.seq;
  d["resource"] = c.resource;
  d["user_id"] = c.user_id;
  d["site"] = c.site;
  d["list_id"] = c.list_id;
  d["item_id"] = c.item_id;
  d["kind"] = c.kind;
  d["changed_at"] = c.changed_at;
  // As the feed has it: a list for updates and moves, None otherwise.
  if (c.kind == "update" || c.kind == "move") {
    d["fields"] = c.fields;
  } else {
    d["fields"] = py::none();
  }
  return d;
}

py::dict ToDict(const ConsumerState& c) {
  py::dict d;
  d["name"] = c.name;
  d["last_seq"] = c.last_seq;
  d["updated_at"] = c.updated_at;
  return d;
}

py::dict ToDict(const SyncReport& r) {
  py::dict d;
  d["user_id"] = r.user_id;
  d["collection"] = Name(r.collection);
  d["ok"] = r.status.ok();
  d["error"] = r.status.ok() ? std::string() : r.status.ToString();
  d["fetched"] = r.fetched;
  d["added"] = r.added;
  d["removed"] = r.removed;
  d["items"] = r.items;
  d["seconds"] = r.seconds;
  return d;
}

py::dict ToDict(const SyncProgress& p) {
  py::dict d;
  d["items_received"] = p.items_received;
  d["waiting_requests"] = p.waiting_requests;
  d["longest_wait_seconds"] = p.longest_wait_seconds;
  d["wait_reason"] = p.wait_reason;
  d["initial_sync_running"] = p.initial_sync_running;
  d["initial_sync_collections_done"] = p.initial_sync_collections_done;
  d["initial_sync_collections_total"] = p.initial_sync_collections_total;
  return d;
}

py::dict ToDict(const VerifyDrift& v) {
  py::dict d;
  d["missing"] = v.missing;
  d["extra"] = v.extra;
  d["stale"] = v.stale;
  d["missing_ids"] = v.missing_ids;
  d["extra_ids"] = v.extra_ids;
  d["stale_ids"] = v.stale_ids;
  return d;
}

template <typename T>
py::list ToList(const std::vector<T>& items) {
  py::list list;
  for (const T& item : items) list.append(ToDict(item));
  return list;
}

py::dict ToDict(const EngineStatus& s) {
  py::dict d;
  d["running"] = s.running;
  d["ready"] = s.ready;
  d["initial_sync_running"] = s.initial_sync_running;
  d["progress"] = ToDict(s.progress);
  py::list collections;
  for (const CollectionState& c : s.collections) {
    py::dict e;
    e["user_id"] = c.user_id;
    e["collection"] = Name(c.collection);
    e["items"] = c.items;
    e["created_up_to"] = c.created_up_to;
    e["modified_up_to"] = c.modified_up_to;
    e["last_sync_at"] = c.last_sync_at;
    e["last_sync_kind"] = c.last_sync_kind;
    e["last_error"] = c.last_error;
    e["last_error_at"] = c.last_error_at;
    e["last_lifecycle_event"] = c.last_lifecycle_event;
    e["last_lifecycle_at"] = c.last_lifecycle_at;
    e["stopped_reason"] = c.stopped_reason;
    e["stopped_at"] = c.stopped_at;
    e["retry_at"] = c.retry_at;
    e["loading_since"] = c.loading_since;
    e["configured"] = c.configured;
    collections.append(e);
  }
  d["collections"] = collections;
  py::list containers;
  for (const ContainerState& c : s.containers) {
    py::dict e;
    e["user_id"] = c.user_id;
    e["name"] = c.name;
    e["rows"] = c.rows;
    e["synced_at"] = c.synced_at;
    containers.append(e);
  }
  d["containers"] = containers;
  py::list bodies;
  for (const BodyState& b : s.bodies) {
    py::dict e;
    e["user_id"] = b.user_id;
    e["bodies"] = b.bodies;
    e["bytes"] = b.bytes;
    bodies.append(e);
  }
  d["bodies"] = bodies;
  py::list lists;
  for (const ListStatus& l : s.lists) {
    py::dict e;
    e["site"] = l.site;
    e["list_id"] = l.list_id;
    e["configured"] = l.configured;
    e["items"] = l.items;
    e["synced_at"] = l.synced_at;
    e["full_reads"] = l.full_reads;
    e["pending_notifications"] = l.pending_notifications;
    e["has_change_token"] = l.has_change_token;
    e["change_token_at"] = l.change_token_at;
    e["last_change_at"] = l.last_change_at;
    e["subscription_expires"] = l.subscription_expires;
    e["last_error"] = l.last_error;
    e["last_error_at"] = l.last_error_at;
    e["subscription_error"] = l.subscription_error;
    lists.append(e);
  }
  d["lists"] = lists;
  py::list subscriptions;
  for (const SubscriptionState& sub : s.subscriptions) {
    py::dict e;
    e["id"] = sub.id;
    e["user_id"] = sub.user_id;
    e["collection"] = Name(sub.collection);
    e["resource"] = sub.resource;
    e["expires_at"] = sub.expires_at;
    e["encryption_certificate_id"] = sub.encryption_certificate_id;
    subscriptions.append(e);
  }
  d["subscriptions"] = subscriptions;
  py::list logs;
  for (const MailboxLogState& l : s.logs) {
    py::dict e;
    e["user_id"] = l.user_id;
    e["pending"] = l.pending;
    e["failed"] = l.failed;
    e["suspicious"] = l.suspicious;
    e["last_received_at"] = l.last_received_at;
    logs.append(e);
  }
  d["logs"] = logs;
  py::list verifications;
  for (const VerifyState& v : s.verifications) {
    py::dict e;
    e["user_id"] = v.user_id;
    e["resource"] = v.resource;
    e["verified_at"] = v.verified_at;
    e["graph_items"] = v.graph_items;
    e["mirror_items"] = v.mirror_items;
    e["missing"] = v.missing;
    e["extra"] = v.extra;
    e["stale"] = v.stale;
    e["repaired"] = v.repaired;
    e["remaining"] = v.remaining;
    verifications.append(e);
  }
  d["verifications"] = verifications;
  d["log_backlog"] = s.log_backlog;
  return d;
}

py::dict ToDict(const VerifyResult& r) {
  py::dict d;
  py::list scopes;
  for (const VerifyScope& s : r.scopes) {
    py::dict e;
    e["user_id"] = s.user_id;
    e["resource"] = s.resource;
    e["graph_items"] = s.graph_items;
    e["mirror_items"] = s.mirror_items;
    e["drift"] = ToDict(s.drift);
    e["confirmed"] = s.confirmed;
    e["repaired"] = s.repaired;
    e["after_repair"] = s.after_repair ? py::object(ToDict(*s.after_repair)) : py::none();
    e["remaining"] = s.remaining();
    scopes.append(e);
  }
  d["scopes"] = scopes;
  d["graph_requests"] = r.graph_requests;
  d["remaining"] = r.remaining();
  return d;
}

// --- Mirror -----------------------------------------------------------------------------

// An open engine. close() (or leaving a `with` block) stops it and closes the database;
// every call after that is graphmirror.Error (code "Cancelled").
class Mirror {
 public:
  Mirror(std::optional<std::string> config_path, std::optional<std::string> database) {
    if (config_path.has_value() == database.has_value()) {
      throw StatusError{Status::InvalidArgument(
          "Mirror needs a config file path or database=PATH (one of them)")};
    }
    Result<std::unique_ptr<Engine>> opened = Unlocked([&]() -> Result<std::unique_ptr<Engine>> {
      if (config_path) {
        Result<Config> config = LoadConfig(*config_path);
        if (!config.ok()) return config.status();
        return Engine::Open(*config);
      }
      // Reading an existing mirror only: no Graph identity, no mailboxes, and never a new
      // empty database where the path was mistyped.
      Config config;
      config.database = *database;
      Engine::OpenOptions options;
      options.create_if_missing = false;
      return Engine::Open(config, options);
    });
    engine_ = Take(std::move(opened));
  }

  Engine& engine() {
    if (!engine_) throw StatusError{Status::Cancelled("the mirror is closed")};
    return *engine_;
  }

  void Close() {
    std::unique_ptr<Engine> engine = std::move(engine_);
    // ~Engine stops it: background threads are joined, which may take a moment.
    Unlocked([&] {
      engine.reset();
      return 0;
    });
  }

  bool closed() const { return engine_ == nullptr; }

 private:
  std::unique_ptr<Engine> engine_;
};

// The change feed of one consumer as an iterator of dicts (Mirror.changes). It reads
// `batch` changes at a time. With commit=True (the default) the cursor moves as the loop
// goes: the changes handed out so far are committed when the next batch is read and when
// the feed is exhausted, that is once the loop body has finished with every one of them.
// A loop left by break or an exception commits nothing of its current batch (those
// changes come again next time: at least once, dedupe by seq) unless it calls commit().
// With commit=False nothing moves the cursor but commit() (or Mirror.commit_changes).
class ChangeFeed {
 public:
  ChangeFeed(Mirror* mirror, std::string consumer, size_t batch, bool auto_commit)
      : mirror_(mirror), consumer_(std::move(consumer)), batch_(batch),
        auto_commit_(auto_commit) {
    if (batch_ < 1 || batch_ > 100000) {
      throw StatusError{Status::InvalidArgument("batch must be 1..100000")};
    }
  }

  py::dict Next() {
    if (next_ == buffer_.size()) {
      Engine& engine = mirror_->engine();
      if (auto_commit_) Commit();
      std::vector<FeedChange> changes = Take(Unlocked([&] {
        // The first read goes by the consumer's cursor (registering a new name); later
        // ones on from what this feed handed out, which the cursor may not have reached
        // yet (commit=False).
        return started_ ? engine.ReadChanges(yielded_seq_, batch_)
                        : engine.ReadChanges(consumer_, batch_);
      }));
      started_ = true;
      buffer_ = std::move(changes);
      next_ = 0;
      if (buffer_.empty()) throw py::stop_iteration();
    }
    const FeedChange& change = buffer_[next_++];
    yielded_seq_ = change.seq;
    return ToDict(change);
  }

  // Commits every change handed out so far (nothing if none since the last commit).
  void Commit() {
    if (yielded_seq_ <= committed_seq_) return;
    Engine& engine = mirror_->engine();
    int64_t seq = yielded_seq_;
    Check(Unlocked([&] { return engine.CommitChanges(consumer_, seq); }));
    committed_seq_ = seq;
  }

  const std::string& consumer() const { return consumer_; }
  int64_t last_seq() const { return yielded_seq_; }
  int64_t committed_seq() const { return committed_seq_; }

 private:
  Mirror* mirror_;  // kept alive by the Python object that made this feed (keep_alive)
  const std::string consumer_;
  const size_t batch_;
  const bool auto_commit_;
  bool started_ = false;
  std::vector<FeedChange> buffer_;
  size_t next_ = 0;
  int64_t yielded_seq_ = 0;    // the last change handed out
  int64_t committed_seq_ = 0;  // the last this feed committed
};

}  // namespace
}  // namespace graphmirror

PYBIND11_MODULE(graphmirror, m) {
  using namespace graphmirror;
  using py::arg;
  m.doc() = "graphmirror: Microsoft 365 mailboxes mirrored into SQLite (README, \"Python\")";
  m.attr("__version__") = GRAPHMIRROR_VERSION;

  g_error_type = PyErr_NewExceptionWithDoc(
      "graphmirror.Error", "A graphmirror Status that is not ok: .code (\"not found\", ...) and .message.",
      PyExc_RuntimeError, nullptr);
  m.add_object("Error", py::handle(g_error_type));
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      py::object error = py::reinterpret_borrow<py::object>(g_error_type)(e.status.ToString());
      error.attr("code") = std::string(CodeName(e.status.code()));
      error.attr("message") = e.status.message();
      PyErr_SetObject(g_error_type, error.ptr());
    }
  });

  py::class_<ChangeFeed>(m, "ChangeFeed",
                         "The changes of one consumer, oldest first (Mirror.changes).")
      .def("__iter__", [](ChangeFeed& f) -> ChangeFeed& { return f; })
      .def("__next__", &ChangeFeed::Next)
      .def("commit", &ChangeFeed::Commit,
           "Commits every change handed out so far: they are not read again.")
      .def_property_readonly("consumer", &ChangeFeed::consumer)
      .def_property_readonly("last_seq", &ChangeFeed::last_seq,
                             "The seq of the last change handed out (0: none yet).")
      .def_property_readonly("committed_seq", &ChangeFeed::committed_seq,
                             "The last seq this feed committed (0: none yet).");

  py::class_<Mirror>(m, "Mirror",
                     "An open mirror: Mirror(config_path) for everything, or "
                     "Mirror(database=path) to read an existing database only.")
      .def(py::init<std::optional<std::string>, std::optional<std::string>>(),
           arg("config") = py::none(), py::kw_only(), arg("database") = py::none())
      .def("close", &Mirror::Close, "Stops the engine (if started) and closes the database.")
      .def_property_readonly("closed", &Mirror::closed)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](Mirror& self, py::args) { self.Close(); })
      .def("check_credentials",
           [](Mirror& self) {
             Engine& e = self.engine();
             Check(Unlocked([&] { return e.CheckCredentials(); }));
           })
      .def(
          "sync_once",
          [](Mirror& self) {
            Engine& e = self.engine();
            return ToList(Unlocked([&] { return e.SyncOnceReports(); }));
          },
          "One pass over every configured collection; a report dict per collection (a "
          "failed one has ok False and its error).")
      .def(
          "start",
          [](Mirror& self, bool serve_http, bool serve_admin) {
            Engine& e = self.engine();
            Engine::StartOptions options;
            options.serve_http = serve_http;
            options.serve_admin = serve_admin;
            Check(Unlocked([&] { return e.Start(std::move(options)); }));
          },
          arg("serve_http") = true, arg("serve_admin") = true,
          "Live mirroring on the engine's threads; returns at once (the initial sync runs "
          "in the background: wait_for_initial_sync).")
      .def("stop",
           [](Mirror& self) {
             Engine& e = self.engine();
             Unlocked([&] {
               e.Stop();
               return 0;
             });
           })
      .def(
          "wait_for_initial_sync",
          [](Mirror& self, double timeout) {
            Engine& e = self.engine();
            auto ms = std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
            Status s = Unlocked([&] { return e.WaitForInitialSync(ms); });
            if (s.code() == Status::Code::kUnavailable) return false;
            Check(s);
            return true;
          },
          arg("timeout") = 60.0,
          "True once Start's initial sync has ended; False if `timeout` seconds passed.")
      .def("healthy", [](Mirror& self) { return self.engine().Healthy(); })
      .def("metrics",
           [](Mirror& self) {
             Engine& e = self.engine();
             return Take(Unlocked([&] { return e.Metrics(); }));
           })
      .def(
          "status",
          [](Mirror& self) {
            Engine& e = self.engine();
            return ToDict(Take(Unlocked([&] { return e.GetStatus(); })));
          },
          "GetStatus as a dict (collections, subscriptions, progress, ...).")
      .def("progress",
           [](Mirror& self) { return ToDict(self.engine().Progress()); })
      .def(
          "resync",
          [](Mirror& self, const std::string& user_id, const std::string& collection) {
            Engine& e = self.engine();
            Collection c = ParseCollectionOrThrow(collection);
            Check(Unlocked([&] { return e.Resync(user_id, c); }));
          },
          arg("user_id"), arg("collection"))
      .def(
          "verify",
          [](Mirror& self, const std::string& user_id, std::optional<std::string> collection,
             bool repair, size_t max_examples) {
            Engine& e = self.engine();
            VerifyOptions options;
            options.user_id = user_id;
            if (collection) options.collection = ParseCollectionOrThrow(*collection);
            options.repair = repair;
            options.max_examples = max_examples;
            return ToDict(Take(Unlocked([&] { return e.Verify(options); })));
          },
          arg("user_id") = "", arg("collection") = py::none(), arg("repair") = false,
          arg("max_examples") = 5)
      .def(
          "search",
          [](Mirror& self, const std::string& text, const std::string& user_id, int limit) {
            Engine& e = self.engine();
            return ToList(Take(Unlocked([&] { return e.Search(text, user_id, limit); })));
          },
          arg("text"), arg("user_id") = "", arg("limit") = 20,
          "Full-text search of messages, best first; body_preview holds the matching "
          "passage with matches in [brackets].")
      .def(
          "messages",
          [](Mirror& self, const std::string& user_id, const std::string& folder_id,
             const std::string& received_from, const std::string& received_before,
             int limit) {
            Engine& e = self.engine();
            MessageQuery q{user_id, folder_id, received_from, received_before, limit};
            return ToList(Take(Unlocked([&] { return e.Messages(q); })));
          },
          py::kw_only(), arg("user_id") = "", arg("folder_id") = "",
          arg("received_from") = "", arg("received_before") = "", arg("limit") = 100,
          "Messages, newest first; empty filters do not filter.")
      .def(
          "events",
          [](Mirror& self, const std::string& user_id, const std::string& from,
             const std::string& until, int limit) {
            Engine& e = self.engine();
            EventQuery q{user_id, from, until, limit};
            return ToList(Take(Unlocked([&] { return e.Events(q); })));
          },
          py::kw_only(), arg("user_id") = "", arg("from_") = "", arg("until") = "",
          arg("limit") = 100,
          "Calendar entries overlapping [from_, until), by start.")
      .def(
          "contacts",
          [](Mirror& self, const std::string& user_id, const std::string& email, int limit) {
            Engine& e = self.engine();
            ContactQuery q{user_id, email, limit};
            return ToList(Take(Unlocked([&] { return e.Contacts(q); })));
          },
          py::kw_only(), arg("user_id") = "", arg("email") = "", arg("limit") = 100)
      .def(
          "list_items",
          [](Mirror& self, const std::string& site, const std::string& list_id,
             int64_t after_item_id, int limit) {
            Engine& e = self.engine();
            ListItemQuery q{site, list_id, after_item_id, limit};
            return ToList(Take(Unlocked([&] { return e.ListItems(q); })));
          },
          arg("site"), arg("list_id"), py::kw_only(), arg("after_item_id") = 0,
          arg("limit") = 1000)
      .def(
          "changes",
          [](Mirror& self, const std::string& consumer, size_t batch, bool commit) {
            self.engine();  // closed: an error now rather than at the first next()
            return ChangeFeed(&self, consumer, batch, commit);
          },
          py::keep_alive<0, 1>(), py::kw_only(), arg("consumer"), arg("batch") = 1000,
          arg("commit") = true,
          "The changes after the consumer's cursor as an iterator of dicts, ending when "
          "the feed is exhausted. commit=True: what the loop has been handed is committed "
          "when the next batch is read and at the end (a break or exception leaves the "
          "current batch uncommitted: feed.commit()).")
      .def(
          "read_changes",
          [](Mirror& self, std::optional<std::string> consumer, std::optional<int64_t> after,
             size_t limit) {
            if (consumer.has_value() == after.has_value()) {
              throw StatusError{Status::InvalidArgument(
                  "read_changes needs consumer=NAME or after=SEQ (one of them)")};
            }
            Engine& e = self.engine();
            return ToList(Take(Unlocked([&] {
              return consumer ? e.ReadChanges(*consumer, limit) : e.ReadChanges(*after, limit);
            })));
          },
          py::kw_only(), arg("consumer") = py::none(), arg("after") = py::none(),
          arg("limit") = 1000,
          "One batch of changes (a list), by a consumer's cursor (not moved) or after a seq.")
      .def(
          "commit_changes",
          [](Mirror& self, const std::string& consumer, int64_t up_to_seq) {
            Engine& e = self.engine();
            Check(Unlocked([&] { return e.CommitChanges(consumer, up_to_seq); }));
          },
          arg("consumer"), arg("up_to_seq"))
      .def(
          "drop_consumer",
          [](Mirror& self, const std::string& consumer) {
            Engine& e = self.engine();
            Check(Unlocked([&] { return e.DropConsumer(consumer); }));
          },
          arg("consumer"))
      .def("consumers",
           [](Mirror& self) {
             Engine& e = self.engine();
             return ToList(Take(Unlocked([&] { return e.Consumers(); })));
           })
      .def("prune_changes", [](Mirror& self) {
        Engine& e = self.engine();
        return Take(Unlocked([&] { return e.PruneChanges(); }));
      });
}
