// Fuzz target: what mendd does with an HTTP request before routing it, where the code is ours
// (server/net/request_checks.h, static_files.h): Beast's parser reads the bytes as a session
// does (same header and body limits), then refuse_unreadable, check_request, normalize_origin
// and serve_app against a small web directory.
//
// Input: a flags byte (bit 0: the connection is TLS), then the bytes a client sent.
// Properties: nothing crashes; normalize_origin is idempotent and lower case; serve_app
// answers 200, 404 or 405 and a 200 body is one of the web directory's files, never a file
// outside it (a sibling file and a symlink to it are there to be found).
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>

#include <unistd.h>

#include "server/net/request_checks.h"
#include "server/net/static_files.h"
#include "tests/fuzz/fuzz_target.h"

namespace mend::fuzz {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;

constexpr std::size_t kHeaderLimit = 8 * 1024;  // as a small server configuration
constexpr std::size_t kBodyLimit = 64 * 1024;
constexpr const char* kSecret = "outside the web directory\n";

// web/ with an app and assets, and a secret beside it; removed at exit.
class WebDir {
 public:
  WebDir() : root_(fs::temp_directory_path() / ("mend-fuzz-web-" + std::to_string(::getpid()))) {
    fs::create_directories(root_ / "web" / "assets");
    write(root_ / "secret.txt", kSecret);
    files_ = {{"index.html", "<!doctype html><title>mend</title>\n"},
              {"assets/app-1a2b.js", "console.log(1)\n"},
              {"robots.txt", "User-agent: *\n"}};
    for (const auto& [name, content] : files_) write(root_ / "web" / name, content);
    fs::create_symlink(root_ / "secret.txt", root_ / "web" / "link.txt");
  }
  ~WebDir() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  WebDir(const WebDir&) = delete;
  WebDir& operator=(const WebDir&) = delete;

  fs::path web() const { return root_ / "web"; }
  bool serves(const std::string& body) const {
    return std::any_of(files_.begin(), files_.end(),
                       [&](const auto& file) { return file.second == body; });
  }

 private:
  static void write(const fs::path& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
  }
  fs::path root_;
  std::map<std::string, std::string> files_;
};

const WebDir& web_dir() {
  static const WebDir dir;
  return dir;
}

void check_origin(std::string_view value) {
  const auto origin = net::normalize_origin(value);
  if (!origin) return;
  require(std::none_of(origin->begin(), origin->end(),
                       [](unsigned char c) { return std::isupper(c) != 0; }),
          "a normalized origin is lower case");
  const auto again = net::normalize_origin(*origin);
  require(again && *again == *origin, "normalize_origin is idempotent");
}

void check_app(const net::HttpRequest& request) {
  const net::HttpResponse response = net::serve_app(web_dir().web(), request);
  const auto status = response.result();
  require(status == http::status::ok || status == http::status::not_found ||
              status == http::status::method_not_allowed,
          "the app answers 200, 404 or 405");
  require(response.body() != kSecret, "nothing outside the web directory is served");
  if (status == http::status::ok && request.method() == http::verb::get) {
    require(web_dir().serves(response.body()), "a 200 body is a file of the web directory");
  }
}

void check_request(const http::request_parser<http::string_body>& parser, bool tls) {
  const net::HttpRequest& request = parser.get();
  static const std::vector<std::string> allowed = {"https://mend.example:443"};
  if (const auto refusal = net::check_request(request, parser.chunked(), tls, allowed)) {
    require(!refusal->message.empty(), "a refusal has a message");
  }
  if (const auto origin = request.find(http::field::origin); origin != request.end()) {
    check_origin({origin->value().data(), origin->value().size()});
  }
  const std::string_view path = net::target_path(request.target());
  if (net::is_app_path(path)) check_app(request);
}

}  // namespace

std::vector<std::string> seeds() {
  return {
      std::string(1, '\0') + "GET / HTTP/1.1\r\nHost: 127.0.0.1:8480\r\n\r\n",
      std::string(1, '\0') + "GET /assets/app-1a2b.js HTTP/1.1\r\nHost: a\r\n\r\n",
      std::string(1, '\0') + "HEAD /robots.txt?x=1 HTTP/1.1\r\nHost: a\r\n\r\n",
      std::string(1, '\0') + "GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: a\r\n\r\n",
      std::string(1, '\0') + "GET /link.txt HTTP/1.1\r\nHost: a\r\n\r\n",
      std::string(1, '\0') + "GET /..%5csecret.txt HTTP/1.1\r\nHost: a\r\n\r\n",
      std::string(1, '\0') + "GET /room/abc HTTP/1.1\r\nHost: a\r\n\r\n",
      std::string(1, '\1') +
          "POST /v1/rooms HTTP/1.1\r\nHost: mend.example\r\nOrigin: https://MEND.example\r\n"
          "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
      std::string(1, '\0') +
          "POST /v1/rooms HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
          "0\r\n\r\n",
      std::string(1, '\0') +
          "GET /v1/rooms/x/ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Origin: http://evil.example\r\nSec-WebSocket-Version: 13\r\n\r\n",
      std::string(1, '\0') + "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(9000, 'x') + "\r\n\r\n",
  };
}

}  // namespace mend::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mend;
  namespace http = boost::beast::http;
  if (size == 0) return 0;
  const bool tls = (data[0] & 1) != 0;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(fuzz::kHeaderLimit));
  parser.body_limit(fuzz::kBodyLimit);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 1;
  while (!parser.is_done() && used < size) {
    const std::size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    used += n;
    if (ec || n == 0) break;
  }
  if (ec == http::error::need_more) ec = {};
  // put_eof requires some bytes read (Beast asserts it); a session never calls it earlier.
  if (!ec && !parser.is_done() && parser.got_some()) parser.put_eof(ec);
  if (ec) {
    if (const auto refusal = net::refuse_unreadable(ec, fuzz::kHeaderLimit)) {
      fuzz::require(!refusal->message.empty(), "a refusal has a message");
    }
    return 0;
  }
  if (parser.is_done()) fuzz::check_request(parser, tls);
  return 0;
}
