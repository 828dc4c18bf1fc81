// A blocking queue of bounded capacity between producer threads and one consumer.
// Hand-written: the standard library has none, and Debian packages no small one we would prefer.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

namespace avgzsl::util {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Blocks while full; returns false (dropping `item`) once the queue is closed.
  bool push(T item) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Blocks until an item is there or every producer is done; then takes up to `max_items`.
  // An empty result means: finished (or closed) and drained.
  std::vector<T> pop_up_to(size_t max_items) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || producers_done_ || !items_.empty(); });
    std::vector<T> out;
    while (!items_.empty() && out.size() < max_items) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    not_full_.notify_all();
    return out;
  }

  // Producers call this once all of them have finished pushing.
  void producers_done() {
    std::lock_guard<std::mutex> lock(mutex_);
    producers_done_ = true;
    not_empty_.notify_all();
  }

  // Stops everything: pushes fail, pops return what is left and then nothing.
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  size_t capacity_;
  std::deque<T> items_;
  bool closed_ = false;
  bool producers_done_ = false;
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
};

}  // namespace avgzsl::util
