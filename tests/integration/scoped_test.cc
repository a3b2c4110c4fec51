// Scoped mirrors: a mailbox whose messages are kept for some mail folders only (a
// subscription per folder, delta rounds per folder, a message that leaves them leaves the
// mirror), one whose messages are kept through a $filter (in the subscription and every
// query; a pass sweeps what left the filter), and a changed scope reading the collection
// again.

#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "engine/graph/query.h"
#include "engine/sync/collection_sync.h"
#include "engine/sync/delta.h"
#include "engine/sync/live_sync.h"
#include "tests/integration/live_fixture.h"

namespace graphmirror::test {
namespace {

std::string FolderId(SimFixture& f, const std::string& user, const std::string& well_known) {
  for (const auto& folder : f.sim().MailFolders(user)) {
    if (folder.well_known_name == well_known) return folder.id;
  }
  return "";
}

// Graph's messages of `user` whose JSON satisfies `keep`.
template <typename Keep>
std::set<std::string> SimMessages(SimFixture& f, const std::string& user, Keep keep) {
  std::set<std::string> out;
  for (const std::string& id : f.sim().ItemIds(user, "messages")) {
    auto json = nlohmann::json::parse(f.sim().ItemJson(user, "messages", id));
    if (keep(json)) out.insert(id);
  }
  return out;
}

std::set<std::string> MirrorMessages(SimFixture& f, const std::string& user) {
  auto ids = f.store().mirror().ItemIds(user, Collection::kMessages);
  REQUIRE(ids.ok());
  return {ids->begin(), ids->end()};
}

std::set<std::string> InFolders(SimFixture& f, const std::string& user,
                                const std::set<std::string>& folders) {
  return SimMessages(f, user, [&](const nlohmann::json& m) {
    return folders.count(m.value("parentFolderId", "")) > 0;
  });
}

std::set<std::string> Unread(SimFixture& f, const std::string& user) {
  return SimMessages(f, user, [](const nlohmann::json& m) { return !m.value("isRead", true); });
}

}  // namespace

TEST_CASE("Scoped by folder: one subscription per folder, only their messages, moves out leave",
          "[scoped]") {
  std::string user;
  LiveFixture f(Small(), nullptr, [&](config::Config& c) {
    user = c.mailboxes[0].user;
    c.mailboxes[0].folders = {"inbox", "archive"};
  });
  const std::string inbox = FolderId(f, user, "inbox");
  const std::string archive = FolderId(f, user, "archive");
  const std::string sent = FolderId(f, user, "sentitems");
  REQUIRE(!inbox.empty());
  REQUIRE(!archive.empty());

  // Two folder subscriptions for the scoped messages, one for each other collection.
  std::set<std::string> resources;
  for (const auto& s : f.sim().Subscriptions()) {
    if (s.resource.find(user) != std::string::npos) resources.insert(s.resource);
  }
  CHECK(resources.count("/users/" + user + "/mailFolders/inbox/messages") == 1);
  CHECK(resources.count("/users/" + user + "/mailFolders/archive/messages") == 1);
  CHECK(resources.count("/users/" + user + "/messages") == 0);
  CHECK(resources.size() == 4);

  // The initial sync read the two folders only.
  auto expected = InFolders(f, user, {inbox, archive});
  REQUIRE(!expected.empty());
  REQUIRE(InFolders(f, user, {sent}).size() > 0);
  CHECK(MirrorMessages(f, user) == expected);
  // The other mailbox is whole.
  const std::string other = f.sim().UserIds()[1];
  CHECK(MirrorMessages(f, other).size() == f.sim().Count(other, "messages"));

  // New in the inbox: notified and mirrored; new in Sent Items: not.
  const std::string fresh = f.sim().CreateItem(user, "messages", Subject("scoped new"), "inbox");
  const std::string elsewhere =
      f.sim().CreateItem(user, "messages", Subject("not scoped"), "sentitems");
  f.sim().AdvanceClock(std::chrono::seconds(5));
  f.Deliver();
  CHECK(MirrorMessages(f, user).count(fresh) == 1);
  CHECK(MirrorMessages(f, user).count(elsewhere) == 0);

  // Moved from the inbox to the archive (same id: immutable ids): kept, in its new folder.
  const std::string kept = f.sim().MoveMessage(user, fresh, "archive", /*immutable_ids=*/true);
  REQUIRE(kept == fresh);
  f.sim().AdvanceClock(std::chrono::seconds(5));
  f.Deliver();
  CHECK(MirrorMessages(f, user).count(fresh) == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + fresh + "' AND folder_id = '" +
                   archive + "'") == 1);

  // Moved out to Sent Items: the archive's subscription says `deleted`; the row leaves.
  REQUIRE(f.sim().MoveMessage(user, fresh, "sentitems", true) == fresh);
  f.sim().AdvanceClock(std::chrono::seconds(5));
  f.Deliver();
  CHECK(MirrorMessages(f, user).count(fresh) == 0);

  // Moved into the inbox from outside: `created` from the inbox's subscription.
  REQUIRE(f.sim().MoveMessage(user, elsewhere, "inbox", true) == elsewhere);
  f.sim().AdvanceClock(std::chrono::seconds(5));
  f.Deliver();
  CHECK(MirrorMessages(f, user) == InFolders(f, user, {inbox, archive}));

  // A move out while nothing is notified (engine stopped, deliveries given up) is found by
  // the delta rounds of the folder at the next start.
  f.StopLive();
  const std::string gone_quietly = *InFolders(f, user, {inbox}).begin();
  REQUIRE(f.sim().MoveMessage(user, gone_quietly, "sentitems", true) == gone_quietly);
  f.sim().AdvanceClock(std::chrono::hours(2));
  f.StartLive();
  CHECK(MirrorMessages(f, user) == InFolders(f, user, {inbox, archive}));

  // The scope taken away: the folder subscriptions go, the whole mailbox is read again.
  f.RestartWith([](config::Config& c) { c.mailboxes[0].folders.clear(); });
  resources.clear();
  for (const auto& s : f.sim().Subscriptions()) {
    if (s.resource.find(user) != std::string::npos) resources.insert(s.resource);
  }
  CHECK(resources.count("/users/" + user + "/messages") == 1);
  CHECK(resources.size() == 3);
  const auto all = f.sim().ItemIds(user, "messages");
  CHECK(MirrorMessages(f, user) == std::set<std::string>(all.begin(), all.end()));
}

TEST_CASE("Scoped by folder: an unknown folder fails the collection with a clear error",
          "[scoped]") {
  std::string user;
  LiveFixture f(Small(), nullptr, [&](config::Config& c) {
    user = c.mailboxes[0].user;
    c.mailboxes[0].folders = {"no-such-folder"};
  });
  CHECK(MirrorMessages(f, user).empty());
  auto statuses = f.store().sync_state().SyncStatuses();
  REQUIRE(statuses.ok());
  bool reported = false;
  for (const auto& st : *statuses) {
    if (st.user_id == user && st.collection == Collection::kMessages) {
      reported = st.last_error.find("no mail folder 'no-such-folder'") != std::string::npos;
    }
  }
  CHECK(reported);
}

TEST_CASE("Scoped by filter: rounds carry the filter, a pass sweeps what left it", "[scoped]") {
  SimFixture f(Small(5));
  const std::string user = f.sim().UserIds()[0];
  config::Config config = f.Config(/*page_size=*/7);
  config.mailboxes[0].filters[Collection::kMessages] = "isRead eq false";
  const config::Scopes scopes(config);

  sync::ResyncOptions resync;
  resync.page_size = 7;
  resync.scopes = scopes;
  sync::Resyncer resyncer = f.MakeResyncer(resync);
  REQUIRE(resyncer.ResyncCreated(user, Collection::kMessages).ok());
  const auto unread = Unread(f, user);
  REQUIRE(unread.size() > 2);
  REQUIRE(unread.size() < f.sim().Count(user, "messages"));
  CHECK(MirrorMessages(f, user) == unread);

  // One read, one deleted, one new unread, one new read; nothing notified.
  const std::string read = *unread.begin();
  const std::string deleted = *unread.rbegin();
  REQUIRE(f.sim().UpdateItem(user, "messages", read, R"({"isRead":true})"));
  REQUIRE(f.sim().DeleteItem(user, "messages", deleted));
  const std::string new_unread =
      f.sim().CreateItem(user, "messages", R"({"subject":"u","isRead":false})", "inbox");
  const std::string new_read =
      f.sim().CreateItem(user, "messages", R"({"subject":"r","isRead":true})", "inbox");
  REQUIRE(!new_unread.empty());
  f.sim().AdvanceClock(std::chrono::hours(2));

  // A modified round lists the new unread message only.
  REQUIRE(resyncer.ResyncModified(user, Collection::kMessages).ok());
  auto held = MirrorMessages(f, user);
  CHECK(held.count(new_unread) == 1);
  CHECK(held.count(new_read) == 0);

  // The pass sweeps: the read and the deleted message leave.
  sync::DeltaOptions options = sync::DeltaOptions::From(config.sync);
  options.scopes = scopes;
  sync::DeltaSyncer delta(&f.client(), &f.store(), &f.clock(), options);
  auto pass = delta.Sync(user, Collection::kMessages);
  INFO(pass.status().ToString());
  REQUIRE(pass.ok());
  CHECK(pass->removed == 2);
  CHECK(MirrorMessages(f, user) == Unread(f, user));

  // The request the rounds sent carried the filter after the cursor's own condition.
  const std::string path = graph::ModifiedSincePath(
      user, Collection::kMessages, "2026-01-01T00:00:00Z", 7, "", "isRead eq false");
  CHECK(path.find("%20and%20%28isRead%20eq%20false%29") != std::string::npos);
}

TEST_CASE("Scoped by filter: the subscription carries the filter; `deleted` means it left",
          "[scoped]") {
  std::string user;
  LiveFixture f(Small(7), nullptr, [&](config::Config& c) {
    user = c.mailboxes[0].user;
    c.mailboxes[0].filters[Collection::kMessages] = "isRead eq false";
  });
  bool filtered = false;
  for (const auto& s : f.sim().Subscriptions()) {
    filtered = filtered || s.resource == "/users/" + user + "/messages?$filter=isRead eq false";
  }
  CHECK(filtered);
  CHECK(MirrorMessages(f, user) == Unread(f, user));

  const std::string unread = *Unread(f, user).begin();
  REQUIRE(f.sim().UpdateItem(user, "messages", unread, R"({"isRead":true})"));
  const std::string fresh =
      f.sim().CreateItem(user, "messages", R"({"subject":"n","isRead":false})", "inbox");
  f.sim().AdvanceClock(std::chrono::seconds(5));
  f.Deliver();
  auto held = MirrorMessages(f, user);
  CHECK(held.count(unread) == 0);
  CHECK(held.count(fresh) == 1);
  CHECK(held == Unread(f, user));

  // Marked unread again: back in the filter, `created`, back in the mirror.
  REQUIRE(f.sim().UpdateItem(user, "messages", unread, R"({"isRead":false})"));
  f.sim().AdvanceClock(std::chrono::seconds(5));
  f.Deliver();
  CHECK(MirrorMessages(f, user) == Unread(f, user));
}

}  // namespace graphmirror::test
