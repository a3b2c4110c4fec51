#include "tools/graphsim/ids.h"

#include <cstdio>

namespace graphsim {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Encode(const uint8_t* data, size_t size, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  size_t rest = size - i;
  if (rest == 1) {
    uint32_t v = data[i] << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    uint32_t v = (data[i] << 16) | (data[i + 1] << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

// One decoder for both alphabets. Standard base64 may end in '=' padding and have white
// space anywhere (as .NET's Convert.FromBase64String, which Graph uses, accepts).
bool Decode(std::string_view text, bool url, std::string* out) {
  out->clear();
  uint32_t buffer = 0;
  int bits = 0;
  size_t symbols = 0, padding = 0;
  for (char c : text) {
    int v;
    if (!url && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) continue;
    if (!url && c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return false;  // data after padding
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == (url ? '-' : '+')) {
      v = 62;
    } else if (c == (url ? '_' : '/')) {
      v = 63;
    } else {
      return false;
    }
    ++symbols;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (url) return true;
  // Padded or not, a lone trailing symbol is never a whole byte.
  if (symbols % 4 == 1 || padding > 2) return false;
  return padding == 0 || (symbols + padding) % 4 == 0;
}

}  // namespace

uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t HashCombine(uint64_t a, uint64_t b) {
  return Mix64(a * 0x9e3779b97f4a7c15ULL + Mix64(b + 0x632be59bd9b4e019ULL));
}

uint64_t HashString(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then mixed
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return Mix64(h);
}

uint64_t Rng::Next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return Mix64(state_);
}

uint64_t Rng::Below(uint64_t n) { return Next() % n; }

std::string Base64(const uint8_t* data, size_t size) { return Encode(data, size, kStd, true); }

std::string Base64Url(const uint8_t* data, size_t size) { return Encode(data, size, kUrl, false); }

bool Base64UrlDecode(std::string_view text, std::string* out) { return Decode(text, true, out); }

bool Base64Decode(std::string_view text, std::string* out) { return Decode(text, false, out); }

void PutUint64(uint64_t value, uint8_t* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(value & 0xff);
    value >>= 8;
  }
}

std::string FormatGuid(uint64_t hi, uint64_t lo) {
  hi = (hi & ~0xf000ULL) | 0x4000ULL;                         // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xffff),
                static_cast<unsigned long long>(hi & 0xffff),
                static_cast<unsigned long long>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

std::vector<std::string> SplitTokenFields(const std::string& plain) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t bar = plain.find('|', start);
    parts.push_back(
        plain.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  return parts;
}

}  // namespace graphsim
