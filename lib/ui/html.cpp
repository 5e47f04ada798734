#include "ui/html.h"

#include "core/error.h"

namespace mlo::ui {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string esc(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char c = s[i];
    switch (c) {
      case '<': o += "&lt;"; ++i; continue;
      case '>': o += "&gt;"; ++i; continue;
      case '&': o += "&amp;"; ++i; continue;
      case '"': o += "&quot;"; ++i; continue;
      case '\'': o += "&#39;"; ++i; continue;
      default: break;
    }
    std::size_t n = utf8_length(s, i);
    if (n == 0) {
      o += "\xEF\xBF\xBD";
      ++i;
    } else if (n == 1 && static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
      o += ' ';  // control characters
      ++i;
    } else {
      o.append(s.substr(i, n));
      i += n;
    }
  }
  return o;
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      o += c;
    } else {
      o += '%';
      o += hex[u >> 4];
      o += hex[u & 15];
    }
  }
  return o;
}

std::string url_decode(std::string_view s) {
  std::string o;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      o += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      o += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      o += s[i];
    }
  }
  return o;
}

QueryParams parse_query(std::string_view query, std::size_t max_params, std::size_t max_length) {
  if (query.size() > max_length)
    throw UsageError("the query string is longer than " + std::to_string(max_length) + " bytes",
                     "use fewer or shorter filters");
  QueryParams out;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    if (out.size() >= max_params)
      throw UsageError("more than " + std::to_string(max_params) + " query parameters", "use fewer filters");
    std::size_t eq = part.find('=');
    out.emplace_back(url_decode(part.substr(0, eq)),
                     eq == std::string_view::npos ? std::string{} : url_decode(part.substr(eq + 1)));
  }
  return out;
}

std::string query_value(const QueryParams& q, std::string_view name, std::string fallback) {
  for (const auto& [k, v] : q)
    if (k == name) return v;
  return fallback;
}

std::vector<std::string> query_values(const QueryParams& q, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : q)
    if (k == name) out.push_back(v);
  return out;
}

const char* style_sheet() {
  return "body{font:14px system-ui,sans-serif;margin:0;color:#222}"
         "nav{background:#2d3e50;padding:8px 16px}nav a{color:#fff;margin-right:18px;text-decoration:none}"
         "nav a.here{font-weight:bold;text-decoration:underline}"
         "main{padding:12px 16px}h1{font-size:20px}h2{font-size:16px;margin-top:22px}"
         "table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;"
         "vertical-align:top}th{background:#f3f5f7}tr:nth-child(even) td{background:#fafbfc}"
         "td.num{text-align:right;font-variant-numeric:tabular-nums}code,pre{font:12px monospace}"
         "pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:400px}"
         ".err{color:#a00;font-weight:bold}.muted{color:#777}.chart{display:inline-block;margin:4px 12px 12px 0}"
         "input[type=text]{width:360px}form{margin:8px 0}";
}

}  // namespace mlo::ui
