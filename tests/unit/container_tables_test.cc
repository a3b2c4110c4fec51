// Store: container rounds (mail folders, ...) written with their deltaLink, whole rounds
// sweep, well-known names.

#include "engine/store/container_tables.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>

#include "engine/store/store.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::store {
namespace {

const ContainerDescription& MailFolders() { return *FindContainer("mail_folders"); }

// A folder row with every described column read from Graph set.
ContainerRow Folder(const std::string& id, const std::string& name, int64_t unread) {
  ContainerRow row;
  row.id = id;
  row.json = "{\"id\":\"" + id + "\"}";
  for (const ColumnDescription& c : MailFolders().columns) {
    if (c.property.empty()) {
      row.values.push_back(std::nullopt);
    } else if (c.column == "display_name") {
      row.values.push_back(name);
    } else if (c.column == "unread_count") {
      row.values.push_back(std::to_string(unread));
    } else if (c.type == ColumnType::kText && c.equals.empty()) {
      row.values.push_back("p");
    } else {
      row.values.push_back("0");
    }
  }
  return row;
}

struct Fixture {
  test::TempDir dir;
  ManualClock clock{TimePoint{}};
  std::unique_ptr<Store> store = std::move(Store::Open(dir.Path("m.db"), &clock).value());

  // "id:name:unread:well_known" of the mailbox's rows, by id.
  std::vector<std::string> Rows(const std::string& user) {
    SQLite::Database db(dir.Path("m.db"));
    SQLite::Statement s(db,
                        "SELECT id, display_name, unread_count, COALESCE(well_known_name, '-') "
                        "FROM mail_folders WHERE user_id = ? ORDER BY id");
    s.bind(1, user);
    std::vector<std::string> out;
    while (s.executeStep()) {
      out.push_back(s.getColumn(0).getString() + ":" + s.getColumn(1).getString() + ":" +
                    s.getColumn(2).getString() + ":" + s.getColumn(3).getString());
    }
    return out;
  }
};

TEST_CASE("Container rounds: rows and deltaLink together, idempotent, sweeps whole rounds",
          "[store]") {
  Fixture f;
  ContainerRound first;
  first.user_id = "u";
  first.container = &MailFolders();
  first.whole = true;
  first.rows = {Folder("a", "Inbox", 1), Folder("b", "Work", 0), Folder("c", "Old", 0)};
  first.well_known = {{"a", "inbox"}};
  first.delta_link = "https://graph/delta?t=1";
  auto written = f.store->containers().ApplyRound(first);
  REQUIRE(written.ok());
  CHECK(written->upserted == 3);
  CHECK(f.Rows("u") == std::vector<std::string>{"a:Inbox:1:inbox", "b:Work:0:-", "c:Old:0:-"});
  CHECK(*f.store->containers().DeltaLink("u", "mail_folders") == "https://graph/delta?t=1");
  REQUIRE(f.store->containers().ApplyRound(first).ok());  // again: the same rows
  CHECK(f.Rows("u") == std::vector<std::string>{"a:Inbox:1:inbox", "b:Work:0:-", "c:Old:0:-"});

  // A round from the token: a change and a removal; the well-known name stays.
  ContainerRound next;
  next.user_id = "u";
  next.container = &MailFolders();
  next.rows = {Folder("a", "Inbox", 5)};
  next.removed_ids = {"b", "never-held"};
  next.delta_link = "https://graph/delta?t=2";
  written = f.store->containers().ApplyRound(next);
  REQUIRE(written.ok());
  CHECK(written->removed == 1);
  CHECK(f.Rows("u") == std::vector<std::string>{"a:Inbox:5:inbox", "c:Old:0:-"});

  // Another mailbox is untouched by a whole round of this one.
  ContainerRound other = first;
  other.user_id = "v";
  REQUIRE(f.store->containers().ApplyRound(other).ok());
  ContainerRound whole;
  whole.user_id = "u";
  whole.container = &MailFolders();
  whole.whole = true;
  whole.rows = {Folder("a", "Inbox", 5), Folder("d", "New", 2)};
  whole.well_known = {{"d", "archive"}};
  whole.delta_link = "https://graph/delta?t=3";
  written = f.store->containers().ApplyRound(whole);
  REQUIRE(written.ok());
  CHECK(written->removed == 1);  // c, not listed
  CHECK(f.Rows("u") == std::vector<std::string>{"a:Inbox:5:-", "d:New:2:archive"});
  CHECK(f.Rows("v").size() == 3);
  CHECK(*f.store->containers().Count("u", MailFolders()) == 2);

  REQUIRE(f.store->containers().ForgetDeltaLink("u", "mail_folders").ok());
  CHECK(f.store->containers().DeltaLink("u", "mail_folders")->empty());
  CHECK(*f.store->containers().DeltaLink("v", "mail_folders") == "https://graph/delta?t=1");
}

TEST_CASE("Container rounds: a delta round without its link is refused, nothing written",
          "[store]") {
  Fixture f;
  ContainerRound round;
  round.user_id = "u";
  round.container = &MailFolders();
  round.rows = {Folder("a", "Inbox", 1)};
  auto written = f.store->containers().ApplyRound(round);
  REQUIRE_FALSE(written.ok());
  CHECK(written.status().code() == Status::Code::kInvalidArgument);
  CHECK(f.Rows("u").empty());
}

}  // namespace
}  // namespace graphmirror::store
