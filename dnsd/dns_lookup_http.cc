#include "dnsd/dns_lookup_http.h"

#include "api/json_writer.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "dnsd/dns_lookup.h"

namespace dnsd::dns {
namespace {

constexpr size_t kMaxWaiting = 32;

api::HttpResponse JsonAnswer(int status, const Json::Value& value) {
  Json::StreamWriterBuilder builder;
  builder["indentation"] = "";
  return api::HttpResponse::Json(status, Json::writeString(builder, value));
}

api::HttpResponse Error(int status, std::string_view message) {
  Json::Value body(Json::objectValue);
  body["error"] = std::string(message);
  return JsonAnswer(status, body);
}

}  // namespace

void DnsLookupHttp::RegisterRoutes(api::HttpServer& server) {
  server.Route(
      "/dnsd/v1/dns/lookup",
      [this](const api::HttpRequest& req, api::Responder& resp) {
        LookupRequest request;
        request.name = req.params.Get("name");
        request.type = req.params.Get("type", "A");
        request.tcp = req.params.Get("tcp") == "true";
        if (request.name.empty()) return resp.Send(Error(400, "Parameter 'name' is missing"));
        api::DeferredReply reply = resp.Defer();
        std::unique_lock lock(mu_);
        if (stopping_ || dns_port_ == 0 || queue_.size() >= kMaxWaiting) {
          lock.unlock();
          reply.Send(Error(503, "the DNS lookup queue is full or DNS is not serving"));
          return;
        }
        request.server_ip = dns_ip_;
        request.port = dns_port_;
        queue_.push_back([request, reply] {
          auto answer = LookupJson(request);
          if (answer.ok()) {
            reply.Send(JsonAnswer(200, *answer));
          } else {
            reply.Send(Error(absl::IsInvalidArgument(answer.status()) ? 400 : 504,
                             common::ToStd(answer.status().message())));
          }
        });
        cv_.notify_one();
      },
      api::kGetMethod);
}

void DnsLookupHttp::Start(std::string dns_ip, int dns_port) {
  {
    std::lock_guard lock(mu_);
    dns_ip_ = std::move(dns_ip);
    dns_port_ = dns_port;
  }
  thread_ = std::thread([this] {
    common::SetThreadName("dns-lookup");
    Run();
  });
}

void DnsLookupHttp::Run() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

void DnsLookupHttp::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace dnsd::dns
