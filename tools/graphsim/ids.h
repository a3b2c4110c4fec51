// Deterministic randomness and the shapes of Graph's identifiers: GUIDs for directory
// objects, base64 text for Exchange item ids, change keys and folder ids.
//
// Thread-safety: free functions are pure; an Rng is a value owned by one thread.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_IDS_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_IDS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace graphsim {

// SplitMix64's finalizer: a bijection on 64 bits, so distinct inputs give distinct ids.
uint64_t Mix64(uint64_t x);
// Order-dependent combination of values into one well-mixed word.
uint64_t HashCombine(uint64_t a, uint64_t b);
uint64_t HashString(std::string_view s);

// SplitMix64: small, fast, and the same sequence on every platform for a seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n) (n > 0).
  uint64_t Below(uint64_t n);
  // True with probability 1/n.
  bool OneIn(uint64_t n) { return Below(n) == 0; }

 private:
  uint64_t state_;
};

std::string Base64(const uint8_t* data, size_t size);     // standard, padded
std::string Base64Url(const uint8_t* data, size_t size);  // '-' '_' alphabet, no padding
// Decodes base64url without padding; false on a character outside the alphabet.
bool Base64UrlDecode(std::string_view text, std::string* out);
// Decodes standard base64 ('=' padding optional, white space skipped); false on any other
// character or a length no encoder makes.
bool Base64Decode(std::string_view text, std::string* out);
// The '|'-separated fields of a decoded paging or delta token ("a||b" has an empty middle).
std::vector<std::string> SplitTokenFields(const std::string& plain);

// Serializes `value` big-endian into `out` (8 bytes).
void PutUint64(uint64_t value, uint8_t* out);

// "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx" from two random words.
std::string FormatGuid(uint64_t hi, uint64_t lo);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_IDS_H_
