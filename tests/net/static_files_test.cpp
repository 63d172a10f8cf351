// The browser app served at / (server/net/static_files.h): MIME types, caching, the SPA
// fallback, path traversal, HEAD, and the security headers on every response.
#include "server/net/static_files.h"

#include <doctest/doctest.h>

#include <fstream>

#include "tests/common/temp_dir.h"
#include "tests/net/net_support.h"

namespace mend::net::testing {
namespace {

constexpr const char* kIndexHtml = "<!doctype html><title>mend</title>";
constexpr const char* kScript = "console.log('app')";

void write_file(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

// A built app: index.html, a hashed script, a file at the top; and a secret beside it.
struct BuiltApp {
  mend::testing::TempDir dir{"web"};
  std::filesystem::path web = dir.path() / "dist";
  BuiltApp() {
    write_file(web / "index.html", kIndexHtml);
    write_file(web / "assets/index-3f2a1b.js", kScript);
    write_file(web / "assets/index-3f2a1b.css", "body{}");
    write_file(web / "robots.txt", "User-agent: *");
    write_file(dir.path() / "secret.txt", "do not serve");
  }
};

HttpResponse get(const std::filesystem::path& web, const std::string& target,
                 http::verb method = http::verb::get) {
  HttpRequest request{method, target, 11};
  return serve_app(web, request);
}

// A raw request to a running server, with every header of the answer.
http::response<http::string_body> fetch(unsigned short port, http::verb method,
                                        const std::string& target) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(kWait);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::connection, "close");
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.skip(method == http::verb::head);
  http::read(stream, buffer, parser);
  return parser.release();
}

TEST_CASE("the app's files are served with their MIME types") {
  BuiltApp app;
  const auto index = get(app.web, "/");
  CHECK(index.result() == http::status::ok);
  CHECK(index[http::field::content_type] == "text/html; charset=utf-8");
  CHECK(index.body() == kIndexHtml);
  CHECK(get(app.web, "/assets/index-3f2a1b.js")[http::field::content_type] ==
        "text/javascript; charset=utf-8");
  CHECK(get(app.web, "/assets/index-3f2a1b.css")[http::field::content_type] ==
        "text/css; charset=utf-8");
  CHECK(get(app.web, "/robots.txt")[http::field::content_type] == "text/plain; charset=utf-8");
  CHECK(mime_type("icon.svg") == "image/svg+xml");
  CHECK(mime_type("blob.xyz") == "application/octet-stream");
}

TEST_CASE("hashed assets are cached for a year and index.html is revalidated every time") {
  BuiltApp app;
  CHECK(get(app.web, "/assets/index-3f2a1b.js")[http::field::cache_control] == kImmutableCache);
  CHECK(get(app.web, "/")[http::field::cache_control] == "no-cache");
  CHECK(get(app.web, "/index.html")[http::field::cache_control] == "no-cache");
  CHECK(get(app.web, "/join")[http::field::cache_control] == "no-cache");
}

TEST_CASE("an app route that is not a file gets index.html, a missing asset gets 404") {
  BuiltApp app;
  const auto route = get(app.web, "/join?x=1");
  CHECK(route.result() == http::status::ok);
  CHECK(route.body() == kIndexHtml);
  CHECK(get(app.web, "/conversation/later").body() == kIndexHtml);
  CHECK(get(app.web, "/assets/gone-123.js").result() == http::status::not_found);
  CHECK(get(app.web, "/assets/").result() == http::status::not_found);
  CHECK(get(app.web, "/favicon.ico").result() == http::status::not_found);
}

TEST_CASE("no path reaches a file outside the web directory") {
  BuiltApp app;
  for (const char* target :
       {"/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
        "/assets/..%2f..%2fsecret.txt", "/..\\secret.txt", "/%5c..%5csecret.txt",
        "/secret.txt%00.js", "/%zz", "/./index.html", "//../secret.txt"}) {
    CAPTURE(target);
    const auto response = get(app.web, target);
    CHECK(response.body().find("do not serve") == std::string::npos);
    CHECK(response.result() == http::status::not_found);
  }
}

TEST_CASE("a symlink out of the web directory is not followed") {
  BuiltApp app;
  std::filesystem::create_symlink(app.dir.path() / "secret.txt", app.web / "leak.txt");
  const auto response = get(app.web, "/leak.txt");
  CHECK(response.result() == http::status::not_found);
  CHECK(response.body().find("do not serve") == std::string::npos);
}

TEST_CASE("HEAD answers GET's headers without a body") {
  BuiltApp app;
  const auto head = get(app.web, "/assets/index-3f2a1b.js", http::verb::head);
  CHECK(head.result() == http::status::ok);
  CHECK(head.body().empty());
  CHECK(head[http::field::content_length] == std::to_string(std::string(kScript).size()));
}

TEST_CASE("other methods on the app are refused with 405") {
  BuiltApp app;
  const auto post = get(app.web, "/", http::verb::post);
  CHECK(post.result() == http::status::method_not_allowed);
  CHECK(post[http::field::allow] == "GET, HEAD");
}

TEST_CASE("without a built app, / answers a 404 page saying so") {
  mend::testing::TempDir empty("web-empty");
  const auto response = get(empty.path() / "dist", "/");
  CHECK(response.result() == http::status::not_found);
  CHECK(response[http::field::content_type] == "text/html; charset=utf-8");
  CHECK(response.body().find("not built") != std::string::npos);
}

TEST_CASE("mendd serves the app at / and keeps the API's JSON 404 under /v1/") {
  BuiltApp app;
  TestServer server(test_config(), {}, nullptr, nullptr, nullptr, app.web);
  const auto index = fetch(server.port(), http::verb::get, "/");
  CHECK(index.result() == http::status::ok);
  CHECK(index.body() == kIndexHtml);
  const auto head = fetch(server.port(), http::verb::head, "/");
  CHECK(head.result() == http::status::ok);
  CHECK(head[http::field::content_length] == std::to_string(std::string(kIndexHtml).size()));
  const auto api = fetch(server.port(), http::verb::get, "/v1/nowhere");
  CHECK(api.result() == http::status::not_found);
  CHECK(api[http::field::content_type] == "application/json");
  CHECK(fetch(server.port(), http::verb::get, "/healthz").result() == http::status::ok);
}

TEST_CASE("every response carries the CSP, no-referrer and nosniff headers") {
  BuiltApp app;
  TestServer server(test_config(), {}, nullptr, nullptr, nullptr, app.web);
  for (const char* target : {"/", "/assets/index-3f2a1b.js", "/assets/gone.js", "/healthz",
                             "/v1/templates", "/v1/nowhere"}) {
    CAPTURE(target);
    const auto response = fetch(server.port(), http::verb::get, target);
    CHECK(response["Content-Security-Policy"] == kContentSecurityPolicy);
    CHECK(response["Referrer-Policy"] == "no-referrer");
    CHECK(response["X-Content-Type-Options"] == "nosniff");
  }
  const std::string csp(kContentSecurityPolicy);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
}

}  // namespace
}  // namespace mend::net::testing
