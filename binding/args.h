// Argument guards for the binding. Every export reads its arguments through Args, which trusts
// nothing: wrong types, non-integer or negative dims, detached or short buffers and aliasing
// outputs become TypeError/RangeError with a stable `code` and a message naming the argument.
#pragma once

#include <napi.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <string>

namespace blasnet {
namespace binding {

constexpr double kMaxDim = 2147483647.0;  // BLAS takes 32-bit dims
constexpr size_t kMaxArgs = 16;

// A thrown argument error; converted to a JS exception by the export wrapper.
struct ArgError {
  bool typeError;
  const char* code;
  std::string message;
};

template <class T>
struct View {
  T* data;
  size_t length;
  const char* name;
  size_t used;  // elements the kernel reads or writes (set after the length check)
  bool null() const { return data == nullptr && name == nullptr; }
  const void* begin() const { return data; }
  const void* end() const { return data + used; }
};
using F32 = View<float>;
using I32 = View<int32_t>;
using F64 = View<double>;

class Args {
 public:
  Args(napi_env env, napi_callback_info cb) : env_(env) {
    argc_ = kMaxArgs;
    void* data = nullptr;
    napi_get_cb_info(env, cb, &argc_, argv_, nullptr, &data);
    fn_ = static_cast<const char*>(data);
  }

  napi_env env() const { return env_; }
  // Argument i as passed (i < count()).
  napi_value arg(size_t i) const { return argv_[i]; }
  const char* fn() const { return fn_; }

  void expect(size_t count) {
    if (argc_ != count) {
      fail(true, "ERR_BLASNET_ARG_COUNT", std::string("Expected ") + std::to_string(count) +
                                              " arguments but received " + std::to_string(argc_));
    }
  }

  // A non-negative integer that fits a BLAS dimension.
  size_t dim(size_t i, const char* name) {
    const double v = number(i, name);
    if (!(v >= 0 && v <= kMaxDim && v == std::floor(v))) {
      fail(false, "ERR_BLASNET_ARG_RANGE",
           std::string("Expected non-negative integer for ") + name + " but received " + show(v));
    }
    return static_cast<size_t>(v);
  }

  // A finite number, passed to the kernel as float.
  float scalar(size_t i, const char* name) {
    const double v = number(i, name);
    if (!std::isfinite(v) || std::fabs(v) > 3.4028234663852886e38) {
      fail(false, "ERR_BLASNET_ARG_RANGE",
           std::string("Expected finite number for ") + name + " but received " + show(v));
    }
    return static_cast<float>(v);
  }

  // A finite number that must also lie in a domain (`ok`, tested on the float the kernel will see;
  // `domain` names it in the message, which shows the value as received).
  float scalarIn(size_t i, const char* name, bool (*ok)(float), const char* domain) {
    const float v = scalar(i, name);
    if (!ok(v)) {
      fail(false, "ERR_BLASNET_ARG_RANGE",
           std::string("Expected ") + domain + " for " + name + " but received " + show(number(i, name)));
    }
    return v;
  }

  bool flag(size_t i, const char* name) {
    bool v = false;
    if (napi_get_value_bool(env_, argv_[i], &v) != napi_ok) {
      fail(true, "ERR_BLASNET_ARG_TYPE",
           std::string("Expected boolean for ") + name + " but received " + typeName(argv_[i]));
    }
    return v;
  }

  // A table id in [0, count).
  int id(size_t i, const char* name, int count) {
    const double v = number(i, name);
    if (!(v >= 0 && v < count && v == std::floor(v))) {
      fail(false, "ERR_BLASNET_UNKNOWN_ID", std::string("Expected integer in [0, ") +
                                                std::to_string(count) + ") for " + name +
                                                " but received " + show(v));
    }
    return static_cast<int>(v);
  }

  F32 f32(size_t i, const char* name, uint64_t needed, const char* formula) {
    return typed<float>(i, name, needed, formula, napi_float32_array, false);
  }
  F32 f32OrNull(size_t i, const char* name, uint64_t needed, const char* formula) {
    return typed<float>(i, name, needed, formula, napi_float32_array, true);
  }
  I32 i32(size_t i, const char* name, uint64_t needed, const char* formula) {
    return typed<int32_t>(i, name, needed, formula, napi_int32_array, false);
  }
  F64 f64(size_t i, const char* name, uint64_t needed, const char* formula) {
    return typed<double>(i, name, needed, formula, napi_float64_array, false);
  }
  // Any typed array (any element type, on an ArrayBuffer or a SharedArrayBuffer): its memory as
  // bytes. For exports that treat memory as memory (adviseHugePages), never for a kernel's values.
  View<uint8_t> bytes(size_t i, const char* name) {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value ab;
    size_t offset = 0;
    if (napi_get_typedarray_info(env_, argv_[i], &type, &length, &data, &ab, &offset) != napi_ok) {
      fail(true, "ERR_BLASNET_ARG_TYPE",
           std::string("Expected a typed array for ") + name + " but received " + typeName(argv_[i]));
    }
    size_t size = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: size = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: size = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: size = 8; break;
      default: size = 1;
    }
    // A detached buffer reports no data and no length: nothing to advise.
    if (data == nullptr) length = 0;
    return View<uint8_t>{static_cast<uint8_t*>(data), length * size, name, length * size};
  }

  bool isInt32Array(size_t i) { return isTyped(i, napi_int32_array); }
  bool isFloat64Array(size_t i) { return isTyped(i, napi_float64_array); }
  bool isTyped(size_t i, napi_typedarray_type want) {
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value ab;
    size_t offset;
    return napi_get_typedarray_info(env_, argv_[i], &type, &length, &data, &ab, &offset) == napi_ok &&
           type == want;
  }

  // `out` must not share memory with `in`.
  template <class A, class B>
  void disjoint(const A& out, const B& in) {
    if (out.data == nullptr || in.data == nullptr || out.used == 0 || in.used == 0) return;
    const char* o0 = reinterpret_cast<const char*>(out.begin());
    const char* o1 = reinterpret_cast<const char*>(out.end());
    const char* i0 = reinterpret_cast<const char*>(in.begin());
    const char* i1 = reinterpret_cast<const char*>(in.end());
    if (o0 < i1 && i0 < o1) {
      fail(false, "ERR_BLASNET_ALIAS",
           std::string(out.name) + " must not share memory with " + in.name);
    }
  }
  // `out` may be `in` itself (elementwise in place) but must not partly overlap it.
  template <class A, class B>
  void sameOrDisjoint(const A& out, const B& in) {
    if (static_cast<const void*>(out.data) == static_cast<const void*>(in.data) && out.used == in.used) return;
    disjoint(out, in);
  }

  [[noreturn]] void fail(bool typeError, const char* code, const std::string& message) {
    throw ArgError{typeError, code, std::string(fn_) + ": " + message};
  }

 private:
  double number(size_t i, const char* name) {
    double v = 0;
    if (napi_get_value_double(env_, argv_[i], &v) != napi_ok) {
      fail(true, "ERR_BLASNET_ARG_TYPE",
           std::string("Expected number for ") + name + " but received " + typeName(argv_[i]));
    }
    return v;
  }

  template <class T>
  View<T> typed(size_t i, const char* name, uint64_t needed, const char* formula,
                napi_typedarray_type want, bool nullable) {
    napi_value v = argv_[i];
    if (nullable) {
      napi_valuetype t;
      napi_typeof(env_, v, &t);
      if (t == napi_null) return View<T>{nullptr, 0, nullptr, 0};
    }
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value ab;
    size_t offset = 0;
    if (napi_get_typedarray_info(env_, v, &type, &length, &data, &ab, &offset) != napi_ok ||
        type != want) {
      fail(true, "ERR_BLASNET_ARG_TYPE",
           std::string("Expected ") + typedName(want) + (nullable ? " or null" : "") + " for " +
               name + " but received " + typeName(v));
    }
    if (length == 0 || data == nullptr) {
      bool detached = false;
      if (napi_is_detached_arraybuffer(env_, ab, &detached) == napi_ok && detached) {
        fail(true, "ERR_BLASNET_DETACHED", std::string(name) + " is backed by a detached ArrayBuffer");
      }
    }
    if (length < needed) {
      fail(false, "ERR_BLASNET_ARG_LENGTH", std::string("Expected ") + name + " to hold at least " +
                                                std::to_string(needed) + " elements (" + formula +
                                                ") but it has " + std::to_string(length));
    }
    return View<T>{static_cast<T*>(data), length, name, static_cast<size_t>(needed)};
  }

  static const char* typedName(napi_typedarray_type t) {
    switch (t) {
      case napi_int8_array: return "Int8Array";
      case napi_uint8_array: return "Uint8Array";
      case napi_uint8_clamped_array: return "Uint8ClampedArray";
      case napi_int16_array: return "Int16Array";
      case napi_uint16_array: return "Uint16Array";
      case napi_int32_array: return "Int32Array";
      case napi_uint32_array: return "Uint32Array";
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      case napi_bigint64_array: return "BigInt64Array";
      case napi_biguint64_array: return "BigUint64Array";
      default: return "TypedArray";
    }
    return "TypedArray";
  }

  std::string typeName(napi_value v) {
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value ab;
    size_t offset;
    if (napi_get_typedarray_info(env_, v, &type, &length, &data, &ab, &offset) == napi_ok) {
      return typedName(type);
    }
    napi_valuetype t;
    if (napi_typeof(env_, v, &t) != napi_ok) return "unknown";
    switch (t) {
      case napi_undefined: return "undefined";
      case napi_null: return "null";
      case napi_boolean: return "boolean";
      case napi_number: return "number";
      case napi_string: return "string";
      case napi_symbol: return "symbol";
      case napi_object: {
        bool isArray = false;
        napi_is_array(env_, v, &isArray);
        return isArray ? "Array" : "object";
      }
      case napi_function: return "function";
      case napi_external: return "external";
      case napi_bigint: return "bigint";
    }
    return "unknown";
  }

  // A number as messages print it: as JavaScript's String(v) does (the shortest digits that
  // read back as v, in fixed notation for 1e-7 < |v| < 1e21), so that the js backend's messages
  // are the same text.
 public:
  static std::string show(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    if (v == 0) return "0";
    char buf[40];
    const auto res = std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific);
    if (res.ec != std::errc()) return "?";
    // d.ddde+XX: the digits without the point, and the exponent.
    const std::string sci(buf, res.ptr);
    const size_t e = sci.find('e');
    std::string digits = sci.substr(0, 1) + (e > 2 ? sci.substr(2, e - 2) : "");
    const int k = static_cast<int>(digits.size());
    const int n = std::atoi(sci.c_str() + e + 1) + 1;  // the decimal point's place after the first digit
    std::string out = v < 0 ? "-" : "";
    if (k <= n && n <= 21) {
      out += digits + std::string(n - k, '0');
    } else if (0 < n && n <= 21) {
      out += digits.substr(0, n) + "." + digits.substr(n);
    } else if (-6 < n && n <= 0) {
      out += "0." + std::string(-n, '0') + digits;
    } else {
      out += digits.substr(0, 1) + (k > 1 ? "." + digits.substr(1) : "") + "e" + (n - 1 < 0 ? "-" : "+") + std::to_string(std::abs(n - 1));
    }
    return out;
  }

 private:
  napi_env env_;
  size_t argc_;
  napi_value argv_[kMaxArgs];
  const char* fn_ = "blasnet";
};

}  // namespace binding
}  // namespace blasnet
