// The engine's configuration: the TOML file users write, as a plain struct.
//
// Thread-safety: values; ParseConfig/LoadConfigFile have no shared state.

#ifndef GRAPHMIRROR_ENGINE_CONFIG_CONFIG_H_
#define GRAPHMIRROR_ENGINE_CONFIG_CONFIG_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/item.h"
#include "graphmirror/config.h"
#include "graphmirror/status.h"

namespace graphmirror::config {

// The structs are public (graphmirror/config.h); the engine names them here too.
using graphmirror::Config;
using graphmirror::GraphSettings;
using graphmirror::MailboxConfig;
using graphmirror::RichKey;
using graphmirror::RichSettings;
using graphmirror::SubscriptionSettings;
using graphmirror::SyncSettings;
using graphmirror::WebhookSettings;

// Reads an environment variable; empty optional when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> ProcessEnv(const std::string& name);

// Parses TOML text. `source` names it in errors ("graphmirror.toml:12:3: ..."). Relative
// paths (`database`, graph.certificate and graph.private_key, the [rich] files) are
// resolved against `base_dir` when it is non-empty. The environment variable
// GRAPHMIRROR_CLIENT_SECRET, when set, supplies graph.client_secret. Unknown keys,
// wrong types, missing required keys and bad values are errors naming the key.
Result<Config> ParseConfig(const std::string& text, const std::string& source,
                           const std::string& base_dir, const EnvLookup& env = ProcessEnv);

// Reads and parses a file; relative paths inside resolve against the file's directory.
Result<Config> LoadConfigFile(const std::string& path, const EnvLookup& env = ProcessEnv);

}  // namespace graphmirror::config

#endif  // GRAPHMIRROR_ENGINE_CONFIG_CONFIG_H_
