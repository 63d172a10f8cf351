#include "server/net/static_files.h"

#include <array>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include <boost/beast/http/field.hpp>

namespace mend::net {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kAssetsPrefix = "/assets/";
constexpr std::string_view kIndex = "index.html";
constexpr const char* kTextPlain = "text/plain; charset=utf-8";

constexpr const char* kNotBuiltPage =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mend</title></head>"
    "<body><h1>The mend web app is not built yet</h1>"
    "<p>The server is running, but it has no app to show. Build it with "
    "<code>tools/run.sh</code> (or <code>npm ci &amp;&amp; npm run build</code> in "
    "<code>web/</code>), or point <code>--web-dir</code> at a built app.</p></body></html>\n";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes a path; nullopt when an escape is malformed.
std::optional<std::string> percent_decode(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') {
      out.push_back(path[i]);
      continue;
    }
    if (i + 2 >= path.size()) return std::nullopt;
    const int high = hex_value(path[i + 1]);
    const int low = hex_value(path[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

// The decoded path relative to the web dir when every segment is a plain name; nullopt for
// `..`, `.`, backslashes, NUL or a malformed escape.
std::optional<std::filesystem::path> safe_relative(std::string_view target_path) {
  auto decoded = percent_decode(target_path);
  if (!decoded || decoded->empty() || decoded->front() != '/') return std::nullopt;
  if (decoded->find('\\') != std::string::npos || decoded->find('\0') != std::string::npos) {
    return std::nullopt;
  }
  std::filesystem::path relative;
  std::string_view rest(*decoded);
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "." || segment == "..") return std::nullopt;
    if (!segment.empty()) relative /= std::string(segment);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash);
  }
  return relative;
}

// True when `candidate` (resolved, symlinks followed) lies inside `root`.
bool inside(const std::filesystem::path& root, const std::filesystem::path& candidate) {
  std::error_code ec;
  const auto real_root = std::filesystem::weakly_canonical(root, ec);
  if (ec) return false;
  const auto real_file = std::filesystem::weakly_canonical(candidate, ec);
  if (ec) return false;
  const auto relative = real_file.lexically_relative(real_root);
  return !relative.empty() && *relative.begin() != "..";
}

bool is_file(const std::filesystem::path& file) {
  std::error_code ec;
  return std::filesystem::is_regular_file(file, ec);
}

std::optional<std::string> read_file(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec || size > kMaxStaticFileBytes) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

HttpResponse make(const HttpRequest& request, http::status status, std::string_view type,
                  std::string_view cache, std::string body) {
  HttpResponse response{status, request.version()};
  response.set(http::field::server, "mendd");
  response.set(http::field::content_type, type);
  response.set(http::field::cache_control, cache);
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  // HEAD: GET's headers (Content-Length included), no body.
  if (request.method() == http::verb::head) response.body().clear();
  return response;
}

HttpResponse not_found(const HttpRequest& request) {
  return make(request, http::status::not_found, kTextPlain, "no-store",
              "There is nothing at this address.\n");
}

HttpResponse serve_file(const HttpRequest& request, const std::filesystem::path& file,
                        std::string_view cache) {
  auto body = read_file(file);
  if (!body) return not_found(request);
  return make(request, http::status::ok, mime_type(file.filename().string()), cache,
              std::move(*body));
}

// An address that names a file rather than an app route.
bool looks_like_file(std::string_view path) {
  if (path.starts_with(kAssetsPrefix)) return true;
  const std::string_view last = path.substr(path.rfind('/') + 1);
  return last.find('.') != std::string_view::npos;
}

}  // namespace

bool is_app_path(std::string_view path) {
  return !path.starts_with("/v1/") && path != "/v1" && path != "/healthz" && path != "/readyz" &&
         path != "/metrics";
}

std::string_view mime_type(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
  }};
  for (const auto& [extension, type] : kTypes) {
    if (file_name.ends_with(extension)) return type;
  }
  return "application/octet-stream";
}

HttpResponse serve_app(const std::filesystem::path& web_dir, const HttpRequest& request) {
  const auto method = request.method();
  if (method != http::verb::get && method != http::verb::head) {
    auto response = make(request, http::status::method_not_allowed, kTextPlain, "no-store",
                         "The app is read with GET or HEAD.\n");
    response.set(http::field::allow, "GET, HEAD");
    return response;
  }
  const std::string_view path = target_path(request.target());
  const auto relative = safe_relative(path);
  if (!relative) return not_found(request);
  const std::filesystem::path file = web_dir / *relative;
  if (!relative->empty() && is_file(file)) {
    if (!inside(web_dir, file)) return not_found(request);
    const bool hashed = path.starts_with(kAssetsPrefix);
    return serve_file(request, file, hashed ? kImmutableCache : "no-cache");
  }
  if (looks_like_file(path)) return not_found(request);
  const std::filesystem::path index = web_dir / kIndex;
  if (!is_file(index)) {
    return make(request, http::status::not_found, "text/html; charset=utf-8", "no-store",
                kNotBuiltPage);
  }
  return serve_file(request, index, "no-cache");
}

void add_security_headers(HttpResponse& response) {
  response.set("Content-Security-Policy", kContentSecurityPolicy);
  response.set("Referrer-Policy", "no-referrer");
  response.set("X-Content-Type-Options", "nosniff");
}

}  // namespace mend::net
