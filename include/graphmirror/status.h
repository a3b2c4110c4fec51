// Status and Result: how graphmirror reports errors across its boundaries.
//
// Thread-safety: Status and Result are values; distinct objects may be used from
// different threads freely, one object needs external synchronization to be mutated.

#ifndef GRAPHMIRROR_STATUS_H_
#define GRAPHMIRROR_STATUS_H_

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace graphmirror {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,   // bad input: config, request, payload
    kNotFound,          // a resource or row that does not exist
    kUnauthenticated,   // credentials rejected (wrong secret, bad token)
    kPermissionDenied,  // authenticated but not allowed
    kUnavailable,       // transient: network, 5xx, throttled past the retry budget
    kIOError,           // local storage failures
    kCorruption,        // data that cannot be what it claims to be
    kInternal,          // a bug
    kCancelled,         // stopped on request
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) {
    return {Code::kUnauthenticated, std::move(msg)};
  }
  static Status PermissionDenied(std::string msg) {
    return {Code::kPermissionDenied, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {Code::kCancelled, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ok" or "<code name>: <message>".
  std::string ToString() const;
  // Keeps the first failure: becomes `other` only if this is ok.
  void Update(const Status& other) {
    if (ok()) *this = other;
  }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

std::string_view CodeName(Status::Code code);

// A value or the Status that explains why there is none. Never holds an ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(data_).ok()) data_ = Status::Internal("Result built from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_STATUS_H_
