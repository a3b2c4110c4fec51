// AdminServer: a small HTTP listener of its own for the operator's endpoints (GET
// /metrics, /healthz) when `[metrics] listen` puts them on another address than the
// webhook: Prometheus scrapes a private port while only the webhook faces Graph. It
// answers GET and HEAD through an AdminHandler (404 for paths it does not serve, 405 for
// other methods) and nothing else: no notification is ever taken here.
//
// Thread-safety: Start and Stop from the owning thread; port() from any thread. The
// handler runs on the server's threads, several at once.

#ifndef GRAPHMIRROR_ENGINE_NOTIFY_ADMIN_SERVER_H_
#define GRAPHMIRROR_ENGINE_NOTIFY_ADMIN_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "engine/notify/receiver.h"
#include "graphmirror/status.h"

namespace graphmirror::notify {

class AdminServer {
 public:
  // `listen` is "host:port" (port 0: any free one, see port()).
  AdminServer(std::string listen, AdminHandler handler);
  ~AdminServer();  // Stop()s
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and serves; fails with a message naming the address if it cannot bind.
  Status Start();
  void Stop();
  int port() const { return port_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> port_{0};
};

}  // namespace graphmirror::notify

#endif  // GRAPHMIRROR_ENGINE_NOTIFY_ADMIN_SERVER_H_
