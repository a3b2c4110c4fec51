// The Microsoft identity platform's client-credentials token endpoint, the bearer check
// every Graph request passes first, and what the app may access: its application
// permissions and the mailboxes an application access policy denies it.
//
// Thread-safety: TokenIssuer and AppAccess are safe to use from many threads. AppAccess's
// lock is a leaf: it is never held while another lock is taken.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_AUTH_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_AUTH_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/time_format.h"

namespace graphsim {

// The one app's application permissions (GRAPH.md section 8) and per-mailbox denials.
class AppAccess {
 public:
  // Mail.Read, Calendars.Read, Contacts.Read and Sites.Manage.All granted, no mailbox
  // denied.
  AppAccess();

  // Any name; matched case-insensitively, listed as first granted.
  void SetPermission(const std::string& permission, bool granted);
  // True if `needed` ("Mail.Read") or its ReadWrite sibling ("Mail.ReadWrite") is granted.
  bool Granted(const std::string& needed) const;
  // The granted permissions of an API, sorted: "Sites.*" are SharePoint's (graphsim
  // models SharePoint's Sites permissions only, not Graph's of the same names), the others
  // Graph's.
  enum class Api { kGraph, kSharePoint, kBoth };
  std::vector<std::string> Roles(Api api = Api::kGraph) const;

  void SetMailboxAllowed(int user, bool allowed);  // UserRecord::index
  bool MailboxAllowed(int user) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> granted_;  // lower-case name -> as granted; mu_
  std::set<int> denied_mailboxes_;              // guarded by mu_
};

class TokenIssuer {
 public:
  // `access` (borrowed) gives the `roles` claim of each token issued.
  TokenIssuer(const Options& options, std::string tenant_id, const AppAccess* access);

  // POST /{tenant}/oauth2/v2.0/token (form fields already in request.params). The client
  // authenticates with its secret or with a certificate credential (client_assertion,
  // checked by CheckClientAssertion against Options::client_certificate_pem).
  HttpResponse HandleTokenRequest(const HttpRequest& request, TimePoint now);

  enum class Verdict { kValid, kMissing, kMalformed, kUnknown, kExpired };
  // What a valid token was issued for: the resource of the scope asked for
  // ("https://graph.microsoft.com", graphsim's own origin, or a SharePoint origin such as
  // "https://contoso.sharepoint.com"; NormalizeOrigin'd), and whether the client proved
  // itself with a certificate (the token's `appidacr` "2") or a secret ("1"). The token's
  // `aud` is Graph's for Graph and for graphsim's origin (which stands in for Graph's
  // host as well as for SharePoint's), the SharePoint origin otherwise.
  struct Facts {
    std::string resource;
    bool certificate = false;
  };
  // Checks the Authorization header of a request; `facts`, if given, receives what a
  // valid token was issued for.
  Verdict Check(const std::string& authorization, TimePoint now, Facts* facts = nullptr) const;
  // Makes every token issued so far expired (tokens issued later are fine).
  void ExpireAll();

 private:
  struct Grant {
    TimePoint expires;
    bool revoked = false;
    Facts facts;
  };
  // The client is authenticated (with a certificate or a secret): checks the scope and
  // answers with a token for its resource.
  HttpResponse IssueToken(const HttpRequest& request, const std::string* scope, bool certificate,
                          TimePoint now);
  std::string MintToken(TimePoint now, TimePoint expires, const std::string& audience,
                        const Facts& facts);

  const Options options_;
  const std::string tenant_id_;
  const AppAccess* const access_;
  mutable std::mutex mu_;
  uint64_t issued_ = 0;                            // guarded by mu_
  std::unordered_map<std::string, Grant> tokens_;  // guarded by mu_
};

// Graph's 401: error body plus the WWW-Authenticate challenge. `error_description` empty:
// no error="invalid_token" part (a request without a token).
HttpResponse Unauthorized(const std::string& message, const std::string& error_description,
                          TimePoint now);

// Graph's resource, the `aud` of the tokens Graph accepts.
inline constexpr char kGraphAudience[] = "https://graph.microsoft.com";

// "scheme://host[:port]" without the scheme's default port, lower case: how a resource
// and a request's origin are compared.
std::string NormalizeOrigin(std::string origin);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_AUTH_H_
