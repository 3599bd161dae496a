// A blocking HTTP/1.1 client on raw sockets for the server tests. It shares no code with the server, so a framing
// bug cannot hide on both sides: it parses status lines, fields, Content-Length and chunked bodies itself.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::server::http::testing {

using namespace std::chrono_literals;

struct TestResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;                 // de-chunked
  std::vector<std::string> chunks;  // the chunks of a chunked body, in order
  bool chunked = false;

  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
    }
    return "";
  }
  bool has_header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return true;
    }
    return false;
  }
};

class TestClient {
 public:
  using Clock = std::chrono::steady_clock;

  explicit TestClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~TestClient() { close(); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // "METHOD target HTTP/1.1" with Host, the given fields and a Content-Length when there is a body.
  bool send_request(std::string_view method, std::string_view target, std::string_view body = "",
                    const std::vector<std::pair<std::string, std::string>>& fields = {}) {
    std::string r = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n";
    for (const auto& [n, v] : fields) r += n + ": " + v + "\r\n";
    if (!body.empty() || method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    r += "\r\n";
    r += body;
    return send(r);
  }

  // Reads one whole response (1xx responses are skipped). nullopt on timeout, or when the connection ends first.
  std::optional<TestResponse> read_response(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      auto r = read_head(deadline);
      if (!r) return std::nullopt;
      if (r->status >= 200) {
        if (!read_body(*r, deadline)) return std::nullopt;
        return r;
      }
    }
  }

  // Reads status line and fields only; the body stays to be read with read_chunk().
  std::optional<TestResponse> read_head(Clock::time_point deadline) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    std::string head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    TestResponse r;
    size_t eol = head.find("\r\n");
    std::string status_line = head.substr(0, eol);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) return std::nullopt;
    r.status = std::atoi(status_line.c_str() + 9);
    for (size_t pos = eol + 2; pos < head.size();) {
      size_t next = head.find("\r\n", pos);
      std::string line = head.substr(pos, next - pos);
      pos = next + 2;
      size_t colon = line.find(':');
      if (colon == std::string::npos) return std::nullopt;
      size_t v = line.find_first_not_of(' ', colon + 1);
      r.headers.emplace_back(line.substr(0, colon), v == std::string::npos ? "" : line.substr(v));
    }
    r.chunked = r.header("transfer-encoding") == "chunked";
    return r;
  }

  // The next chunk of a chunked body: "" for the last one, nullopt on timeout or a connection that ended.
  std::optional<std::string> read_chunk(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    size_t eol;
    while ((eol = buf_.find("\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    const size_t size = std::strtoul(buf_.c_str(), nullptr, 16);
    while (buf_.size() < eol + 2 + size + 2) {
      if (!fill(deadline)) return std::nullopt;
    }
    std::string chunk = buf_.substr(eol + 2, size);
    buf_.erase(0, eol + 2 + size + 2);
    return chunk;
  }

  // True when the server closes the connection (EOF or reset) within `timeout`; bytes that arrive are kept.
  bool wait_closed(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (!fill(deadline)) return eof_;
    }
    return false;
  }

  // Bytes received and not yet parsed.
  std::string& buffer() { return buf_; }
  bool eof() const { return eof_; }

 private:
  bool read_body(TestResponse& r, Clock::time_point deadline) {
    if (r.status == 204 || r.status == 304) return true;
    if (r.chunked) {
      for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        auto chunk = read_chunk(std::max(left, std::chrono::milliseconds(1)));
        if (!chunk) return false;
        if (chunk->empty()) return true;
        r.body += *chunk;
        r.chunks.push_back(std::move(*chunk));
      }
    }
    if (r.has_header("content-length")) {
      const size_t n = std::strtoul(r.header("content-length").c_str(), nullptr, 10);
      while (buf_.size() < n) {
        if (!fill(deadline)) return false;
      }
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
      return true;
    }
    while (fill(deadline)) {  // no length: the body ends with the connection
    }
    if (!eof_) return false;
    r.body = std::move(buf_);
    buf_.clear();
    return true;
  }

  // Receives more bytes; false on timeout, EOF or error.
  bool fill(Clock::time_point deadline) {
    if (fd_ < 0 || eof_) return false;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(left));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) return false;
      char tmp[16384];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof_ = true;
        return false;
      }
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
  }

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

}  // namespace tessera::server::http::testing
