#include "store/sqlite/checkpointer.h"

#include <utility>

namespace liaison::store::sqlite_internal {

Checkpointer::Checkpointer(const std::filesystem::path& path, sqlite3* writer)
    : path_(path), writer_(writer) {
  // sqlite3_wal_hook replaces the hook sqlite3_wal_autocheckpoint installed (they share one
  // slot), so the writer no longer checkpoints by itself below kInlineFrames.
  sqlite3_wal_hook(writer_, &Checkpointer::WalHook, this);
  thread_ = std::thread([this] { Run(); });
}

Checkpointer::~Checkpointer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  sqlite3_wal_autocheckpoint(writer_, kBackgroundFrames);
}

int64_t Checkpointer::completed() const {
  absl::MutexLock lock(&mu_);
  return completed_;
}

// Called by SQLite on the writer's thread after each commit, with the WAL's frame count.
int Checkpointer::WalHook(void* self, sqlite3* db, const char* schema, int frames) {
  auto* c = static_cast<Checkpointer*>(self);
  if (frames >= kInlineFrames) {
    // Fallen behind (or the checkpoint thread cannot open the file): bound the WAL here, as
    // SQLite's own auto-checkpoint does. A failure is not the commit's failure (the commit is
    // durable already); the next commit tries again.
    (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (frames >= kBackgroundFrames) {
    int copied = c->copied_.load(std::memory_order_relaxed);
    if (copied > frames) copied = 0;  // the WAL restarted since
    if (frames - copied >= kBackgroundStep) {
      absl::MutexLock lock(&c->mu_);
      c->requested_ = true;
    }
  }
  return SQLITE_OK;
}

void Checkpointer::Run() {
  std::unique_ptr<Connection> conn;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Checkpointer* c)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) { return c->requested_ || c->stop_; },
          this));
      if (stop_) return;
      requested_ = false;
    }
    if (!conn) {
      ConnectionOptions o;  // read-write, no create: the store made the file
      auto opened = Connection::Open(path_, o);
      if (!opened.ok()) continue;  // the writer's inline checkpoint keeps the WAL bounded
      conn = std::move(*opened);
    }
    // PASSIVE: copies what no reader still needs, never waits for readers or the writer.
    int log = 0;
    int copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(conn->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc == SQLITE_OK) {
      copied_.store(copied, std::memory_order_relaxed);
      absl::MutexLock lock(&mu_);
      ++completed_;
    }
  }
}

}  // namespace liaison::store::sqlite_internal
