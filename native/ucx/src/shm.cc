#include "shm.h"

#include "addon_data.h"
#include "copy.h"
#include "memory.h"
#include "status.h"
#include "worker.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace pxs {

bool ShmBlocksEnabled() {
  static const bool on = [] {
    const char* v = std::getenv("PROXYSTORE_UCX_SHM");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

namespace {

constexpr const char* kBadKey = "UCX_BAD_KEY";
constexpr const char* kBusy = "UCX_BUSY";

[[noreturn]] void Throw(Napi::Env env, const char* code, const std::string& message, int err = 0) {
  Napi::Error e = Napi::Error::New(env, err != 0 ? message + ": " + std::strerror(err) : message);
  e.Set("code", Napi::String::New(env, code));
  if (err != 0) e.Set("errno", Napi::Number::New(env, err));
  throw e;
}

// Reads a whole small file (/proc entries report size 0, so read until EOF). False with errno set.
bool ReadSmallFile(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  out->clear();
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      errno = e;
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > 65536) break;
  }
  ::close(fd);
  return true;
}

// Field 22 of /proc/<pid>/stat (starttime, in clock ticks since boot): with the pid, it names one
// process for the lifetime of the boot. False with errno set (ENOENT: no such process).
bool StartTime(const std::string& pid, uint64_t* out) {
  std::string text;
  if (!ReadSmallFile("/proc/" + pid + "/stat", &text)) return false;
  // comm (field 2) may hold spaces and parentheses: fields 3... start after the last ')'.
  size_t at = text.rfind(')');
  if (at == std::string::npos) {
    errno = EINVAL;
    return false;
  }
  const char* p = text.c_str() + at + 1;
  for (int field = 3; field < 22; ++field) {
    while (*p == ' ') ++p;
    while (*p != ' ' && *p != '\0') ++p;
  }
  while (*p == ' ') ++p;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(p, &end, 10);
  if (end == p || errno != 0) {
    errno = EINVAL;
    return false;
  }
  *out = v;
  return true;
}

bool IsGone(int err) { return err == ENOENT || err == ESRCH; }
bool IsDenied(int err) { return err == EACCES || err == EPERM; }

// A bigint, or a non-negative safe integer number.
bool U64Arg(Napi::Value v, uint64_t* out) {
  if (v.IsBigInt()) {
    bool lossless = false;
    *out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    return lossless;
  }
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  *out = static_cast<uint64_t>(d);
  return true;
}

}  // namespace

const PeerMaps::Mapping& PeerMaps::Map(Napi::Env env, const Key& key, uint64_t needed, const char* what) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (it->second.length >= needed) {
      lru_.splice(lru_.end(), lru_, it->second.lru);
      return it->second;
    }
    Drop(it);  // files never shrink or grow; look again (and fail below if it really is too small)
  }
  const auto& [pid, start_time, fd, inode, writable] = key;
  const std::string spid = std::to_string(pid);
  const std::string who = "process " + spid;
  uint64_t now_start = 0;
  if (!StartTime(spid, &now_start)) {
    int err = errno;
    if (IsGone(err)) Throw(env, kPeerGone, std::string(what) + ": " + who + " is gone");
    if (IsDenied(err)) Throw(env, kUnreachable, "peerRead: cannot read /proc/" + spid + "/stat", err);
    Throw(env, kError, "peerRead: /proc/" + spid + "/stat", err);
  }
  if (now_start != start_time) {
    Throw(env, kPeerGone, std::string(what) + ": " + who + " is gone (the pid now names another process)");
  }
  const std::string path = "/proc/" + spid + "/fd/" + std::to_string(fd);
  int local = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (local < 0) {
    int err = errno;
    // A killed owner not yet reaped (a zombie) keeps its /proc/<pid>/stat but no fds: ENOENT too.
    if (IsGone(err)) Throw(env, kPeerGone, std::string(what) + ": " + path + " is gone (owner exited or closed the block)", err);
    if (IsDenied(err)) Throw(env, kUnreachable, std::string(what) + ": " + path, err);
    Throw(env, kError, std::string(what) + ": " + path, err);
  }
  struct stat st {};
  if (::fstat(local, &st) != 0) {
    int err = errno;
    ::close(local);
    Throw(env, kError, std::string(what) + ": fstat " + path, err);
  }
  if (static_cast<uint64_t>(st.st_ino) != inode) {
    ::close(local);
    Throw(env, kBadKey, std::string(what) + ": " + path + " is inode " + std::to_string(st.st_ino) + ", not " + std::to_string(inode));
  }
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) < needed) {
    ::close(local);
    Throw(env, kBadKey, std::string(what) + ": " + path + " holds " + std::to_string(st.st_size) + " bytes, fewer than " +
                            std::to_string(needed));
  }
  size_t length = static_cast<size_t>(st.st_size);
  void* p = length == 0 ? MAP_FAILED : ::mmap(nullptr, length, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, local, 0);
  int err = errno;
  ::close(local);  // the mapping keeps the file (and its pages) alive
  if (p == MAP_FAILED) {
    if (IsDenied(err)) Throw(env, kUnreachable, std::string(what) + ": mmap " + path, err);
    Throw(env, kError, std::string(what) + ": mmap " + path, err);
  }
  ++*maps_;
  auto lru = lru_.insert(lru_.end(), key);
  auto [slot, inserted] = entries_.emplace(key, Mapping{static_cast<uint8_t*>(p), length, lru});
  (void)inserted;
  // Beyond the bound, the least recently used go (never the one just made: it is last).
  while (entries_.size() > kMaxMappings) Drop(entries_.find(lru_.front()));
  return slot->second;
}

void PeerMaps::Drop(std::map<Key, Mapping>::iterator it) {
  ::munmap(it->second.base, it->second.length);
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void PeerMaps::Clear() {
  for (auto& [key, m] : entries_) ::munmap(m.base, m.length);
  entries_.clear();
  lru_.clear();
}

void PeerMaps::Read(Napi::Env env, int pid, uint64_t start_time, int fd, uint64_t inode, uint64_t offset,
                    uint8_t* dst, size_t length) {
  if (offset > UINT64_MAX - length) Throw(env, kBadKey, "peerRead: offset + length overflows");
  const Mapping& m = Map(env, Key{pid, start_time, fd, inode, false}, offset + length, "peerRead");
  if (length > 0) CopyBytes(dst, m.base + offset, length);
  ++*reads_;
}

void PeerMaps::Write(Napi::Env env, int pid, uint64_t start_time, int fd, uint64_t inode, uint64_t base,
                     const std::vector<Piece>& pieces) {
  uint64_t end = base;
  for (const Piece& p : pieces) {
    if (p.offset > UINT64_MAX - base || p.length > UINT64_MAX - base - p.offset) {
      Throw(env, kBadKey, "peerWrite: offset + length overflows");
    }
    end = std::max<uint64_t>(end, base + p.offset + p.length);
  }
  const Mapping& m = Map(env, Key{pid, start_time, fd, inode, true}, end, "peerWrite");
  // A mapping outlives its owner, and a read from a dead owner's block is still right when its nonces
  // hold; a write into one is lost. So every write checks that the owner still runs (a miss did in Map).
  uint64_t now_start = 0;
  if (!StartTime(std::to_string(pid), &now_start) || now_start != start_time) {
    Throw(env, kPeerGone, "peerWrite: process " + std::to_string(pid) + " is gone");
  }
  for (const Piece& p : pieces) {
    if (p.length > 0) CopyBytes(m.base + base + p.offset, p.src, p.length);
  }
  ++*writes_;
}

Napi::Value ProcessIdentity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t start = 0;
  if (!StartTime("self", &start)) Throw(env, kError, "processIdentity: /proc/self/stat", errno);
  std::string boot;
  if (!ReadSmallFile("/proc/sys/kernel/random/boot_id", &boot)) {
    Throw(env, kError, "processIdentity: /proc/sys/kernel/random/boot_id", errno);
  }
  while (!boot.empty() && (boot.back() == '\n' || boot.back() == ' ')) boot.pop_back();
  // Same boot is not enough: /proc/<pid> of another pid namespace names another process.
  struct stat ns {};
  if (::stat("/proc/self/ns/pid", &ns) != 0) Throw(env, kError, "processIdentity: /proc/self/ns/pid", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, static_cast<double>(::getpid())));
  out.Set("startTime", Napi::BigInt::New(env, start));
  out.Set("hostId", Napi::String::New(env, boot + ":" + std::to_string(ns.st_ino)));
  return out;
}

Napi::Value PeerRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "peerRead({ pid, startTime, fd, inode, offset }, region, regionOffset, length)";
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, usage);
  Napi::Object src = info[0].As<Napi::Object>();
  uint64_t pid = 0, start = 0, fd = 0, inode = 0, offset = 0, region_offset = 0, length = 0;
  if (!U64Arg(src.Get("pid"), &pid) || pid == 0 || pid > 0x7fffffff || !U64Arg(src.Get("startTime"), &start) ||
      !U64Arg(src.Get("fd"), &fd) || fd > 0x7fffffff || !U64Arg(src.Get("inode"), &inode) ||
      !U64Arg(src.Get("offset"), &offset)) {
    throw Napi::TypeError::New(env, std::string(usage) + ": bad source");
  }
  if (!info[1].IsObject() || !info[1].As<Napi::Object>().InstanceOf(Data(env)->region_ctor.Value())) {
    throw Napi::TypeError::New(env, std::string(usage) + ": region must be a MemoryRegion");
  }
  if (!U64Arg(info[2], &region_offset) || !U64Arg(info[3], &length)) {
    throw Napi::TypeError::New(env, std::string(usage) + ": regionOffset and length must be non-negative integers");
  }
  MemoryRegion* region = MemoryRegion::Unwrap(info[1].As<Napi::Object>());
  if (!region->live()) {
    Napi::Error e = Napi::Error::New(env, "peerRead: region is unmapped or released");
    e.Set("code", Napi::String::New(env, kClosed));
    throw e;
  }
  if (region_offset > region->length() || length > region->length() - region_offset) {
    throw Napi::RangeError::New(env, "peerRead: regionOffset + length is past the region's end");
  }
  // An RMA operation writing into the region now would race with the copy.
  if (region->pins() > 0) Throw(env, kBusy, "peerRead: " + std::to_string(region->pins()) + " operation(s) still use this region");
  Worker* worker = Worker::Get(env);
  region->Pin();
  try {
    worker->peer_maps().Read(env, static_cast<int>(pid), start, static_cast<int>(fd), inode, offset,
                             region->data() + region_offset, static_cast<size_t>(length));
  } catch (...) {
    region->Unpin();
    throw;
  }
  region->Unpin();
  return env.Undefined();
}

Napi::Value PeerWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "peerWrite({ pid, startTime, fd, inode, offset }, pieces: [offset, Uint8Array][])";
  if (!info[0].IsObject() || !info[1].IsArray()) throw Napi::TypeError::New(env, usage);
  Napi::Object dst = info[0].As<Napi::Object>();
  uint64_t pid = 0, start = 0, fd = 0, inode = 0, offset = 0;
  if (!U64Arg(dst.Get("pid"), &pid) || pid == 0 || pid > 0x7fffffff || !U64Arg(dst.Get("startTime"), &start) ||
      !U64Arg(dst.Get("fd"), &fd) || fd > 0x7fffffff || !U64Arg(dst.Get("inode"), &inode) ||
      !U64Arg(dst.Get("offset"), &offset)) {
    throw Napi::TypeError::New(env, std::string(usage) + ": bad destination");
  }
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<PeerMaps::Piece> pieces;
  pieces.reserve(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list.Get(i);
    uint64_t at = 0;
    if (!item.IsArray() || !U64Arg(item.As<Napi::Array>().Get(0u), &at)) {
      throw Napi::TypeError::New(env, std::string(usage) + ": piece " + std::to_string(i) + " is not [offset, bytes]");
    }
    Napi::Value bytes = item.As<Napi::Array>().Get(1u);
    if (!bytes.IsTypedArray() || bytes.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, std::string(usage) + ": piece " + std::to_string(i) + " has no Uint8Array");
    }
    Napi::Uint8Array u8 = bytes.As<Napi::Uint8Array>();
    pieces.push_back({at, u8.Data(), u8.ByteLength()});
  }
  // Synchronous: the pieces' memory is only read inside this call.
  Worker::Get(env)->peer_maps().Write(env, static_cast<int>(pid), start, static_cast<int>(fd), inode, offset, pieces);
  return env.Undefined();
}

}  // namespace pxs
