// GET /dnsd/v1/dns/lookup?name=&type=[&tcp=true]: dnsd asks its own DNS port the question
// (dns_lookup.h) and answers the reply as JSON, so the console's DNS page shows exactly what
// dig would get. The query can wait on the forwarder's upstreams, so it runs on a thread of
// its own, never on an HTTP loop; at most 32 wait their turn (beyond: 503).
// Thread-safety: Start before the HTTP server serves, Stop after it stopped.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "api/http_server.h"

namespace dnsd::dns {

class DnsLookupHttp {
 public:
  void RegisterRoutes(api::HttpServer& server);
  // Where the DNS port is, once it listens (LocalDnsAddress).
  void Start(std::string dns_ip, int dns_port);
  void Stop();
  ~DnsLookupHttp() { Stop(); }

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::string dns_ip_;
  int dns_port_ = 0;
  std::thread thread_;
};

}  // namespace dnsd::dns
