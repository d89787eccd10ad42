// CPU threads that tokenize requests off the model workers' threads. Tasks run in submission order
// on whichever thread is free; the queue is bounded by the schedulers' reservations (a task exists
// only for an accepted request).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bge {

class TokenizerPool {
 public:
    explicit TokenizerPool(int n_threads);
    // stop(), then joins.
    ~TokenizerPool();
    // False once stop() has begun.
    bool post(std::function<void()> task);
    // Runs what is queued, then ends the threads.
    void stop();

 private:
    void run();
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace bge
