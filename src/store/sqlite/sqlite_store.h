#pragma once

// The embedded Store backend: one SQLite database file in WAL mode.
//
// Durability: synchronous=FULL, so a write that returned OK is in the WAL and fsync'd; it
// survives kill -9 and power loss. Each Add is one transaction and one fsync, so importers
// should pass objects in batches (hundreds to thousands), not one by one.
//
// Threads: the store may be used from any number of threads. Writes go through one writer
// connection under a mutex (SQLite allows one writer at a time anyway, and date_added must be
// assigned in commit order). Adds that arrive while another is committing are committed
// together (group commit: one transaction, a savepoint per Add so each stays all-or-nothing,
// one fsync), which is what keeps concurrent ingest from being bound by fsync latency. Reads take a
// connection from a pool (one per concurrent reader, opened on demand), each in its own read
// transaction: in WAL mode readers see a consistent snapshot and neither block nor are blocked by
// the writer. Several processes may open the same file (e.g. `liaison import` beside `liaison
// serve`); they wait up to busy_timeout for the write lock and get Unavailable after it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "core/result.h"
#include "core/timestamp.h"
#include "store/store.h"

namespace liaison::store {

struct SqliteOptions {
  // The database file. Its directory is created when missing.
  std::filesystem::path path;
  bool create_if_missing = true;
  // The largest page a query returns (advertised by the server as its max page size).
  size_t max_page_size = 1000;
  // How long a call waits for a lock held by another process before Unavailable.
  int busy_timeout_ms = 5000;
  // Reader connections kept open when idle (more are opened under load and closed after).
  size_t idle_readers = 4;
  // Page cache per connection, in KiB, and the memory-mapped I/O window in bytes (0: reads
  // go through the page cache). Memory-mapped reads are off by default: in WAL mode a reader
  // that starts a transaction after any commit drops its whole mapping (munmap, a TLB shootdown
  // on every core) and faults the pages back in, which under concurrent POSTs cost more than
  // reading the few pages each lookup needs (docs/taxii.md, "Fifth pass").
  int64_t cache_size_kib = 64 * 1024;
  int64_t mmap_size_bytes = 0;  // SQLite caps it at its compile-time maximum
  // The wall clock date_added is taken from (tests inject a fixed one). date_added is
  // max(clock, previous date_added + 1 microsecond), so it stays strictly increasing even when
  // the clock steps back.
  std::function<Timestamp()> clock;
  // Status resources (TAXII 2.1 section 4.3) expire this long after their request_timestamp:
  // GetStatus answers NotFound from then on, and writes delete expired ones, oldest first, at
  // most once a minute and a bounded number at a time. Zero (the default here) keeps them
  // forever; `liaison serve` sets a week (status_ttl_hours in its configuration).
  std::chrono::seconds status_ttl{0};
};

// Opens (creating and migrating when needed) the store at options.path. Errors: InvalidArgument
// for an empty path, NotFound when the file is missing and create_if_missing is false,
// FailedPrecondition when the file was written by a newer liaison (schema version too high),
// DataLoss when it is not a liaison store or is corrupt, Unavailable when it stays locked.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace liaison::store
