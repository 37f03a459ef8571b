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
  // Queues `job` and returns once a group holding it has been committed. The leader takes the
  // oldest queued jobs, at least one and otherwise at most `max_weight` of `weight(job)` in all
  // (this caller's job may not be among them when the queue is long: then it leads again, or a
  // later leader commits it), and calls `commit(group)` without the mutex held.
  template <class Weight, class Commit>
  void Run(Job& job, size_t max_weight, Weight weight, Commit commit) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(&job);
    struct Ready {
      const Job* job;
      const bool* busy;
      static bool Eval(Ready* r) { return r->job->done || !*r->busy; }
    } ready{&job, &busy_};
    while (true) {
      mu_.Await(absl::Condition(&Ready::Eval, &ready));
      if (job.done) return;
      busy_ = true;
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
      busy_ = false;
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
  bool busy_ ABSL_GUARDED_BY(mu_) = false;  // a leader is committing
};

}  // namespace liaison::store::internal
