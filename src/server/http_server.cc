#include "server/http_server.h"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <thread>
#include <vector>

namespace bge::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
    HttpOptions options;
    RequestHandler handler;
    net::io_context io;
    tcp::acceptor acceptor{io};
    net::steady_timer retry_timer{io};
    std::atomic<int> in_flight{0};
    std::atomic<bool> accepting{false};

    void accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
    Session(tcp::socket socket, HttpServer::Impl& server) : stream_(std::move(socket)), server_(server) {}

    void start() { read(server_.options.read_timeout); }

 private:
    void read(std::chrono::milliseconds timeout) {
        parser_.emplace();
        parser_->body_limit(server_.options.max_body_bytes);
        parser_->header_limit(16 * 1024);
        stream_.expires_after(timeout);
        http::async_read_header(stream_, buffer_, *parser_,
                                beast::bind_front_handler(&Session::on_header, shared_from_this()));
    }

    // Clients that send `Expect: 100-continue` (curl, for bodies over 1 KB) wait for a go-ahead.
    void on_header(beast::error_code ec, size_t n) {
        if (ec) return on_read(ec, n);
        if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
            auto go =
                std::make_shared<http::response<http::empty_body>>(http::status::continue_, parser_->get().version());
            http::async_write(stream_, *go, [self = shared_from_this(), go](beast::error_code ec, size_t n) {
                if (ec) return self->close();
                self->read_body();
            });
            return;
        }
        read_body();
    }

    void read_body() {
        http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, size_t) {
        if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
            ec == net::error::connection_reset || ec == net::error::eof) {
            return close();
        }
        HttpRequest request;
        request.cancel = std::make_shared<CancelFlag>();
        cancel_ = request.cancel;
        keep_alive_ = false;
        if (ec == http::error::body_limit) {
            request.error = body_too_large(server_.options.max_body_bytes);
        } else if (ec) {
            request.error = bad_http(ec.message());
        }
        {
            // Filled as far as parsing got: a body over the limit is refused before the header counts as done.
            const auto& msg = parser_->get();
            request.method = std::string(msg.method_string());
            const std::string_view target(msg.target().data(), msg.target().size());
            request.path = std::string(target.substr(0, target.find('?')));
            request.authorization = std::string(msg[http::field::authorization]);
            request.request_id = std::string(msg["X-Request-Id"]);
            version_ = msg.version();
            keep_alive_ = !ec && msg.keep_alive();
        }
        if (!ec) request.body = parser_->release().body();
        ++server_.in_flight;
        stream_.expires_never();  // the request's own deadline bounds the work from here
        if (keep_alive_) watch_hang_up();
        auto self = shared_from_this();
        server_.handler(std::move(request), [self](HttpResponse response) {
            net::post(self->stream_.get_executor(),
                      [self, r = std::move(response)]() mutable { self->write(std::move(r)); });
        });
    }

    // A peek that reads end-of-stream (or a reset) is a client that hung up; wake-ups without data re-arm
    // the watch, pipelined data ends it.
    void watch_hang_up() {
        stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
            if (ec) return;  // cancelled when the answer is written
            char c;
            const ssize_t n = ::recv(self->stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return self->watch_hang_up();
            if (n <= 0 && self->cancel_) self->cancel_->cancel();
        });
    }

    void write(HttpResponse r) {
        beast::error_code ignored;
        stream_.socket().cancel(ignored);  // ends the hang-up watch
        auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
        res->set(http::field::server, "bge.cpp");
        res->set(http::field::content_type, r.content_type);
        if (r.retry_after_s > 0) res->set(http::field::retry_after, std::to_string(r.retry_after_s));
        if (!r.request_id.empty()) res->set("X-Request-Id", r.request_id);
        res->keep_alive(keep_alive_ && server_.accepting);
        res->body() = std::move(r.body);
        res->prepare_payload();
        stream_.expires_after(server_.options.write_timeout);
        http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
            --self->server_.in_flight;
            if (ec || !res->keep_alive()) return self->close();
            self->read(self->server_.options.idle_timeout);
        });
    }

    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.close();
    }

    beast::tcp_stream stream_;
    HttpServer::Impl& server_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::shared_ptr<CancelFlag> cancel_;
    unsigned version_ = 11;
    bool keep_alive_ = false;
};

}  // namespace

void HttpServer::Impl::accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
        if (!accepting) return;
        if (!ec) {
            std::make_shared<Session>(std::move(socket), *this)->start();
            return accept();
        }
        // Out of file descriptors or the like: try again shortly instead of spinning.
        retry_timer.expires_after(std::chrono::milliseconds(50));
        retry_timer.async_wait([this](beast::error_code) {
            if (accepting) accept();
        });
    });
}

HttpServer::HttpServer(HttpOptions options, RequestHandler handler) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() = default;

StatusOr<int> HttpServer::listen() {
    beast::error_code ec;
    const auto address = net::ip::make_address(impl_->options.host, ec);
    if (ec) return invalid_argument("--host " + impl_->options.host + " is not an IP address: " + ec.message());
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(impl_->options.port));
    tcp::acceptor& a = impl_->acceptor;
    const std::string where = impl_->options.host + ":" + std::to_string(impl_->options.port);
    if (a.open(endpoint.protocol(), ec); ec)
        return unavailable("cannot open a socket for " + where + ": " + ec.message());
    a.set_option(net::socket_base::reuse_address(true), ec);
    if (a.bind(endpoint, ec); ec) return unavailable("cannot bind " + where + ": " + ec.message());
    if (a.listen(net::socket_base::max_listen_connections, ec); ec) {
        return unavailable("cannot listen on " + where + ": " + ec.message());
    }
    impl_->accepting = true;
    impl_->accept();
    return static_cast<int>(a.local_endpoint().port());
}

void HttpServer::run() {
    std::vector<std::thread> threads;
    for (int i = 1; i < impl_->options.threads; ++i) threads.emplace_back([this] { impl_->io.run(); });
    impl_->io.run();
    for (std::thread& t : threads) t.join();
}

void HttpServer::stop_accepting() {
    net::post(impl_->io, [this] {
        impl_->accepting = false;
        beast::error_code ignored;
        impl_->acceptor.close(ignored);
        impl_->retry_timer.cancel();
    });
}

void HttpServer::stop() {
    impl_->io.stop();
}

void HttpServer::post(std::function<void()> task) {
    net::post(impl_->io, std::move(task));
}

int HttpServer::in_flight() const {
    return impl_->in_flight;
}

}  // namespace bge::server
