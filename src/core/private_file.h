#pragma once

// Output files that hold what was released to a partner or learned from one: created with mode
// 0600 (the content is the partner's, not the machine's other users'), written to a temporary
// file beside the target and renamed into place only once complete and flushed to disk, so a
// crash or an error never leaves a half-written file under the target's name.

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace liaison {

class PrivateFileWriter {
 public:
  // "-" writes to stdout (not renamed, not synced).
  static Result<std::unique_ptr<PrivateFileWriter>> Open(const std::string& path);
  // Removes the temporary file unless Commit succeeded.
  ~PrivateFileWriter();
  PrivateFileWriter(const PrivateFileWriter&) = delete;
  PrivateFileWriter& operator=(const PrivateFileWriter&) = delete;

  Status Write(std::string_view text);
  // Flushes, syncs and renames the temporary file to the target.
  Status Commit();

 private:
  PrivateFileWriter() = default;
  std::string path_;
  std::string temp_;
  FILE* file_ = nullptr;
};

// Open, Write and Commit in one call.
Status WritePrivateFile(const std::string& path, std::string_view text);

}  // namespace liaison
