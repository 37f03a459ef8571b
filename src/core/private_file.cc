#include "core/private_file.h"

#include <fcntl.h>
#include <unistd.h>

#include "core/status_macros.h"
#include "core/strings.h"

namespace liaison {

Result<std::unique_ptr<PrivateFileWriter>> PrivateFileWriter::Open(const std::string& path) {
  auto out = std::unique_ptr<PrivateFileWriter>(new PrivateFileWriter());
  out->path_ = path;
  if (path == "-") {
    out->file_ = stdout;
    return out;
  }
  out->temp_ = StrCat(path, ".partial");
  const int fd = ::open(out->temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(StrCat(out->temp_, ": cannot create"));
  out->file_ = ::fdopen(fd, "w");
  if (out->file_ == nullptr) {
    ::close(fd);
    ::unlink(out->temp_.c_str());
    return absl::UnavailableError(StrCat(out->temp_, ": cannot open"));
  }
  return out;
}

PrivateFileWriter::~PrivateFileWriter() {
  if (file_ != nullptr && file_ != stdout) {
    std::fclose(file_);
    ::unlink(temp_.c_str());  // not committed: leave nothing half written
  }
}

Status PrivateFileWriter::Write(std::string_view text) {
  if (file_ == nullptr) return absl::FailedPreconditionError(StrCat(path_, ": already closed"));
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) {
    return absl::UnavailableError(StrCat(path_, ": write failed"));
  }
  return absl::OkStatus();
}

Status PrivateFileWriter::Commit() {
  if (file_ == stdout) {
    return std::fflush(stdout) == 0 ? absl::OkStatus() : absl::UnavailableError("stdout");
  }
  if (file_ == nullptr) return absl::FailedPreconditionError(StrCat(path_, ": already closed"));
  const bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || !closed || ::rename(temp_.c_str(), path_.c_str()) != 0) {
    ::unlink(temp_.c_str());
    return absl::UnavailableError(StrCat(path_, ": cannot write"));
  }
  return absl::OkStatus();
}

Status WritePrivateFile(const std::string& path, std::string_view text) {
  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<PrivateFileWriter> out, PrivateFileWriter::Open(path));
  LIAISON_RETURN_IF_ERROR(out->Write(text));
  return out->Commit();
}

}  // namespace liaison
