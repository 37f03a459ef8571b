#pragma once

// Posting what `liaison match` finds into a TAXII 2.1 collection (issue #5: sightings "posted
// into a collection of a liaison server", so that they can flow back to the partner who shared
// the indicators). Objects are sent in envelopes of a bounded size with the sync client
// (credentials, TLS, bounded retries with back-off).

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "taxii/sync/client.h"

namespace liaison::app {

struct PostTarget {
  std::string collection_url;  // <api-root>/collections/<id>/
  taxii::sync::ClientOptions client;
  std::string name;  // the [[peer]] name, or the URL
};

// `target` is a [[peer]] name of `config_path` (its URL and credentials), or a collection URL
// whose credentials come from $LIAISON_TOKEN, or $LIAISON_USER with $LIAISON_PASSWORD.
// InvalidArgument for a bad URL, NotFound for an unknown peer name.
Result<PostTarget> ResolvePostTarget(const std::string& config_path, const std::string& target);

// Buffers objects and posts them `batch` at a time. Not thread safe.
class EnvelopePoster {
 public:
  static Result<std::unique_ptr<EnvelopePoster>> Create(PostTarget target, size_t batch = 500);

  // Queues one object's JSON text; posts when the batch is full.
  Status Add(std::string_view json);
  // Posts what is queued. An error when a POST failed or the server refused an object (its
  // reason, from the status resource, is in the message).
  Status Finish();

  size_t accepted() const { return accepted_; }  // success + pending in the status resources
  size_t refused() const { return refused_; }

 private:
  EnvelopePoster(PostTarget target, std::unique_ptr<taxii::sync::Client> client, size_t batch)
      : target_(std::move(target)), client_(std::move(client)), batch_(batch) {}
  Status Post();

  PostTarget target_;
  std::unique_ptr<taxii::sync::Client> client_;
  size_t batch_;
  std::string envelope_;
  size_t queued_ = 0;
  size_t accepted_ = 0;
  size_t refused_ = 0;
  std::string first_refusal_;
};

}  // namespace liaison::app
