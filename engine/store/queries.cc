// Store's typed reads: the rows an embedding program asks for, by mailbox, time range,
// folder or address, through the indexes of schema/001_initial.sql.

#include <SQLiteCpp/SQLiteCpp.h>

#include "engine/store/store.h"

namespace graphmirror::store {
namespace {

std::string Text(SQLite::Statement& q, int column) {
  return q.getColumn(column).isNull() ? std::string() : q.getColumn(column).getString();
}

}  // namespace

Result<std::vector<Message>> MirrorTables::Messages(const MessageQuery& query) {
  std::vector<Message> out;
  Status s = store_->Read("reading messages", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT user_id, id, received_at, from_name, from_address, subject, "
                        "body_preview, folder_id, is_read, json FROM messages "
                        "WHERE (?1 = '' OR user_id = ?1) AND (?2 = '' OR folder_id = ?2) "
                        "AND (?3 = '' OR received_at >= ?3) AND (?4 = '' OR received_at < ?4) "
                        "ORDER BY received_at DESC, id LIMIT ?5");
    q.bind(1, query.user_id);
    q.bind(2, query.folder_id);
    q.bind(3, query.received_from);
    q.bind(4, query.received_before);
    q.bind(5, query.limit);
    while (q.executeStep()) {
      out.push_back({Text(q, 0), Text(q, 1), Text(q, 2), Text(q, 3), Text(q, 4), Text(q, 5),
                     Text(q, 6), Text(q, 7), q.getColumn(8).getInt() != 0, Text(q, 9)});
    }
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<Event>> MirrorTables::Events(const EventQuery& query) {
  std::vector<Event> out;
  Status s = store_->Read("reading events", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT user_id, id, subject, start_at, end_at, json, type, "
                        "series_master_id FROM calendar "
                        "WHERE (?1 = '' OR user_id = ?1) AND (?2 = '' OR end_at > ?2) "
                        "AND (?3 = '' OR start_at < ?3) ORDER BY start_at, id LIMIT ?4");
    q.bind(1, query.user_id);
    q.bind(2, query.from);
    q.bind(3, query.until);
    q.bind(4, query.limit);
    while (q.executeStep()) {
      out.push_back({Text(q, 0), Text(q, 1), Text(q, 2), Text(q, 3), Text(q, 4), Text(q, 5),
                     Text(q, 6), Text(q, 7)});
    }
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<Contact>> MirrorTables::Contacts(const ContactQuery& query) {
  std::vector<Contact> out;
  Status s = store_->Read("reading contacts", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT c.user_id, c.id, c.display_name, c.json FROM contacts c "
                        "WHERE (?1 = '' OR c.user_id = ?1) AND (?2 = '' OR EXISTS (SELECT 1 "
                        "FROM contact_emails e WHERE e.user_id = c.user_id AND "
                        "e.contact_id = c.id AND e.address = ?2)) "
                        "ORDER BY c.display_name COLLATE NOCASE, c.id LIMIT ?3");
    q.bind(1, query.user_id);
    q.bind(2, query.email);
    q.bind(3, query.limit);
    SQLite::Statement emails(db,
                             "SELECT address FROM contact_emails WHERE user_id = ?1 AND "
                             "contact_id = ?2 ORDER BY address");
    while (q.executeStep()) {
      Contact c{Text(q, 0), Text(q, 1), Text(q, 2), {}, Text(q, 3)};
      emails.reset();
      emails.bind(1, c.user_id);
      emails.bind(2, c.id);
      while (emails.executeStep()) c.emails.push_back(emails.getColumn(0).getString());
      out.push_back(std::move(c));
    }
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace graphmirror::store
