// HTTP/1.1 transport on Boost.Beast: asynchronous (a few I/O threads, no thread per connection),
// keep-alive, a time limit on reading each request (slow clients cannot hold a connection), the body
// size limit checked from the headers before the body is read, and a watch on the socket that flags a
// client that hangs up while its request is being computed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bge/engine.h"
#include "server/error_mapping.h"

namespace bge::server {

struct HttpRequest {
    std::string method;  // "GET", "POST", ...
    std::string path;    // target without the query string
    std::string body;
    std::string authorization;           // the Authorization header
    std::string request_id;              // the X-Request-Id header, "" if none
    std::shared_ptr<CancelFlag> cancel;  // set when the client disconnects before the answer
    std::optional<ApiError> error;       // the transport already refused it (body too large, bad HTTP)
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    int retry_after_s = 0;   // > 0: Retry-After header
    std::string request_id;  // echoed as X-Request-Id
};

// Called once per request on an I/O thread; `reply` must be called exactly once, from any thread.
using Reply = std::function<void(HttpResponse)>;
using RequestHandler = std::function<void(HttpRequest, Reply)>;

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 8080;  // 0: any free port
    size_t max_body_bytes = 2 << 20;
    std::chrono::milliseconds read_timeout{30'000};   // to receive one whole request
    std::chrono::milliseconds idle_timeout{60'000};   // between keep-alive requests
    std::chrono::milliseconds write_timeout{30'000};  // to send one response
    int threads = 2;
};

class HttpServer {
 public:
    HttpServer(HttpOptions options, RequestHandler handler);
    ~HttpServer();
    // Binds and listens; returns the port (the chosen one for port 0).
    StatusOr<int> listen();
    // Serves on options.threads threads until stop(); returns then.
    void run();
    // Closes the listening socket; answers still in flight are sent, with Connection: close.
    void stop_accepting();
    // Ends run(): open connections are dropped.
    void stop();
    // Runs `task` on an I/O thread.
    void post(std::function<void()> task);
    // Requests read and not yet answered.
    int in_flight() const;

    struct Impl;  // the listener's state, shared with its connections (http_server.cc)

 private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace bge::server
