#pragma once

// Moves WAL checkpoints off the writer's critical path.
//
// With SQLite's default (wal_autocheckpoint=1000), the connection whose commit takes the WAL past
// 1,000 frames copies them into the database file and fsyncs it right after its commit, while the
// store's writer lock is held: every ~17th POST of 100 objects paid for the copy of all the
// others, and no other write could start meanwhile. The checkpointer runs those copies on a
// thread and connection of its own instead. A checkpoint only reads WAL frames and writes pages
// that no reader or writer needs from the database file any more, so it runs beside the writer
// (SQLite's checkpoint lock keeps two checkpoints apart); it changes nothing about durability:
// each commit is fsync'd in the WAL before it is acknowledged, exactly as before.
//
// Bound: when the background checkpoints fall behind (the WAL reaches kInlineFrames), the writer
// checkpoints itself after its commit, as SQLite would by default, so the WAL stays bounded.

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "store/sqlite/connection.h"

namespace liaison::store::sqlite_internal {

class Checkpointer {
 public:
  // A background checkpoint is requested once the WAL holds this many frames (SQLite's default
  // auto-checkpoint threshold) and this many more than the last checkpoint copied (each
  // checkpoint fsyncs the WAL and the database file: running one after every commit would
  // compete with the commits' own fsyncs)...
  static constexpr int kBackgroundFrames = 1000;
  static constexpr int kBackgroundStep = 500;
  // ...and the writer checkpoints inline from this many on. Under sustained writes the WAL
  // restarts from its beginning only after a checkpoint that copied every frame, which is this
  // one (the background ones leave the frames committed meanwhile); it copies only what the
  // background ones have not.
  static constexpr int kInlineFrames = 4000;

  // Installs itself as `writer`'s WAL hook (replacing the auto-checkpoint) and starts the thread,
  // which opens its own connection to `path` on first use. `writer` must outlive the object.
  Checkpointer(const std::filesystem::path& path, sqlite3* writer);
  // Stops and joins the thread and gives `writer` SQLite's default auto-checkpoint back.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Background checkpoints completed (for tests).
  int64_t completed() const;

 private:
  static int WalHook(void* self, sqlite3* db, const char* schema, int frames);
  void Run();

  const std::filesystem::path path_;
  sqlite3* const writer_;
  mutable absl::Mutex mu_;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int64_t completed_ ABSL_GUARDED_BY(mu_) = 0;
  // Frames of the WAL the last background checkpoint copied (its frame count then).
  std::atomic<int> copied_{0};
  std::thread thread_;
};

}  // namespace liaison::store::sqlite_internal
