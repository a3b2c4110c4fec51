// MirrorTables: the mirrored items (messages, events, contacts) and their
// watermarks: pages written atomically with the watermark they justify, the reads the
// sync rooms ask before fetching, full-text search and the typed reads of the API.
// A facet of Store (store.h), which owns the connections and the writer thread; reached
// as store.mirror().
//
// Thread-safety: all methods are safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_STORE_MIRROR_TABLES_H_
#define GRAPHMIRROR_ENGINE_STORE_MIRROR_TABLES_H_

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/store/records.h"

namespace graphmirror::store {

class Store;

class MirrorTables {
 public:
  explicit MirrorTables(Store* store) : store_(store) {}
  MirrorTables(const MirrorTables&) = delete;
  MirrorTables& operator=(const MirrorTables&) = delete;

  // Writes a page: upserts (an older version never replaces a newer one, by
  // lastModifiedDateTime), deletes, and the watermark, atomically. Idempotent.
  Status ApplyPage(PageWrite page);
  // Starts the watermarks of a collection its delta rounds loaded: createdDateTime from the
  // newest of its rows (none: unchanged), lastModifiedDateTime at `modified_after`. A
  // watermark never moves backward.
  Status StartWatermarksFromRows(const std::string& user_id, Collection collection,
                                 const std::string& modified_after);
  // The ids among `items` whose stored row has the same lastModifiedDateTime but another
  // changeKey: two versions Graph stamped in one second (messages carry whole seconds),
  // which a reordered delivery cannot tell apart. Only a query can say which is current.
  Result<std::vector<std::string>> TiedVersions(const std::string& user_id, Collection collection,
                                                const std::vector<MirrorItem>& items);
  // The ids among `items` (rich content) the mirror does not hold although their version
  // is older than the start of the last complete delta pass (for events: inside its
  // calendar window, as the pass lists no other). Either the item was gone when the pass
  // looked (its `deleted` notification lost, this one late) or the pass's lists did not
  // show it yet (Graph's lists can lag): only a read by id can tell.
  Result<std::vector<std::string>> PassedOver(const std::string& user_id, Collection collection,
                                              const std::vector<MirrorItem>& items);

  Result<Watermark> GetWatermark(const std::string& user_id, Collection collection);
  Result<int64_t> CountItems(const std::string& user_id, Collection collection);
  // Every (mailbox, collection) with items, a watermark or an open bulk load, ordered by
  // user then collection.
  Result<std::vector<CollectionCount>> Counts();
  // Bodies kept per mailbox and their size, by mailbox.
  Result<std::vector<BodyCount>> BodyCounts();
  // Those of `notified` (id, changeKey) the collection does not hold for the mailbox at
  // that version: no row, or a row with another changeKey. An empty changeKey asks only
  // for the row. In the order given.
  Result<std::vector<std::string>> NotHeldAt(
      const std::string& user_id, Collection collection,
      const std::vector<std::pair<std::string, std::string>>& notified);
  // The stored createdDateTime of an item; "" if the collection does not hold it.
  Result<std::string> CreatedAt(const std::string& user_id, Collection collection,
                                const std::string& id);
  // Those of `ids` the collection does not hold for the mailbox, in the order given.
  Result<std::vector<std::string>> MissingItems(const std::string& user_id, Collection collection,
                                                const std::vector<std::string>& ids);
  // Makes the occurrences and exceptions of series `master_id` exactly `instances` (newer
  // versions only, as any write), in one transaction.
  Status ReplaceSeries(const std::string& user_id, const std::string& master_id,
                       std::vector<MirrorItem> instances);
  // What the changed event ids `ids` say of recurring series: which are series masters
  // in `events`, and whether any other may stand for an occurrence or exception (one the
  // mirror holds, or an id neither `events` nor `event_occurrences` holds: never seen).
  struct SeriesTouched {
    std::vector<std::string> masters;  // sorted, without repeats
    bool occurrences = false;
  };
  Result<SeriesTouched> TouchedSeries(const std::string& user_id,
                                      const std::vector<std::string>& ids);
  // The id, changeKey and lastModifiedDateTime of every row of `table` ("messages",
  // "events", "event_occurrences" or "contacts") for one mailbox, sorted by id. What a
  // verify compares with Graph's listing. InvalidArgument for another table.
  Result<std::vector<RowVersion>> Versions(const std::string& user_id, const std::string& table);
  // The ids of a collection's items for one mailbox, sorted (for convergence checks).
  Result<std::vector<std::string>> ItemIds(const std::string& user_id, Collection collection);
  // Ids of the collection's rows created at or after `since` (Graph's createdDateTime)
  // that its delta rounds list, only those in folder `folder_id` (mail or contact folder)
  // if it is not empty: events but series masters, which calendarView never lists.
  Result<std::vector<std::string>> CreatedSince(const std::string& user_id, Collection collection,
                                                const std::string& folder_id,
                                                const std::string& since);

  // Ids of `user_id`'s messages whose body the mirror lacks at their version (none while
  // bodies are not kept).
  Result<std::vector<std::string>> MessagesWithoutBody(const std::string& user_id);
  // Ids of the collection's rows whose version (Graph's lastModifiedDateTime) is `since`
  // or later.
  Result<std::vector<std::string>> ModifiedSince(const std::string& user_id, Collection collection,
                                                 const std::string& since);

  // --- Bulk loads (schema/017_bulk_load.sql, bulk_load.h) --------------------------------------
  // A collection read into an empty mirror is loaded in bulk: BeginLoad before its first
  // page, FinishLoad after its last. In between, the mailbox's rows of the collection are
  // written without the full-text index (messages and their bodies), and if the
  // collection's table held no rows of any mailbox when the load began, without the
  // table's secondary indexes; FinishLoad builds them. Reads stay consistent throughout:
  // status shows the collection loading (Counts().loading_since), SearchMessages finds
  // none of its messages until FinishLoad has indexed them, and other reads see every
  // committed row (slower while the indexes are missing). A load left open by a process
  // that died stays open: the next BeginLoad (or Loading) sees it, and FinishLoad indexes
  // every row whenever it comes. Writes of any kind (pages, notifications, deletes) keep
  // the index right during and after a load.
  //
  // Starts a load unless one is open or the collection holds rows of the mailbox (for
  // messages: nor bodies; for events: nor occurrences). Returns whether a load of the
  // collection is open afterwards: false means "write as usual".
  Result<bool> BeginLoad(const std::string& user_id, Collection collection);
  // Ends the load if one is open: indexes the collection's rows, kLoadIndexChunk a
  // transaction, removes the load with the last of them, and then, once no load of the
  // collection remains, makes the secondary indexes loads dropped (one a transaction).
  Status FinishLoad(const std::string& user_id, Collection collection);
  // FinishLoad for every open load not in `keep` (collections no longer configured).
  Status FinishLoadsExcept(const std::set<std::pair<std::string, Collection>>& keep);
  // Whether a load of the collection is open.
  Result<bool> Loading(const std::string& user_id, Collection collection);
  Result<std::vector<LoadState>> Loads();

  // --- Search ---------------------------------------------------------------------------------
  // Messages matching `text` (see FullTextQuery) in subject, body preview or sender, best
  // first; only `user_id`'s if it is not empty. Messages of a bulk load are found once the
  // load has finished (see BeginLoad). Each one's body_preview is the best
  // matching passage (matches in [brackets]); json is left empty. InvalidArgument if the
  // text has no words.
  Result<std::vector<Message>> SearchMessages(const std::string& text, const std::string& user_id,
                                              int limit);

  // --- Typed reads (the embedding API's accessors) ----------------------------------------
  Result<std::vector<Message>> Messages(const MessageQuery& query);
  Result<std::vector<Event>> Events(const EventQuery& query);
  Result<std::vector<Contact>> Contacts(const ContactQuery& query);

 private:
  // Ids of `collection`'s rows of `user_id` whose `column` (created_at or modified_at) is
  // at or after `since`, in `folder_id` if not empty, that meet `condition` (SQL on the
  // row `t`, "" for none).
  Result<std::vector<std::string>> IdsSince(const std::string& user_id, Collection collection,
                                            const char* column, const std::string& folder_id,
                                            const std::string& since, const char* condition);

  Store* store_;
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_MIRROR_TABLES_H_
