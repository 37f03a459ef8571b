// internal::GroupCommit, the leader/follower commit both backends use: a caller returns only
// after the commit holding its job has finished, whoever leads it and whatever wakes it.

#include "store/internal/group_commit.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace liaison::store::internal {
namespace {

using std::chrono::milliseconds;

struct Job {
  size_t weight = 1;
  int result = 0;         // written by the commit function, early on purpose
  bool durable = false;   // written by the commit function as its last step
  int commits = 0;        // how many groups held this job
  size_t group_size = 0;  // size of the group that committed it
  bool done = false;      // GroupCommit's
};

// Waits until `pred` holds or a generous deadline passes (the threads below are real).
template <class Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return pred();
}

// The case behind a real bug (session 5): results were visible to callers before the group's
// COMMIT. Here the commit writes `result` first and `durable` last, and while it is between the
// two, other callers queue up (each queueing releases the mutex, which makes absl re-evaluate
// every waiter's condition). No caller of the group may return before `durable` is set.
TEST(GroupCommit, NoCallerReturnsBeforeItsGroupHasCommitted) {
  GroupCommit<Job> gc;
  absl::Notification first_inside, release_first, second_inside, release_second;
  std::atomic<int> returned_early{0};
  std::atomic<int> in_commit{0};

  auto commit = [&](std::vector<Job*>& group) {
    const int n = ++in_commit;
    for (Job* job : group) {
      job->result = 1;
      job->group_size = group.size();
    }
    if (n == 1) {
      first_inside.Notify();
      release_first.WaitForNotification();
    } else if (n == 2) {
      second_inside.Notify();
      release_second.WaitForNotification();
    }
    for (Job* job : group) {
      ++job->commits;
      job->durable = true;
    }
  };
  auto weight = [](const Job& job) { return job.weight; };
  auto caller = [&](Job* job) {
    gc.Run(*job, 100, weight, commit);
    if (!job->durable) ++returned_early;
  };

  Job a, b, c, d;
  std::thread ta(caller, &a);
  first_inside.WaitForNotification();  // a leads alone and is inside its commit
  std::thread tb(caller, &b);
  std::thread tc(caller, &c);
  // b and c queue behind the running commit.
  ASSERT_TRUE(Eventually([&] { return gc.queued() == 2; }));
  release_first.Notify();
  second_inside.WaitForNotification();  // b or c now leads the group {b, c}
  // Mid-commit: a fourth caller queues, releasing the mutex and waking the waiters' checks.
  std::thread td(caller, &d);
  ASSERT_TRUE(Eventually([&] { return gc.queued() == 1; }));
  std::this_thread::sleep_for(milliseconds(20));  // the woken waiters' checks run
  EXPECT_FALSE(b.durable);
  EXPECT_FALSE(c.durable);
  release_second.Notify();
  for (std::thread* t : {&ta, &tb, &tc, &td}) t->join();

  EXPECT_EQ(returned_early.load(), 0);
  for (Job* job : {&a, &b, &c, &d}) {
    EXPECT_TRUE(job->durable);
    EXPECT_EQ(job->commits, 1);
  }
  EXPECT_EQ(a.group_size, 1u);
  EXPECT_EQ(b.group_size, 2u);  // queued together behind a's commit: one group, one flush
  EXPECT_EQ(c.group_size, 2u);
  EXPECT_EQ(d.group_size, 1u);
}

// A group never exceeds `max_weight` unless it is one job alone, and takes jobs oldest first.
TEST(GroupCommit, GroupsRespectTheWeightBoundAndTheQueueOrder) {
  GroupCommit<Job> gc;
  absl::Notification inside, release;
  std::atomic<int> commits{0};
  std::vector<std::vector<size_t>> groups;  // weights, written by leaders one at a time
  auto commit = [&](std::vector<Job*>& group) {
    if (commits++ == 0) {
      inside.Notify();
      release.WaitForNotification();
    }
    std::vector<size_t> w;
    for (Job* job : group) {
      w.push_back(job->weight);
      job->durable = true;
    }
    groups.push_back(w);
  };
  auto weight = [](const Job& job) { return job.weight; };

  Job first;
  std::thread leader([&] { gc.Run(first, 10, weight, commit); });
  inside.WaitForNotification();
  // Queue weights 4, 4, 4, 25, 1, in this order, behind the running commit.
  std::vector<Job> jobs(5);
  const size_t weights[] = {4, 4, 4, 25, 1};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].weight = weights[i];
    threads.emplace_back([&, i] { gc.Run(jobs[i], 10, weight, commit); });
    ASSERT_TRUE(Eventually([&] { return gc.queued() == i + 1; }));
  }
  release.Notify();
  leader.join();
  for (std::thread& t : threads) t.join();

  // Oldest first; a group stays within 10 unless it is one job alone (the 25), and the next
  // job joins only if the total stays within the bound (4 + 4 + 4 > 10, 4 + 25 > 10, 25 + 1 > 10).
  const std::vector<std::vector<size_t>> want = {{1}, {4, 4}, {4}, {25}, {1}};
  EXPECT_EQ(groups, want);
}

// Many callers, random-ish commit times: every job is committed exactly once, and each caller
// sees its own job durable when it returns.
TEST(GroupCommit, EveryJobCommitsExactlyOnceUnderContention) {
  GroupCommit<Job> gc;
  std::atomic<int> returned_early{0};
  std::atomic<int> concurrent{0};
  std::atomic<int> overlapped{0};
  auto commit = [&](std::vector<Job*>& group) {
    if (++concurrent > 1) ++overlapped;  // two leaders at once would break the one-writer rule
    if (group.size() % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    for (Job* job : group) {
      ++job->commits;
      job->durable = true;
    }
    --concurrent;
  };
  auto weight = [](const Job& job) { return job.weight; };
  constexpr int kThreads = 8, kJobsPerThread = 200;
  std::vector<std::vector<Job>> jobs(kThreads, std::vector<Job>(kJobsPerThread));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (Job& job : jobs[t]) {
        gc.Run(job, 16, weight, commit);
        if (!job.durable) ++returned_early;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(returned_early.load(), 0);
  EXPECT_EQ(overlapped.load(), 0);
  for (const auto& per_thread : jobs) {
    for (const Job& job : per_thread) EXPECT_EQ(job.commits, 1);
  }
}

// With two leaders allowed, two groups commit at the same time (a second caller leads while the
// first group is still inside its commit), never three, and every job is committed exactly once.
TEST(GroupCommit, AtMostMaxLeadersCommitAtOnceAndEveryJobOnce) {
  GroupCommit<Job> gc(2);
  std::atomic<int> inside{0}, most{0};
  auto commit = [&](std::vector<Job*>& group) {
    const int now = ++inside;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(milliseconds(5));
    for (Job* job : group) {
      ++job->commits;
      job->durable = true;
    }
    --inside;
  };
  constexpr int kThreads = 8, kJobsEach = 20;
  std::vector<std::vector<Job>> jobs(kThreads, std::vector<Job>(kJobsEach));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (Job& job : jobs[t]) {
        gc.Run(
            job, 3, [](const Job& j) { return j.weight; }, commit);
        EXPECT_TRUE(job.durable);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(most.load(), 2);
  for (const auto& each : jobs) {
    for (const Job& job : each) EXPECT_EQ(job.commits, 1);
  }
}

}  // namespace
}  // namespace liaison::store::internal
