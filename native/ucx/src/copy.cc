#include "copy.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace pxs {

namespace {

// Copies from this many bytes use non-temporal (streaming) stores, up to where glibc's memcpy streams
// by itself. glibc switches to streaming stores above 3/4 of its per-thread share of the L3 that CPUID
// reports: about 1-1.5 MiB on a typical node (a 32 MiB L3 per 16 threads), but a VM may report a large
// one (480 MiB for 2 vCPUs here: glibc streams from about 180 MiB). The destinations of these copies are
// rarely in a cache: a get left to V8 reads into whichever pooled block is idle (V8 frees values only
// every 64 MiB of buffers, so gets cycle through many), a put into a lent block the daemon keeps as the
// object. Measured here, 4 MiB into 24 blocks in turn: memcpy 0.45 ms, streamed 0.31 ms; into one block
// again and again (a released get): 0.29 against 0.30 ms; above 32 MiB, memcpy ran at 7-8 GB/s against
// 10-12 streamed (native/ucx/README.md). Decided on the whole copy, not per chunk. From kSharedCopyMin
// (2 MiB, a core's L2 here): smaller copies can stay in the caches.
constexpr size_t kStreamingCopyMin = kSharedCopyMin;

// What the helper and the caller take at a time: small enough that the caller never waits long for the
// helper's last chunk (about 20 µs at 13 GB/s), large enough that taking one costs nothing.
constexpr size_t kChunk = 256u << 10;

constexpr double kMaxSpinUs = 1e6;

// Where glibc starts streaming, as it computes it (L3 size / CPUs sharing it, approximated by the online
// CPUs, times 3/4); unbounded when the L3 is not known.
size_t GlibcStreamsFrom() {
  static const size_t from = [] {
    long l3 = ::sysconf(_SC_LEVEL3_CACHE_SIZE);
    long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (l3 <= 0 || cpus <= 0) return SIZE_MAX;
    return static_cast<size_t>(l3) / static_cast<size_t>(cpus) * 3 / 4;
  }();
  return from;
}

// PROXYSTORE_UCX_STREAM_COPY=0 leaves every copy to memcpy (for measuring).
bool StreamingCopies() {
  static const bool on = [] {
    const char* v = std::getenv("PROXYSTORE_UCX_STREAM_COPY");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

// `shared`: the copy goes in chunks, and glibc decides on each chunk's size, never streaming them.
bool Streams(size_t total, bool shared) {
#if defined(__x86_64__)
  return total >= kStreamingCopyMin && (shared || total < GlibcStreamsFrom()) && StreamingCopies();
#else
  (void)total;
  (void)shared;
  return false;
#endif
}

// memcpy, or streaming stores on x86-64 (SSE2: every x86-64 CPU has it), fenced: streaming stores are
// weakly ordered, and the bytes must be visible before anyone (the nonce check, a peer) looks.
void CopyRange(uint8_t* dst, const uint8_t* src, size_t n, bool stream) {
#if defined(__x86_64__)
  if (stream) {
    size_t head = std::min(n, static_cast<size_t>((16 - (reinterpret_cast<uintptr_t>(dst) & 15)) & 15));
    std::memcpy(dst, src, head);
    dst += head;
    src += head;
    n -= head;
    size_t blocks = n / 64;
    for (size_t i = 0; i < blocks; ++i) {
      __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
      __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16));
      __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 32));
      __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 48));
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst), a);
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 16), b);
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 32), c);
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 48), d);
      src += 64;
      dst += 64;
    }
    _mm_sfence();
    std::memcpy(dst, src, n - blocks * 64);
    return;
  }
#else
  (void)stream;
#endif
  std::memcpy(dst, src, n);
}

inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

struct Config {
  unsigned helpers = 0;
  double spin_us = 0;
  std::string error;  // a variable that is not what it should be: the first UCX call of a thread fails
};

const Config& GetConfig() {
  static const Config config = [] {
    Config c;
    // CPUs this process may run on (a cpuset or taskset may allow fewer than are online).
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    long cpus = ::sched_getaffinity(0, sizeof(allowed), &allowed) == 0 ? CPU_COUNT(&allowed) : ::sysconf(_SC_NPROCESSORS_ONLN);
    c.helpers = cpus >= 2 ? 1 : 0;
    if (const char* v = std::getenv("PROXYSTORE_UCX_COPY_THREADS"); v != nullptr && *v != '\0') {
      if (std::strcmp(v, "0") == 0) {
        c.helpers = 0;
      } else if (std::strcmp(v, "1") != 0) {
        c.helpers = 0;
        c.error = std::string("PROXYSTORE_UCX_COPY_THREADS must be 0 or 1, not '") + v + "'";
      }
    }
    if (const char* v = std::getenv("PROXYSTORE_UCX_COPY_SPIN_US"); v != nullptr && *v != '\0') {
      char* end = nullptr;
      double us = std::strtod(v, &end);
      if (end == v || *end != '\0' || !(us >= 0) || us > kMaxSpinUs) {
        c.error = std::string("PROXYSTORE_UCX_COPY_SPIN_US must be a number of microseconds from 0 to ") +
                  std::to_string(static_cast<int>(kMaxSpinUs)) + ", not '" + v + "'";
      } else {
        c.spin_us = us;
      }
    }
    return c;
  }();
  return config;
}

// One copy being shared: chunks go to whoever takes the next index.
struct Job {
  uint8_t* dst;
  const uint8_t* src;
  size_t n;
  size_t chunks;
  bool stream;
  std::atomic<size_t> next{0};
  std::atomic<bool> helper_done{false};
  size_t helper_bytes = 0;  // written by the helper before helper_done
};

// Takes chunks of `job` until none is left; returns the bytes copied.
size_t TakeChunks(Job* job) {
  size_t copied = 0;
  for (;;) {
    size_t i = job->next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job->chunks) return copied;
    size_t at = i * kChunk;
    size_t len = std::min(kChunk, job->n - at);
    CopyRange(job->dst + at, job->src + at, len, job->stream);
    copied += len;
  }
}

// The helper thread. Never destroyed: a process exits with it asleep (or polling), which is harmless,
// and a static with a joinable std::thread would terminate the process at exit.
class Helper {
 public:
  explicit Helper(double spin_us) : spin_ns_(static_cast<int64_t>(spin_us * 1000)) {
    CPU_ZERO(&allowed_);
    if (::sched_getaffinity(0, sizeof(allowed_), &allowed_) != 0) CPU_ZERO(&allowed_);
    std::thread worker([this] { Run(); });
    thread_ = worker.native_handle();
    worker.detach();
  }

  // Keeps the helper off the CPU the caller copies on. Woken by the caller, the helper would otherwise
  // often be placed on the caller's own CPU and preempt it (the scheduler expects a waker to sleep
  // soon): the two then take turns on one CPU, half the chunks each, and the copy takes as long as
  // alone (seen here: 4 MiB in 0.26 ms either way, against 0.14-0.17 ms with the helper elsewhere).
  // Only when the caller's CPU changes; best effort (a cpuset may refuse).
  void AvoidCpu(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE || cpu == avoided_.load(std::memory_order_relaxed)) return;
    std::unique_lock<std::mutex> lock(affinity_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    cpu_set_t set = allowed_;
    CPU_CLR(cpu, &set);
    if (CPU_COUNT(&set) == 0) return;
    if (::pthread_setaffinity_np(thread_, sizeof(set), &set) == 0) avoided_.store(cpu, std::memory_order_relaxed);
  }

  // Offers `job` to the helper; false when another thread's job is waiting for it (copy alone then).
  bool Post(Job* job) {
    Job* expected = nullptr;
    if (!pending_.compare_exchange_strong(expected, job, std::memory_order_seq_cst)) return false;
    if (sleeping_.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_one();
    }
    return true;
  }

  // After the caller found no chunk left: takes the job back if the helper never picked it up, else
  // waits until the helper has left it (at most the one chunk it is copying).
  void Retire(Job* job) {
    Job* expected = job;
    if (pending_.compare_exchange_strong(expected, nullptr, std::memory_order_seq_cst)) return;
    // The helper is copying its last chunk (about 20 µs). A helper the OS took off its CPU meanwhile
    // may need this one: yield it after a while rather than spin through a whole time slice.
    for (unsigned spins = 0; !job->helper_done.load(std::memory_order_acquire); ++spins) {
      if (spins < 4096) {
        CpuRelax();
      } else {
        std::this_thread::yield();
      }
    }
    shared_.fetch_add(1, std::memory_order_relaxed);
    shared_bytes_.fetch_add(job->helper_bytes, std::memory_order_relaxed);
  }

  uint64_t shared() const { return shared_.load(std::memory_order_relaxed); }
  uint64_t shared_bytes() const { return shared_bytes_.load(std::memory_order_relaxed); }

 private:
  void Run() {
    for (;;) {
      Job* job = WaitForJob();
      job->helper_bytes = TakeChunks(job);
      job->helper_done.store(true, std::memory_order_release);
    }
  }

  static int64_t NowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  Job* WaitForJob() {
    // Polls for the spin window first (none by default), then sleeps until a Post wakes it.
    if (spin_ns_ > 0) {
      int64_t until = NowNs() + spin_ns_;
      do {
        Job* job = pending_.exchange(nullptr, std::memory_order_seq_cst);
        if (job != nullptr) return job;
        for (int i = 0; i < 64; ++i) CpuRelax();
      } while (NowNs() < until);
    }
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      // sleeping_ before looking: a Post that comes after the look sees it set and wakes us.
      sleeping_.store(true, std::memory_order_seq_cst);
      Job* job = pending_.exchange(nullptr, std::memory_order_seq_cst);
      if (job != nullptr) {
        sleeping_.store(false, std::memory_order_seq_cst);
        return job;
      }
      wake_.wait(lock);
      sleeping_.store(false, std::memory_order_seq_cst);
      job = pending_.exchange(nullptr, std::memory_order_seq_cst);
      if (job != nullptr) return job;
    }
  }

  const int64_t spin_ns_;
  pthread_t thread_{};
  cpu_set_t allowed_;
  std::atomic<int> avoided_{-1};
  std::mutex affinity_mutex_;
  std::atomic<Job*> pending_{nullptr};
  std::atomic<bool> sleeping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> shared_{0};
  std::atomic<uint64_t> shared_bytes_{0};
};

// Set once the helper runs (stats() reads it without starting one).
std::atomic<Helper*> started_helper{nullptr};

Helper* TheHelper() {
  static Helper* helper = [] {
    Helper* h = GetConfig().helpers > 0 ? new Helper(GetConfig().spin_us) : nullptr;
    started_helper.store(h, std::memory_order_release);
    return h;
  }();
  return helper;
}

}  // namespace

std::string CopyConfigError() { return GetConfig().error; }

void CopyBytes(uint8_t* dst, const uint8_t* src, size_t n) {
  Helper* helper = n >= kSharedCopyMin ? TheHelper() : nullptr;
  if (helper == nullptr) {
    CopyRange(dst, src, n, Streams(n, false));
    return;
  }
  bool stream = Streams(n, true);
  Job job;
  job.dst = dst;
  job.src = src;
  job.n = n;
  job.chunks = (n + kChunk - 1) / kChunk;
  job.stream = stream;
  helper->AvoidCpu(::sched_getcpu());
  bool posted = helper->Post(&job);
  TakeChunks(&job);
  if (posted) helper->Retire(&job);
  // The helper's stores happened before helper_done (release), read here with acquire: they are visible
  // to this thread, and through it to whoever this thread tells.
}

CopyStats GetCopyStats() {
  const Config& c = GetConfig();
  Helper* helper = started_helper.load(std::memory_order_acquire);
  return CopyStats{helper == nullptr ? 0 : helper->shared(), helper == nullptr ? 0 : helper->shared_bytes(),
                   c.helpers, c.spin_us};
}

}  // namespace pxs
