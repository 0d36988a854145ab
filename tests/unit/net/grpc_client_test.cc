// net::GrpcClient against grpc++'s server (an independent HTTP/2 and gRPC implementation:
// unary calls, streams, statuses, deadlines, flow control with messages larger than every
// window) and against a raw socket server that answers with what a broken or hostile server
// might send.
#include "net/grpc_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "nacos_grpc_service.grpc.pb.h"
#include "net/hpack.h"
#include "net/http2.h"

namespace dnsd::net {
namespace {

// Unary: echoes the body with the type "Echo:<type>"; type "Fail" answers NOT_FOUND with a
// message that needs percent-encoding, "Slow" answers after 500 ms.
class EchoUnary final : public ::Request::Service {
  grpc::Status request(grpc::ServerContext* context, const ::Payload* in, ::Payload* out) override {
    if (in->metadata().type() == "Fail") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such thing: caf\xc3\xa9 100%");
    }
    if (in->metadata().type() == "Slow") {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    auto seen = context->client_metadata().find("x-dnsd-test");
    out->mutable_metadata()->set_type("Echo:" + in->metadata().type());
    if (seen != context->client_metadata().end()) {
      out->mutable_metadata()->set_clientip(std::string(seen->second.data(), seen->second.size()));
    }
    out->mutable_body()->set_value(in->body().value());
    return grpc::Status::OK;
  }
};

// Stream: echoes each message; a message of type "End" ends the call with ABORTED.
class EchoStream final : public ::BiRequestStream::Service {
  grpc::Status requestBiStream(grpc::ServerContext*,
                               grpc::ServerReaderWriter<::Payload, ::Payload>* stream) override {
    ::Payload p;
    while (stream->Read(&p)) {
      if (p.metadata().type() == "End") return grpc::Status(grpc::StatusCode::ABORTED, "asked to");
      stream->Write(p);
    }
    return grpc::Status::OK;
  }
};

class GrpcPlusPlusServer {
 public:
  GrpcPlusPlusServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&unary_);
    builder.RegisterService(&stream_);
    builder.SetMaxReceiveMessageSize(16 * 1024 * 1024);
    builder.SetMaxSendMessageSize(16 * 1024 * 1024);
    server_ = builder.BuildAndStart();
  }
  ~GrpcPlusPlusServer() { Shutdown(); }
  void Shutdown() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }
  int port() const { return port_; }

 private:
  EchoUnary unary_;
  EchoStream stream_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

::Payload MakePayload(const std::string& type, const std::string& body) {
  ::Payload p;
  p.mutable_metadata()->set_type(type);
  p.mutable_body()->set_value(body);
  return p;
}

std::unique_ptr<GrpcClient> ConnectTo(int port) {
  GrpcClientOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  options.max_message_bytes = 16 * 1024 * 1024;
  auto client = GrpcClient::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

TEST(GrpcClientTest, UnaryCallsAgainstGrpcPlusPlus) {
  GrpcPlusPlusServer server;
  auto client = ConnectTo(server.port());
  ASSERT_NE(client, nullptr);
  auto answer = client->Call("/Request/request", MakePayload("Hello", "body").SerializeAsString(),
                             {{"x-dnsd-test", "meta value"}}, 3000);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ::Payload p;
  ASSERT_TRUE(p.ParseFromString(*answer));
  EXPECT_EQ(p.metadata().type(), "Echo:Hello");
  EXPECT_EQ(p.metadata().clientip(), "meta value");
  EXPECT_EQ(p.body().value(), "body");

  // 3 MB each way: more than every initial window, so both sides' WINDOW_UPDATEs must work.
  std::string big(3 * 1024 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>('a' + i % 26);
  answer = client->Call("/Request/request", MakePayload("Big", big).SerializeAsString(), {}, 10000);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_TRUE(p.ParseFromString(*answer));
  EXPECT_EQ(p.body().value(), big);

  // Calls from several threads at once share the connection.
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string body = std::to_string(t) + "/" + std::to_string(i);
        auto a =
            client->Call("/Request/request", MakePayload("T", body).SerializeAsString(), {}, 5000);
        ::Payload r;
        if (a.ok() && r.ParseFromString(*a) && r.body().value() == body) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 200);
}

TEST(GrpcClientTest, StatusesDeadlinesAndUnknownMethods) {
  GrpcPlusPlusServer server;
  auto client = ConnectTo(server.port());
  ASSERT_NE(client, nullptr);
  auto failed =
      client->Call("/Request/request", MakePayload("Fail", "").SerializeAsString(), {}, 3000);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(failed.status().message()), "no such thing: caf\xc3\xa9 100%");

  auto slow =
      client->Call("/Request/request", MakePayload("Slow", "").SerializeAsString(), {}, 100);
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded);

  auto unknown = client->Call("/Nope/nope", "", {}, 3000);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnimplemented);

  // The connection is still good after all of that.
  auto fine = client->Call("/Request/request", MakePayload("A", "b").SerializeAsString(), {}, 3000);
  EXPECT_TRUE(fine.ok()) << fine.status();
  EXPECT_FALSE(client->broken());
}

TEST(GrpcClientTest, BidirectionalStreamAgainstGrpcPlusPlus) {
  GrpcPlusPlusServer server;
  auto client = ConnectTo(server.port());
  ASSERT_NE(client, nullptr);
  auto stream = client->OpenStream("/BiRequestStream/requestBiStream", {});
  ASSERT_TRUE(stream.ok()) << stream.status();
  // More than a window's worth in flight before the first read.
  const std::string chunk(100 * 1024, 'y');
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE((*stream)->Write(MakePayload("M" + std::to_string(i), chunk).SerializeAsString()));
  }
  for (int i = 0; i < 30; ++i) {
    std::string message;
    ASSERT_TRUE((*stream)->Read(message));
    ::Payload p;
    ASSERT_TRUE(p.ParseFromString(message));
    EXPECT_EQ(p.metadata().type(), "M" + std::to_string(i));
    EXPECT_EQ(p.body().value().size(), chunk.size());
  }
  // A unary call runs beside the open stream.
  EXPECT_TRUE(
      client->Call("/Request/request", MakePayload("A", "").SerializeAsString(), {}, 3000).ok());
  ASSERT_TRUE((*stream)->Write(MakePayload("End", "").SerializeAsString()));
  std::string message;
  EXPECT_FALSE((*stream)->Read(message));
  EXPECT_EQ((*stream)->status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(std::string((*stream)->status().message()), "asked to");
  EXPECT_FALSE((*stream)->Write("late"));
}

TEST(GrpcClientTest, ServerGoingAwayFailsCallsAndStreams) {
  auto server = std::make_unique<GrpcPlusPlusServer>();
  auto client = ConnectTo(server->port());
  ASSERT_NE(client, nullptr);
  auto stream = client->OpenStream("/BiRequestStream/requestBiStream", {});
  ASSERT_TRUE(stream.ok());
  std::atomic<bool> read_returned{false};
  std::thread reader([&] {
    std::string message;
    while ((*stream)->Read(message)) {
    }
    read_returned = true;
  });
  server.reset();  // shuts down, cancelling the stream, and closes the connection
  reader.join();
  EXPECT_TRUE(read_returned.load());
  EXPECT_FALSE((*stream)->status().ok());
  for (int i = 0; i < 100 && !client->broken(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string why;
  EXPECT_TRUE(client->broken(&why));
  EXPECT_FALSE(why.empty());
  auto call = client->Call("/Request/request", "", {}, 1000);
  EXPECT_EQ(call.status().code(), absl::StatusCode::kUnavailable);
}

TEST(GrpcClientTest, CloseUnblocksAReader) {
  GrpcPlusPlusServer server;
  auto client = ConnectTo(server.port());
  ASSERT_NE(client, nullptr);
  auto stream = client->OpenStream("/BiRequestStream/requestBiStream", {});
  ASSERT_TRUE(stream.ok());
  std::thread reader([&] {
    std::string message;
    EXPECT_FALSE((*stream)->Read(message));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  client->Close();
  reader.join();
  EXPECT_EQ((*stream)->status().code(), absl::StatusCode::kUnavailable);
}

// A one-connection server on a raw socket: reads the client's preface and first request,
// then runs `script` with the socket (it writes whatever it wants).
class RawServer {
 public:
  explicit RawServer(std::function<void(int fd)> script) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 1);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, script = std::move(script)] {
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      script(fd);
      // Keep the socket until the client is done with it.
      char buffer[4096];
      pollfd p{fd, POLLIN, 0};
      while (poll(&p, 1, 2000) == 1 && read(fd, buffer, sizeof(buffer)) > 0) {
      }
      close(fd);
    });
  }
  ~RawServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

void SendAll(int fd, const std::string& bytes) {
  size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + at, bytes.size() - at);
    if (n <= 0) return;
    at += static_cast<size_t>(n);
  }
}

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  uint8_t header[h2::kFrameHeader];
  h2::PutFrameHeader(header, payload.size(), type, flags, stream);
  return std::string(reinterpret_cast<char*>(header), sizeof(header)) + payload;
}

std::string ResponseHeaders(const std::string& status) {
  std::string block;
  HpackAppendLiteral(block, 8, "", status);  // :status
  HpackAppendLiteral(block, 31, "", "application/grpc");
  return block;
}

std::string Trailers(int code, const std::string& message = {}) {
  std::string block;
  HpackAppendLiteral(block, 0, "grpc-status", std::to_string(code));
  if (!message.empty()) HpackAppendLiteral(block, 0, "grpc-message", message);
  return block;
}

std::string GrpcMessage(uint8_t flag, const std::string& body) {
  std::string out(h2::kGrpcPrefix, '\0');
  out[0] = static_cast<char>(flag);
  h2::PutBe32(reinterpret_cast<uint8_t*>(out.data()) + 1, static_cast<uint32_t>(body.size()));
  return out + body;
}

// Reads the client's preface and frames until its request has ended (END_STREAM on DATA).
void ReadRequest(int fd) {
  std::string in;
  char buffer[4096];
  size_t at = h2::kPreface.size();
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, 2000) == 1) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return;
    in.append(buffer, static_cast<size_t>(n));
    while (in.size() >= at + h2::kFrameHeader) {
      const auto* h = reinterpret_cast<const uint8_t*>(in.data() + at);
      const size_t length = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
      if (in.size() < at + h2::kFrameHeader + length) break;
      if (h[3] == h2::kData && (h[4] & h2::kEndStream) != 0) return;
      at += h2::kFrameHeader + length;
    }
  }
}

// What a raw server sends for stream 1 once it has the request, and what the call gets.
absl::StatusOr<std::string> CallRaw(const std::string& answer_frames) {
  RawServer server([&](int fd) {
    SendAll(fd, Frame(h2::kSettings, 0, 0, ""));
    ReadRequest(fd);
    SendAll(fd, answer_frames);
  });
  GrpcClientOptions options;
  options.host = "127.0.0.1";
  options.port = server.port();
  options.max_message_bytes = 1024;
  auto client = GrpcClient::Connect(options);
  if (!client.ok()) return client.status();
  return (*client)->Call("/Request/request", "hello", {}, 2000);
}

TEST(GrpcClientTest, BadServersGetClearErrorsNotCrashes) {
  // A well-formed answer first, so the harness is known to work.
  auto ok = CallRaw(Frame(h2::kHeaders, h2::kEndHeaders, 1, ResponseHeaders("200")) +
                    Frame(h2::kData, 0, 1, GrpcMessage(0, "world")) +
                    Frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1, Trailers(0)));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, "world");

  // HTTP 503 without grpc-status: UNAVAILABLE (gRPC's HTTP mapping).
  auto http_error =
      CallRaw(Frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1, ResponseHeaders("503")));
  EXPECT_EQ(http_error.status().code(), absl::StatusCode::kUnavailable);

  // A compressed message although none was asked for.
  auto compressed = CallRaw(Frame(h2::kHeaders, h2::kEndHeaders, 1, ResponseHeaders("200")) +
                            Frame(h2::kData, 0, 1, GrpcMessage(1, "zz")));
  EXPECT_EQ(compressed.status().code(), absl::StatusCode::kInternal);

  // A message over the limit.
  auto huge = CallRaw(Frame(h2::kHeaders, h2::kEndHeaders, 1, ResponseHeaders("200")) +
                      Frame(h2::kData, 0, 1, GrpcMessage(0, std::string(2000, 'h'))));
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted);

  // The stream ends without a grpc-status.
  auto no_status = CallRaw(Frame(h2::kHeaders, h2::kEndHeaders, 1, ResponseHeaders("200")) +
                           Frame(h2::kData, h2::kEndStream, 1, GrpcMessage(0, "x")));
  EXPECT_EQ(no_status.status().code(), absl::StatusCode::kInternal);

  // A grpc-status that is no number: UNKNOWN, with the message decoded.
  auto odd_status = CallRaw(Frame(h2::kHeaders, h2::kEndHeaders, 1, ResponseHeaders("200")) +
                            Frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1, [] {
                              std::string block;
                              HpackAppendLiteral(block, 0, "grpc-status", "banana");
                              HpackAppendLiteral(block, 0, "grpc-message", "bad%20thing%");
                              return block;
                            }()));
  EXPECT_EQ(odd_status.status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(std::string(odd_status.status().message()), "bad thing%");

  // The stream reset by the server.
  std::string code(4, '\0');
  h2::PutBe32(reinterpret_cast<uint8_t*>(code.data()), h2::kRefusedStream);
  auto reset = CallRaw(Frame(h2::kRstStream, 0, 1, code));
  EXPECT_EQ(reset.status().code(), absl::StatusCode::kUnavailable);

  // Header blocks that do not decode, a frame larger than we allow, PUSH_PROMISE, a bad
  // PING: the connection ends with a clear error.
  for (const std::string& frames :
       {Frame(h2::kHeaders, h2::kEndHeaders, 1, std::string("\xff\xff\xff\xff", 4)),
        Frame(h2::kData, 0, 1, std::string(20000, 'd')),
        Frame(h2::kPushPromise, h2::kEndHeaders, 1, std::string(4, '\0')),
        Frame(h2::kPing, 0, 0, "short")}) {
    auto broken = CallRaw(frames);
    EXPECT_EQ(broken.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_NE(std::string(broken.status().message()).find("HTTP/2 protocol error"),
              std::string::npos)
        << broken.status();
  }
}

TEST(GrpcClientTest, ServersThatDoNotSpeakHttp2AreRefused) {
  // Not HTTP/2 at all: the connection does not come up.
  {
    RawServer server([](int fd) { SendAll(fd, "HTTP/1.1 400 Bad Request\r\n\r\n"); });
    GrpcClientOptions options;
    options.host = "127.0.0.1";
    options.port = server.port();
    options.connect_timeout_ms = 1000;
    auto client = GrpcClient::Connect(options);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  }
  // Silent: SETTINGS never come.
  {
    RawServer server([](int) {});
    GrpcClientOptions options;
    options.host = "127.0.0.1";
    options.port = server.port();
    options.connect_timeout_ms = 300;
    auto client = GrpcClient::Connect(options);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  }
  // Nobody listening.
  {
    GrpcClientOptions options;
    options.host = "127.0.0.1";
    options.port = 1;
    EXPECT_EQ(GrpcClient::Connect(options).status().code(), absl::StatusCode::kUnavailable);
  }
}

}  // namespace
}  // namespace dnsd::net
