// Row 3: applying resync pages into an empty collection: parse + bulk load + indexes.
//
// An in-process graphsim seeded with one mailbox of 100,000 messages is paged through
// with GET /v1.0/users/{id}/messages?$top=1000 (following @odata.nextLink) and the bodies
// are kept in memory. Only then is the clock started: the engine's path of a first sync
// into an empty collection, a bulk load (MirrorTables::BeginLoad), then each recorded body
// through graph::ParsePage and Store::ApplyPage with the watermark the resyncer would move
// (the newest createdDateTime of the page), one page per call, then FinishLoad, which
// builds the full-text indexes (messages_fts, message_bodies_fts) and the secondary
// indexes of `messages` the load dropped: all of it inside the time. Into a fresh
// database file with the store's settings (WAL, synchronous=FULL).
//
// The baseline, in the same run, inserts the same rows (same ids, same column values as
// mirror_writes.cc writes: each message's row and its body's row) with a minimal
// prepared-statement loop of the SQLite C API, one transaction per 1,000-row page,
// synchronous=FULL, into a fresh database created by Store::Open and then stripped of the
// FTS5 triggers, the change feed's triggers and the secondary indexes of `messages`: the raw insert
// of the same rows into the same tables, with nothing to search by and nothing indexed. A second
// loop, of the message rows alone (no bodies), is reported beside it. The ratio is what parsing,
// the upsert's newer-only clause, the writer thread, the watermark and building search and
// indexes afterwards cost beyond that.

#include <SQLiteCpp/SQLiteCpp.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "engine/graph/page.h"
#include "engine/store/connection.h"
#include "engine/store/store.h"
#include "tools/graphsim/graphsim.h"

namespace graphmirror::bench {
namespace {

constexpr int kPageSize = 1000;

struct Recording {
  std::string user_id;
  std::vector<std::string> bodies;
  // The pages parsed once while recording (outside any timing): the baseline's rows.
  std::vector<std::vector<MirrorItem>> pages;
  size_t items = 0;
  size_t bytes = 0;
};

// Pages through the mailbox over loopback HTTP, as the engine's client would.
std::optional<Recording> Record(const Options& options, int messages) {
  graphsim::Options sim_options;
  sim_options.seed = options.seed;
  sim_options.users = 1;
  sim_options.messages = messages;
  sim_options.events = 0;
  sim_options.contacts = 0;
  // The bench pages as fast as it can: Graph's per-mailbox request limit is not the point.
  sim_options.requests_per_window = 1000000;
  graphsim::Simulator sim(sim_options, nullptr);
  graphsim::Server server(&sim);
  Status started = server.Start();
  if (!started.ok()) {
    std::cerr << "apply: graphsim did not start: " << started.ToString() << "\n";
    return std::nullopt;
  }
  Recording rec;
  rec.user_id = sim.UserIds().at(0);
  httplib::Client client(server.base_url());
  client.set_read_timeout(60, 0);
  std::string token = FetchToken(server.base_url());
  if (token.empty()) {
    std::cerr << "apply: graphsim gave no token\n";
    return std::nullopt;
  }
  httplib::Headers headers = {{"Authorization", "Bearer " + token}};
  std::string path = "/v1.0/users/" + rec.user_id + "/messages?$top=" + std::to_string(kPageSize);
  const std::string base = server.base_url();
  while (!path.empty()) {
    auto res = client.Get(path, headers);
    if (!res || res->status != 200) {
      std::cerr << "apply: GET " << path << " answered "
                << (res ? std::to_string(res->status) : httplib::to_string(res.error())) << "\n";
      return std::nullopt;
    }
    auto page = graph::ParsePage(Collection::kMessages, res->body);
    if (!page.ok()) {
      std::cerr << "apply: recorded page does not parse: " << page.status().ToString() << "\n";
      return std::nullopt;
    }
    rec.items += page->items.size();
    rec.bytes += res->body.size();
    rec.bodies.push_back(std::move(res->body));
    rec.pages.push_back(std::move(page->items));
    path.clear();
    if (!page->next_link.empty()) {
      if (page->next_link.compare(0, base.size(), base) != 0) {
        std::cerr << "apply: nextLink points elsewhere: " << page->next_link << "\n";
        return std::nullopt;
      }
      path = page->next_link.substr(base.size());
    }
  }
  if (rec.items != static_cast<size_t>(messages)) {
    std::cerr << "apply: paged " << rec.items << " messages, expected " << messages << "\n";
    return std::nullopt;
  }
  return rec;
}

struct EngineRun {
  bool ok = false;
  double seconds = 0;
  double parse_seconds = 0;
  double apply_seconds = 0;
  double build_seconds = 0;  // FinishLoad: full-text and secondary indexes
};

// Runs `sql` on `path` with a plain connection; false (and says why) on failure.
bool Exec(const std::string& path, const std::string& sql) {
  try {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec(sql);
    return true;
  } catch (const std::exception& e) {
    std::cerr << "apply: " << e.what() << "\n";
    return false;
  }
}

// The engine's path of a first sync into an empty collection: BeginLoad, ParsePage and
// ApplyPage with the page's watermark for every page, FinishLoad.
EngineRun RunEngine(const Recording& rec, const std::string& db_path) {
  EngineRun run;
  auto store = store::Store::Open(db_path, SystemClock::Default());
  if (!store.ok()) {
    std::cerr << "apply: " << store.status().ToString() << "\n";
    return run;
  }
  Stopwatch total;
  auto loading = (*store)->mirror().BeginLoad(rec.user_id, Collection::kMessages);
  if (!loading.ok() || !*loading) {
    std::cerr << "apply: no bulk load began: "
              << (loading.ok() ? "the collection holds rows" : loading.status().ToString()) << "\n";
    return run;
  }
  for (const std::string& body : rec.bodies) {
    Stopwatch step;
    auto page = graph::ParsePage(Collection::kMessages, body);
    run.parse_seconds += step.Seconds();
    if (!page.ok()) {
      std::cerr << "apply: " << page.status().ToString() << "\n";
      return run;
    }
    step.Reset();
    store::PageWrite write;
    write.user_id = rec.user_id;
    write.collection = Collection::kMessages;
    for (const MirrorItem& item : page->items) {
      write.created_after = std::max(write.created_after, item.created_at);
    }
    write.upserts = std::move(page->items);
    Status applied = (*store)->mirror().ApplyPage(std::move(write));
    run.apply_seconds += step.Seconds();
    if (!applied.ok()) {
      std::cerr << "apply: " << applied.ToString() << "\n";
      return run;
    }
  }
  Stopwatch build;
  Status finished = (*store)->mirror().FinishLoad(rec.user_id, Collection::kMessages);
  run.build_seconds = build.Seconds();
  run.seconds = total.Seconds();
  if (!finished.ok()) {
    std::cerr << "apply: " << finished.ToString() << "\n";
    return run;
  }
  // Every item must be a row, and searchable, else the rate means nothing.
  auto count = (*store)->mirror().CountItems(rec.user_id, Collection::kMessages);
  if (!count.ok() || *count != static_cast<int64_t>(rec.items)) {
    std::cerr << "apply: the mirror holds "
              << (count.ok() ? std::to_string(*count) : count.status().ToString()) << " of "
              << rec.items << " messages\n";
    return run;
  }
  store->reset();
  try {
    SQLite::Database db(db_path);
    const int64_t indexed = db.execAndGet("SELECT count(*) FROM messages_fts_docsize").getInt64();
    const int64_t bodies = db.execAndGet("SELECT count(*) FROM message_bodies").getInt64();
    const int64_t bodies_indexed =
        db.execAndGet("SELECT count(*) FROM message_bodies_fts_docsize").getInt64();
    const int64_t indexes = db.execAndGet(
                                  "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND "
                                  "tbl_name = 'messages' AND sql IS NOT NULL")
                                .getInt64();
    if (indexed != *count || bodies_indexed != bodies || indexes != 4) {
      std::cerr << "apply: after the load " << indexed << " messages and " << bodies_indexed
                << " of " << bodies << " bodies are indexed, and messages has " << indexes
                << " of 4 secondary indexes\n";
      return run;
    }
  } catch (const std::exception& e) {
    std::cerr << "apply: " << e.what() << "\n";
    return run;
  }
  run.ok = true;
  return run;
}

// Binds text, or NULL for an empty string, as the engine does.
void BindText(sqlite3_stmt* s, int index, const std::string& value) {
  if (value.empty()) {
    sqlite3_bind_null(s, index);
  } else {
    sqlite3_bind_text(s, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  }
}

// The baseline: plain prepared INSERTs of the same rows (with their bodies' rows if
// `bodies`), one transaction per page, into the schema without FTS5 triggers, without the
// change feed's triggers and without the secondary indexes of `messages`. Seconds, or a negative
// value on failure.
double RunBaseline(const Recording& rec, const std::string& db_path, bool bodies) {
  {
    // The engine's schema, exactly; then nothing to search by, nothing indexed.
    auto store = store::Store::Open(db_path, SystemClock::Default());
    if (!store.ok()) {
      std::cerr << "apply: " << store.status().ToString() << "\n";
      return -1;
    }
  }
  if (!Exec(db_path,
            "DROP TRIGGER messages_fts_insert; DROP TRIGGER messages_fts_delete; "
            "DROP TRIGGER messages_fts_update; DROP TRIGGER message_bodies_fts_insert; "
            "DROP TRIGGER message_bodies_fts_delete; DROP TRIGGER message_bodies_fts_update; "
            "DROP TRIGGER messages_changes_insert; DROP TRIGGER messages_changes_update; "
            "DROP TRIGGER messages_changes_delete; "
            "DROP INDEX messages_by_received; DROP INDEX messages_by_from; "
            "DROP INDEX messages_by_subject; DROP INDEX messages_by_folder;")) {
    return -1;
  }
  sqlite3* db = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* insert_body = nullptr;
  auto fail = [&](const char* what) {
    std::cerr << "apply: baseline " << what << ": " << (db ? sqlite3_errmsg(db) : "no database")
              << "\n";
    sqlite3_finalize(insert);
    sqlite3_finalize(insert_body);
    sqlite3_close(db);
    return -1.0;
  };
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) return fail("open");
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_exec(db, store::ConnectionPragmas(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail("pragma");
  }
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO messages (user_id, id, created_at, modified_at, change_key, "
                         "received_at, subject, from_address, from_name, folder_id, body_preview, "
                         "is_read, json, synced_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                         "?10, ?11, ?12, ?13, ?14)",
                         -1, &insert, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "INSERT INTO message_bodies (user_id, id, content_type, content, "
                         "modified_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                         -1, &insert_body, nullptr) != SQLITE_OK) {
    return fail("prepare");
  }
  size_t body_rows = 0;
  Stopwatch clock;
  for (const std::vector<MirrorItem>& page : rec.pages) {
    const std::string now = store::FormatUtc(SystemClock::Default()->Now());
    if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("begin");
    for (const MirrorItem& item : page) {
      sqlite3_reset(insert);
      BindText(insert, 1, rec.user_id);
      BindText(insert, 2, item.id);
      BindText(insert, 3, item.created_at);
      BindText(insert, 4, item.modified_at);
      BindText(insert, 5, item.change_key);
      BindText(insert, 6, item.received_at);
      BindText(insert, 7, item.subject);
      BindText(insert, 8, item.from_address);
      BindText(insert, 9, item.from_name);
      BindText(insert, 10, item.folder_id);
      BindText(insert, 11, item.body_preview);
      sqlite3_bind_int(insert, 12, item.is_read ? 1 : 0);
      BindText(insert, 13, item.json);
      BindText(insert, 14, now);
      if (sqlite3_step(insert) != SQLITE_DONE) return fail("insert");
      if (!bodies || !item.body) continue;
      sqlite3_reset(insert_body);
      BindText(insert_body, 1, rec.user_id);
      BindText(insert_body, 2, item.id);
      sqlite3_bind_text(insert_body, 3, item.body_type.data(),
                        static_cast<int>(item.body_type.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert_body, 4, item.body->data(), static_cast<int>(item.body->size()),
                        SQLITE_STATIC);
      BindText(insert_body, 5, item.modified_at);
      if (sqlite3_step(insert_body) != SQLITE_DONE) return fail("insert body");
      ++body_rows;
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("commit");
  }
  double seconds = clock.Seconds();
  sqlite3_finalize(insert);
  insert = nullptr;
  sqlite3_finalize(insert_body);
  insert_body = nullptr;
  sqlite3_stmt* count = nullptr;
  int64_t rows = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &count, nullptr) == SQLITE_OK &&
      sqlite3_step(count) == SQLITE_ROW) {
    rows = sqlite3_column_int64(count, 0);
  }
  sqlite3_finalize(count);
  if (rows != static_cast<int64_t>(rec.items)) return fail("row count");
  if (bodies && body_rows == 0) return fail("no bodies in the recorded pages");
  sqlite3_close(db);
  return seconds;
}

int ApplyRow(const Options& options, const WorkDir& dir) {
  const int messages = options.smoke ? 2000 : 100000;
  // Two rounds, interleaved, best of each: the machine is shared and one slow fsync
  // should not decide the row.
  const int rounds = options.smoke ? 1 : 2;
  std::cerr << "apply: recording " << messages << " messages in pages of " << kPageSize << "\n";
  auto rec = Record(options, messages);
  if (!rec) return 1;
  std::cerr << "apply: " << rec->bodies.size() << " pages, " << rec->bytes / kMiB
            << " MiB; timing\n";

  EngineRun best;
  double base_seconds = 0;
  double bare_seconds = 0;  // messages' rows alone
  for (int round = 0; round < rounds; ++round) {
    const std::string n = std::to_string(round);
    EngineRun run = RunEngine(*rec, dir.Path("engine" + n + ".db"));
    if (!run.ok) return 1;
    if (!best.ok || run.seconds < best.seconds) best = run;
    double base = RunBaseline(*rec, dir.Path("baseline" + n + ".db"), /*bodies=*/true);
    if (base <= 0) return 1;
    if (base_seconds == 0 || base < base_seconds) base_seconds = base;
    double bare = RunBaseline(*rec, dir.Path("bare" + n + ".db"), /*bodies=*/false);
    if (bare <= 0) return 1;
    if (bare_seconds == 0 || bare < bare_seconds) bare_seconds = bare;
  }

  const double items = static_cast<double>(rec->items);
  const double rate = items / best.seconds;
  const double base_rate = items / base_seconds;
  const double bare_rate = items / bare_seconds;
  Row r;
  r.number = 3;
  r.what = "apply from resync pages (bulk load into an empty collection)";
  r.value = rate;
  r.unit = "items/s";
  r.baseline = base_rate;
  r.baseline_what =
      "prepared INSERT loop (SQLite C API) of the same message and body rows, 1,000 messages "
      "per transaction, synchronous=FULL, same tables without FTS5 triggers, change feed "
      "triggers and secondary indexes";
  r.target = ">= 0.7 of baseline, search and indexes built inside the time";
  r.met = !options.smoke && rate >= 0.7 * base_rate;
  r.detail = Format(
      "ratio %.2f; %zu pages, %s items, %.1f MiB of JSON; parse %.0f%% (%s items/s), "
      "apply %.0f%% (%s items/s), building search and indexes %.0f%% (%.2f s); baseline "
      "%s items/s; the loop of the message rows alone (no bodies) %s items/s (ratio %.2f); "
      "best of %d",
      rate / base_rate, rec->bodies.size(), Thousands(items).c_str(), rec->bytes / kMiB,
      100 * best.parse_seconds / best.seconds, Thousands(items / best.parse_seconds).c_str(),
      100 * best.apply_seconds / best.seconds, Thousands(items / best.apply_seconds).c_str(),
      100 * best.build_seconds / best.seconds, best.build_seconds, Thousands(base_rate).c_str(),
      Thousands(bare_rate).c_str(), rate / bare_rate, rounds);
  r.reproduce = "bench/run --only 3";
  PrintRow(r);
  return 0;
}

}  // namespace
}  // namespace graphmirror::bench

int main(int argc, char** argv) {
  using namespace graphmirror::bench;
  return BenchMain(
      argc, argv, "apply",
      "Applying resync pages into an empty collection: parse + bulk load + indexes (row 3)",
      [](const Options& options) {
        if (!Wanted(options, 3)) return 0;
        WorkDir dir(options, "apply");
        return ApplyRow(options, dir);
      });
}
