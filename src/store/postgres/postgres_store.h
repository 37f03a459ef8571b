#pragma once

// The shared Store backend: one PostgreSQL database (libpq) that several stateless liaison
// nodes may use at once (issue #8). docs/store.md, "PostgreSQL backend", has the design.
//
// Ordering: an Add of new objects (the common case) takes its date_added values from a one-row
// high-water mark (meta.last_date_added) in a short transaction of its own that also records them
// as a reservation (table `reservations`, one row per backend); the objects are then written by a
// second transaction, which clears the reservation as it commits, so several writers insert at
// once (on one node and across nodes). Readers stop below the smallest reservation still open:
// a snapshot that sees a version below that horizon sees every version that will ever have a
// smaller date_added, so a reader paging with `next` or `added_after` never misses a version
// another writer commits meanwhile. Writes that must see every earlier version (new versions of
// stored ids, deletions) still hold the mark's row lock to COMMIT. docs/store.md, "PostgreSQL
// backend", has the argument.
//
// Durability: an Add returns after COMMIT, which (synchronous_commit=on, PostgreSQL's default)
// waits for the WAL flush.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/timestamp.h"
#include "store/store.h"

namespace liaison::store {

struct PostgresOptions {
  // A libpq connection string: "postgres://user@host:5432/db" or "host=... dbname=...".
  std::string conninfo;
  // The schema the store's tables live in (created when missing); empty: the connection's
  // search_path (normally "public").
  std::string schema;
  size_t max_page_size = 1000;
  // Connections kept open; a call waits for a free one when all are in use.
  size_t max_connections = 8;
  // The wall clock date_added is taken from (tests inject one). As with SQLite, date_added is
  // max(clock, previous date_added + 1 microsecond).
  std::function<Timestamp()> clock;
  // Status resources (TAXII 2.1 section 4.3) expire this long after their request_timestamp, as
  // in SqliteOptions: GetStatus answers NotFound from then on, and writes delete expired ones,
  // oldest first, at most once a minute per node and 10,000 at a time. Zero keeps them forever.
  std::chrono::seconds status_ttl{0};
  // How long a node keeps users, API tokens, collections and permission lists it has read (a
  // TAXII request reads a user and a collection before its page: without the cache, two round
  // trips of the three a GET costs). Writes through this store drop the whole cache at once; a
  // change made through ANOTHER node (or `liaison user ...` run beside the server) takes effect
  // here within this bound: a revoked permission, a deleted user or token, a changed password
  // or admin flag may still be honoured for up to cache_ttl after its commit. Lookups that find
  // nothing are not cached. Zero disables the cache. docs/store.md, "Cache of users and
  // collections".
  std::chrono::milliseconds cache_ttl{1000};
  // Bytes of stored JSON texts a node keeps, keyed by date_added (docs/store.md, "Cache of JSON
  // texts"). A stored version's text never changes and its date_added is never reused, so a
  // streamed page (QueryEach) asks the database only for its rows' keys and flags and fetches
  // just the texts this node has not seen yet. Existence, flags and order always come from the
  // database. The bound counts each text plus ~150 bytes of bookkeeping. Zero disables it.
  // An eighth of it more bounds the cache of the keys of full pages (docs/store.md, "Cache of
  // page keys"): a page whose keys are cached, when no stored row has changed since (a counter
  // every such write bumps), costs the database one lookup instead of its index walk.
  size_t text_cache_bytes = size_t{64} << 20;
  // Groups of Adds this node commits at once, each on its own connection (at least 1). On the
  // 2-core benchmark machine 2 ingested fastest (docs/store.md, session 9).
  size_t object_writers = 2;
  // How often a node deletes the date_added reservations of backends that are gone (a node
  // killed between reserving and committing): until then readers stop below them.
  std::chrono::milliseconds reservation_sweep{1000};
  // The server ends a session of this store that sits inside a transaction for this long
  // without sending anything (idle_in_transaction_session_timeout), releasing its locks: a node
  // whose host froze or lost the network while holding the high-water mark's or the audit
  // chain's lock would otherwise stop every writer of every node until TCP gives up (hours).
  // Between the statements of its transactions a live node only computes, so it never comes
  // near this. Zero leaves the server's setting.
  std::chrono::milliseconds idle_in_transaction_timeout{60000};

  // Test only, never set in production: assign date_added WITHOUT the high-water mark's lock (the
  // naive scheme: read the last value, add one, insert, commit) and call `before_commit` (when
  // set) between writing the objects and COMMIT. tests/store/postgres_test.cc uses it to show
  // that its concurrent-writer test detects the race the lock prevents.
  bool naive_date_added_for_testing = false;
  std::function<void()> before_commit_for_testing;
  // Test only: called by a streamed page between the statement that reads its keys and the one
  // that fetches the texts missing from the cache (when some are missing).
  std::function<void()> before_text_fetch_for_testing;
  // Test only: called when a page is served with keys from the cache of page keys.
  std::function<void()> page_keys_hit_for_testing;
  // Test only: called with the size of every batch of reads sent in one pipeline (BatchedRead).
  std::function<void(size_t)> read_batch_for_testing;
};

// Connects, creates the schema when missing and applies the migrations this liaison knows.
// Unavailable when the server cannot be reached, FailedPrecondition when the database was
// written by a newer liaison.
Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);

}  // namespace liaison::store
