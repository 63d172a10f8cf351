// The browser app (web/, built by Vite into web/dist) served at `/` (DESIGN 8, issue 11).
// Internal to server/net. Pure functions of the request and the directory's files: no state,
// safe from any thread.
//
// Contract of serve_app:
// - GET and HEAD only (other methods: 405). HEAD answers GET's headers with no body.
// - A path naming a regular file under `web_dir` serves it with its MIME type. Nothing outside
//   `web_dir` is ever served: `..` segments, backslashes, NUL and percent-encoded forms of them
//   are refused, and the resolved file must still lie inside the directory (symlinks too).
// - Hashed assets (`/assets/...`, Vite's output) are cached for a year as immutable; every
//   other file (index.html above all) is `no-cache`, so a new build is picked up at once.
// - A path that is not a file and looks like one (`/assets/...`, or a last segment with a
//   dot) is 404; any other path is an app route (single-page app) and gets index.html.
// - When `web_dir` holds no index.html, app routes answer a plain 404 page saying the app was
//   not built (the server keeps serving the API).
#pragma once

#include <filesystem>
#include <string_view>

#include "server/net/http_api.h"

namespace mend::net {

// Largest file served; the app's bundles are far below it.
inline constexpr std::uintmax_t kMaxStaticFileBytes = 16U * 1024 * 1024;

inline constexpr std::string_view kImmutableCache = "public, max-age=31536000, immutable";

// The Content-Security-Policy of every response: same-origin scripts, styles, images and
// connections only (CSP 3's 'self' covers ws:/wss: to the page's own host), no inline script,
// no framing.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

// True for paths the app owns: everything outside the HTTP API (/v1/..., /healthz, /readyz,
// /metrics), which keeps its own JSON errors.
bool is_app_path(std::string_view path);

// Answers a request for an app path from `web_dir` (see the contract above).
HttpResponse serve_app(const std::filesystem::path& web_dir, const HttpRequest& request);

// Adds CSP, Referrer-Policy: no-referrer and X-Content-Type-Options: nosniff. Applied to every
// HTTP response mendd writes.
void add_security_headers(HttpResponse& response);

// The MIME type for a file name's extension (application/octet-stream when unknown).
std::string_view mime_type(std::string_view file_name);

}  // namespace mend::net
