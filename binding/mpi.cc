// The optional MPI binding (blasnet_mpi.node): the collectives data-parallel training needs, over
// MPI_COMM_WORLD. Built only when CMake finds MPI; the library works without it.
//
// Thread level: MPI_THREAD_FUNNELED. Every call comes from the thread that called init (the
// training thread), so no stronger level is needed, and FUNNELED is what every MPI build offers
// without the cost of internal locking.
//
// Failure: the communicator returns errors (MPI_ERRORS_RETURN) instead of aborting the job, and
// every collective is nonblocking, polled with MPI_Test against a deadline, so a dead or stuck
// rank turns into a coded error on the others instead of a hang. While a collective waits, SIGTERM
// (which mpirun sends to every rank when one of them fails) also ends the wait with a coded error;
// outside a wait SIGTERM keeps its default action.
#include <dlfcn.h>
#include <mpi.h>
#include <napi.h>
#include <sched.h>
#include <time.h>

#include <cstdio>

#include <chrono>
#include <csignal>
#include <string>

#include "args.h"

namespace blasnet {
namespace binding {
namespace {

constexpr const char* kCode = "ERR_BLASNET_DISTRIBUTED";

// A failed or timed-out collective; becomes an Error with code ERR_BLASNET_DISTRIBUTED.
struct MpiError {
  std::string message;
};

volatile std::sig_atomic_t gWaiting = 0;
volatile std::sig_atomic_t gTerminated = 0;
struct sigaction gPreviousTerm;
bool gHandlerInstalled = false;

void onTerm(int sig) {
  if (gWaiting) {
    gTerminated = 1;
    return;
  }
  sigaction(SIGTERM, &gPreviousTerm, nullptr);
  raise(sig);
}

bool initialized() {
  int done = 0, fin = 0;
  MPI_Initialized(&done);
  MPI_Finalized(&fin);
  return done && !fin;
}

void requireInit(Args& a) {
  if (!initialized()) a.fail(false, "ERR_BLASNET_STATE", "MPI is not initialised (call init first) or already finalised");
}

std::string mpiMessage(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(text, static_cast<size_t>(len));
}

void check(const char* fn, const char* what, int rc) {
  if (rc != MPI_SUCCESS) throw MpiError{std::string(fn) + ": " + what + " failed: " + mpiMessage(rc)};
}

// Set when a collective timed out or was ended by SIGTERM: its request stays pending (MPI cannot
// cancel a collective) and may still read or write its buffer, so no later collective may start,
// and MPI_Finalize, which would wait for it, is skipped.
bool gBroken = false;
std::string gBrokenBy;

void requireIntact(const char* fn) {
  if (gBroken) {
    throw MpiError{std::string(fn) + ": an earlier collective (" + gBrokenBy + ") did not complete and MPI cannot cancel it, so this " +
                   "process can take part in no more collectives; end it (let the error end the process), and mpirun ends the job"};
  }
}

// Polls a nonblocking collective until it completes, the deadline passes or SIGTERM arrives. On a
// timeout or SIGTERM the buffer (argument `bufferArg` of the call, or none) is kept alive for good:
// the pending request may still write into it after JavaScript has let it go.
void wait(Args& a, const char* fn, MPI_Request* req, double timeoutMs, int bufferArg) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(timeoutMs);
  gTerminated = 0;
  gWaiting = 1;
  int done = 0;
  int rc = MPI_SUCCESS;
  const auto started = std::chrono::steady_clock::now();
  for (unsigned spins = 0;; ++spins) {
    rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS || done || gTerminated) break;
    if ((spins & 63) != 63) continue;
    // The clock is read every 64 polls. For the first millisecond the wait spins (a collective
    // between ranks in step finishes within it); after that it sleeps 50 us between polls, so a
    // rank waiting for a slow peer leaves the CPU to it (and to other ranks on the same cores).
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    if (now - started < std::chrono::milliseconds(1)) {
      sched_yield();
    } else {
      const timespec pause{0, 50000};
      nanosleep(&pause, nullptr);
    }
  }
  gWaiting = 0;
  check(fn, "the collective", rc);
  if (done) return;
  // The request stays pending: MPI cannot cancel a collective. The caller is expected to abort.
  gBroken = true;
  gBrokenBy = fn;
  if (bufferArg >= 0) {
    napi_ref keep;
    napi_create_reference(a.env(), a.arg(static_cast<size_t>(bufferArg)), 1, &keep);
  }
  if (gTerminated) {
    throw MpiError{std::string(fn) + ": the launcher is terminating the job (SIGTERM), most likely because another rank failed"};
  }
  throw MpiError{std::string(fn) + ": timed out after " + Args::show(timeoutMs) +
                 " ms waiting for the other ranks (a rank has failed, stopped or is far behind)"};
}

// Open MPI loads its components with dlopen and expects libmpi's symbols to be global; Node loads
// addons with RTLD_LOCAL, so libmpi is promoted to global before MPI_Init.
void promoteLibmpi() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &info) && info.dli_fname) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  }
}

napi_value obj(napi_env env) {
  napi_value o;
  napi_create_object(env, &o);
  return o;
}

void set(napi_env env, napi_value o, const char* key, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, o, key, n);
}

const char* levelName(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE: return "single";
    case MPI_THREAD_FUNNELED: return "funneled";
    case MPI_THREAD_SERIALIZED: return "serialized";
    case MPI_THREAD_MULTIPLE: return "multiple";
  }
  return "unknown";
}

// init() -> { rank, size, threadLevel }. Idempotent while MPI is up; MPI cannot start again once finalised.
napi_value Init(Args& a) {
  a.expect(0);
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) a.fail(false, "ERR_BLASNET_STATE", "MPI was finalised and cannot be initialised again in this process");
  int done = 0;
  MPI_Initialized(&done);
  int provided = MPI_THREAD_SINGLE;
  if (!done) {
    promoteLibmpi();
    check(a.fn(), "MPI_Init_thread", MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
    check(a.fn(), "MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    if (!gHandlerInstalled) {
      struct sigaction sa {};
      sa.sa_handler = onTerm;
      sigemptyset(&sa.sa_mask);
      sigaction(SIGTERM, &sa, &gPreviousTerm);
      gHandlerInstalled = true;
    }
  } else {
    MPI_Query_thread(&provided);
  }
  if (provided < MPI_THREAD_FUNNELED) {
    throw MpiError{std::string(a.fn()) + ": MPI provides thread level " + levelName(provided) + "; funneled is needed"};
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  napi_value o = obj(a.env());
  set(a.env(), o, "rank", rank);
  set(a.env(), o, "size", size);
  napi_value level;
  napi_create_string_utf8(a.env(), levelName(provided), NAPI_AUTO_LENGTH, &level);
  napi_set_named_property(a.env(), o, "threadLevel", level);
  return o;
}

// rank() and size(): one integer about MPI_COMM_WORLD (`fallback` should the query fail).
napi_value worldNumber(Args& a, int (*query)(MPI_Comm, int*), int fallback) {
  a.expect(0);
  requireInit(a);
  int n = fallback;
  query(MPI_COMM_WORLD, &n);
  napi_value v;
  napi_create_double(a.env(), n, &v);
  return v;
}

napi_value Rank(Args& a) { return worldNumber(a, MPI_Comm_rank, 0); }

napi_value Size(Args& a) { return worldNumber(a, MPI_Comm_size, 1); }

bool positive(float v) { return v > 0; }

// A Float32Array or Float64Array to reduce or broadcast: data, element count and MPI type.
struct Buffer {
  void* data;
  size_t length;
  MPI_Datatype type;
};

Buffer buffer(Args& a, size_t i, const char* name) {
  if (!a.isTyped(i, napi_float32_array) && !a.isFloat64Array(i)) {
    a.fail(true, "ERR_BLASNET_ARG_TYPE", std::string("Expected Float32Array or Float64Array for ") + name);
  }
  if (a.isFloat64Array(i)) {
    F64 v = a.f64(i, name, 0, "any length");
    return {v.data, v.length, MPI_DOUBLE};
  }
  F32 v = a.f32(i, name, 0, "any length");
  return {v.data, v.length, MPI_FLOAT};
}

int count(Args& a, const Buffer& b) {
  if (b.length > static_cast<size_t>(2147483647)) a.fail(false, "ERR_BLASNET_ARG_LENGTH", "buffer holds more than 2^31-1 elements");
  return static_cast<int>(b.length);
}

// allreduce(timeoutMs, buffer): buffer <- its sum over every rank, in place.
napi_value Allreduce(Args& a) {
  a.expect(2);
  const float timeout = a.scalarIn(0, "timeoutMs", positive, "positive number");
  Buffer b = buffer(a, 1, "buffer");
  const int n = count(a, b);
  requireInit(a);
  requireIntact(a.fn());
  MPI_Request req;
  check(a.fn(), "MPI_Iallreduce", MPI_Iallreduce(MPI_IN_PLACE, b.data, n, b.type, MPI_SUM, MPI_COMM_WORLD, &req));
  wait(a, a.fn(), &req, timeout, 1);
  return nullptr;
}

// broadcast(root, timeoutMs, buffer): every rank's buffer <- root's.
napi_value Broadcast(Args& a) {
  a.expect(3);
  const size_t root = a.dim(0, "root");
  const float timeout = a.scalarIn(1, "timeoutMs", positive, "positive number");
  Buffer b = buffer(a, 2, "buffer");
  const int n = count(a, b);
  requireInit(a);
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (root >= static_cast<size_t>(size)) {
    a.fail(false, "ERR_BLASNET_ARG_RANGE", "Expected root in [0, " + std::to_string(size) + ") but received " + std::to_string(root));
  }
  requireIntact(a.fn());
  MPI_Request req;
  check(a.fn(), "MPI_Ibcast", MPI_Ibcast(b.data, n, b.type, static_cast<int>(root), MPI_COMM_WORLD, &req));
  wait(a, a.fn(), &req, timeout, 2);
  return nullptr;
}

// barrier(timeoutMs): returns once every rank has entered it.
napi_value Barrier(Args& a) {
  a.expect(1);
  const float timeout = a.scalarIn(0, "timeoutMs", positive, "positive number");
  requireInit(a);
  requireIntact(a.fn());
  MPI_Request req;
  check(a.fn(), "MPI_Ibarrier", MPI_Ibarrier(MPI_COMM_WORLD, &req));
  wait(a, a.fn(), &req, timeout, -1);
  return nullptr;
}

// finalize(): shuts MPI down (after the last collective). A no-op when MPI is not up.
napi_value Finalize(Args& a) {
  a.expect(0);
  // With a collective still pending, MPI_Finalize would wait for it forever.
  if (initialized() && !gBroken) check(a.fn(), "MPI_Finalize", MPI_Finalize());
  if (gHandlerInstalled) {
    sigaction(SIGTERM, &gPreviousTerm, nullptr);
    gHandlerInstalled = false;
  }
  return nullptr;
}

// abort(exitCode): ends every rank of the job (MPI_Abort); does not return while MPI is up.
napi_value Abort(Args& a) {
  a.expect(1);
  const size_t code = a.dim(0, "exitCode");
  if (code > 255) a.fail(false, "ERR_BLASNET_ARG_RANGE", "Expected exitCode in [0, 255] but received " + std::to_string(code));
  requireInit(a);
  MPI_Abort(MPI_COMM_WORLD, static_cast<int>(code));
  return nullptr;
}

napi_value Version(Args& a) {
  a.expect(0);
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string s(text, static_cast<size_t>(len));
  const size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  napi_value v;
  napi_create_string_utf8(a.env(), s.c_str(), s.size(), &v);
  return v;
}

template <napi_value (*F)(Args&)>
napi_value wrap(napi_env env, napi_callback_info cb) {
  auto raise = [env](bool isType, bool isRange, const char* code, const std::string& message) {
    napi_value msg, err, c;
    napi_create_string_utf8(env, message.c_str(), message.size(), &msg);
    if (isType) napi_create_type_error(env, nullptr, msg, &err);
    else if (isRange) napi_create_range_error(env, nullptr, msg, &err);
    else napi_create_error(env, nullptr, msg, &err);
    napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
    napi_set_named_property(env, err, "code", c);
    napi_throw(env, err);
  };
  try {
    Args args(env, cb);
    napi_value result = F(args);
    if (result) return result;
    napi_value u;
    napi_get_undefined(env, &u);
    return u;
  } catch (const ArgError& e) {
    // A state error (MPI not up) is neither a type nor a range error.
    const bool state = std::string(e.code) == "ERR_BLASNET_STATE";
    raise(e.typeError, !e.typeError && !state, e.code, e.message);
  } catch (const MpiError& e) {
    raise(false, false, kCode, e.message);
  } catch (const std::exception& e) {
    raise(false, false, "ERR_BLASNET_INTERNAL", std::string("blasnet_mpi: ") + e.what());
  }
  return nullptr;
}

template <napi_value (*F)(Args&)>
void define(napi_env env, napi_value exports, const char* name) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, wrap<F>, const_cast<char*>(name), &fn);
  napi_set_named_property(env, exports, name, fn);
}

napi_value InitModule(napi_env env, napi_value exports) {
  define<Init>(env, exports, "init");
  define<Rank>(env, exports, "rank");
  define<Size>(env, exports, "size");
  define<Allreduce>(env, exports, "allreduce");
  define<Broadcast>(env, exports, "broadcast");
  define<Barrier>(env, exports, "barrier");
  define<Finalize>(env, exports, "finalize");
  define<Abort>(env, exports, "abort");
  define<Version>(env, exports, "version");
  return exports;
}

}  // namespace
}  // namespace binding
}  // namespace blasnet

NAPI_MODULE_INIT() { return blasnet::binding::InitModule(env, exports); }
