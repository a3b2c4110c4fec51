// application/x-www-form-urlencoded text, as in token request bodies and query strings.
//
// Thread-safety: free function, no shared state.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_URL_ENCODED_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_URL_ENCODED_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace graphsim {

// Splits "a=1&b=x+y%21" into decoded (name, value) pairs, in order: '+' is a space, %XX a
// byte; a malformed escape is kept as text; a part without '=' has an empty value.
std::vector<std::pair<std::string, std::string>> ParseUrlEncoded(std::string_view text);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_URL_ENCODED_H_
