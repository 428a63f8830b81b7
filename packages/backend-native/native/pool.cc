#include "pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#ifdef SSL_HAVE_ONEDNN
#include <omp.h>
#endif

namespace sslnative {
namespace {

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv_work;
  std::condition_variable cv_done;
  const std::function<void(std::size_t, std::size_t)>* job = nullptr;
  std::size_t n = 0;
  std::size_t chunks = 0;
  std::size_t next_chunk = 0;
  std::size_t pending = 0;
  unsigned long generation = 0;
  bool stop = false;

  void run_chunks() {
    for (;;) {
      std::size_t c;
      {
        std::lock_guard<std::mutex> lk(mu);
        if (next_chunk >= chunks) return;
        c = next_chunk++;
      }
      std::size_t begin = n * c / chunks;
      std::size_t end = n * (c + 1) / chunks;
      (*job)(begin, end);
      {
        std::lock_guard<std::mutex> lk(mu);
        if (--pending == 0) cv_done.notify_all();
      }
    }
  }

  void worker_loop() {
    unsigned long seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu);
        cv_work.wait(lk, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
      }
      run_chunks();
    }
  }

  void resize(int threads) {
    shutdown();
    stop = false;
    for (int i = 1; i < threads; ++i) workers.emplace_back([this] { worker_loop(); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv_work.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
  }

  ~Pool() { shutdown(); }
};

Pool& pool() {
  static Pool p;
  return p;
}

int g_threads = 1;

// oneDNN's GEMMs run on OpenMP's threads; element loops on the same team keep two sets of
// threads from contending for the same two cores between a GEMM and the next element kernel
// (the ViT bench step in bf16: 1-20% faster than on this pool, in 8 of 8 alternated runs).
#ifdef SSL_HAVE_ONEDNN
constexpr bool g_omp = true;
#else
constexpr bool g_omp = false;
#endif

}  // namespace

void set_pool_threads(int n) {
  if (n < 1) n = 1;
  if (n == g_threads) return;
  g_threads = n;
  if (!g_omp) pool().resize(n);
}

int pool_threads() { return g_threads; }

void parallel_for(std::size_t n, std::size_t grain, const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n == 0) return;
  // A few chunks per thread: on a loaded machine a descheduled thread's share is picked up by the
  // others instead of being waited for.
  std::size_t chunks = static_cast<std::size_t>(g_threads) * 4;
  if (grain < 1) grain = 1;
  if (n / grain < chunks) chunks = n / grain;
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
#ifdef SSL_HAVE_ONEDNN
  if (g_omp) {
    const long long count = static_cast<long long>(chunks);
#pragma omp parallel for schedule(dynamic, 1) num_threads(g_threads)
    for (long long c = 0; c < count; ++c) {
      const std::size_t i = static_cast<std::size_t>(c);
      fn(n * i / chunks, n * (i + 1) / chunks);
    }
    return;
  }
#endif
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.job = &fn;
    p.n = n;
    p.chunks = chunks;
    p.next_chunk = 0;
    p.pending = chunks;
    ++p.generation;
  }
  p.cv_work.notify_all();
  p.run_chunks();
  std::unique_lock<std::mutex> lk(p.mu);
  p.cv_done.wait(lk, [&] { return p.pending == 0; });
  p.job = nullptr;
}

}  // namespace sslnative
