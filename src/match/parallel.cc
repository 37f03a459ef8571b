#include "match/parallel.h"

#include <algorithm>

namespace liaison::match {

bool CanRunInParallel(LogFormat format) { return format != LogFormat::kZeek; }

ParallelMatcher::ParallelMatcher(const IndicatorSet& set, LogFormat format,
                                 const FieldMapping* mapping, int threads) {
  const size_t n = static_cast<size_t>(std::max(threads, 1));
  max_in_flight_ = 2 * n;
  workers_.resize(n);
  for (Worker& w : workers_) {
    w.reader = MakeReader(format, mapping);
    w.matcher = std::make_unique<Matcher>(set);
  }
  for (Worker& w : workers_) w.thread = std::thread([this, &w] { Run(w); });
}

ParallelMatcher::~ParallelMatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (Worker& w : workers_) {
    if (w.thread.joinable()) w.thread.join();
  }
}

void ParallelMatcher::Run(Worker& worker) {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_ready_.wait(lock, [&] { return stopping_ || !todo_.empty(); });
      if (stopping_) return;
      job = std::move(todo_.front());
      todo_.pop_front();
    }
    // Lines are numbered in the block (from 1); Deliver adds the lines of the blocks before.
    uint64_t line = 0;
    const char* data = job->view != nullptr ? job->view : job->data.data();
    job->events = MatchBlock(
        std::string_view(data, job->size), job->capacity, *worker.reader, *worker.matcher, line,
        [&](uint64_t n, const Event& e, const std::vector<IndexHit>& hits) {
          job->events_with_hits.push_back(
              Hit{n, e.has_time, e.time, static_cast<uint32_t>(job->hits.size()),
                  static_cast<uint32_t>(hits.size()), static_cast<uint32_t>(job->fields.size()),
                  static_cast<uint32_t>(e.count)});
          job->hits.insert(job->hits.end(), hits.begin(), hits.end());
          for (size_t i = 0; i < e.count; ++i) {
            const FieldValue& f = e.fields[i];
            job->fields.push_back({f.field, static_cast<uint32_t>(job->field_text.size()),
                                   static_cast<uint32_t>(f.value.size())});
            job->field_text.append(f.value);
          }
        });
    job->lines = line;
    job->stats = worker.reader->TakeStats();
    {
      std::lock_guard<std::mutex> lock(mu_);
      job->done = true;
    }
    job_done_.notify_all();
  }
}

std::shared_ptr<ParallelMatcher::Job> ParallelMatcher::TakeSpare() {
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!spare_.empty()) {
      job = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  if (job == nullptr) job = std::make_shared<Job>();
  job->view = nullptr;
  job->events_with_hits.clear();
  job->hits.clear();
  job->fields.clear();
  job->field_text.clear();
  job->lines = 0;
  job->events = 0;
  job->done = false;
  return job;
}

void ParallelMatcher::Submit(std::string_view block, OnHits on_hits) {
  std::shared_ptr<Job> job = TakeSpare();
  job->data.reserve(block.size() + 64);  // one allocation, not a regrowth for the padding
  job->data.assign(block.data(), block.size());
  job->data.append(64, '\0');  // simdjson reads up to 64 bytes past the end
  job->size = block.size();
  job->capacity = job->data.size();
  Queue(std::move(job), on_hits);
}

void ParallelMatcher::SubmitView(std::string_view block, size_t capacity, OnHits on_hits) {
  std::shared_ptr<Job> job = TakeSpare();
  job->view = block.data();
  job->size = block.size();
  job->capacity = capacity;
  Queue(std::move(job), on_hits);
}

void ParallelMatcher::Queue(std::shared_ptr<Job> job, OnHits on_hits) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_order_.push_back(job);
    todo_.push_back(std::move(job));
  }
  work_ready_.notify_one();
  Deliver(on_hits, false);
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (in_order_.size() < max_in_flight_) break;
    }
    Deliver(on_hits, true);
  }
}

void ParallelMatcher::Deliver(OnHits on_hits, bool wait) {
  Event event;
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (in_order_.empty()) return;
      if (wait) {
        job_done_.wait(lock, [&] { return in_order_.front()->done; });
        wait = false;
      }
      if (!in_order_.front()->done) return;
      job = std::move(in_order_.front());
      in_order_.pop_front();
    }
    // The callback runs on this thread without the lock: a worker is never kept waiting on it.
    std::vector<IndexHit> hits;
    for (const Hit& h : job->events_with_hits) {
      event.Clear();
      event.has_time = h.has_time;
      event.time = h.time;
      for (uint32_t i = h.first_field; i < h.first_field + h.field_count; ++i) {
        const CopiedField& f = job->fields[i];
        event.Push(f.field, std::string_view(job->field_text).substr(f.offset, f.size));
      }
      hits.assign(job->hits.begin() + h.first, job->hits.begin() + h.first + h.count);
      on_hits(lines_ + h.line, event, hits);
    }
    for (size_t r = 0; r < kBadReasonCount; ++r) {
      if (job->stats.bad[r] == 0) continue;
      if (stats_.bad[r] == 0) stats_.first_bad_line[r] = lines_ + job->stats.first_bad_line[r];
      stats_.bad[r] += job->stats.bad[r];
    }
    lines_ += job->lines;
    events_ += job->events;
    delivered_bytes_ += job->size;
    job->view = nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    spare_.push_back(std::move(job));
  }
}

void ParallelMatcher::Finish(OnHits on_hits) {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (in_order_.empty()) return;
    }
    Deliver(on_hits, true);
  }
}

void ParallelMatcher::SwapSet(const IndicatorSet& set, OnHits on_hits) {
  Finish(on_hits);
  // Every job is done and none is queued, so no worker is inside MatchBlock: each is waiting
  // for work_ready_, and takes its next job (and with it the new matcher) under mu_.
  std::lock_guard<std::mutex> lock(mu_);
  for (Worker& w : workers_) {
    const MatchCounters& c = w.matcher->counters();
    retired_.events += c.events;
    retired_.hits += c.hits;
    retired_.engine_evaluations += c.engine_evaluations;
    retired_.engine_failures += c.engine_failures;
    w.matcher = std::make_unique<Matcher>(set);
  }
}

MatchCounters ParallelMatcher::counters() const {
  MatchCounters out = retired_;
  for (const Worker& w : workers_) {
    const MatchCounters& c = w.matcher->counters();
    out.events += c.events;
    out.hits += c.hits;
    out.engine_evaluations += c.engine_evaluations;
    out.engine_failures += c.engine_failures;
  }
  return out;
}

}  // namespace liaison::match
