// Owning pointers for OpenSSL objects: OpenSslPtr<BIO, BIO_free>, ...
//
// Thread-safety: as the pointed-to object.

#ifndef GRAPHMIRROR_ENGINE_RICH_OPENSSL_PTR_H_
#define GRAPHMIRROR_ENGINE_RICH_OPENSSL_PTR_H_

#include <memory>

namespace graphmirror::rich {

template <auto Free>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

template <typename T, auto Free>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree<Free>>;

}  // namespace graphmirror::rich

#endif  // GRAPHMIRROR_ENGINE_RICH_OPENSSL_PTR_H_
