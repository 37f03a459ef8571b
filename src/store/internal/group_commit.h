#pragma once

// Leader/follower group commit, shared by the SQLite and PostgreSQL backends: writers that queue
// up while a commit runs are committed together by the next leader, in one transaction with one
// flush, and each caller still returns only once its own write is durable.
//
// The leader commits without the mutex and publishes the group's results under it, after the
// commit: a waiting caller can never see a result that is not durable yet, and once a caller
// has returned, nobody touches its job (which lives on the caller's stack) again.

#include <cstddef>
#include <deque>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace liaison::store::internal {

// Job: the caller's request; it needs a `bool done = false` member, which only this class
// touches. Its result members are written by the commit function alone.
template <class Job>
class GroupCommit {
 public:
  // At most `max_leaders` groups commit at once (1: one after the other).
  explicit GroupCommit(int max_leaders = 1) : max_leaders_(max_leaders) {}

  // Queues `job` and returns once a group holding it has been committed. The leader takes the
  // oldest queued jobs, at least one and otherwise at most `max_weight` of `weight(job)` in all
  // (this caller's job may not be among them when the queue is long: then it leads again, or a
  // later leader commits it), and calls `commit(group)` without the mutex held.
  template <class Weight, class Commit>
  void Run(Job& job, size_t max_weight, Weight weight, Commit commit) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(&job);
    // A caller leads when its job is done or when a leader may start and there is work queued
    // (its own job, or others' while its own commits in another leader's group).
    struct Ready {
      GroupCommit* self;
      const Job* job;
      static bool Eval(Ready* r) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return r->job->done ||
               (r->self->leaders_ < r->self->max_leaders_ && !r->self->queue_.empty());
      }
    } ready{this, &job};
    while (true) {
      mu_.Await(absl::Condition(&Ready::Eval, &ready));
      if (job.done) return;
      ++leaders_;
      std::vector<Job*> group;
      size_t total = 0;
      while (!queue_.empty() && (group.empty() || total + weight(*queue_.front()) <= max_weight)) {
        total += weight(*queue_.front());
        group.push_back(queue_.front());
        queue_.pop_front();
      }
      mu_.Unlock();
      commit(group);
      mu_.Lock();
      for (Job* member : group) member->done = true;
      --leaders_;
    }
  }

  // Jobs queued and not yet taken by a leader (tests wait on it to know the queue's order).
  size_t queued() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

 private:
  mutable absl::Mutex mu_;
  std::deque<Job*> queue_ ABSL_GUARDED_BY(mu_);
  const int max_leaders_;
  int leaders_ ABSL_GUARDED_BY(mu_) = 0;  // groups committing now
};

}  // namespace liaison::store::internal
