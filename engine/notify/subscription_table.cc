#include "engine/notify/subscription_table.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <utility>

namespace graphmirror::notify {

void SubscriptionTable::Put(KnownSubscription subscription) {
  std::unique_lock lock(mu_);
  std::string id = subscription.id;
  by_id_.insert_or_assign(std::move(id), std::move(subscription));
}

void SubscriptionTable::Remove(const std::string& id) {
  std::unique_lock lock(mu_);
  by_id_.erase(id);
}

std::optional<KnownSubscription> SubscriptionTable::Find(const std::string& id) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

size_t SubscriptionTable::size() const {
  std::shared_lock lock(mu_);
  return by_id_.size();
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string NewClientState() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // OpenSSL's generator failed to seed or reseed: ask the kernel directly. A clientState
    // from a weak source would let anyone forge notifications, so there is no third way.
    spdlog::warn("notify: RAND_bytes failed, using getrandom(2) for a clientState");
    size_t filled = 0;
    while (filled < sizeof(bytes)) {
      ssize_t n = ::getrandom(bytes + filled, sizeof(bytes) - filled, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        spdlog::critical("notify: no source of random bytes for a clientState");
        std::abort();
      }
      filled += static_cast<size_t>(n);
    }
  }
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve(44);
  size_t i = 0;
  for (; i + 3 <= sizeof(bytes); i += 3) {
    const unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  // 32 = 30 + 2: two bytes left, three characters, no padding.
  const unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8);
  out += kAlphabet[(v >> 18) & 63];
  out += kAlphabet[(v >> 12) & 63];
  out += kAlphabet[(v >> 6) & 63];
  OPENSSL_cleanse(bytes, sizeof(bytes));
  return out;
}

}  // namespace graphmirror::notify
