// Setting graphmirror up against a tenant: the checks of `graphmirror doctor` and the
// certificate and key pairs of `graphmirror keygen`.
//
//   for (const auto& f : graphmirror::Doctor(*config)) std::cout << f.check << ": " << f.text;
//
// Thread-safety: free functions without shared state.

#ifndef GRAPHMIRROR_SETUP_H_
#define GRAPHMIRROR_SETUP_H_

#include <string>
#include <vector>

#include "graphmirror/clock.h"
#include "graphmirror/config.h"
#include "graphmirror/status.h"

namespace graphmirror {

struct DoctorFinding {
  enum class Level { kOk, kWarn, kFail };
  Level level = Level::kOk;
  std::string check;  // "credential", "token", "permissions", "mailbox", "clock", "webhook"
  std::string text;   // one line, never a secret or a token
};

// Checks the app's credentials and token, the permission each configured collection needs,
// each mailbox, the clock against Graph's and the webhook's validation handshake, against
// the Graph the config names. `clock` (borrowed) is for tests; null: the system clock.
std::vector<DoctorFinding> Doctor(const Config& config, Clock* clock = nullptr);

// A new self-signed certificate and RSA key, written as PEM files: the key with mode 0600
// and created anew (an existing key file is refused, never overwritten). For rich notifications
// ([rich] certificate and private_key) or as the app's credential ([graph] certificate and
// private_key). Returns the certificate's SHA-1 thumbprint (hex), as the Entra admin center shows
// it.
Result<std::string> WriteKeyPair(const std::string& common_name, int days,
                                 const std::string& certificate_path,
                                 const std::string& private_key_path);

}  // namespace graphmirror

#endif  // GRAPHMIRROR_SETUP_H_
