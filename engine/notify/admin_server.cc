#include "engine/notify/admin_server.h"

#include <httplib.h>

namespace graphmirror::notify {

struct AdminServer::Impl {
  std::string host;
  int port = -1;  // -1: the address has no port
  AdminHandler handler;
  httplib::Server server;
  std::thread thread;
};

AdminServer::AdminServer(std::string listen, AdminHandler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  const size_t colon = listen.rfind(':');
  if (colon != std::string::npos) {
    impl_->host = listen.substr(0, colon);
    if (impl_->host.size() > 2 && impl_->host.front() == '[') {
      impl_->host = impl_->host.substr(1, impl_->host.size() - 2);  // [::1]
    }
    try {
      impl_->port = std::stoi(listen.substr(colon + 1));
    } catch (const std::exception&) {
      impl_->port = -1;
    }
  }
}

AdminServer::~AdminServer() { Stop(); }

Status AdminServer::Start() {
  Impl& impl = *impl_;
  const std::string where = impl.host + ":" + std::to_string(impl.port);
  if (impl.port < 0) return Status::InvalidArgument("metrics.listen is not host:port");
  // Few, short requests (a scrape every few seconds): a small pool, short keep-alive.
  impl.server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  impl.server.set_keep_alive_timeout(2);
  impl.server.set_read_timeout(10, 0);
  impl.server.set_write_timeout(10, 0);
  auto serve = [&impl](const httplib::Request& req, httplib::Response& res) {
    std::optional<AdminResponse> answer = impl.handler ? impl.handler(req.path) : std::nullopt;
    if (!answer) {
      res.status = 404;
      res.set_content("not found\n", "text/plain; charset=utf-8");
      return;
    }
    res.status = answer->status;
    res.set_content(answer->body, answer->content_type);
  };
  impl.server.Get(".*", serve);
  auto refuse = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
  };
  impl.server.Post(".*", refuse);
  impl.server.Put(".*", refuse);
  impl.server.Delete(".*", refuse);
  impl.server.Patch(".*", refuse);
  int bound = impl.port == 0 ? impl.server.bind_to_any_port(impl.host)
                             : (impl.server.bind_to_port(impl.host, impl.port) ? impl.port : -1);
  if (bound <= 0) {
    return Status::Unavailable("metrics: cannot listen on " + where +
                               " (address in use, or not an address of this machine)");
  }
  port_.store(bound);
  impl.thread = std::thread([&impl] { impl.server.listen_after_bind(); });
  return Status::Ok();
}

void AdminServer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace graphmirror::notify
